"""Every topic of the gateway API (seed 001) as the platform answers it, with paho gateways in
virtual time: get-or-create and type rules, telemetry with and without ts, skipped entries,
client attributes, attribute requests, shared attribute pushes, claim, disconnect, and the
gateway's own device API (getSessionLimits, its telemetry and attributes)."""

from __future__ import annotations

import asyncio

import pytest

from devices.cloud.mqtt_platform import PlatformConfig, events
from tests.mqtt_platform_support import V5, V311, PlatformBed

VERSIONS = pytest.mark.parametrize("protocol", [V311, V5], ids=["3.1.1", "5"])
EPOCH_MS = 1_767_225_600_000  # the world's calendar starts 2026-01-01T00:00:00Z


@pytest.fixture
def bed():
    b = PlatformBed()
    yield b
    b.close()


def values(points):
    return [(p.ts, p.key, p.value) for p in points]


@VERSIONS
def test_connect_creates_the_device_with_its_type_and_keeps_it(bed, protocol):
    gw = bed.gateway(protocol=protocol)
    created = []
    bed.platform.on(events.DEVICE_CREATED, lambda *args: created.append(args))

    async def main():
        await gw.connect()
        assert (
            await gw.send("v1/gateway/connect", {"device": "Thermo A", "type": "thermometer"}) == 0
        )
        assert await gw.send("v1/gateway/connect", {"device": "Thermo A", "type": "other"}) == 0
        assert await gw.send("v1/gateway/connect", {"device": "Plain"}) == 0
        assert await gw.send("v1/gateway/connect", {"device": "Null type", "type": None}) == 0

    bed.run(main())
    p = bed.platform
    assert p.device("Thermo A").type == "thermometer"  # an existing device keeps its type
    assert p.device("Plain").type == "default"
    assert p.device("Null type").type == "default"
    assert [d.name for d in p.devices("gw-1")] == ["Null type", "Plain", "Thermo A"]
    assert all(d.active and d.gateway == "gw-1" for d in p.devices("gw-1"))
    assert [c[1] for c in created] == ["Thermo A", "Plain", "Null type"]


@VERSIONS
def test_telemetry_with_and_without_ts_and_skipped_entries(bed, protocol):
    gw = bed.gateway(protocol=protocol)

    async def main():
        await gw.connect()
        await asyncio.sleep(10 - bed.world.now)  # the server stamps t = 10 s
        body = {
            "Device A": [
                {"ts": 1483228800000, "values": {"temperature": 42, "humidity": 80}},
                {"ts": 1483228801000, "values": {"temperature": 43, "humidity": 82}},
                {"pressure": 1013.25, "label": "ok", "on": True, "cfg": {"a": [1]}},
            ],
            "Device B": [{"ts": 1483228800000, "values": {"temperature": 42}}],
            "Device C": {"temperature": 1},  # not an array: skipped
            "Device D": "junk",  # skipped
        }
        return await gw.send("v1/gateway/telemetry", body)

    assert bed.run(main()) == 0
    p = bed.platform
    now = EPOCH_MS + 10_000
    assert values(p.telemetry("Device A")) == [
        (1483228800000, "humidity", 80),
        (1483228800000, "temperature", 42),
        (1483228801000, "humidity", 82),
        (1483228801000, "temperature", 43),
        (now, "cfg", {"a": [1]}),
        (now, "label", "ok"),
        (now, "on", True),
        (now, "pressure", 1013.25),
    ]
    assert values(p.telemetry("Device A", key="temperature", since=1483228801000)) == [
        (1483228801000, "temperature", 43)
    ]
    assert values(p.telemetry("Device B")) == [(1483228800000, "temperature", 42)]
    names = {d.name for d in p.devices("gw-1")}
    assert names == {"Device A", "Device B"}  # telemetry got-or-created them; C, D skipped
    assert p.device("Device A").type == "default"


def test_a_resent_batch_duplicates_nothing(bed):
    gw = bed.gateway()
    batch = {"A": [{"ts": 1000, "values": {"t": 1}}, {"ts": 2000, "values": {"t": 2}}]}

    async def main():
        await gw.connect()
        assert await gw.send("v1/gateway/telemetry", batch) == 0
        assert await gw.send("v1/gateway/telemetry", batch) == 0  # a lost PUBACK, resent

    bed.run(main())
    assert values(bed.platform.telemetry("A")) == [(1000, "t", 1), (2000, "t", 2)]


