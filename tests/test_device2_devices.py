"""Simulated Device2 devices (HTTP and MQTT, token, password and certificate) against the
served device APIs, in virtual time: the status lifecycle as devices live it, every identity
format presented (valid and invalid), generated identities, IP allow-lists, sets pending until
acknowledged, gateways publishing for others, data landing in state, signals and events, and
identical runs for one seed."""

from __future__ import annotations

import re

import pytest

from devices.cloud.device2.device_clients import (
    DeviceSpec,
    GatewayDevice,
    MqttDevice,
    Refusal,
)
from tests.device2_device_support import Stack

US = 1_000_000
PASSWORD = "a simulated device password...."


@pytest.fixture
def stack(tmp_path):
    s = Stack(tmp_path / "d2.db")
    s.resources()
    yield s
    s.close()


def whats(device):
    return [h.what for h in device.log]


def make(stack, kind, spec, **kwargs):
    return (stack.http_device if kind == "http" else stack.mqtt_device)(spec, **kwargs)


def start(stack, device):
    """Provision and connect (MQTT) or activate (HTTP) a device."""
    if isinstance(device, MqttDevice):
        return stack.run(device.start())
    return stack.run(device.activate())


KINDS = pytest.mark.parametrize("kind", ["http", "mqtt"])


# -- reporting ---------------------------------------------------------------------------------
@KINDS
def test_a_device_reports_on_its_schedule_and_the_data_lands(stack, kind):
    device = make(stack, kind, DeviceSpec("dev-1", ip="192.0.2.21"))
    stack.run(device.run(period_s=10, cycles=4))
    assert device.stopped is None and stack.status("dev-1") == "provisioned"
    wrote = device.seen("wrote")
    assert len(wrote) == 4
    gaps = [round(b.at - a.at, 1) for a, b in zip(wrote, wrote[1:], strict=False)]
    assert gaps == [10.0, 10.0, 10.0]
    events = stack.events_of("data_in", "dev-1")
    assert len(events) == 4 and {e["protocol"] for e in events} == {kind}
    assert {e["ip"] for e in events} == {"192.0.2.21"}
    reported = [w.detail["values"]["temperature"] for w in wrote]
    points = stack.call(
        "querySignal", {"identity": "dev-1", "signal": "temperature", "order": "asc"}
    )["data"]
    assert [p["value"] for p in points] == reported
    assert stack.state("dev-1")["temperature"]["reported"] == reported[-1]


def test_password_and_certificate_devices(stack):
    stack.call("addIdentity", {"identity": "pw-h", "auth": {"type": "password"}})
    stack.call("addIdentity", {"identity": "pw-m", "auth": {"type": "password"}})
    for kind, identity in (("http", "pw-h"), ("mqtt", "pw-m")):
        device = make(stack, kind, DeviceSpec(identity, auth="password", password=PASSWORD))
        stack.run(device.run(period_s=5, cycles=2))
        assert device.stopped is None and len(device.seen("wrote")) == 2, device.log
    stack.call("updateGatewaySettings", {"provisioning": {"auth_type": "certificate"}})
    assert stack.apis.tls is not None
    for kind, identity in (("http", "cert-h"), ("mqtt", "cert-m")):
        cert = stack.apis.tls.device_certificate(identity)
        spec = DeviceSpec(identity, auth="certificate", certificate=cert, ip="192.0.2.44")
        device = make(stack, kind, spec, tls_context=stack.apis.tls.client_context(cert))
        stack.run(device.run(period_s=5, cycles=2))
        assert device.stopped is None and len(device.seen("wrote")) == 2, device.log
        assert stack.status(identity) == "provisioned"
    for identity in ("pw-h", "pw-m", "cert-h", "cert-m"):
        assert len(stack.events_of("data_in", identity)) == 2


