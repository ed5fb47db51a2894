"""The gateway's persistent queue over MQTT, in virtual time: outages and restarts lose and
duplicate nothing and keep order; a lost PUBACK duplicates only what was in flight, identically;
poison messages are dead-lettered and counted while later ones flow; retryable refusals back
off; session limits pace the queue; reconnects resubscribe and re-announce devices."""

from __future__ import annotations

import asyncio
import threading

import paho.mqtt.client as paho
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from devices.gateways.mqtt_gateway import ConfigError, MqttGateway, events
from devices.gateways.mqtt_gateway.config import DeviceConfig
from devices.protocols.mqtt import Reason
from devices.protocols.mqtt.paho_virtual import check_paho_hooks
from tests.mqtt_gateway_support import TOKEN, GatewayBed, until

SENSOR = DeviceConfig(name="Sensor A", kind="virtual", type="thermometer")
OTHER = DeviceConfig(name="Sensor B", kind="virtual")


@pytest.fixture
def bed(tmp_path):
    b = GatewayBed(tmp_path)
    yield b
    b.close()


async def produce(gateway: MqttGateway, count: int, every: float, start: int = 0) -> None:
    """``count`` readings of SENSOR, one every ``every`` seconds: counter = start, start+1..."""
    for i in range(start, start + count):
        gateway.report_telemetry(SENSOR, {"counter": i})
        await asyncio.sleep(every)


async def online(gateway: MqttGateway) -> None:
    """Start ``gateway``, wait for its platform connection, bring SENSOR online."""
    await gateway.start()
    await until(lambda: gateway.connected)
    gateway.device_online(SENSOR)


def deliver(bed: GatewayBed, gateway: MqttGateway, count: int, every: float) -> None:
    """``gateway`` online, ``count`` readings produced, run until none is left queued."""

    async def main() -> None:
        await online(gateway)
        await produce(gateway, count, every=every)
        await until(lambda: gateway.stats()["queued"] == 0)

    bed.world.run(main())


def test_paho_private_hooks_are_guarded():
    check_paho_hooks()  # names what is missing if a paho release drops a hook we use
    assert callable(getattr(paho.Client, "_create_socket", None))
    assert hasattr(paho, "time_func")


def test_a_paho_without_our_hooks_is_refused_when_the_gateway_is_built(bed, monkeypatch):
    monkeypatch.delattr(paho.Client, "_create_socket")
    with pytest.raises(RuntimeError, match="Client._create_socket"):
        bed.gateway(bed.config())
    assert "gw-1" not in bed.world.nodes


def test_an_unusable_queue_file_is_named(bed, tmp_path):
    with pytest.raises(ConfigError, match="delivery.path: cannot open the queue"):
        bed.gateway(bed.config(delivery={"path": str(tmp_path / "absent" / "q.sqlite")}))


def test_telemetry_is_batched_with_calendar_timestamps(bed):
    gateway = bed.gateway(bed.config())

    async def main():
        await online(gateway)
        await produce(gateway, 5, every=0.1)
        await asyncio.sleep(2)

    threads = threading.active_count()
    bed.world.run(main())
    assert threading.active_count() == threads  # paho ran without a thread of its own
    p = bed.platform
    assert p.bodies("v1/gateway/connect") == [{"device": "Sensor A", "type": "thermometer"}]
    assert p.values("Sensor A", "counter") == [0, 1, 2, 3, 4]
    epoch_ms = int(bed.world.epoch.timestamp() * 1000)
    stamps = [ts for _d, ts, _k, _v in p.telemetry]
    assert stamps == sorted(stamps) and all(0 < ts - epoch_ms < 60_000 for ts in stamps)
    assert stamps[1] - stamps[0] == 100
    batches = p.bodies("v1/gateway/telemetry")
    assert len(batches) < 5 and all(isinstance(b["Sensor A"], list) for b in batches)
    assert gateway.stats()["queued"] == 0