@VERSIONS
def test_client_attributes_and_attribute_requests(bed, protocol):
    gw = bed.gateway(protocol=protocol)

    async def main():
        await gw.connect()
        attrs = {"Device A": {"fw": "1.2", "model": "T1", "slots": 4}, "Device X": 7}
        assert await gw.send("v1/gateway/attributes", attrs) == 0
        bed.platform.set_shared_attributes("Device A", {"interval": 5, "mode": "eco"})
        requests = [
            {"id": 1, "device": "Device A", "client": True, "key": "fw"},
            {"id": 2, "device": "Device A", "client": True, "keys": ["fw", "slots", "missing"]},
            {"id": 3, "device": "Device A", "client": False, "key": "interval"},
            {"id": 4, "device": "Device A", "client": False, "key": "fw"},  # wrong scope
            {"id": 5, "device": "Device A", "client": False, "keys": ["mode"]},
            {"id": 6, "device": "New device", "client": True, "keys": ["a", "b"]},
        ]
        for request in requests:
            assert await gw.send("v1/gateway/attributes/request", request) == 0

    bed.run(main())
    assert gw.received("v1/gateway/attributes/response") == [
        {"id": 1, "device": "Device A", "value": "1.2"},
        {"id": 2, "device": "Device A", "values": {"fw": "1.2", "slots": 4}},
        {"id": 3, "device": "Device A", "value": 5},
        {"id": 4, "device": "Device A"},
        {"id": 5, "device": "Device A", "value": "eco"},
        {"id": 6, "device": "New device", "values": {}},
    ]
    assert bed.platform.attributes("Device A") == {"fw": "1.2", "model": "T1", "slots": 4}
    assert bed.platform.attributes("Device A", "shared") == {"interval": 5, "mode": "eco"}
    assert bed.platform.device("New device").gateway == "gw-1"  # a request creates it too
    with pytest.raises(Exception, match="Device X"):
        bed.platform.device("Device X")  # not an object: skipped, not created


def test_shared_attributes_are_pushed_to_the_subscribed_gateway_only(bed):
    subscribed = bed.gateway("gw-1")
    deaf = bed.gateway("gw-2")

    async def main():
        await subscribed.connect()
        await deaf.connect(subscribe=("v1/gateway/rpc",))
        await subscribed.send("v1/gateway/connect", {"device": "A"})
        await deaf.send("v1/gateway/connect", {"device": "B"})
        pushed = [
            bed.platform.set_shared_attributes("A", {"interval": 5}),
            bed.platform.set_shared_attributes("B", {"interval": 6}),
        ]
        await subscribed.send("v1/gateway/disconnect", {"device": "A"})
        pushed.append(bed.platform.set_shared_attributes("A", {"interval": 7}))
        await asyncio.sleep(0.1)
        return pushed

    assert bed.run(main()) == [True, False, False]
    assert subscribed.received("v1/gateway/attributes") == [
        {"device": "A", "data": {"interval": 5}}
    ]
    assert deaf.received() == []
    assert bed.platform.attributes("A", "shared") == {"interval": 7}  # stored all the same


def test_the_real_platform_pushes_without_a_subscription_when_asked():
    bed = PlatformBed(config=PlatformConfig(require_subscription=False))
    gw = bed.gateway()
    try:

        async def main():
            await gw.connect(subscribe=())
            await gw.send("v1/gateway/connect", {"device": "A"})
            return bed.platform.set_shared_attributes("A", {"x": 1})

        assert bed.run(main()) is True
        bed.run(asyncio.sleep(0.1))
        assert gw.received("v1/gateway/attributes") == [{"device": "A", "data": {"x": 1}}]
    finally:
        bed.close()


def test_claim_defaults_and_durations(bed):
    gw = bed.gateway()

    async def main():
        await gw.connect()
        body = {
            "Device A": {"secretKey": "value_A", "durationMs": 60000},
            "Device B": {},
            "Device C": {"durationMs": 0},
            "Device D": "skipped",
        }
        return await gw.send("v1/gateway/claim", body)

    assert bed.run(main()) == 0
    p = bed.platform
    day = PlatformConfig().claim_duration_ms
    assert day == 86_400_000
    now = EPOCH_MS + 100  # connect + subscribe + one step of virtual time
    claim_a, claim_b, claim_c = (p.device(n).claim for n in ("Device A", "Device B", "Device C"))
    assert claim_a is not None and claim_b is not None and claim_c is not None
    assert claim_a.secret_key == "value_A" and claim_a.expires_ms == pytest.approx(
        now + 60000, abs=5
    )
    assert claim_b.secret_key == "" and claim_b.expires_ms == pytest.approx(now + day, abs=5)
    assert claim_c.expires_ms == claim_b.expires_ms
    assert {d.name for d in p.devices("gw-1")} == {"Device A", "Device B", "Device C"}


def test_disconnect_ends_the_session_and_data_revives_it(bed):
    gw = bed.gateway()

    async def main():
        await gw.connect()
        await gw.send("v1/gateway/connect", {"device": "A"})
        states = [bed.platform.is_active("A")]
        assert await gw.send("v1/gateway/disconnect", {"device": "A"}) == 0
        assert await gw.send("v1/gateway/disconnect", {"device": "never seen"}) == 0
        states.append(bed.platform.is_active("A"))
        await gw.send("v1/gateway/telemetry", {"A": [{"t": 1}]})
        states.append(bed.platform.is_active("A"))
        return states

    assert bed.run(main()) == [True, False, True]