# -- the lifecycle -----------------------------------------------------------------------------
@KINDS
def test_whitelisted_then_provisioned_then_locked(stack, kind):
    stack.call("addIdentity", {"identity": "dev-1"})
    assert stack.status("dev-1") == "whitelisted"
    device = make(stack, kind, DeviceSpec("dev-1"))
    task = stack.world.spawn(device.run(period_s=10, cycles=100))
    stack.sleep(25)
    assert stack.status("dev-1") == "provisioned"
    stack.call("updateIdentity", {"identity": "dev-1", "locked": True})
    stack.sleep(30)
    assert task.done() and device.stopped is not None
    if kind == "http":
        assert device.stopped.code == 403
    else:  # reconnecting: CONNACK 5 (0x87); it tries to provision again, which is refused too
        refused = [h.detail.get("code") for h in device.seen("refused")]
        assert refused[0] == 0x87 and device.stopped.what == "provision"
    assert stack.status("dev-1") == "locked"
    assert ("dev-1", "provisioned", "locked") in stack.statuses
    wrote = len(device.seen("wrote"))
    stack.sleep(60)
    assert len(device.seen("wrote")) == wrote  # a locked device stays refused


@KINDS
def test_a_locked_identity_cannot_provision(stack, kind):
    stack.call("addIdentity", {"identity": "held", "locked": True})
    device = make(stack, kind, DeviceSpec("held"))
    stack.run(device.run(period_s=10, cycles=3))
    assert device.stopped is not None and device.seen("provisioned") == []
    assert stack.status("held") == "locked"


@KINDS
def test_a_missed_provisioning_window_is_expired(stack, kind):
    stack.call("addIdentity", {"identity": "late", "auth": {"expire": stack.now_us + 30 * US}})
    stack.sleep(31)
    assert ("late", "whitelisted", "expired") in stack.statuses
    device = make(stack, kind, DeviceSpec("late"))
    stack.run(device.run(period_s=10, cycles=3))
    assert device.stopped is not None and device.seen("provisioned") == []
    assert [e["protocol"] for e in stack.events_of("expired", "late")] == [kind]
    stack.call("updateIdentity", {"identity": "late", "auth": {"expire": None}})
    again = make(stack, kind, DeviceSpec("late"))
    stack.run(again.run(period_s=10, cycles=1))
    assert again.stopped is None and stack.status("late") == "provisioned"


@KINDS
def test_expired_credentials_make_the_device_provision_again(stack, kind):
    device = make(stack, kind, DeviceSpec("dev-1"))
    task = stack.world.spawn(device.run(period_s=10, cycles=6))
    stack.sleep(15)
    first_token = device.token
    stack.call("updateIdentity", {"identity": "dev-1", "auth": {"expire": stack.now_us + US}})
    stack.sleep(2)
    assert stack.status("dev-1") == "reprovision"
    if kind == "mqtt":
        stack.sleep(1)
        assert not device.client.is_connected()  # dropped when the credentials expired
    stack.run(task)  # refused (HTTP 401, CONNACK 5): the device provisions again
    assert "unauthorized" in whats(device) and device.stopped is None
    assert len(device.seen("wrote")) == 6
    assert device.token != first_token and stack.status("dev-1") == "provisioned"
    assert len(stack.events_of("provisioned", "dev-1")) == 2


