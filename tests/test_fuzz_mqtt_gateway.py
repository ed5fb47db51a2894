"""Fuzzing the MQTT system's HTTP APIs (:mod:`scenarios.mqtt_gateway.fuzz`): a bounded campaign
per interface in CI, the full ones (10,000 inputs) with ``-m fuzz``, the campaigns' power to
catch a handler that fails on input and a route that skips the admin key, and the platform bugs
the campaign found (deep JSON bodies answered 500, RPC timeouts that overflowed or never
ended)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web

from devices.cloud.mqtt_platform import control_api
from devices.protocols.http_client import HttpClient, HttpResponse
from devices.protocols.http_server import serve
from scenarios.mqtt_gateway.bed import LocalGatewayBed
from scenarios.mqtt_gateway.fuzz import ADMIN_KEY, INTERFACES, campaign
from tests.mqtt_platform_support import PlatformBed

BOUNDED = 250
FULL = 10_000


SPREAD = {"platform-control": ("200", "400", "401", "404"), "world-control": ("200", "400", "404")}


@pytest.mark.parametrize("interface", INTERFACES)
def test_a_bounded_campaign_finds_nothing(interface: str) -> None:
    tally = campaign(interface, BOUNDED, seed=1)
    assert tally.ok, tally.summary()
    assert tally.inputs == BOUNDED
    assert all(tally.count(c) > 0 for c in SPREAD[interface]), tally.summary()
    assert len(tally.state_checks) >= 4, tally.summary()


def test_the_campaign_catches_a_handler_that_fails_on_input(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def fragile(request: web.Request) -> web.StreamResponse:
        name = request.match_info["device"]
        if not name.isascii():
            raise UnicodeError(f"no plan for {name!r}")  # the bug: a 500 for a non-ASCII name
        return await original(request)

    original = control_api.device
    monkeypatch.setattr(control_api, "device", fragile)
    tally = campaign("platform-control", 200, seed=1)
    assert not tally.ok
    assert tally.count("unhandled") > 0 and not tally.state_checks["no traceback logged"]


def test_the_campaign_catches_a_route_that_skips_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    strict_guard = control_api._guard

    def leaky_guard(admin_key: str) -> Any:
        strict = strict_guard(admin_key)

        @web.middleware
        async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
            if request.method == "GET" and request.path == "/api/gateways":
                return await handler(request)  # the bug: listing gateways asks for no key
            return await strict(request, handler)

        return guard

    monkeypatch.setattr(control_api, "_guard", leaky_guard)
    tally = campaign("platform-control", 200, seed=1)
    assert not tally.ok
    assert tally.count("auth-bypass") > 0, tally.summary()


def test_the_world_control_campaign_catches_a_meter_that_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = LocalGatewayBed.place

    async def fragile(bed: LocalGatewayBed, spec: dict[str, Any]) -> Any:
        if spec.get("unit", 0) > 50:
            raise ValueError(f"no plan for {spec}")  # the bug: a 500 for a unit past 50
        return await original(bed, spec)

    monkeypatch.setattr(LocalGatewayBed, "place", fragile)
    tally = campaign("world-control", 200, seed=1)
    assert not tally.ok
    assert tally.count("unhandled") > 0, tally.summary()


@pytest.mark.fuzz
@pytest.mark.parametrize("interface", INTERFACES)
def test_a_full_campaign_finds_nothing(interface: str, request: pytest.FixtureRequest) -> None:
    if "fuzz" not in str(request.config.getoption("markexpr", "")):
        pytest.skip("a full campaign runs only when selected: -m fuzz")
    tally = campaign(interface, FULL, seed=7)
    print(tally.summary())
    assert tally.ok, tally.summary()


# -- what the campaign found ----------------------------------------------------------------------
def _ask(bodies: list[bytes], path: str = "/api/devices/gw-1/rpc") -> list[HttpResponse]:
    """POST each body to ``path`` of a platform whose gateway gw-1 is connected (so an RPC to
    it waits for a reply that never comes)."""
    bed = PlatformBed()
    gw = bed.gateway("gw-1")

    async def main() -> list[HttpResponse]:
        served = await serve(
            control_api.control_app(bed.platform, ADMIN_KEY), bed.world, "api", 8080, bed.net
        )
        api = HttpClient(
            served.url,
            connect=bed.net.open_connection,
            headers={"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"},
        )
        await gw.connect()
        try:
            return [await api.request("POST", path, raw=body, timeout=120.0) for body in bodies]
        finally:
            await served.close()

    try:
        return bed.run(main())
    finally:
        bed.close()


@pytest.mark.parametrize("path", ["/api/gateways", "/api/devices/gw-1/attributes/shared"])
def test_a_body_nested_past_the_parser_is_a_400_not_a_500(path: str) -> None:
    bodies = [b"[" * 5000 + b"]" * 5000, b'{"a":' * 3000 + b"1" + b"}" * 3000]
    for answer in _ask(bodies, path):
        assert answer.status == 400 and "JSON object" in answer.json()["error"], answer.text


def test_an_rpc_timeout_too_large_to_wait_for_is_a_400() -> None:
    """10**4000 ms overflowed a float (500); 2**31 ms and 1e308 ms kept the request waiting for
    weeks (a hang); 60 s is the most an HTTP caller waits."""
    timeouts = [b"1" + b"0" * 4000, b"2147483648", b"1e308", b"60001"]
    answers = _ask([b'{"method": "m", "timeout": ' + t + b"}" for t in timeouts])
    for answer in answers:
        assert answer.status == 400 and "at most 60000" in answer.json()["error"], answer.text
    in_time = _ask([b'{"method": "m", "timeout": 60000}'])[0]
    assert in_time.status == 504, in_time.text