def test_device_sessions_expire_after_ten_minutes_of_silence(bed):
    gw = bed.gateway()
    ended = []
    bed.platform.on(events.DEVICE_DISCONNECTED, lambda *args: ended.append((args, bed.world.now)))

    async def main():
        await gw.connect()
        await gw.send("v1/gateway/connect", {"device": "quiet"})
        await gw.send("v1/gateway/connect", {"device": "chatty"})
        for _ in range(4):
            await asyncio.sleep(240)
            await gw.send("v1/gateway/telemetry", {"chatty": [{"n": 1}]})
        return bed.platform.is_active("quiet"), bed.platform.is_active("chatty")

    assert bed.run(main()) == (False, True)
    assert [(a[1], a[3]) for a, _t in ended] == [("quiet", "inactive")]
    assert 600 <= ended[0][1] <= 601


def test_get_session_limits_and_the_gateway_device_api(bed):
    gw = bed.gateway()

    async def main():
        await gw.connect()
        rpc = {"method": "getSessionLimits", "params": {"timeout": 5000}}
        assert await gw.send("v1/devices/me/rpc/request/1", rpc) == 0
        assert await gw.send("v1/devices/me/rpc/request/2", {"method": "other"}) == 0
        assert await gw.send("v1/devices/me/telemetry", {"cpu": 12}) == 0
        assert await gw.send("v1/devices/me/telemetry", [{"ts": 5, "values": {"cpu": 3}}]) == 0
        assert await gw.send("v1/devices/me/attributes", {"version": "3.8.5"}) == 0
        bed.platform.set_shared_attributes("gw-1", {"logLevel": "DEBUG"})
        await asyncio.sleep(0.1)
        req = {"clientKeys": "version,nope", "sharedKeys": "logLevel"}
        assert await gw.send("v1/devices/me/attributes/request/7", req) == 0
        assert await gw.send("v1/devices/me/claim", {"secretKey": "k"}) == 0

    bed.run(main())
    limits = gw.received("v1/devices/me/rpc/response/1")
    assert limits == [PlatformConfig().session_limits()]
    assert set(limits[0]) >= {"rateLimits", "maxPayloadSize", "maxInflightMessages"}
    assert set(limits[0]["rateLimits"]) == {"messages", "telemetryMessages", "telemetryDataPoints"}
    assert gw.received("v1/devices/me/rpc/response/2") == []  # no rule engine answers it
    assert gw.received("v1/devices/me/attributes") == [{"logLevel": "DEBUG"}]
    assert gw.received("v1/devices/me/attributes/response/7") == [
        {"client": {"version": "3.8.5"}, "shared": {"logLevel": "DEBUG"}}
    ]
    p = bed.platform
    assert [(x.key, x.value) for x in p.telemetry("gw-1")] == [("cpu", 3), ("cpu", 12)]
    assert p.attributes("gw-1") == {"version": "3.8.5"}
    gateway = p.device("gw-1")
    assert gateway.is_gateway and gateway.active and gateway.claim is not None
    assert p.devices("gw-1") == []  # the gateway's own data makes no child device


def test_subscriptions_granted_at_most_qos_1_and_unknown_filters_refused(bed):
    gw = bed.gateway()

    async def main():
        await gw.connect(subscribe=())
        gw.client.subscribe([("v1/gateway/rpc", 2), ("v1/gateway/attributes", 0), ("a/#", 1)])
        await asyncio.sleep(0.1)

    bed.run(main())
    assert gw.events.of_kind("suback")[-1][2] == [1, 0, 0x8F]


def story(seed: int) -> str:
    """A little of everything; the platform's part of the trace."""
    bed = PlatformBed(seed=seed)
    gw = bed.gateway()
    gw.on_rpc = lambda r: {"device": r["device"], "id": r["data"]["id"], "data": 1}
    try:

        async def main():
            await gw.connect()
            await gw.send("v1/gateway/connect", {"device": "A"})
            await gw.send("v1/gateway/telemetry", {"A": [{"t": 1}], "B": [{"t": 2}]})
            await bed.platform.rpc("A", "m")
            await gw.send("v1/gateway/attributes", {"A": {"k": "v"}})
            await asyncio.sleep(700)

        bed.run(main())
        return "".join(
            line + "\n"
            for line in bed.world.trace.dump().splitlines()
            if '"layer":"mqtt-platform"' in line
        )
    finally:
        bed.close()


def test_same_seed_same_trace():
    first = story(3)
    assert first == story(3)
    assert '"event":"device-disconnected"' in first  # B and A fell silent