# -- identities --------------------------------------------------------------------------------
FORMATS = [
    # (identity_format, valid identities, invalid identities)
    (
        {"type": "mac:48", "options": {"mac_base": "00:1B:63"}},
        ["00:1b:63:aa:bb:cc", "00:1B:63:00:00:01"],
        ["00-1b-63-aa-bb-cc", "00:1b:64:aa:bb:cc", "00:1b:63:aa:bb"],
    ),
    ({"type": "mac-48"}, ["a4-5e-60-01-02-03"], ["a4:5e:60:01:02:03", "a4-5e-60-01-02-0g"]),
    ({"type": "mac.48"}, ["a45.e60.010.203"], ["a4-5e-60-01-02-03", "a45.e60.010"]),
    (
        {"type": "uuidv4"},
        ["e5fa76f8-1220-45c9-b972-3e2345851677"],
        ["e5fa76f8-1220-35c9-b972-3e2345851677", "e5fa76f8122045c9b9723e2345851677"],
    ),
    (
        {"type": "base10", "prefix": "sn-", "options": {"length": 6}},
        ["sn-012345", "SN-000001"],
        ["sn-12345", "sn-0123456", "xx-012345", "sn-01234a"],
    ),
    (
        {"type": "base16", "prefix": "ab", "options": {"length": 4, "casing": "lower"}},
        ["ab00ff", "ab1a2b"],
        ["AB00ff", "ab00FF", "ab00f", "ab00fg"],
    ),
    (
        {"type": "base16", "options": {"casing": "upper"}},
        ["00FF", "DEADBEEF"],
        ["00ff", "DEADBEEG"],
    ),
    ({"type": "opaque", "options": {"casing": "upper"}}, ["DEVICE_7"], ["device_7", ""]),
]


@pytest.mark.parametrize(
    "fmt, valid, invalid", FORMATS, ids=[f"{f[0]['type']}-{i}" for i, f in enumerate(FORMATS)]
)
def test_every_identity_format_presented_by_devices(stack, fmt, valid, invalid):
    stack.call("updateGatewaySettings", {"identity_format": fmt})
    for n, identity in enumerate(valid):
        device = make(stack, "http", DeviceSpec(identity, ip=f"192.0.2.{100 + n}"))
        assert start(stack, device) == identity
        assert stack.status(identity) == "provisioned"
    for identity in invalid:
        device = make(stack, "http", DeviceSpec(identity or None))
        with pytest.raises(Refusal) as refused:
            start(stack, device)
        assert refused.value.code == 400, identity
        assert "invalid identity" in refused.value.message or not identity
    mqtt_valid = make(stack, "mqtt", DeviceSpec(valid[0]))
    with pytest.raises(Refusal):  # already provisioned over HTTP: 409 closes the connection
        stack.run(mqtt_valid.provision())
    if invalid[0]:
        mqtt_invalid = make(stack, "mqtt", DeviceSpec(invalid[0]))
        with pytest.raises(Refusal):
            stack.run(mqtt_invalid.provision())
        assert stack.events_of("provisioned", invalid[0]) == []


@pytest.mark.parametrize(
    "fmt, pattern",
    [
        ({"type": "mac:48", "options": {"mac_base": "00:1b:63"}}, r"00:1b:63(:[0-9a-f]{2}){3}"),
        (
            {"type": "base16", "prefix": "GW", "options": {"length": 8, "casing": "upper"}},
            r"GW[0-9A-F]{8}",
        ),
        ({"type": "base10", "options": {"length": 5}}, r"\d{5}"),
        (
            {"type": "uuidv4"},
            r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
        ),
    ],
)
@KINDS
def test_devices_without_an_identity_get_a_generated_one(stack, kind, fmt, pattern):
    stack.call(
        "updateGatewaySettings",
        {"identity_format": fmt, "provisioning": {"generate_identity": True}},
    )
    first, second = make(stack, kind, DeviceSpec(None)), make(stack, kind, DeviceSpec(None))
    stack.run(first.run(period_s=5, cycles=1))
    stack.run(second.run(period_s=5, cycles=1))
    assert first.identity and second.identity and first.identity != second.identity
    for device in (first, second):
        assert re.fullmatch(pattern, device.identity), device.identity
        assert stack.status(device.identity) == "provisioned"
        assert len(stack.events_of("data_in", device.identity)) == 1


@KINDS
def test_generating_is_refused_when_off(stack, kind):
    device = make(stack, kind, DeviceSpec(None))
    stack.run(device.run(period_s=5, cycles=1))
    assert device.stopped is not None and device.seen("provisioned") == []


