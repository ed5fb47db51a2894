"""Fuzz campaigns against the BLE access controller's HTTP API (:mod:`scenarios.ble_ac.fuzz`):
a bounded one in CI, the full one (10,000 inputs) under ``pytest -m fuzz``; proof that the
campaign catches a misbehaving controller; the regressions it found."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from devices.gateways.ble_ac import api
from devices.protocols.http_client import HttpClient
from devices.protocols.http_server import serve
from scenarios.ble_ac import fuzz
from scenarios.ble_ac.bed import LocalAcBed
from scenarios.ble_ac.control import control_app
from scenarios.fuzzing import FuzzTally
from scenarios.http_fuzz import LogWatch
from sim.iplink import IpNetwork
from tests.fuzz_checks import assert_clean

CI_EXAMPLES = 200
FULL_EXAMPLES = 10_000
STATE_CHECKS = {
    "ac-http": 6,  # good request, guard intact, streams released, switches back, routers, trace
    "world-control": 4,  # good request, guard intact, nothing half-made, trace
}


def _assert_clean(tally: FuzzTally, interface: str, examples: int) -> None:
    assert_clean(tally, examples, STATE_CHECKS[interface])


def test_ac_http_campaign() -> None:
    tally = fuzz.campaign("ac-http", CI_EXAMPLES, seed=1)
    _assert_clean(tally, "ac-http", CI_EXAMPLES)
    for answer in ("200", "400", "401", "404", "405", "stream"):
        assert tally.count(answer) > 0, tally.summary()


def test_world_control_campaign() -> None:
    tally = fuzz.campaign("world-control", CI_EXAMPLES, seed=1)
    _assert_clean(tally, "world-control", CI_EXAMPLES)
    for answer in ("200", "400", "404", "405"):
        assert tally.count(answer) > 0, tally.summary()


def test_the_same_seed_draws_the_same_inputs() -> None:
    doc = api.api_spec.build_document()
    first = fuzz._draw(doc, {"paths": {}}, ["C0:00:00:00:00:01"], 60, 7)
    assert first == fuzz._draw(doc, {"paths": {}}, ["C0:00:00:00:00:01"], 60, 7)
    assert {case.operation for case, _ in first} == {
        f"{method.upper()} {path}" for path, item in doc["paths"].items() for method in item
    }


def test_the_campaign_catches_a_route_that_skips_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    checked = api._auth

    @web.middleware
    async def careless(request: web.Request, handler: Any) -> web.StreamResponse:
        """A controller that forgot to check tokens on its hub list."""
        if request.path == "/api/cassia/hubs":
            return await handler(request)
        return await checked(request, handler)

    monkeypatch.setattr(api, "_auth", careless)
    tally = fuzz.campaign("ac-http", 300, seed=1)
    assert tally.count("auth-bypass") > 0 and not tally.ok, tally.summary()


def test_the_campaign_catches_a_handler_that_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    async def fragile(request: web.Request) -> web.Response:
        """A positioning handler that breaks on the every-router form."""
        if request.match_info["mac"] == "*":
            raise KeyError("*")
        return web.json_response([])

    monkeypatch.setattr(api, "by_ap", fragile)
    tally = fuzz.campaign("ac-http", 300, seed=1)
    assert tally.count("unhandled") > 0 and not tally.ok, tally.summary()
    assert tally.state_checks["no internal error traced"] is False


def test_a_router_call_with_non_ascii_in_its_path_is_passed_on_encoded() -> None:
    """Found by the campaign: the controller passed the decoded path on to the router, and a
    non-ASCII character in it ended in a 500 "internal error"."""
    bed = LocalAcBed(seed=1, routers=[fuzz.TARGET])

    async def scenario() -> tuple[int, str]:
        await bed.start()
        answer = await bed.client().request(
            "GET",
            "/api/gatt/nodes/C0:00:00:00:FF:01/handle/V%C2%88h/value",
            {"mac": str(fuzz.TARGET["mac"])},
        )
        return answer.status, answer.text

    try:
        status, text = bed.run(scenario())
        assert [r for r in bed.world.trace.records if r["event"] == "internal-error"] == []
    finally:
        bed.close()
    assert status == 400 and "internal error" not in text, text


def test_world_control_refuses_a_second_reboot_and_one_of_a_powered_off_router() -> None:
    """Found by the campaign: a reboot asked for while one was under way (or of a router
    without power) failed in a background task, with a traceback, after a 200."""
    bed = LocalAcBed(seed=1, keep_trace=False, routers=[fuzz.TARGET])

    async def scenario() -> list[int]:
        await bed.start()
        net = IpNetwork(bed.world, name="control")
        served = await serve(control_app(bed), bed.world, "world-control", 80, net=net)
        client = HttpClient(served.url, connect=net.open_connection)
        statuses = []
        for path, body in (
            ("/world/routers/T/reboot", None),
            ("/world/routers/T/reboot", None),
            ("/world/routers/T/power", {"on": False}),
            ("/world/routers/T/reboot", None),
        ):
            statuses.append((await client.request("POST", path, json_body=body)).status)
            await asyncio.sleep(0.5)
        await served.close()
        return statuses

    with LogWatch() as log:
        try:
            statuses = bed.run(scenario())
        finally:
            bed.close()
    assert statuses == [200, 409, 200, 409]
    assert log.records == []


@pytest.mark.fuzz
@pytest.mark.parametrize("interface", fuzz.INTERFACES)
def test_full_campaign(interface: str) -> None:
    tally = fuzz.campaign(interface, FULL_EXAMPLES, seed=1)
    print(tally.summary())
    _assert_clean(tally, interface, FULL_EXAMPLES)