def test_outage_of_200_s_loses_nothing_duplicates_nothing_keeps_order(bed):
    gateway = bed.gateway(bed.config())

    async def main():
        await online(gateway)
        await produce(gateway, 20, every=1.0)
        bed.net.partition("gw-1", "platform")
        await produce(gateway, 200, every=1.0, start=20)
        bed.net.partition("gw-1", "platform", False)
        await produce(gateway, 20, every=1.0, start=220)
        await until(lambda: gateway.stats()["queued"] == 0)

    bed.world.run(main())
    assert bed.platform.values("Sensor A", "counter") == list(range(240))
    assert bed.platform.connects >= 2
    stats = gateway.stats()
    assert stats["delivered"] >= 240 and stats.get("dead_lettered", 0) == 0
    lost = bed.world.trace.select(node="gw-1", event="lost")
    assert lost and lost[0]["t"] < 20 + 2 * 60 + 5  # paho's keep alive noticed the dead link
    assert [r["was_ready"] for r in lost].count(True) == 1  # one loss, however paho said it
    assert TOKEN not in bed.world.trace.dump()


def test_reconnect_resubscribes_and_reannounces_devices(bed):
    gateway = bed.gateway(bed.config())

    async def main():
        await online(gateway)
        await asyncio.sleep(5)
        bed.net.reset_host("gw-1")
        await until(lambda: bed.platform.connects == 2 and gateway.connected)
        await asyncio.sleep(2)

    bed.world.run(main())
    filters = [f for _t, f in bed.platform.subscriptions]
    assert filters.count("v1/gateway/rpc") == 2 and filters.count("v1/gateway/attributes") == 2
    assert (
        bed.platform.bodies("v1/gateway/connect")
        == [{"device": "Sensor A", "type": "thermometer"}] * 2
    )
    # one reconnect for one loss, even though paho may report it twice (issue #870)
    assert len(bed.world.trace.select(node="gw-1", event="lost")) == 1


def test_a_loss_reported_twice_schedules_one_reconnect(bed):
    gateway = bed.gateway(bed.config())

    async def main():
        await gateway.start()
        await until(lambda: gateway.connected)
        client = gateway.uplink.client
        flags = paho.DisconnectFlags(is_disconnect_packet_from_server=False)
        reason = ReasonCode(PacketTypes.DISCONNECT, "Keep alive timeout")
        for _ in range(2):  # what paho's loop_misc does on a keep alive timeout (#870)
            client.on_disconnect(client, None, flags, reason, None)
        await until(lambda: gateway.connected)
        await asyncio.sleep(30)

    bed.world.run(main())
    trace = bed.world.trace
    assert len(trace.select(node="gw-1", event="lost")) == 1
    assert len(trace.select(node="gw-1", event="connecting")) == 2
    assert bed.platform.connects == 2


def test_broker_down_for_200_s_loses_nothing_and_keeps_order(bed):
    gateway = bed.gateway(bed.config())

    async def main():
        await online(gateway)
        await produce(gateway, 10, every=1.0)
        await bed.server.close()  # MQTT 5 DISCONNECT 0x8B, then connections are refused
        await produce(gateway, 200, every=1.0, start=10)
        bed.server.listen(bed.net, "platform", 1883)
        await produce(gateway, 10, every=1.0, start=210)
        await until(lambda: gateway.stats()["queued"] == 0)

    bed.world.run(main())
    assert bed.platform.values("Sensor A", "counter") == list(range(220))
    (first_loss, *_retries) = bed.world.trace.select(node="gw-1", event="lost")
    assert "0x8B" in first_loss["reason"]