# -- IP allow-lists ----------------------------------------------------------------------------
@KINDS
def test_the_ip_allow_list_applies_to_provisioning_only(stack, kind):
    stack.call(
        "updateGatewaySettings",
        {
            "provisioning": {
                "ip_whitelisting": {"enabled": True, "allowed": ["192.0.2.0/28", "203.0.113.9"]}
            }
        },
    )
    inside = make(stack, kind, DeviceSpec("dev-in", ip="192.0.2.5"))
    single = make(stack, kind, DeviceSpec("dev-one", ip="203.0.113.9"))
    outside = make(stack, kind, DeviceSpec("dev-out", ip="192.0.2.77"))
    for device in (inside, single):
        start(stack, device)
        assert stack.status(device.identity) == "provisioned"
    with pytest.raises(Refusal) as refused:
        start(stack, outside)
    if kind == "http":
        assert refused.value.code == 403 and "ip_whitelisting" in refused.value.message
    assert stack.events_of("provisioned", "dev-out") == []
    # once provisioned, a device may connect from anywhere
    moved = make(stack, kind, DeviceSpec("dev-in", ip="198.51.100.200"))
    moved.token, moved.identity = inside.token, inside.identity
    if kind == "http":
        assert stack.run(moved.write({"temperature": 1})) == 204
    else:
        stack.run(moved.connect())
        stack.run(moved.publish({"temperature": 1}))
    (event,) = stack.events_of("data_in", "dev-in")
    assert event["ip"] == "198.51.100.200"


# -- sets --------------------------------------------------------------------------------------
@KINDS
def test_a_set_stays_pending_until_the_device_acknowledges_it(stack, kind):
    device = make(stack, kind, DeviceSpec("dev-1"))
    device.auto_ack = False
    run_kwargs = {"watch": ["config_io", "switch"]} if kind == "http" else {}
    task = stack.world.spawn(device.run(period_s=30, cycles=3, **run_kwargs))
    stack.sleep(5)
    stack.call("setIdentityState", {"identity": "dev-1", "config_io": '{"rate": 10}'})
    stack.sleep(5)
    assert device.applied == {"config_io": '{"rate": 10}'}
    assert "config_io" in stack.gw.pending_sets("dev-1")  # received, not acknowledged
    received = device.seen("received")
    assert len(received) == 1 and received[0].at == pytest.approx(5, abs=0.1)
    device.auto_ack = True
    if kind == "http":
        stack.run(device.write({"config_io": device.applied["config_io"]}))
    else:
        stack.run(device.publish({"config_io": device.applied["config_io"]}))
    assert stack.gw.pending_sets("dev-1") == {}
    stack.call("setIdentityState", {"identity": "dev-1", "switch": True})
    stack.sleep(5)
    assert device.applied["switch"] == "true"
    assert stack.gw.pending_sets("dev-1") == {}  # acknowledged at once this time
    stack.run(task)
    entry = stack.state("dev-1")["config_io"]
    assert entry["set"] == entry["reported"] == '{"rate": 10}'


def test_http_watch_acknowledges_every_set_it_long_polls(stack):
    device = make(stack, "http", DeviceSpec("dev-1"))
    task = stack.world.spawn(device.run(period_s=60, cycles=2, watch=["config_io", "switch"]))
    for n, at in enumerate((3, 17, 40)):
        stack.world.loop.call_later(
            at,
            lambda n=n: stack.call("setIdentityState", {"identity": "dev-1", "config_io": f"v{n}"}),
        )
    stack.world.loop.call_later(
        20, lambda: stack.call("setIdentityState", {"identity": "dev-1", "switch": False})
    )
    stack.run(task)
    assert [h.detail["value"] for h in device.seen("acknowledged")] == ["v0", "v1", "false", "v2"]
    assert stack.gw.pending_sets("dev-1") == {}
    assert device.applied == {"config_io": "v2", "switch": "false"}


