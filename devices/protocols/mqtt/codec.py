"""Encoding and decoding MQTT 3.1.1 (protocol level 4) and MQTT 5 (level 5) control packets.

Sans-IO: :func:`encode` turns a packet into bytes, :func:`decode` turns one complete packet's
first byte and body into a packet, and :class:`PacketReader` cuts a byte stream fed in arbitrary
chunks into packets. Both directions are covered (client and server packets), so the same code
serves the platform emulator and a client.

Wire decisions (what the specs say, what we do):

* Fixed header flags: PUBREL, SUBSCRIBE and UNSUBSCRIBE must carry 0b0010, PUBLISH carries
  DUP/QoS/RETAIN, every other type 0b0000; anything else is a Malformed Packet. A PUBLISH with
  QoS 3, or with DUP set at QoS 0, is a Malformed Packet.
* Packet type 0 is reserved: Malformed Packet. Type 15 is AUTH under MQTT 5 and reserved
  (Malformed Packet) under 3.1.1.
* CONNECT: the protocol name must be "MQTT" with level 4 or 5; anything else (including
  "MQIsdp" level 3) raises :class:`UnsupportedProtocolVersion` carrying the level read, so the
  server can answer in the format the client understands. The reserved flag bit must be 0, a
  Will QoS/Retain without the Will flag and Will QoS 3 are Malformed, and under 3.1.1 a
  password without a user name is Malformed (MQTT 5 allows it). Errors raised after the level
  was read carry it in ``protocol_level``.
* A zero Packet Identifier where one is required (PUBLISH QoS>0, SUBSCRIBE, UNSUBSCRIBE and
  the acknowledgements) is a Protocol Error; so is a SUBSCRIBE/UNSUBSCRIBE with no filter and
  MQTT 5 Retain Handling 3. Non-zero reserved bits of SUBSCRIBE options are Malformed.
* MQTT 5 acknowledgements, DISCONNECT and AUTH may end after the packet identifier / before
  the reason code / before the properties (the short forms); we decode all of them and encode
  the shortest one that says the same thing (e.g. a PUBACK with reason 0x99 and no
  properties is ``40 03 00 01 99``). A reason code that packet may not carry is Malformed.
* Topic syntax (wildcards in a PUBLISH topic, misplaced ``+``/``#`` in a filter) is not the
  codec's business: see :mod:`devices.protocols.mqtt.topics`. Strings are checked here.
* Bytes after the last field a packet may hold are Malformed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from devices.protocols.mqtt.buffer import Reader, Writer
from devices.protocols.mqtt.errors import (
    MalformedPacket,
    MqttError,
    PacketTooLarge,
    ProtocolError,
    UnsupportedProtocolVersion,
)
from devices.protocols.mqtt.packet_types import PROTOCOL_3_1_1, PROTOCOL_5, PacketType
from devices.protocols.mqtt.packets import (
    Auth,
    ConnAck,
    Connect,
    Disconnect,
    Packet,
    PingReq,
    PingResp,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    SubAck,
    Subscribe,
    Subscription,
    UnsubAck,
    Unsubscribe,
    Will,
    _Ack,
)
from devices.protocols.mqtt.properties import WILL, Properties, decode_properties, encode_properties
from devices.protocols.mqtt.reasons import VALID_REASONS
from devices.protocols.mqtt.varint import VARINT_MAX, decode_varint, encode_varint

SUPPORTED_LEVELS = (PROTOCOL_3_1_1, PROTOCOL_5)
MAX_PACKET_SIZE = 1 + 4 + VARINT_MAX
"""The largest packet MQTT can frame: one type byte, four length bytes, the remaining length."""

_FLAGS_0010 = (PacketType.PUBREL, PacketType.SUBSCRIBE, PacketType.UNSUBSCRIBE)


# -- encoding ----------------------------------------------------------------------------------
def encode(packet: Packet, version: int = PROTOCOL_5) -> bytes:
    """The bytes of ``packet`` for a connection speaking ``version`` (4 = 3.1.1, 5 = MQTT 5).

    ValueError if the packet cannot be said in that version (e.g. properties under 3.1.1) or
    a field is out of range.
    """
    if version not in SUPPORTED_LEVELS:
        raise ValueError(f"protocol level {version} is not one of {SUPPORTED_LEVELS}")
    flags, body = _ENCODERS[type(packet)](packet, version)
    return bytes([packet.type << 4 | flags]) + encode_varint(len(body)) + body


def _v5_props(w: Writer, props: Properties, context: int, version: int, what: str) -> None:
    if version == PROTOCOL_5:
        w.raw(encode_properties(props, context))
    elif not props.is_empty():
        raise ValueError(f"{what} properties exist only in MQTT 5, not in 3.1.1")


def _check_packet_id(packet_id: int | None, what: str) -> int:
    if packet_id is None or not 1 <= packet_id <= 0xFFFF:
        raise ValueError(f"{what} packet identifier {packet_id} is outside 1..65535")
    return packet_id


def _check_qos(qos: int, what: str) -> int:
    if qos not in (0, 1, 2):
        raise ValueError(f"{what} QoS {qos} is not 0, 1 or 2")
    return qos


def _enc_connect(p: Connect, version: int) -> tuple[int, bytes]:
    if p.protocol_level != version:
        raise ValueError(f"CONNECT protocol level {p.protocol_level} but encoding for {version}")
    if version == PROTOCOL_3_1_1 and p.password is not None and p.username is None:
        raise ValueError("MQTT 3.1.1 CONNECT cannot carry a password without a user name")
    will = p.will
    flags = (p.clean_start << 1) | ((p.password is not None) << 6) | ((p.username is not None) << 7)
    if will is not None:
        flags |= 0x04 | (_check_qos(will.qos, "Will") << 3) | (will.retain << 5)
    w = Writer().string("MQTT").u8(version).u8(flags).u16(p.keepalive)
    _v5_props(w, p.properties, PacketType.CONNECT, version, "CONNECT")
    w.string(p.client_id, "client identifier")
    if will is not None:
        _v5_props(w, will.properties, WILL, version, "Will")
        w.string(will.topic, "Will topic").binary(will.payload)
    if p.username is not None:
        w.string(p.username, "user name")
    if p.password is not None:
        w.binary(p.password)
    return 0, w.getvalue()


def _enc_connack(p: ConnAck, version: int) -> tuple[int, bytes]:
    if version == PROTOCOL_3_1_1 and not 0 <= p.reason_code <= 5:
        raise ValueError(f"3.1.1 CONNACK return code {p.reason_code} is outside 0..5")
    w = Writer().u8(int(p.session_present)).u8(p.reason_code)
    _v5_props(w, p.properties, PacketType.CONNACK, version, "CONNACK")
    return 0, w.getvalue()


def _enc_publish(p: Publish, version: int) -> tuple[int, bytes]:
    _check_qos(p.qos, "PUBLISH")
    if p.qos == 0 and p.dup:
        raise ValueError("a QoS 0 PUBLISH cannot have DUP set")
    w = Writer().string(p.topic, "topic name")
    if p.qos:
        w.u16(_check_packet_id(p.packet_id, "PUBLISH"))
    elif p.packet_id is not None:
        raise ValueError("a QoS 0 PUBLISH has no packet identifier")
    _v5_props(w, p.properties, PacketType.PUBLISH, version, "PUBLISH")
    w.raw(p.payload)
    return (p.dup << 3) | (p.qos << 1) | int(p.retain), w.getvalue()


def _enc_ack(p: _Ack, version: int) -> tuple[int, bytes]:
    flags = 0b0010 if p.type == PacketType.PUBREL else 0
    w = Writer().u16(_check_packet_id(p.packet_id, p.type.name))
    if version == PROTOCOL_3_1_1:
        if p.reason_code:
            raise ValueError(f"{p.type.name} reason codes exist only in MQTT 5")
        _v5_props(w, p.properties, p.type, version, p.type.name)
    elif not p.properties.is_empty():
        w.u8(p.reason_code).raw(encode_properties(p.properties, p.type))
    elif p.reason_code:
        w.u8(p.reason_code)
    return flags, w.getvalue()


def _enc_subscribe(p: Subscribe, version: int) -> tuple[int, bytes]:
    if not p.subscriptions:
        raise ValueError("a SUBSCRIBE needs at least one topic filter")
    w = Writer().u16(_check_packet_id(p.packet_id, "SUBSCRIBE"))
    _v5_props(w, p.properties, PacketType.SUBSCRIBE, version, "SUBSCRIBE")
    for s in p.subscriptions:
        options = _check_qos(s.qos, "subscription")
        if version == PROTOCOL_5:
            if s.retain_handling not in (0, 1, 2):
                raise ValueError(f"retain handling {s.retain_handling} is not 0, 1 or 2")
            options |= (s.no_local << 2) | (s.retain_as_published << 3) | (s.retain_handling << 4)
        elif s.no_local or s.retain_as_published or s.retain_handling:
            raise ValueError("subscription options other than QoS exist only in MQTT 5")
        w.string(s.topic_filter, "topic filter").u8(options)
    return 0b0010, w.getvalue()


def _enc_suback(p: SubAck, version: int) -> tuple[int, bytes]:
    w = Writer().u16(_check_packet_id(p.packet_id, "SUBACK"))
    _v5_props(w, p.properties, PacketType.SUBACK, version, "SUBACK")
    for code in p.reason_codes:
        w.u8(code)
    return 0, w.getvalue()


def _enc_unsubscribe(p: Unsubscribe, version: int) -> tuple[int, bytes]:
    if not p.topic_filters:
        raise ValueError("an UNSUBSCRIBE needs at least one topic filter")
    w = Writer().u16(_check_packet_id(p.packet_id, "UNSUBSCRIBE"))
    _v5_props(w, p.properties, PacketType.UNSUBSCRIBE, version, "UNSUBSCRIBE")
    for topic_filter in p.topic_filters:
        w.string(topic_filter, "topic filter")
    return 0b0010, w.getvalue()


def _enc_unsuback(p: UnsubAck, version: int) -> tuple[int, bytes]:
    w = Writer().u16(_check_packet_id(p.packet_id, "UNSUBACK"))
    _v5_props(w, p.properties, PacketType.UNSUBACK, version, "UNSUBACK")
    if version == PROTOCOL_3_1_1 and p.reason_codes:
        raise ValueError("UNSUBACK reason codes exist only in MQTT 5")
    for code in p.reason_codes:
        w.u8(code)
    return 0, w.getvalue()


def _enc_empty(_p: Packet, _version: int) -> tuple[int, bytes]:
    return 0, b""


def _enc_reasoned(p: Disconnect | Auth, version: int) -> tuple[int, bytes]:
    """DISCONNECT and AUTH: nothing at all when reason 0 and no properties (MQTT 5)."""
    if version == PROTOCOL_3_1_1:
        if isinstance(p, Auth):
            raise ValueError("AUTH exists only in MQTT 5")
        if p.reason_code or not p.properties.is_empty():
            raise ValueError("DISCONNECT reason codes and properties exist only in MQTT 5")
        return 0, b""
    if p.properties.is_empty():
        return 0, (bytes([p.reason_code]) if p.reason_code else b"")
    return 0, bytes([p.reason_code]) + encode_properties(p.properties, p.type)


_ENCODERS: dict[type, Callable[..., tuple[int, bytes]]] = {
    Connect: _enc_connect,
    ConnAck: _enc_connack,
    Publish: _enc_publish,
    PubAck: _enc_ack,
    PubRec: _enc_ack,
    PubRel: _enc_ack,
    PubComp: _enc_ack,
    Subscribe: _enc_subscribe,
    SubAck: _enc_suback,
    Unsubscribe: _enc_unsubscribe,
    UnsubAck: _enc_unsuback,
    PingReq: _enc_empty,
    PingResp: _enc_empty,
    Disconnect: _enc_reasoned,
    Auth: _enc_reasoned,
}


# -- decoding ----------------------------------------------------------------------------------
def packet_type_of(first_byte: int, version: int | None) -> PacketType:
    """The type in a fixed header's first byte, with its flags checked (MalformedPacket)."""
    kind, flags = first_byte >> 4, first_byte & 0x0F
    if kind == 0 or (kind == PacketType.AUTH and version == PROTOCOL_3_1_1):
        raise MalformedPacket(f"packet type {kind} is reserved")
    ptype = PacketType(kind)
    if ptype == PacketType.PUBLISH:
        qos = (flags >> 1) & 0x03
        if qos == 3:
            raise MalformedPacket("PUBLISH with QoS 3")
        if qos == 0 and flags & 0x08:
            raise MalformedPacket("PUBLISH with QoS 0 and DUP set")
    elif flags != (0b0010 if ptype in _FLAGS_0010 else 0):
        raise MalformedPacket(f"{ptype.name} with fixed header flags {flags:04b}")
    return ptype