def test_gateway_restart_loses_nothing_and_duplicates_nothing(bed):
    doc = bed.config()
    first = bed.gateway(doc)

    async def main():
        await online(first)
        await produce(first, 30, every=0.5)
        await first.stop()  # PUBACKs flowing: it waits for those in flight
        second = bed.gateway(doc)
        await second.start()
        await until(lambda: second.connected)
        second.device_online(SENSOR)
        await produce(second, 30, every=0.5, start=30)
        # a backlog builds up in the queue file while the platform is unreachable ...
        bed.net.partition("gw-1", "platform")
        await produce(second, 300, every=0.5, start=60)
        await until(lambda: not second.connected)
        await second.stop()  # ... and survives a restart
        bed.net.partition("gw-1", "platform", False)
        third = bed.gateway(doc)
        await third.start()
        await until(lambda: third.connected)
        third.device_online(SENSOR)
        await produce(third, 30, every=0.5, start=360)
        await until(lambda: third.stats()["queued"] == 0)
        return third

    third = bed.world.run(main())
    assert bed.platform.values("Sensor A", "counter") == list(range(390))
    assert third.stats()["delivered"] >= 390


def test_crash_while_messages_flow_duplicates_only_what_was_in_flight(bed):
    doc = bed.config(delivery={"batch_s": 0})
    first = bed.gateway(doc)

    async def main():
        await online(first)
        await produce(first, 20, every=0.2)
        # The platform processes the next PUBLISH, but its PUBACK never comes back.
        bed.net.set_link("gw-1", "platform", latency_s=2.0)
        first.report_telemetry(SENSOR, {"counter": 20})
        await asyncio.sleep(3)  # the PUBLISH arrived; the PUBACK is on its way
        in_flight = first.delivery.in_flight
        await first.crash()
        bed.net.set_link("gw-1", "platform", latency_s=0.0005)
        second = bed.gateway(doc)
        await second.start()
        await until(lambda: second.connected)
        second.device_online(SENSOR)
        await produce(second, 5, every=0.2, start=21)
        await until(lambda: second.stats()["queued"] == 0)
        return in_flight, second

    in_flight, second = bed.world.run(main())
    values = bed.platform.values("Sensor A", "counter")
    assert in_flight == 1
    assert values == list(range(21)) + [20] + list(range(21, 26))  # 20 twice, nothing else
    rows = [(d, ts, k) for d, ts, k, _v in bed.platform.telemetry]
    dupes = {row for row in rows if rows.count(row) > 1}
    assert len(dupes) == 1  # the same (device, ts, key): the platform can dedupe on it
    assert second.stats()["possible_duplicates"] == 1  # and the gateway counted it


def test_poison_message_is_dead_lettered_and_counted_later_ones_flow(bed):
    gateway = bed.gateway(bed.config(delivery={"batch_s": 0.5}))

    def decide(topic, body):
        if topic == "v1/gateway/telemetry" and any(
            e["values"].get("counter") == 7 for e in body.get("Sensor A", [])
        ):
            return Reason.PAYLOAD_FORMAT_INVALID
        return Reason.SUCCESS

    bed.platform.decide = decide

    deliver(bed, gateway, 15, every=0.2)
    assert bed.platform.values("Sensor A", "counter") == [i for i in range(15) if i != 7]
    stats = gateway.stats()
    assert stats["dead_lettered"] == 1
    assert stats["refused_0x99"] == 2  # the batch holding it, then the row alone
    (letter,) = gateway.outbox.dead_letters()
    assert letter.body["values"] == {"counter": 7} and letter.reason == 0x99


@pytest.mark.parametrize(
    "reason", [Reason.QUOTA_EXCEEDED, Reason.IMPLEMENTATION_SPECIFIC_ERROR], ids=hex
)
def test_retryable_refusal_backs_off_then_succeeds(bed, reason):
    gateway = bed.gateway(bed.config(delivery={"batch_s": 0}))
    refusals: list[float] = []

    def decide(topic, body):
        if topic == "v1/gateway/telemetry" and len(refusals) < 3:
            refusals.append(bed.world.now)
            return reason
        return Reason.SUCCESS

    bed.platform.decide = decide

    deliver(bed, gateway, 3, every=0.1)
    assert bed.platform.values("Sensor A", "counter") == [0, 1, 2]
    gaps = [b - a for a, b in zip(refusals, refusals[1:], strict=False)]
    assert 0.9 <= gaps[0] <= 1.2 and 1.8 <= gaps[1] <= 2.4  # exponential back-off
    stats = gateway.stats()
    assert stats[f"refused_0x{reason:02x}"] == 3 and stats.get("dead_lettered", 0) == 0
    assert stats.get("possible_duplicates", 0) == 0  # a refused PUBLISH was not taken