def test_mqtt_device_gets_sets_made_while_it_was_offline(stack):
    device = make(stack, "mqtt", DeviceSpec("dev-1"))
    stack.run(device.run(period_s=5, cycles=1))
    stack.run(device.disconnect())
    stack.call("setIdentityState", {"identity": "dev-1", "config_io": "offline-value"})
    stack.sleep(60)
    stack.run(device.connect())
    stack.sleep(1)
    assert device.applied == {"config_io": "offline-value"}
    assert stack.gw.pending_sets("dev-1") == {}


# -- gateways ----------------------------------------------------------------------------------
@KINDS
def test_a_gateway_publishes_for_its_children_when_allowed(stack, kind):
    for child in ("sensor-1", "sensor-2"):
        stack.call("addIdentity", {"identity": child})
    stack.call("updateGatewaySettings", {"permission": {"gateway": ["gw-1"]}})
    gateway = GatewayDevice(
        make(stack, kind, DeviceSpec("gw-1", ip="192.0.2.90")), ["sensor-1", "sensor-2"]
    )
    stack.run(
        gateway.run(10, lambda child, n, _t: {"temperature": 20 + n + (child == "sensor-2")}, 3)
    )
    assert gateway.device.stopped is None
    assert stack.state("sensor-1")["temperature"]["reported"] == 22
    assert stack.state("sensor-2")["temperature"]["reported"] == 23
    for child in ("sensor-1", "sensor-2"):
        events = stack.events_of("data_in", child)
        assert len(events) == 3 and {e["ip"] for e in events} == {"192.0.2.90"}
    assert stack.events_of("data_in", "gw-1") == []


@KINDS
def test_a_gateway_without_permission_is_refused(stack, kind):
    stack.call("addIdentity", {"identity": "sensor-1"})
    gateway = GatewayDevice(make(stack, kind, DeviceSpec("gw-2")), ["sensor-1"])
    stack.run(gateway.run(10, lambda _c, _n, _t: {"temperature": 1}, 3))
    assert gateway.device.stopped is not None
    assert stack.events_of("data_in", "sensor-1") == []
    stack.call(
        "updateIdentityPermission",
        {"identity": "gw-2", "permission": {"publish_as": {"identities": ["sensor-1"]}}},
    )
    allowed = GatewayDevice(make(stack, kind, DeviceSpec("gw-2")), ["sensor-1"])
    allowed.device.token = gateway.device.token
    stack.run(allowed.run(10, lambda _c, _n, _t: {"temperature": 1}, 1))
    assert allowed.device.stopped is None and len(stack.events_of("data_in", "sensor-1")) == 1


# -- reproducibility ---------------------------------------------------------------------------
def scenario(tmp_path, seed):
    stack = Stack(tmp_path / f"d2-{seed}-{len(list(tmp_path.iterdir()))}.db", seed=seed)
    try:
        stack.resources()
        devices = [
            make(stack, "http", DeviceSpec("h-1", ip="192.0.2.1")),
            make(stack, "mqtt", DeviceSpec("m-1", ip="192.0.2.2")),
        ]
        tasks = [
            stack.world.spawn(devices[0].run(period_s=7, cycles=5, watch=["config_io"])),
            stack.world.spawn(devices[1].run(period_s=11, cycles=4)),
        ]
        for identity in ("h-1", "m-1"):
            stack.world.loop.call_later(
                13,
                lambda i=identity: stack.call(
                    "setIdentityState", {"identity": i, "config_io": "x"}
                ),
            )
        for task in tasks:
            stack.run(task)
        logs = [[(h.at, h.what, sorted(h.detail.items())) for h in d.log] for d in devices]
        events = [
            (e["type"], e["identity"], e["timestamp"], e["connection_id"], e.get("payload"))
            for e in stack.events
        ]
        return logs, events
    finally:
        stack.close()


def test_one_seed_gives_the_same_run(tmp_path):
    first, again, other = scenario(tmp_path, 5), scenario(tmp_path, 5), scenario(tmp_path, 6)
    assert first == again
    assert first != other