def decode(first_byte: int, body: bytes, version: int | None) -> Packet:
    """One packet from its first byte and body (the Remaining Length bytes).

    ``version`` is the connection's protocol level; None before a CONNECT was seen, when only
    a CONNECT can be decoded (it names its own version).
    """
    ptype = packet_type_of(first_byte, version)
    if ptype == PacketType.CONNECT:
        return _dec_connect(Reader(body, "CONNECT"))
    if version is None:
        raise ProtocolError(f"{ptype.name} before CONNECT: the protocol version is not known")
    if version not in SUPPORTED_LEVELS:
        raise ValueError(f"protocol level {version} is not one of {SUPPORTED_LEVELS}")
    r = Reader(body, ptype.name)
    packet = _DECODERS[ptype](r, version, first_byte & 0x0F)
    r.expect_end()
    return packet


def _packet_id(r: Reader) -> int:
    packet_id = r.u16("packet identifier")
    if packet_id == 0:
        raise ProtocolError(f"{r.packet} with packet identifier 0")
    return packet_id


def _reason(r: Reader, packet: str) -> int:
    code = r.u8("reason code")
    if code not in VALID_REASONS[packet]:
        raise MalformedPacket(f"{packet} carries reason code 0x{code:02x}, not one it may carry")
    return code


