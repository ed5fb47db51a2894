"""The vendor's Node SDK (``CassiaNetworks/SDK``, class ``AC``) as a real client: every call of
it that the seed documents, replayed byte for byte in the shape the SDK sends it, against
``hil serve ble-ac`` over real sockets.

What the SDK does, and so what this replays:

* ``auth(key, secret)``: ``POST <ac>/api/oauth2/token``, HTTP Basic ``key:secret``, JSON body
  ``{"grant_type": "client_credentials"}``; it reads ``access_token`` and ``expires_in`` and sends
  ``Authorization: Bearer <token>`` from then on (the ``request`` library with ``json: true``:
  ``accept: application/json``, a JSON body where there is one).
* ``getGateway(mac)`` sets ``mac`` in the AC's own query parameters, so every later call, the AC's
  own calls included, carries ``?mac=<that gateway>``; the gateway object's calls are the router
  calls under ``/api``. Every stream (``sse()``) adds ``event=1`` to its query.
* A call succeeds only on 200; the SDK parses JSON bodies and passes text (``OK``) through.
* ``apsEvents()`` drops messages whose data matches ``keep-alive`` and JSON-parses the others.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from devices.ble.spec import standard_peripheral
from devices.protocols.http_client import HttpClient, HttpResponse
from tests.served import Served, served

SECRET = "sdk-secret"
KEY = "sdk-developer"
SCALE = 4  # world seconds per wall second in the served world


@pytest.fixture(scope="module")
def ac() -> Iterator[Served]:
    with served(
        "ble-ac",
        "--port",
        "0",
        "--control-port",
        "0",
        "--routers",
        "2",
        "--peripherals",
        "0",
        "--client-id",
        KEY,
        "--secret",
        SECRET,
        "--scale",
        str(SCALE),
        "--duration",
        "300",
    ) as running:
        yield running


class Sdk:
    """The SDK's AC object, as far as its wire shapes go."""

    def __init__(self, base: str) -> None:
        self.address = base + "/api"  # AC(): address + '/api'
        self.headers: dict[str, str] = {"accept": "application/json"}
        self.qs: dict[str, str] = {}

    def client(self) -> HttpClient:
        return HttpClient(self.address, headers=dict(self.headers))

    async def req(
        self,
        url: str,
        method: str = "GET",
        qs: dict[str, Any] | None = None,
        body: Any = None,
        auth: tuple[str, str] | None = None,
    ) -> HttpResponse:
        headers = {}
        if auth is not None:
            pair = f"{auth[0]}:{auth[1]}".encode()
            headers["authorization"] = "Basic " + base64.b64encode(pair).decode()
        params = {**self.qs, **(qs or {})}
        return await self.client().request(
            method, url, params or None, json_body=body, headers=headers
        )

    async def auth(self, key: str, secret: str) -> dict[str, Any]:
        answer = await self.req(
            "/oauth2/token",
            "POST",
            body={"grant_type": "client_credentials"},
            auth=(key, secret),
        )
        assert answer.status == 200, answer.text
        info = answer.json()
        self.headers["Authorization"] = "Bearer " + info["access_token"]
        return info

    def sse(self, url: str, qs: dict[str, Any] | None = None) -> Any:
        return self.client().sse(url, {**self.qs, **(qs or {}), "event": 1})


def _ok(answer: HttpResponse) -> Any:
    """What the SDK's req() resolves with: the parsed body of a 200 answer."""
    assert answer.status == 200, f"{answer.status} {answer.text}"
    try:
        return answer.json()
    except Exception:
        return answer.text


async def _control(ac: Served, method: str, path: str, body: Any = None) -> Any:
    answer = await HttpClient(ac.address("control")).request(method, path, json_body=body)
    assert answer.status < 400, answer.text
    return answer.json()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_auth_and_the_gateway_list(ac: Served) -> None:
    async def main() -> None:
        sdk = Sdk(ac.address("api"))
        info = await sdk.auth(KEY, SECRET)
        assert isinstance(info["expires_in"], int) and info["expires_in"] > 10
        gateways = _ok(await sdk.req("/ac/ap"))  # getAllGateways()
        assert {g["status"] for g in gateways} == {"online"} and len(gateways) == 2
        hubs = _ok(await sdk.req("/cassia/hubs"))
        assert sorted(h["mac"] for h in hubs) == sorted(g["mac"] for g in gateways)

    run(main())


