"""The reference access controller in one world (virtual time), through its own API: what the
features do not judge (our readings, the OpenAPI description, evidence hygiene, determinism),
and the uplink's corner cases."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from typing import Any

from devices.ble.spec import standard_peripheral
from devices.gateways.ble_ac.api_spec import build_document
from devices.protocols.openapi import documented, routes
from scenarios.ble_ac.bed import ANONYMOUS, LocalAcBed

Scenario = Callable[[LocalAcBed], Awaitable[Any]]


def in_bed(scenario: Scenario, **bed: Any) -> Any:
    world_bed = LocalAcBed(**bed)
    try:

        async def main() -> Any:
            await world_bed.start()
            return await scenario(world_bed)

        return world_bed.run(main())
    finally:
        world_bed.close()


def test_the_openapi_description_lists_every_route() -> None:
    async def scenario(bed: LocalAcBed) -> None:
        served = routes(bed.ac.app) - {("*", "/api/{tail}")}
        described = documented(build_document())
        assert served <= described
        assert described - served == {
            ("GET", "/api/{tail}"),
            ("POST", "/api/{tail}"),
            ("DELETE", "/api/{tail}"),
        }
        answer = await bed.client(ANONYMOUS).request("GET", "/openapi.json")
        assert answer.status == 200 and answer.json()["openapi"].startswith("3.")

    in_bed(scenario)


def test_router_calls_name_their_router_or_are_refused() -> None:
    async def scenario(bed: LocalAcBed) -> None:
        client = bed.client()
        missing = await client.request("GET", "/api/cassia/info")
        assert missing.status == 400 and "mac=" in missing.text
        assert bed.router_mac("A") in missing.text  # the registered routers are listed
        malformed = await client.request("GET", "/api/cassia/info", {"mac": "nope"})
        assert malformed.status == 400 and "nope" in malformed.text
        unknown = await client.request("GET", "/api/cassia/info", {"mac": "CC:1B:E0:0F:FF:FE"})
        assert unknown.status == 404 and "CC:1B:E0:0F:FF:FE" in unknown.text
        await bed.inject("router_outage", target="A")
        await asyncio.sleep(20)
        offline = await client.request("GET", "/api/cassia/info", {"mac": bed.router_mac("A")})
        assert offline.status == 503 and "offline" in offline.text
        wrong_method = await client.request("POST", "/api/cassia/hubs")
        assert wrong_method.status == 405 and "GET" in wrong_method.headers["allow"]

    in_bed(scenario)


def test_the_token_request_answers_as_oauth2_does() -> None:
    async def scenario(bed: LocalAcBed) -> None:
        wrong = await bed.token(secret="wrong")
        assert wrong.status == 401 and wrong.json()["error"] == "invalid_client"
        assert wrong.headers["www-authenticate"].startswith("Basic")
        basic = "Basic " + base64.b64encode(b"hil-developer:hil-secret").decode()
        form = await bed.client(ANONYMOUS).request(
            "POST",
            "/api/oauth2/token",
            form={"grant_type": "client_credentials"},
            headers={"Authorization": basic},
        )
        assert form.status == 200 and form.json()["token_type"] == "bearer"
        assert form.headers["cache-control"] == "no-store"
        grant = await bed.client(ANONYMOUS).request(
            "POST", "/api/oauth2/token", json_body={}, headers={"Authorization": basic}
        )
        assert grant.status == 400 and grant.json()["error"] == "unsupported_grant_type"
        refused = await bed.client(ANONYMOUS).request("GET", "/api/cassia/hubs")
        assert refused.status == 401
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]

    in_bed(scenario)


def test_tokens_never_reach_the_trace_or_the_transcript() -> None:
    async def scenario(bed: LocalAcBed) -> tuple[str, str, str]:
        token = bed._token or ""
        await bed.client(ANONYMOUS).request("GET", "/api/cassia/hubs", {"access_token": token})
        transcript = repr(bed.transcript)
        return token, bed.world.trace.dump(), transcript

    token, trace, transcript = in_bed(scenario)
    assert token and token not in trace and token not in transcript
    assert "access_token=********" in transcript


def test_a_router_restarting_within_the_dead_interval_goes_offline_and_online() -> None:
    async def scenario(bed: LocalAcBed) -> list[tuple[str, str]]:
        await asyncio.sleep(3)
        await bed.inject("router_reboot", target="B")  # down 2 s: back before 15 s of silence
        await asyncio.sleep(6)
        return [
            (r["event"], r.get("why", ""))
            for r in bed.world.trace.records
            if r["event"].startswith("hub-") and r.get("mac") == bed.router_mac("B")
        ]

    events = in_bed(
        scenario,
        routers=[{"name": "B", "mac": "CC:1B:E0:E0:00:02", "position": [0, 0, 0], "boot_s": 2.0}],
    )
    assert events[-2:] == [("hub-offline", "restarted"), ("hub-online", "joined")]


def test_the_uplink_streams_come_back_after_a_reboot() -> None:
    async def scenario(bed: LocalAcBed) -> int:
        await bed.place(standard_peripheral(1, position=(2.0, 0.0, 0.0), notify_hz=1.0))
        client = bed.client()
        await bed.inject("router_reboot", target="A")
        await asyncio.sleep(25)  # offline, joined again, streams reopened
        address = bed.address_of("HIL-0001")
        mac = {"mac": bed.router_mac("A")}
        ok = await client.request(
            "POST", f"/api/gap/nodes/{address}/connection", mac, json_body={"type": "random"}
        )
        assert ok.status == 200, ok.text
        async with client.sse("/api/aps/events") as stream:
            await stream.next(2)
            handle = await _cccd(client, address, mac)
            await client.request(
                "GET", f"/api/gatt/nodes/{address}/handle/{handle}/value/0100", mac
            )
            events = await stream.collect(4)
        return sum(1 for e in events if '"notification"' in e.data)

    assert in_bed(scenario) >= 2


async def _cccd(client: Any, address: str, mac: dict[str, str]) -> int:
    from devices.ble.gatt_uuids import HEART_RATE_MEASUREMENT, cccd_handle

    found = await client.request(
        "GET", f"/api/gatt/nodes/{address}/services/characteristics/descriptors", mac
    )
    handle = cccd_handle(found.json(), HEART_RATE_MEASUREMENT)
    assert handle is not None
    return handle


def test_positioning_in_detail_estimates_where_a_device_is() -> None:
    async def scenario(bed: LocalAcBed) -> dict[str, Any]:
        await bed.place(standard_peripheral(1, position=(10.0, 5.0, 0.0)))
        client = bed.client()
        await client.request("POST", "/api/aps/scan/open", json_body={"aps": "*"})
        await asyncio.sleep(8)
        address = bed.address_of("HIL-0001")
        answer = await client.request(
            "GET", f"/api/middleware/position/by-device/{address}", {"detail": "1"}
        )
        return answer.json()

    detail = in_bed(scenario)
    assert detail["hubMac"] == "CC:1B:E0:E0:00:01"
    assert set(detail["routers"]) == {"CC:1B:E0:E0:00:01", "CC:1B:E0:E0:00:02", "CC:1B:E0:E0:00:03"}
    x, y, _z = detail["position"]
    assert abs(x - 10.0) < 8 and abs(y - 5.0) < 8


def test_ap_state_switches_take_get_and_post_and_aps_star() -> None:
    async def scenario(bed: LocalAcBed) -> list[int]:
        client = bed.client()
        answers = [
            await client.request("POST", "/api/aps/ap-state/close"),
            await client.request("GET", "/api/aps/ap-state/open"),
            await client.request("POST", "/api/aps/notify/close", json_body={"aps": ["*"]}),
            await client.request("POST", "/api/aps/notify/open", json_body={"aps": "*"}),
            await client.request("POST", "/api/aps/notify/open", json_body={}),
        ]
        return [a.status for a in answers]

    assert in_bed(scenario) == [200, 200, 200, 200, 400]


def test_the_same_seed_gives_the_same_trace() -> None:
    async def scenario(bed: LocalAcBed) -> str:
        await bed.place(standard_peripheral(1, position=(3.0, 1.0, 0.0)))
        client = bed.client()
        await client.request("POST", "/api/aps/ap-select-switch", json_body={"flag": 1})
        await asyncio.sleep(3)
        address = bed.address_of("HIL-0001")
        await client.request(
            "POST", "/api/aps/connections/connect", json_body={"aps": "*", "devices": [address]}
        )
        await bed.inject("router_outage", target="C")
        await asyncio.sleep(20)
        return bed.world.trace.dump()

    assert in_bed(scenario, seed=7) == in_bed(scenario, seed=7)