def _maybe_props(r: Reader, version: int, context: int) -> Properties:
    return decode_properties(r, context) if version == PROTOCOL_5 else Properties()


def _dec_connect(r: Reader) -> Connect:
    name_raw = r.binary("protocol name")
    level = r.u8("protocol level")
    if name_raw != b"MQTT" or level not in SUPPORTED_LEVELS:
        err = UnsupportedProtocolVersion(
            f"CONNECT names protocol {name_raw[:16]!r} level {level}; "
            "accepted: 'MQTT' level 4 (3.1.1) or 5"
        )
        err.protocol_level = level
        raise err
    try:
        return _dec_connect_rest(r, level)
    except MqttError as err:
        err.protocol_level = level
        raise


def _dec_connect_rest(r: Reader, level: int) -> Connect:
    flags = r.u8("connect flags")
    if flags & 0x01:
        raise MalformedPacket("CONNECT reserved flag bit 0 is set")
    has_will, will_qos, will_retain = bool(flags & 0x04), (flags >> 3) & 0x03, bool(flags & 0x20)
    has_password, has_username = bool(flags & 0x40), bool(flags & 0x80)
    if will_qos == 3:
        raise MalformedPacket("CONNECT Will QoS 3")
    if not has_will and (will_qos or will_retain):
        raise MalformedPacket("CONNECT Will QoS or Will Retain set without the Will flag")
    if level == PROTOCOL_3_1_1 and has_password and not has_username:
        raise MalformedPacket("3.1.1 CONNECT with a password but no user name")
    keepalive = r.u16("keep alive")
    props = _maybe_props(r, level, PacketType.CONNECT)
    client_id = r.string("client identifier")
    will = None
    if has_will:
        will_props = _maybe_props(r, level, WILL)
        topic = r.string("Will topic")
        will = Will(topic, r.binary("Will payload"), will_qos, will_retain, will_props)
    username = r.string("user name") if has_username else None
    password = r.binary("password") if has_password else None
    r.expect_end()
    return Connect(
        client_id=client_id,
        protocol_level=level,
        clean_start=bool(flags & 0x02),
        keepalive=keepalive,
        username=username,
        password=password,
        will=will,
        properties=props,
    )