def test_a_gateway_through_the_ac(ac: Served) -> None:
    async def main() -> None:
        sdk = Sdk(ac.address("api"))
        await sdk.auth(KEY, SECRET)
        world = await _control(ac, "GET", "/world")
        router = world["routers"][0]
        spec = standard_peripheral(
            71, position=[router["position"][0] + 2, router["position"][1], 0]
        )
        device = (await _control(ac, "POST", "/world/peripherals", spec))["address"]
        sdk.qs["mac"] = router["mac"]  # getGateway(mac)
        info = _ok(await sdk.req("/cassia/info"))  # gateway.getInfo()
        assert info["mac"] == router["mac"]
        async with sdk.sse("/gap/nodes", {}) as scan:  # gateway.scan()
            assert scan.status == 200
            seen = [json.loads(e.data) for e in await scan.collect(1.5)]
        assert any(r["bdaddrs"][0]["bdaddr"] == device for r in seen)
        async with sdk.sse("/management/nodes/connection-state") as states:
            body = {"type": "random", "timeout": 60000}  # gateway.connect(mac, 'random')
            assert _ok(await sdk.req(f"/gap/nodes/{device}/connection", "POST", body=body)) == "OK"
            changes = [json.loads(e.data) for e in await states.collect(1.0)]
        assert {"handle": device, "connectionState": "connected"}.items() <= changes[0].items()
        listed = _ok(await sdk.req("/gap/nodes", qs={"connection_state": "connected"}))
        assert [n["id"] for n in listed["nodes"]] == [device]
        char = _ok(await sdk.req(f"/gatt/nodes/{device}/characteristics", qs={"uuid": "2a37"}))
        read = _ok(await sdk.req(f"/gatt/nodes/{device}/handle/{char['handle']}/value"))
        assert read["value"]
        cccd = char["handle"] + 1
        async with sdk.sse("/gatt/nodes") as notes:  # gateway.listenNotify()
            # writeByHandle(mac, handle, '0100', true): the trailing slash and noresponse=1
            written = await sdk.req(
                f"/gatt/nodes/{device}/handle/{cccd}/value/0100/", qs={"noresponse": 1}
            )
            assert written.status == 200, written.text
            values = [json.loads(e.data) for e in await notes.collect(1.0)]
        assert values and values[0]["id"] == device and values[0]["dataType"] == "notification"
        assert _ok(await sdk.req(f"/gap/nodes/{device}/connection", "DELETE")) == "OK"
        await _control(ac, "DELETE", "/world/peripherals")

    run(main())


def test_status_positioning_auto_selection_and_the_combined_stream(ac: Served) -> None:
    async def main() -> None:
        sdk = Sdk(ac.address("api"))
        await sdk.auth(KEY, SECRET)
        world = await _control(ac, "GET", "/world")
        first, second = world["routers"][0], world["routers"][1]
        spot = [second["position"][0] + 2, second["position"][1], 0]
        device = (
            await _control(ac, "POST", "/world/peripherals", standard_peripheral(72, position=spot))
        )["address"]
        sdk.qs["mac"] = first["mac"]  # a gateway was picked: the AC's calls carry mac= too
        async with sdk.sse("/cassia/hubStatus") as status:  # gatewayStatus()
            assert status.status == 200
            statuses = [json.loads(e.data) for e in await status.collect(0.5)]
        assert {s["mac"] for s in statuses} == {first["mac"], second["mac"]}
        async with sdk.sse("/aps/events") as events:  # apsEvents()
            switched = _ok(await sdk.req("/aps/ap-select-switch", "POST", body={"flag": 1}))
            assert switched == {"status": "success", "flag": 1}
            await asyncio.sleep(1.0)
            connect = {"aps": [first["mac"], second["mac"]], "devices": [device]}
            assert _ok(await sdk.req("/aps/connections/connect", "POST", body=connect)) == "OK"
            received = await events.collect(1.0)
            messages = [json.loads(e.data) for e in received if "keep-alive" not in e.data]
            assert messages[0]["dataType"] == "state"
            assert {
                "dataType": "connection_state",
                "connectionState": "connected",
                "ap": second["mac"],
                "handle": device,
            } in [
                {k: m.get(k) for k in ("dataType", "connectionState", "ap", "handle")}
                for m in messages
            ]
            gone = _ok(
                await sdk.req("/aps/connections/disconnect", "POST", body={"devices": [device]})
            )
            assert gone == "OK"
        async with sdk.client().sse("/gap/nodes", {"mac": second["mac"], "event": 1}) as scan:
            await scan.collect(1.5)  # positioning needs a scan of the routers around
            here = _ok(await sdk.req(f"/middleware/position/by-device/{device}"))
            everyone = _ok(await sdk.req("/middleware/position/by-device/*"))
            around = _ok(await sdk.req(f"/middleware/position/by-ap/{second['mac']}"))
            every_ap = _ok(await sdk.req("/middleware/position/by-ap/*"))
        assert here == {"hubMac": second["mac"]} and everyone[device] == here
        assert device in around and device in every_ap[second["mac"]]
        assert _ok(await sdk.req("/aps/ap-select-switch", "POST", body={"flag": 0}))["flag"] == 0
        await _control(ac, "DELETE", "/world/peripherals")

    run(main())
