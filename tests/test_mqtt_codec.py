"""The MQTT codec: every packet type round-trips under 3.1.1 and 5, the wire bytes match the
spec's examples, and each malformation raises the error carrying its MQTT 5 reason code."""

from __future__ import annotations

import pytest

from devices.protocols.mqtt import (
    PROTOCOL_3_1_1,
    PROTOCOL_5,
    Auth,
    ConnAck,
    Connect,
    Disconnect,
    MalformedPacket,
    PacketReader,
    PacketTooLarge,
    PacketType,
    PingReq,
    Properties,
    ProtocolError,
    PubAck,
    Publish,
    Reason,
    UnsupportedProtocolVersion,
    decode,
    encode,
)
from devices.protocols.mqtt.reasons import v311_connack_code
from devices.protocols.mqtt.topics import check_topic_filter, check_topic_name, topic_matches
from devices.protocols.mqtt.varint import decode_varint, encode_varint
from tests.mqtt_support import V5_PROPS, sample_packets


def roundtrip(packet, version):
    data = encode(packet, version)
    reader = PacketReader(version=version)
    reader.feed(data)
    out = reader.next_packet()
    assert reader.next_packet() is None and reader.buffered == 0
    return data, out


@pytest.mark.parametrize("version", [PROTOCOL_3_1_1, PROTOCOL_5])
def test_every_packet_type_round_trips(version):
    seen = set()
    for packet in sample_packets(version):
        _, decoded = roundtrip(packet, version)
        assert decoded == packet
        seen.add(packet.type)
    expected = set(PacketType) - ({PacketType.AUTH} if version == PROTOCOL_3_1_1 else set())
    assert seen == expected


@pytest.mark.parametrize("version", [PROTOCOL_3_1_1, PROTOCOL_5])
def test_stream_decoder_accepts_any_chunking(version):
    packets = sample_packets(version)[2:]  # after CONNECT the version is known
    stream = b"".join(encode(p, version) for p in packets)
    for size in (1, 2, 3, 7, 64, len(stream)):
        reader = PacketReader(version=version)
        got = []
        for i in range(0, len(stream), size):
            reader.feed(stream[i : i + size])
            got.extend(reader)
        assert got == packets


def test_wire_bytes_match_the_examples():
    # PUBACK for packet id 1 with reason 0x99: the short form, and the long form also decodes
    assert encode(PubAck(1, 0x99), PROTOCOL_5) == bytes.fromhex("4003000199")
    assert decode(0x40, bytes.fromhex("00019900"), PROTOCOL_5) == PubAck(1, 0x99)
    assert encode(PubAck(1), PROTOCOL_5) == bytes.fromhex("40020001")
    assert encode(PubAck(1), PROTOCOL_3_1_1) == bytes.fromhex("40020001")
    assert encode(PingReq(), PROTOCOL_3_1_1) == b"\xc0\x00"
    assert encode(Disconnect(), PROTOCOL_5) == b"\xe0\x00"
    assert encode(ConnAck(1), PROTOCOL_3_1_1) == bytes.fromhex("20020001")
    assert encode(ConnAck(0x84), PROTOCOL_5) == bytes.fromhex("2003008400")
    # the 3.1.1 spec's CONNECT header: protocol name "MQTT", level 4, flags, keep alive
    head = encode(Connect("c", PROTOCOL_3_1_1, True, 10), PROTOCOL_3_1_1)
    assert head[2:12] == b"\x00\x04MQTT\x04\x02\x00\x0a"


def test_varint_limits():
    for value in (0, 127, 128, 16383, 16384, 2097151, 2097152, 268_435_455):
        enc = encode_varint(value)
        assert decode_varint(enc) == (value, len(enc))
    assert len(encode_varint(268_435_455)) == 4
    with pytest.raises(ValueError):
        encode_varint(268_435_456)
    assert decode_varint(b"\xff\xff") is None  # incomplete
    with pytest.raises(MalformedPacket):
        decode_varint(b"\xff\xff\xff\xff\x01")  # a fifth byte
    with pytest.raises(MalformedPacket):
        decode_varint(b"\x80\x00")  # longer than needed