def _dec_connack(r: Reader, version: int, _flags: int) -> ConnAck:
    ack_flags = r.u8("acknowledge flags")
    if ack_flags & 0xFE:
        raise MalformedPacket(f"CONNACK reserved acknowledge flags {ack_flags:08b}")
    if version == PROTOCOL_3_1_1:
        code = r.u8("return code")
        if code > 5:
            raise MalformedPacket(f"3.1.1 CONNACK return code {code} is outside 0..5")
        return ConnAck(code, bool(ack_flags))
    code = _reason(r, "CONNACK")
    return ConnAck(code, bool(ack_flags), decode_properties(r, PacketType.CONNACK))


def _dec_publish(r: Reader, version: int, flags: int) -> Publish:
    qos = (flags >> 1) & 0x03
    topic = r.string("topic name")
    packet_id = _packet_id(r) if qos else None
    props = _maybe_props(r, version, PacketType.PUBLISH)
    return Publish(topic, r.rest(), qos, bool(flags & 0x01), bool(flags & 0x08), packet_id, props)


def _ack_decoder(cls: type[_Ack]) -> Callable[[Reader, int, int], _Ack]:
    def dec(r: Reader, version: int, _flags: int) -> _Ack:
        packet_id = _packet_id(r)
        if version == PROTOCOL_3_1_1 or not r.remaining:
            return cls(packet_id)
        code = _reason(r, cls.type.name)
        props = decode_properties(r, cls.type) if r.remaining else Properties()
        return cls(packet_id, code, props)

    return dec


