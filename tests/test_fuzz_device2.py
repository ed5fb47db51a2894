"""The Device2 fuzz campaigns (:mod:`scenarios.device2.fuzz`): bounded runs of each interface,
proof that each bites, the regressions they found, and the full runs (``pytest -m fuzz``)."""

from __future__ import annotations

import json

import pytest

from devices.cloud.device2.device_apis import DevicePorts, serve_device2_apis
from devices.cloud.device2.device_http import DeviceHttp
from devices.cloud.device2.errors import AuthenticationFailed
from devices.cloud.device2.gateway import Gateway
from devices.cloud.device2.routes import BASE
from devices.cloud.device2.serving import serve_device2
from scenarios.device2 import fuzz
from scenarios.http_fuzz import HttpCase, exchange
from sim.iplink import IpNetwork
from sim.world import World

FULL = 10_000


def test_the_module_follows_the_campaign_contract():
    assert fuzz.SYSTEM == "device2"
    assert fuzz.INTERFACES == ("service-http", "device-http")
    with pytest.raises(ValueError, match="interfaces"):
        fuzz.campaign("grpc", 1, 1)


def test_a_bounded_service_http_campaign_passes():
    seen = []
    tally = fuzz.campaign("service-http", 250, 1, lambda done, total: seen.append((done, total)))
    assert tally.ok, tally.summary()
    assert tally.inputs == 250 and seen[-1] == (250, 250)
    assert {"200", "400", "404", "405"} <= set(tally.answers), tally.summary()
    assert len(tally.state_checks) == 4


def test_a_bounded_device_http_campaign_passes():
    tally = fuzz.campaign("device-http", 250, 1)
    assert tally.ok, tally.summary()
    assert tally.inputs == 250
    assert {"200", "400", "401", "415"} <= set(tally.answers), tally.summary()
    assert len(tally.state_checks) == 5


def test_the_same_seed_gives_the_same_campaign():
    first = fuzz.campaign("device-http", 60, 7)
    again = fuzz.campaign("device-http", 60, 7)
    assert first.answers == again.answers


def test_the_service_campaign_catches_a_handler_that_raises(monkeypatch):
    call = Gateway.call

    def broken(self, operation, params):
        if operation == "getIdentityState" and self.product == fuzz.PRODUCT:
            raise RuntimeError("a bug in getIdentityState")
        return call(self, operation, params)

    monkeypatch.setattr(Gateway, "call", broken)
    tally = fuzz.campaign("service-http", 250, 1)
    assert tally.count("unhandled") > 0 and not tally.ok
    assert not tally.state_checks["no internal error traced or logged"]


def test_the_device_campaign_catches_a_route_that_skips_authentication(monkeypatch):
    authenticate = DeviceHttp._authenticate

    def lax(self, request):  # a wrong or missing credential lets the target in
        try:
            return authenticate(self, request)
        except AuthenticationFailed:
            return fuzz.TARGET

    monkeypatch.setattr(DeviceHttp, "_authenticate", lax)
    tally = fuzz.campaign("device-http", 250, 1)
    assert tally.count("auth-bypass") > 0 and not tally.ok
    assert not tally.state_checks["a request without a credential is refused"]


# -- regressions the service-http campaign found -----------------------------------------------
DEEP = "[" * 5000 + "]" * 5000


def _answers(cases: list[HttpCase]) -> list[int]:
    """Statuses of ``cases`` sent to a fresh service (product ``example``) in a world."""
    world = World(seed=1)
    net = IpNetwork(world)

    async def send() -> list[int]:
        server = await serve_device2(world, ":memory:", "device2", 80, net=net)
        try:
            return [(await exchange(net.open_connection, "device2", 80, c)).status for c in cases]
        finally:
            await server.close()

    try:
        return world.run(send())
    finally:
        world.close()


def test_json_nested_past_the_parsers_depth_is_refused_400_not_500():
    base = BASE.format(product="example")
    body = b'{"a":' * 3000 + b"1" + b"}" * 3000
    cases = [
        HttpCase("POST", f"{base}/addIdentity", body=body, content_type="application/json"),
        HttpCase("PATCH", f"{base}/identity/x", body=DEEP.encode()),
        HttpCase("GET", f"{base}/identity", query=(("tags", "[" * 1200 + "]" * 1200),)),
        HttpCase("POST", f"{base}/listIdentities", body=json.dumps({"tags": DEEP}).encode()),
    ]
    assert _answers(cases) == [400, 400, 400, 400]


def test_a_number_past_any_float_is_refused_400_not_500():
    base = BASE.format(product="example")
    cases = [
        HttpCase("POST", f"{base}/countIdentities", body=b'{"after": 1%s}' % (b"0" * 400)),
        HttpCase("POST", f"{base}/listIdentities", body=b'{"before": -1%s}' % (b"0" * 400)),
        HttpCase("POST", f"{base}/countIdentities", body=b'{"after": 1%s}' % (b"0" * 30)),
    ]
    assert _answers(cases) == [400, 400, 200]


def test_a_write_naming_two_devices_to_publish_as_is_refused_400():
    world = World(seed=1)
    net = IpNetwork(world)

    async def send() -> list[int]:
        apis = await serve_device2_apis(
            world, ":memory:", net=net, ports=DevicePorts(management=None, http=80)
        )
        host = apis.device_host
        try:
            apis.service.gateway("example").call(
                "addResource", {"alias": "switch", "format": "boolean", "settable": True}
            )
            apis.service.gateway("example").call("addIdentity", {"identity": "dev-1"})
            form = "application/x-www-form-urlencoded"
            activate = HttpCase("POST", "/provision/activate", body=b"id=dev-1", content_type=form)
            token = (await exchange(net.open_connection, host, 80, activate)).body.decode()
            statuses = []
            for named in (("dev-1",), ("dev-1", "dev-2"), ("dev-2", "dev-1")):
                headers = (("X-Exosite-CIK", token),)
                headers += tuple(("X-Exosite-Publish-As", n) for n in named)
                write = HttpCase("POST", "/onep:v1/stack/alias", (), b"switch=1", form, headers)
                statuses.append((await exchange(net.open_connection, host, 80, write)).status)
            return statuses
        finally:
            await apis.close()

    try:
        assert world.run(send()) == [204, 400, 400]
    finally:
        world.close()


# -- the full campaigns (pytest -m fuzz) -------------------------------------------------------
@pytest.mark.fuzz
@pytest.mark.parametrize("interface", fuzz.INTERFACES)
def test_the_full_campaign(interface):
    tally = fuzz.campaign(interface, FULL, 1)
    assert tally.ok, tally.summary()
    assert tally.inputs == FULL
