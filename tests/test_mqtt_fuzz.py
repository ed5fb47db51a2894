"""Fuzzing the server: random and mutated bytes before and after a good CONNECT, truncated
packets, over-long remaining lengths, bad UTF-8, reserved packet types. The session never
raises, answers only as the spec allows (MQTT 5: DISCONNECT with a failure reason, then close;
3.1.1: close), and a good client still works afterwards."""

from __future__ import annotations

import asyncio

import paho.mqtt.client as mqtt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion

from devices.cloud.mqtt_platform import Close, MqttServer, Send, Session
from devices.protocols.mqtt import (
    PROTOCOL_3_1_1,
    PROTOCOL_5,
    ConnAck,
    Connect,
    Disconnect,
    MqttError,
    PacketReader,
    PingReq,
    Publish,
    Subscribe,
    Subscription,
    encode,
)
from devices.protocols.mqtt.codec import decode
from devices.protocols.mqtt.paho_virtual import PahoLink
from sim.iplink import IpNetwork
from sim.world import World
from tests.mqtt_support import PahoEvents, TopicLog, without_reason_strings

FUZZ = settings(
    max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
VERSIONS = pytest.mark.parametrize("version", [PROTOCOL_3_1_1, PROTOCOL_5], ids=["3.1.1", "5"])


def new_session() -> Session:
    return Session(TopicLog(), lambda: 0.0)


def connected(version: int) -> Session:
    session = new_session()
    packets, closed = answers(version, session.feed(encode(Connect("fuzz", version), version)))
    assert not closed and [p.reason_code for p in packets] == [0]
    return session


def feed_chunks(session: Session, data: bytes, cuts: list[int]) -> list:
    actions: list = []
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    for a, b in zip(points, points[1:], strict=False):
        actions += session.feed(data[a:b])  # must never raise
    return actions


def answers(version: int, actions: list) -> tuple[list, bool]:
    """The packets the server sent and whether it closed; asserts nothing follows a Close."""
    reader = PacketReader(version=version)
    packets, closed = [], False
    for action in actions:
        assert not closed, "output after Close"
        if isinstance(action, Close):
            closed = True
        else:
            reader.feed(action.data)
            packets += without_reason_strings(list(reader))
    assert reader.buffered == 0
    return packets, closed


def check_after_connect(version: int, session: Session, actions: list) -> None:
    packets, closed = answers(version, actions)
    disconnects = [p for p in packets if isinstance(p, Disconnect)]
    if version == PROTOCOL_3_1_1:
        assert not disconnects  # 3.1.1 has no server DISCONNECT: it just closes
    elif disconnects:
        assert closed and packets[-1] is disconnects[0] and disconnects[0].reason_code >= 0x80
    assert closed == session.closed
    assert not session.close_detail.startswith("internal error"), session.close_detail
    assert not any(isinstance(p, ConnAck) for p in packets)


mutations = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4)
cuts = st.lists(st.integers(0, 10_000), max_size=6)


def valid_stream(version: int) -> bytes:
    packets = [
        Publish("v1/gateway/telemetry", b'{"a":1}', 1, packet_id=1),
        Subscribe(2, [Subscription("v1/gateway/rpc", 1)]),
        Publish("t", b"x", 2, packet_id=3),
        PingReq(),
    ]
    return b"".join(encode(p, version) for p in packets)


@FUZZ
@given(st.binary(max_size=300), cuts)
def test_random_bytes_before_connect(data, cut_points):
    session = new_session()
    actions = feed_chunks(session, data, cut_points)
    assert not session.close_detail.startswith("internal error"), session.close_detail
    sent = b"".join(a.data for a in actions if isinstance(a, Send))
    if sent:  # only a refusing CONNACK, in the 3.1.1 or the MQTT 5 format
        version = PROTOCOL_3_1_1 if sent[1] == 2 else PROTOCOL_5
        [ack], closed = answers(version, actions)
        assert isinstance(ack, ConnAck) and ack.reason_code != 0 and closed


@VERSIONS
@FUZZ
@given(data=st.binary(max_size=300), cut_points=cuts)
def test_random_bytes_after_connect(version, data, cut_points):
    session = connected(version)
    check_after_connect(version, session, feed_chunks(session, data, cut_points))


@VERSIONS
@FUZZ
@given(changes=mutations, cut_points=cuts)
def test_mutated_packets_after_connect(version, changes, cut_points):
    stream = bytearray(valid_stream(version))
    for pos, value in changes:
        stream[pos % len(stream)] = value
    session = connected(version)
    check_after_connect(version, session, feed_chunks(session, bytes(stream), cut_points))