def test_remaining_length_of_five_bytes_is_malformed():
    reader = PacketReader(version=PROTOCOL_5)
    reader.feed(b"\x30\xff\xff\xff\xff\x01")
    with pytest.raises(MalformedPacket) as info:
        reader.next_packet()
    assert info.value.reason == Reason.MALFORMED_PACKET
    with pytest.raises(MalformedPacket):  # the stream stays broken
        reader.next_packet()


def test_packet_too_large_is_refused_before_its_body_arrives():
    reader = PacketReader(max_packet_size=100, version=PROTOCOL_5)
    reader.feed(b"\x30" + encode_varint(1000))
    with pytest.raises(PacketTooLarge) as info:
        reader.next_packet()
    assert info.value.reason == 0x95
    ok = PacketReader(max_packet_size=100, version=PROTOCOL_5)
    ok.feed(encode(Publish("t", b"x" * 90), PROTOCOL_5))
    assert ok.next_packet() is not None


@pytest.mark.parametrize(
    "raw",
    [
        b"\x00\x00\x61",  # "a" followed by bytes: wrong length (runs past)
        b"\x00\x02\xc3\x28",  # invalid UTF-8 continuation
        b"\x00\x03\xed\xa0\x80",  # an encoded surrogate U+D800
        b"\x00\x02\xc0\x80",  # overlong NUL
        b"\x00\x01\x00",  # U+0000
    ],
)
def test_bad_utf8_topic_is_malformed(raw):
    with pytest.raises(MalformedPacket):
        decode(0x30, raw, PROTOCOL_5)


@pytest.mark.parametrize(
    ("first", "body", "version", "error"),
    [
        (0x00, b"", PROTOCOL_5, MalformedPacket),  # type 0 reserved
        (0xF0, b"", PROTOCOL_3_1_1, MalformedPacket),  # type 15 reserved under 3.1.1
        (0x36, b"\x00\x01t\x00\x01", PROTOCOL_5, MalformedPacket),  # PUBLISH QoS 3
        (0x38, b"\x00\x01t", PROTOCOL_5, MalformedPacket),  # DUP with QoS 0
        (0x80, b"\x00\x01\x00\x01a\x00", PROTOCOL_3_1_1, MalformedPacket),  # SUBSCRIBE flags 0
        (0x82, b"\x00\x01\x00\x01a\x04", PROTOCOL_3_1_1, MalformedPacket),  # reserved option bit
        (0x82, b"\x00\x01\x00\x00\x01a\x30", PROTOCOL_5, ProtocolError),  # retain handling 3
        (0x82, b"\x00\x01\x00", PROTOCOL_5, ProtocolError),  # no topic filter
        (0x82, b"\x00\x00\x00\x00\x01a\x00", PROTOCOL_5, ProtocolError),  # packet id 0
        (0x32, b"\x00\x01t\x00\x00", PROTOCOL_3_1_1, ProtocolError),  # PUBLISH packet id 0
        (0x40, b"\x00\x01\x42", PROTOCOL_5, MalformedPacket),  # PUBACK reason 0x42
        (0x40, b"\x00\x01\x00", PROTOCOL_3_1_1, MalformedPacket),  # 3.1.1 PUBACK too long
        (0xC0, b"\x00", PROTOCOL_5, MalformedPacket),  # PINGREQ with a body
        (0xE0, b"\x00\x03\x26\x00\x00", PROTOCOL_5, MalformedPacket),  # property runs past
        (0x30, b"\x00\x01t\x02\x7f\x00", PROTOCOL_5, MalformedPacket),  # unknown property
        (0x30, b"\x00\x01t\x02\x12\x00", PROTOCOL_5, MalformedPacket),  # CONNACK-only property
        (0x30, b"\x00\x01t\x04\x01\x01\x01\x00", PROTOCOL_5, ProtocolError),  # twice
        (0x30, b"\x00\x01t\x02\x01\x02", PROTOCOL_5, ProtocolError),  # format indicator 2
        (0x40, b"\x00\x01", None, ProtocolError),  # no CONNECT yet
    ],
)
def test_malformations_raise_with_their_reason(first, body, version, error):
    with pytest.raises(error) as info:
        decode(first, body, version)
    assert info.value.reason == error.reason


