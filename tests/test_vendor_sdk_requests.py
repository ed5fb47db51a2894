"""What the vendor's own Node SDK (CassiaNetworks/SDK, ``Gateway.js``: the ``request`` library
with ``json: true``, and an EventSource for streams) sends, replayed byte for byte in shape
against ``hil serve ble-router`` on a real socket: every call is answered 200.

* ``connect(mac, type)`` posts ``{"type": type, "timeout": 60000}`` (its default timeout,
  past the seed's 200-20000 ms range: the router takes it as 20000);
* ``writeByHandle(mac, handle, value, true)`` asks ``.../value/<hex>/?noresponse=1`` (a slash
  before the query);
* ``getCharacteristics(mac)`` leaves ``uuid`` out; ``getConnectedDevices()``,
  ``readByHandle``, ``getInfo('container')``, ``disconnect``;
* ``scan``, ``listenNotify`` and ``listenConnectionState`` open streams with ``event=1``
  appended to the query, ``data:`` lines being JSON.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from devices.protocols.http_client import HttpClient, HttpResponse, SseStream
from tests.served import served

JSON_HEADERS = {"accept": "application/json"}  # what request(json: true) sends
SSE_HEADERS = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}


@pytest.fixture(scope="module")
def router() -> Any:
    with served(
        "ble-router",
        "--port",
        "0",
        "--control-port",
        "0",
        "--peripherals",
        "2",
        "--scale",
        "10",
        "--duration",
        "300",
    ) as running:
        yield running


async def sdk(client: HttpClient, method: str, url: str, body: Any = None) -> HttpResponse:
    """``Gateway.req``: JSON in and out; its promise resolves only on 200."""
    return await client.request(method, url, json_body=body, headers=dict(JSON_HEADERS))


async def first_json_event(stream: SseStream, timeout: float = 10.0) -> Any:
    event = await stream.next(timeout=timeout)
    assert event is not None, f"no event on {stream.target}"
    return event.json()


def test_the_vendor_sdk_calls_are_answered(router: Any) -> None:
    async def main() -> dict[str, Any]:
        api = HttpClient(router.address("api"), default_timeout=30)
        world = await HttpClient(router.address("control")).request("GET", "/world")
        mac = world.json()["peripherals"][0]["address"]
        seen: dict[str, Any] = {}
        async with api.sse(
            "/gap/nodes", {"active": 1, "filter_name": "HIL*", "event": 1}, SSE_HEADERS
        ) as scan:
            seen["scan"] = (scan.status, scan.headers.get("content-type"))
            seen["scan_event"] = await first_json_event(scan)
        async with api.sse(
            "/management/nodes/connection-state", {"event": 1}, SSE_HEADERS
        ) as states:
            seen["connect"] = await sdk(
                api, "POST", f"/gap/nodes/{mac}/connection", {"type": "random", "timeout": 60000}
            )
            seen["state_event"] = await first_json_event(states)
        seen["connected"] = await sdk(api, "GET", "/gap/nodes?connection_state=connected")
        seen["characteristics"] = await sdk(api, "GET", f"/gatt/nodes/{mac}/characteristics")
        handles = {c["uuid"][4:8].upper(): c["handle"] for c in seen["characteristics"].json()}
        async with api.sse("/gatt/nodes", {"event": 1}, SSE_HEADERS) as notes:
            seen["notify"] = (notes.status, notes.headers.get("content-type"))
            seen["write"] = await sdk(
                api, "GET", f"/gatt/nodes/{mac}/handle/{handles['2A39']}/value/01/?noresponse=1"
            )
            seen["write_with_response"] = await sdk(
                api, "GET", f"/gatt/nodes/{mac}/handle/{handles['2A39']}/value/01"
            )
        seen["read"] = await sdk(api, "GET", f"/gatt/nodes/{mac}/handle/{handles['2A19']}/value")
        seen["info"] = await sdk(api, "GET", "/cassia/info")
        seen["container"] = await sdk(api, "GET", "/cassia/info?fields=container")
        seen["disconnect"] = await sdk(api, "DELETE", f"/gap/nodes/{mac}/connection")
        seen["mac"] = mac
        return seen

    seen = asyncio.run(main())
    mac = seen["mac"]
    assert seen["scan"] == (200, "text/event-stream")
    assert "bdaddrs" in seen["scan_event"]
    assert (seen["connect"].status, seen["connect"].text) == (200, "OK")
    assert seen["state_event"]["handle"] == mac
    assert seen["state_event"]["connectionState"] == "connected"
    assert [n["id"] for n in seen["connected"].json()["nodes"]] == [mac]
    assert seen["characteristics"].status == 200
    assert seen["notify"] == (200, "text/event-stream")
    assert (seen["write"].status, seen["write"].text) == (200, "OK")
    assert seen["write_with_response"].status == 200
    assert seen["read"].status == 200 and "value" in seen["read"].json()
    assert seen["info"].status == 200 and seen["info"].json()["mac"]
    assert seen["container"].status == 200
    assert seen["disconnect"].status == 200