@VERSIONS
def test_every_truncation_waits_then_completes(version):
    stream = valid_stream(version)
    for cut in range(len(stream)):
        session = connected(version)
        first = session.feed(stream[:cut])
        assert not session.closed
        rest = session.feed(stream[cut:])
        packets, closed = answers(version, first + rest)
        assert not closed and len(packets) == 4  # PUBACK, SUBACK, PUBREC, PINGRESP


@VERSIONS
@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x30\xff\xff\xff\xff\x01", 0x81),  # remaining length needs a fifth byte
        (b"\x30\x80\x80\x80\x80\x80", 0x81),
        (b"\x30\x05\x00\x02\xc3\x28\x00", 0x81),  # topic is not UTF-8
        (b"\x30\x05\x00\x03\xed\xa0\x80", 0x81),  # topic holds a surrogate
        (b"\x00\x00", 0x81),  # packet type 0
    ],
)
def test_wire_errors_get_the_spec_answer(version, data, reason):
    session = connected(version)
    packets, closed = answers(version, session.feed(data))
    assert closed
    assert packets == ([Disconnect(reason)] if version == PROTOCOL_5 else [])


@VERSIONS
def test_server_packets_from_a_client_are_protocol_errors(version):
    session = connected(version)
    packets, closed = answers(version, session.feed(encode(ConnAck(), version)))
    assert closed and packets == ([Disconnect(0x82)] if version == PROTOCOL_5 else [])


def test_packet_type_15():
    v311 = connected(PROTOCOL_3_1_1)  # reserved under 3.1.1: malformed, close
    assert answers(PROTOCOL_3_1_1, v311.feed(b"\xf0\x00")) == ([], True)
    v5 = connected(PROTOCOL_5)  # AUTH under MQTT 5, which we do not offer
    assert answers(PROTOCOL_5, v5.feed(b"\xf0\x00")) == ([Disconnect(0x82)], True)


@FUZZ
@given(st.binary(min_size=1, max_size=64))
def test_decoder_only_raises_mqtt_errors(body):
    for first in (0x10, 0x20, 0x30, 0x32, 0x34, 0x40, 0x62, 0x82, 0x90, 0xA2, 0xB0, 0xE0, 0xF0):
        for version in (None, PROTOCOL_3_1_1, PROTOCOL_5):
            try:
                decode(first, body, version)
            except MqttError:
                pass


def test_a_good_client_works_after_garbage():
    world = World(seed=4)
    net = IpNetwork(world)
    app = TopicLog()
    server = MqttServer(app)
    server.listen(net, "platform", 1883)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="good", protocol=mqtt.MQTTv5)
    events = PahoEvents(client)
    link = PahoLink.in_world(client, net, "platform", 1883, client_host="gw")
    garbage = [
        b"\x10\xff\xff\xff\xff\x7f",
        encode(Connect("bad", PROTOCOL_5), PROTOCOL_5) + b"\x00\x13\x37" * 50,
        encode(Connect("bad", PROTOCOL_3_1_1), PROTOCOL_3_1_1) + b"\xf0\x00",
        bytes(range(256)),
    ]

    async def attack(data: bytes) -> bytes:
        reader, writer = await net.open_connection("platform", 1883, client_host="fuzzer")
        writer.write(data)
        return await asyncio.wait_for(reader.read(), 30)  # until the server closes

    async def main():
        replies = [await attack(data) for data in garbage]
        await link.connect()
        await asyncio.sleep(0.1)
        client.subscribe("echo/#", qos=1)
        await asyncio.sleep(0.1)
        info = client.publish("echo/ok", b"still here", qos=1)
        await asyncio.sleep(0.1)
        return replies, info.mid

    try:
        replies, mid = world.run(main())
        assert server.open_connections == 1  # every fuzzing connection was closed
    finally:
        link.close()
        world.close()
    assert replies[0] == b""  # a CONNECT too long to be one: closed without a word
    v5 = PacketReader(version=PROTOCOL_5)
    v5.feed(replies[1])
    assert [(p.type.name, p.reason_code) for p in v5] == [("CONNACK", 0), ("DISCONNECT", 0x81)]
    assert replies[2] == encode(ConnAck(), PROTOCOL_3_1_1)  # then closed, no DISCONNECT
    assert events.of_kind("message") == [("message", "echo/ok", b"still here", 1)]
    assert ("puback", mid, 0) in events.events