def _dec_subscribe(r: Reader, version: int, _flags: int) -> Subscribe:
    packet_id = _packet_id(r)
    props = _maybe_props(r, version, PacketType.SUBSCRIBE)
    subs = []
    while r.remaining:
        topic_filter = r.string("topic filter")
        options = r.u8("subscription options")
        reserved = 0xC0 if version == PROTOCOL_5 else 0xFC
        if options & reserved:
            raise MalformedPacket(f"SUBSCRIBE options {options:08b} set reserved bits")
        qos, retain_handling = options & 0x03, (options >> 4) & 0x03
        if qos == 3:
            raise MalformedPacket(f"SUBSCRIBE requests QoS 3 for {topic_filter!r}")
        if retain_handling == 3:
            raise ProtocolError(f"SUBSCRIBE Retain Handling 3 for {topic_filter!r}")
        subs.append(
            Subscription(
                topic_filter, qos, bool(options & 0x04), bool(options & 0x08), retain_handling
            )
        )
    if not subs:
        raise ProtocolError("SUBSCRIBE with no topic filter")
    return Subscribe(packet_id, subs, props)


def _dec_suback(r: Reader, version: int, _flags: int) -> SubAck:
    packet_id = _packet_id(r)
    props = _maybe_props(r, version, PacketType.SUBACK)
    codes = list(r.rest())
    allowed = VALID_REASONS["SUBACK"] if version == PROTOCOL_5 else {0, 1, 2, 0x80}
    for code in codes:
        if code not in allowed:
            raise MalformedPacket(f"SUBACK carries return code 0x{code:02x}")
    return SubAck(packet_id, codes, props)


def _dec_unsubscribe(r: Reader, version: int, _flags: int) -> Unsubscribe:
    packet_id = _packet_id(r)
    props = _maybe_props(r, version, PacketType.UNSUBSCRIBE)
    filters = []
    while r.remaining:
        filters.append(r.string("topic filter"))
    if not filters:
        raise ProtocolError("UNSUBSCRIBE with no topic filter")
    return Unsubscribe(packet_id, filters, props)