def test_a_row_refused_max_attempts_times_is_dead_lettered(bed):
    doc = bed.config(delivery={"batch_s": 0, "retry": {"max_attempts": 3, "initial_s": 0.5}})
    gateway = bed.gateway(doc)

    def decide(topic, body):
        if topic == "v1/gateway/telemetry" and body["Sensor A"][0]["values"]["counter"] == 1:
            return Reason.QUOTA_EXCEEDED
        return Reason.SUCCESS

    bed.platform.decide = decide

    deliver(bed, gateway, 3, every=0.1)
    assert bed.platform.values("Sensor A", "counter") == [0, 2]
    (letter,) = gateway.outbox.dead_letters()
    assert letter.body["values"] == {"counter": 1} and letter.reason == 0x97
    assert letter.why.startswith("refused ") and letter.attempts >= 3


def test_mqtt_311_server_close_on_a_poison_message_is_dead_lettered(bed):
    doc = bed.config(platform={"protocol": "3.1.1"}, delivery={"batch_s": 0})
    gateway = bed.gateway(doc)

    def decide(topic, body):
        if topic == "v1/gateway/telemetry" and body["Sensor A"][0]["values"]["counter"] == 2:
            return Reason.PAYLOAD_FORMAT_INVALID  # 3.1.1: the server closes the connection
        return Reason.SUCCESS

    bed.platform.decide = decide

    deliver(bed, gateway, 5, every=0.1)
    assert bed.platform.values("Sensor A", "counter") == [0, 1, 3, 4]
    assert gateway.stats()["dead_lettered"] == 1
    assert bed.platform.connects == 4  # the first connection and one per refusal


def test_session_limits_are_awaited_and_pace_the_queue(bed):
    bed.platform.limits = {
        "maxPayloadSize": 400,
        "maxInflightMessages": 1,
        "rateLimits": {"messages": "2:1"},
    }
    doc = bed.config(
        platform={"session_limits": {"wait": True}},
        delivery={"max_inflight": 4, "batch_s": 0},
    )
    gateway = bed.gateway(doc)

    async def main():
        await gateway.start()
        await until(lambda: gateway.connected)
        ready_at = bed.world.now
        gateway.device_online(SENSOR)
        for i in range(10):
            gateway.report_telemetry(SENSOR, {"counter": i, "padding": "x" * 50})
        await until(lambda: gateway.stats()["queued"] == 0)
        return ready_at

    ready_at = bed.world.run(main())
    requests = bed.platform.bodies("v1/devices/me/rpc/request/1")
    assert requests == [{"method": "getSessionLimits", "params": {"timeout": 5000}}]
    times = [t for t, topic, _b, _ok in bed.platform.published if topic.startswith("v1/gateway/")]
    assert times[0] >= ready_at
    for earlier, later in zip(times, times[2:], strict=False):
        assert later - earlier >= 1.0 - 1e-3  # at most 2 messages a second (sent)
    sizes = [len(str(b)) for b in bed.platform.bodies("v1/gateway/telemetry")]
    assert len(sizes) > 1 and bed.platform.values("Sensor A", "counter") == list(range(10))


def test_wrong_token_is_retried_with_backoff_and_never_traced(bed):
    doc = bed.config(gateway={"name": "gw-1", "access_token": "not-the-token"})
    gateway = bed.gateway(doc)

    async def main():
        await gateway.start()
        await asyncio.sleep(60)

    bed.world.run(main())
    lost = bed.world.trace.select(node="gw-1", event="lost")
    assert 3 <= len(lost) <= 8 and "CONNACK refused" in lost[0]["reason"]
    assert not gateway.connected
    dump = bed.world.trace.dump()
    assert "not-the-token" not in dump and TOKEN not in dump
    assert "not-the-token" not in repr(gateway.config)


