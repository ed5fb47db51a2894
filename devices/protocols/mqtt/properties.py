"""MQTT 5 properties (MQTT 5.0 2.2.2): the property block of CONNECT, CONNACK, PUBLISH, the
acknowledgements, SUBSCRIBE/UNSUBSCRIBE, DISCONNECT, AUTH and the Will.

A block is a Variable Byte Integer length followed by (identifier, value) pairs; the
identifier is itself a Variable Byte Integer (all defined ones fit in one byte).

What the spec says and what we do on decoding:

* an identifier that is unknown or not valid for the packet, or a value of the wrong type or
  running past the block: Malformed Packet (0x81);
* a property given twice: Protocol Error (0x82), except User Property (any number, order
  kept) and Subscription Identifier in a PUBLISH (one per matching subscription);
* out-of-range values the spec names as Protocol Errors (a byte flag other than 0/1,
  Receive Maximum 0, Maximum Packet Size 0, Topic Alias 0, Subscription Identifier 0,
  Maximum QoS other than 0/1): Protocol Error (0x82).

Encoding writes the properties that are set in identifier order, User Properties in the order
given. We keep our own small codec rather than paho's ``Properties`` so that decoding errors
carry the right reason code and the values are typed fields.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devices.protocols.mqtt.buffer import Reader, Writer
from devices.protocols.mqtt.errors import MalformedPacket, ProtocolError
from devices.protocols.mqtt.packet_types import PacketType as T

WILL = 0
"""Context of the Will Properties inside a CONNECT (0 is no packet type, so it is free)."""


@dataclass
class Properties:
    payload_format_indicator: int | None = None
    message_expiry_interval: int | None = None
    content_type: str | None = None
    response_topic: str | None = None
    correlation_data: bytes | None = None
    subscription_identifiers: list[int] = field(default_factory=list)
    session_expiry_interval: int | None = None
    assigned_client_identifier: str | None = None
    server_keep_alive: int | None = None
    authentication_method: str | None = None
    authentication_data: bytes | None = None
    request_problem_information: int | None = None
    will_delay_interval: int | None = None
    request_response_information: int | None = None
    response_information: str | None = None
    server_reference: str | None = None
    reason_string: str | None = None
    receive_maximum: int | None = None
    topic_alias_maximum: int | None = None
    topic_alias: int | None = None
    maximum_qos: int | None = None
    retain_available: int | None = None
    user_properties: list[tuple[str, str]] = field(default_factory=list)
    maximum_packet_size: int | None = None
    wildcard_subscription_available: int | None = None
    subscription_identifier_available: int | None = None
    shared_subscription_available: int | None = None

    def is_empty(self) -> bool:
        return self == Properties()


@dataclass(frozen=True)
class _Spec:
    ident: int
    name: str
    kind: str  # byte, u16, u32, varint, string, binary, pair
    contexts: frozenset[int]
    check: Callable[[int], bool] | None = None  # False: a Protocol Error


_ACKS = (T.PUBACK, T.PUBREC, T.PUBREL, T.PUBCOMP)
_REASONED = (T.CONNACK, *_ACKS, T.SUBACK, T.UNSUBACK, T.DISCONNECT, T.AUTH)
_ALL = (T.CONNECT, T.PUBLISH, T.SUBSCRIBE, T.UNSUBSCRIBE, WILL, *_REASONED)


def _flag(v: int) -> bool:
    return v in (0, 1)


def _nonzero(v: int) -> bool:
    return v != 0


def _spec(ident: int, name: str, kind: str, *contexts: int, check: Any = None) -> _Spec:
    return _Spec(ident, name, kind, frozenset(contexts), check)


_SPECS = [
    _spec(0x01, "payload_format_indicator", "byte", T.PUBLISH, WILL, check=_flag),
    _spec(0x02, "message_expiry_interval", "u32", T.PUBLISH, WILL),
    _spec(0x03, "content_type", "string", T.PUBLISH, WILL),
    _spec(0x08, "response_topic", "string", T.PUBLISH, WILL),
    _spec(0x09, "correlation_data", "binary", T.PUBLISH, WILL),
    _spec(0x0B, "subscription_identifiers", "varint", T.PUBLISH, T.SUBSCRIBE, check=_nonzero),
    _spec(0x11, "session_expiry_interval", "u32", T.CONNECT, T.CONNACK, T.DISCONNECT),
    _spec(0x12, "assigned_client_identifier", "string", T.CONNACK),
    _spec(0x13, "server_keep_alive", "u16", T.CONNACK),
    _spec(0x15, "authentication_method", "string", T.CONNECT, T.CONNACK, T.AUTH),
    _spec(0x16, "authentication_data", "binary", T.CONNECT, T.CONNACK, T.AUTH),
    _spec(0x17, "request_problem_information", "byte", T.CONNECT, check=_flag),
    _spec(0x18, "will_delay_interval", "u32", WILL),
    _spec(0x19, "request_response_information", "byte", T.CONNECT, check=_flag),
    _spec(0x1A, "response_information", "string", T.CONNACK),
    _spec(0x1C, "server_reference", "string", T.CONNACK, T.DISCONNECT),
    _spec(0x1F, "reason_string", "string", *_REASONED),
    _spec(0x21, "receive_maximum", "u16", T.CONNECT, T.CONNACK, check=_nonzero),
    _spec(0x22, "topic_alias_maximum", "u16", T.CONNECT, T.CONNACK),
    _spec(0x23, "topic_alias", "u16", T.PUBLISH, check=_nonzero),
    _spec(0x24, "maximum_qos", "byte", T.CONNACK, check=_flag),
    _spec(0x25, "retain_available", "byte", T.CONNACK, check=_flag),
    _spec(0x26, "user_properties", "pair", *_ALL),
    _spec(0x27, "maximum_packet_size", "u32", T.CONNECT, T.CONNACK, check=_nonzero),
    _spec(0x28, "wildcard_subscription_available", "byte", T.CONNACK, check=_flag),
    _spec(0x29, "subscription_identifier_available", "byte", T.CONNACK, check=_flag),
    _spec(0x2A, "shared_subscription_available", "byte", T.CONNACK, check=_flag),
]
_BY_ID = {s.ident: s for s in _SPECS}
_REPEATABLE = {"user_properties", "subscription_identifiers"}
assert {s.name for s in _SPECS} == {f.name for f in dataclasses.fields(Properties)}


def _context_name(context: int) -> str:
    return "Will" if context == WILL else T(context).name


def encode_properties(props: Properties, context: int) -> bytes:
    """The property block (length included) of ``props`` for a packet of type ``context``."""
    body = Writer()
    for spec in _SPECS:
        value = getattr(props, spec.name)
        values = value if spec.name in _REPEATABLE else ([] if value is None else [value])
        if values and context not in spec.contexts:
            raise ValueError(
                f"property {spec.name} is not allowed in {_context_name(context)} packets"
            )
        for v in values:
            body.varint(spec.ident)
            _write_value(body, spec, v)
    block = body.getvalue()
    return Writer().varint(len(block)).raw(block).getvalue()


def _write_value(w: Writer, spec: _Spec, value: Any) -> None:
    if spec.kind == "byte":
        w.u8(value)
    elif spec.kind == "u16":
        w.u16(value)
    elif spec.kind == "u32":
        w.u32(value)
    elif spec.kind == "varint":
        w.varint(value)
    elif spec.kind == "string":
        w.string(value, spec.name)
    elif spec.kind == "binary":
        w.binary(value)
    else:
        w.string(value[0], spec.name).string(value[1], spec.name)


def _read_value(r: Reader, spec: _Spec) -> Any:
    what = f"property {spec.name}"
    if spec.kind == "byte":
        return r.u8(what)
    if spec.kind == "u16":
        return r.u16(what)
    if spec.kind == "u32":
        return r.u32(what)
    if spec.kind == "varint":
        return r.varint(what)
    if spec.kind == "string":
        return r.string(what)
    if spec.kind == "binary":
        return r.binary(what)
    return r.string_pair(what)


def decode_properties(r: Reader, context: int) -> Properties:
    """Read a property block (length included) at the reader's position."""
    length = r.varint("property length")
    block = Reader(r.take(length, "properties"), f"{r.packet} properties")
    props = Properties()
    seen: set[int] = set()
    while block.remaining:
        ident = block.varint("property identifier")
        spec = _BY_ID.get(ident)
        if spec is None:
            raise MalformedPacket(f"{r.packet} has an unknown property identifier 0x{ident:02x}")
        if context not in spec.contexts:
            raise MalformedPacket(
                f"{r.packet} carries property {spec.name} (0x{ident:02x}), "
                f"which is not allowed in {_context_name(context)}"
            )
        value = _read_value(block, spec)
        if spec.check is not None and not spec.check(value):
            raise ProtocolError(f"{r.packet} property {spec.name} has invalid value {value}")
        repeatable = spec.name == "user_properties" or (
            spec.name == "subscription_identifiers" and context == T.PUBLISH
        )
        if ident in seen and not repeatable:
            raise ProtocolError(f"{r.packet} carries property {spec.name} more than once")
        seen.add(ident)
        if spec.name in _REPEATABLE:
            getattr(props, spec.name).append(value)
        else:
            setattr(props, spec.name, value)
    return props