def _dec_unsuback(r: Reader, version: int, _flags: int) -> UnsubAck:
    packet_id = _packet_id(r)
    if version == PROTOCOL_3_1_1:
        return UnsubAck(packet_id)
    props = decode_properties(r, PacketType.UNSUBACK)
    codes = []
    while r.remaining:
        codes.append(_reason(r, "UNSUBACK"))
    return UnsubAck(packet_id, codes, props)


def _dec_pingreq(_r: Reader, _version: int, _flags: int) -> PingReq:
    return PingReq()


def _dec_pingresp(_r: Reader, _version: int, _flags: int) -> PingResp:
    return PingResp()


def _dec_disconnect(r: Reader, version: int, _flags: int) -> Disconnect:
    if version == PROTOCOL_3_1_1 or not r.remaining:
        return Disconnect()
    code = _reason(r, "DISCONNECT")
    props = decode_properties(r, PacketType.DISCONNECT) if r.remaining else Properties()
    return Disconnect(code, props)


def _dec_auth(r: Reader, _version: int, _flags: int) -> Auth:
    if not r.remaining:
        return Auth()
    code = _reason(r, "AUTH")
    props = decode_properties(r, PacketType.AUTH) if r.remaining else Properties()
    return Auth(code, props)


_DECODERS: dict[PacketType, Callable[[Reader, int, int], Packet]] = {
    PacketType.CONNACK: _dec_connack,
    PacketType.PUBLISH: _dec_publish,
    PacketType.PUBACK: _ack_decoder(PubAck),
    PacketType.PUBREC: _ack_decoder(PubRec),
    PacketType.PUBREL: _ack_decoder(PubRel),
    PacketType.PUBCOMP: _ack_decoder(PubComp),
    PacketType.SUBSCRIBE: _dec_subscribe,
    PacketType.SUBACK: _dec_suback,
    PacketType.UNSUBSCRIBE: _dec_unsubscribe,
    PacketType.UNSUBACK: _dec_unsuback,
    PacketType.PINGREQ: _dec_pingreq,
    PacketType.PINGRESP: _dec_pingresp,
    PacketType.DISCONNECT: _dec_disconnect,
    PacketType.AUTH: _dec_auth,
}


# -- streaming ---------------------------------------------------------------------------------
class PacketReader:
    """Cuts a byte stream fed in arbitrary chunks into packets.

    ``max_packet_size`` bounds a whole packet (fixed header included, as MQTT 5's Maximum
    Packet Size does); a larger one raises :class:`PacketTooLarge` as soon as its header is
    read, before its body is buffered. ``version`` may change between packets (a server sets
    it once the CONNECT is handled); packets are decoded one at a time so the change applies
    to the very next one. After an error the stream cannot be resynchronised: every further
    call raises the same error.
    """

    def __init__(self, max_packet_size: int = MAX_PACKET_SIZE, version: int | None = None):
        self.max_packet_size = max_packet_size
        self.version = version
        self._buf = bytearray()
        self._error: MqttError | None = None

    def feed(self, data: bytes) -> None:
        self._buf += data

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def next_packet(self) -> Packet | None:
        """The next whole packet, or None until more bytes arrive."""
        if self._error is not None:
            raise self._error
        try:
            return self._next()
        except MqttError as err:
            self._error = err
            raise

    def _next(self) -> Packet | None:
        if not self._buf:
            return None
        packet_type_of(self._buf[0], self.version)  # reject a bad type before waiting for more
        header = decode_varint(self._buf, 1)
        if header is None:
            return None
        length, start = header
        if start + length > self.max_packet_size:
            raise PacketTooLarge(
                f"packet of {start + length} bytes exceeds the maximum packet size "
                f"{self.max_packet_size}"
            )
        if len(self._buf) < start + length:
            return None
        first, body = self._buf[0], bytes(self._buf[start : start + length])
        del self._buf[: start + length]
        return decode(first, body, self.version)

    def __iter__(self) -> Iterator[Packet]:
        while (packet := self.next_packet()) is not None:
            yield packet