def connect_body(name: bytes, level: int, flags: int, rest: bytes = b"\x00\x00") -> bytes:
    return len(name).to_bytes(2, "big") + name + bytes([level, flags]) + b"\x00\x3c" + rest


@pytest.mark.parametrize(
    ("body", "error", "level"),
    [
        (connect_body(b"MQIsdp", 3, 2), UnsupportedProtocolVersion, 3),
        (connect_body(b"MQTT", 6, 2), UnsupportedProtocolVersion, 6),
        (connect_body(b"MQTX", 5, 2), UnsupportedProtocolVersion, 5),
        (connect_body(b"MQTT", 4, 3), MalformedPacket, 4),  # reserved flag
        (connect_body(b"MQTT", 4, 0x18 | 2), MalformedPacket, 4),  # Will QoS 3
        (connect_body(b"MQTT", 4, 0x20 | 2), MalformedPacket, 4),  # Will Retain, no Will
        (connect_body(b"MQTT", 4, 0x40 | 2), MalformedPacket, 4),  # password, no user
        (connect_body(b"MQTT", 5, 2, b"\x00\x00\x00\x00\x00"), MalformedPacket, 5),  # trailing
        (connect_body(b"MQTT", 5, 2, b"\x05\x21\x00\x00"), MalformedPacket, 5),  # truncated
    ],
)
def test_bad_connects(body, error, level):
    with pytest.raises(error) as info:
        decode(0x10, body, None)
    assert info.value.protocol_level == level


def test_mqtt5_allows_a_password_without_user_name():
    packet = Connect("c", PROTOCOL_5, password=b"pw")
    assert roundtrip(packet, PROTOCOL_5)[1] == packet


def test_encoder_refuses_what_the_version_cannot_say():
    with pytest.raises(ValueError, match="only in MQTT 5"):
        encode(PubAck(1, 0x99), PROTOCOL_3_1_1)
    with pytest.raises(ValueError, match="only in MQTT 5"):
        encode(Publish("t", properties=V5_PROPS), PROTOCOL_3_1_1)
    with pytest.raises(ValueError, match="AUTH"):
        encode(Auth(), PROTOCOL_3_1_1)
    with pytest.raises(ValueError, match="not allowed"):
        encode(Publish("t", properties=Properties(assigned_client_identifier="x")), PROTOCOL_5)
    with pytest.raises(ValueError, match="U\\+0000"):
        encode(Publish("a\x00b"), PROTOCOL_5)
    with pytest.raises(ValueError, match="packet identifier"):
        encode(Publish("t", qos=1), PROTOCOL_5)


def test_topic_rules():
    check_topic_name("v1/gateway/telemetry")
    check_topic_name("$SYS/x")
    for bad in ("", "a/+", "a/#", "#"):
        with pytest.raises(ValueError):
            check_topic_name(bad)
    for good in ("#", "+", "a/+/c", "a/#", "/", "+/+", "$share/g/a/#"):
        check_topic_filter(good)
    for bad in ("", "a#", "a/#/b", "a+/b", "$share/g", "$share//a", "$share/g+/a"):
        with pytest.raises(ValueError):
            check_topic_filter(bad)
    check_topic_filter("$share/g", shared_allowed=False)  # an ordinary filter under 3.1.1
    assert topic_matches("sport/#", "sport")
    assert topic_matches("sport/+/player1", "sport/tennis/player1")
    assert not topic_matches("sport/+", "sport/tennis/player1")
    assert topic_matches("+/+", "/finance")
    assert not topic_matches("#", "$SYS/x") and not topic_matches("+/x", "$SYS/x")
    assert topic_matches("$SYS/#", "$SYS/x")


def test_v311_connack_codes_from_reasons():
    assert v311_connack_code(0) == 0
    assert v311_connack_code(Reason.UNSUPPORTED_PROTOCOL_VERSION) == 1
    assert v311_connack_code(Reason.CLIENT_IDENTIFIER_NOT_VALID) == 2
    assert v311_connack_code(Reason.BAD_USER_NAME_OR_PASSWORD) == 4
    assert v311_connack_code(Reason.NOT_AUTHORIZED) == 5
    assert v311_connack_code(Reason.QUOTA_EXCEEDED) == 3