def test_claim_and_attribute_request(bed):
    gateway = bed.gateway(bed.config())
    bed.platform.shared["Sensor A"] = {"interval": 30, "mode": "eco"}

    async def main():
        await online(gateway)
        gateway.claim("Sensor A", "s3cret", 60000)
        gateway.claim("Sensor B")
        one = await gateway.request_attributes("Sensor A", ["interval"])
        several = await gateway.request_attributes("Sensor A", ["interval", "mode", "absent"])
        await asyncio.sleep(1)
        return one, several

    one, several = bed.world.run(main())
    assert one == {"interval": 30} and several == {"interval": 30, "mode": "eco"}
    assert bed.platform.bodies("v1/gateway/claim") == [
        {"Sensor A": {"secretKey": "s3cret", "durationMs": 60000}},
        {"Sensor B": {"secretKey": ""}},
    ]


def outage_story(folder, seed: int) -> tuple[str, list]:
    """A short outage story; the gateway's trace and what the platform received."""
    folder.mkdir()
    bed = GatewayBed(folder, seed=seed)
    gateway = bed.gateway(bed.config())
    seen: list = []
    for name in (events.DEVICE_CONNECTED, events.UPLINK_LOST, events.UPLINK_READY):
        gateway.on(name, lambda *args, name=name: seen.append((name, bed.world.now)))

    async def main():
        await online(gateway)
        await produce(gateway, 10, every=0.7)
        bed.net.partition("gw-1", "platform")
        await produce(gateway, 150, every=0.7, start=10)
        bed.net.partition("gw-1", "platform", False)
        await until(lambda: gateway.stats()["queued"] == 0)

    try:
        bed.world.run(main())
        lines = [r for r in bed.world.trace.records if r["node"] == "gw-1"]
        return "\n".join(map(str, lines)), [*bed.platform.published, *seen]
    finally:
        bed.close()


def test_same_seed_same_trace_and_events(tmp_path):
    first, second = outage_story(tmp_path / "a", 3), outage_story(tmp_path / "b", 3)
    assert first == second
    names = [e[0] for e in first[1] if isinstance(e[0], str) and e[0].startswith("uplink")]
    assert names == ["uplink_ready", "uplink_lost", "uplink_ready"]


def test_bad_payloads_from_the_platform_are_traced_and_harmless(bed):
    gateway = bed.gateway(bed.config())

    async def main():
        await online(gateway)
        client = bed.platform.client
        for topic, payload in [
            ("v1/gateway/rpc", b"{not json"),
            ("v1/gateway/rpc", b'{"device": "Sensor A", "data": {"id": "x", "method": "m"}}'),
            ("v1/gateway/attributes", b"[1, 2]"),
            ("v1/gateway/attributes", b'{"device": "Nobody", "data": {"a": 1}}'),
            ("v1/gateway/attributes/response", b'{"id": 99, "value": 1}'),
            ("v1/devices/me/rpc/request/7", b'{"method": "reboot"}'),
        ]:
            client.publish(topic, payload, 1)
        await asyncio.sleep(1)
        reply = await bed.platform.rpc("Sensor A", "anything")
        gateway.report_telemetry(SENSOR, {"counter": 1})
        await asyncio.sleep(2)
        return reply

    reply = bed.world.run(main())
    assert gateway.connected and bed.platform.connects == 1
    assert reply["success"] is False  # a virtual device has no bridge: answered, not dropped
    assert bed.platform.values("Sensor A", "counter") == [1]
    events_seen = {r["event"] for r in bed.world.trace.select(node="gw-1", layer="app")}
    assert {"rpc-malformed", "attributes-malformed", "attributes-unknown-device"} <= events_seen
    assert bed.platform.bodies("v1/devices/me/rpc/response/7") == [
        {"error": "the gateway offers no RPC method 'reboot'"}
    ]
