"""MQTT control packets as plain dataclasses, one shape for both protocol versions.

Fields that exist only in MQTT 5 (``properties``, reason codes of acknowledgements,
DISCONNECT and AUTH) keep their defaults under 3.1.1; the codec refuses to encode a 3.1.1
packet that sets them, so nothing is silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from devices.protocols.mqtt.packet_types import PROTOCOL_5, PacketType
from devices.protocols.mqtt.properties import Properties


def _props() -> Properties:
    return Properties()


@dataclass
class Will:
    topic: str
    payload: bytes = b""
    qos: int = 0
    retain: bool = False
    properties: Properties = field(default_factory=_props)


@dataclass
class Connect:
    type: ClassVar[PacketType] = PacketType.CONNECT
    client_id: str = ""
    protocol_level: int = PROTOCOL_5
    clean_start: bool = True
    keepalive: int = 60
    username: str | None = None
    password: bytes | None = None
    will: Will | None = None
    properties: Properties = field(default_factory=_props)


@dataclass
class ConnAck:
    """``reason_code`` is the MQTT 5 reason code, or the 3.1.1 return code (0-5)."""

    type: ClassVar[PacketType] = PacketType.CONNACK
    reason_code: int = 0
    session_present: bool = False
    properties: Properties = field(default_factory=_props)


@dataclass
class Publish:
    type: ClassVar[PacketType] = PacketType.PUBLISH
    topic: str = ""
    payload: bytes = b""
    qos: int = 0
    retain: bool = False
    dup: bool = False
    packet_id: int | None = None
    properties: Properties = field(default_factory=_props)


@dataclass
class _Ack:
    type: ClassVar[PacketType]
    packet_id: int = 0
    reason_code: int = 0
    properties: Properties = field(default_factory=_props)


@dataclass
class PubAck(_Ack):
    type: ClassVar[PacketType] = PacketType.PUBACK


@dataclass
class PubRec(_Ack):
    type: ClassVar[PacketType] = PacketType.PUBREC


@dataclass
class PubRel(_Ack):
    type: ClassVar[PacketType] = PacketType.PUBREL


@dataclass
class PubComp(_Ack):
    type: ClassVar[PacketType] = PacketType.PUBCOMP


@dataclass
class Subscription:
    """One topic filter of a SUBSCRIBE with its options (only ``qos`` exists in 3.1.1)."""

    topic_filter: str
    qos: int = 0
    no_local: bool = False
    retain_as_published: bool = False
    retain_handling: int = 0


@dataclass
class Subscribe:
    type: ClassVar[PacketType] = PacketType.SUBSCRIBE
    packet_id: int = 0
    subscriptions: list[Subscription] = field(default_factory=list)
    properties: Properties = field(default_factory=_props)


@dataclass
class _AckPerFilter:
    type: ClassVar[PacketType]
    packet_id: int = 0
    reason_codes: list[int] = field(default_factory=list)
    properties: Properties = field(default_factory=_props)


@dataclass
class SubAck(_AckPerFilter):
    """One reason code per requested filter: granted QoS 0-2 or a failure (0x80+)."""

    type: ClassVar[PacketType] = PacketType.SUBACK


@dataclass
class Unsubscribe:
    type: ClassVar[PacketType] = PacketType.UNSUBSCRIBE
    packet_id: int = 0
    topic_filters: list[str] = field(default_factory=list)
    properties: Properties = field(default_factory=_props)


@dataclass
class UnsubAck(_AckPerFilter):
    """MQTT 5 carries one reason code per filter; 3.1.1 carries none."""

    type: ClassVar[PacketType] = PacketType.UNSUBACK


@dataclass
class PingReq:
    type: ClassVar[PacketType] = PacketType.PINGREQ


@dataclass
class PingResp:
    type: ClassVar[PacketType] = PacketType.PINGRESP


@dataclass
class _Reasoned:
    type: ClassVar[PacketType]
    reason_code: int = 0
    properties: Properties = field(default_factory=_props)


@dataclass
class Disconnect(_Reasoned):
    type: ClassVar[PacketType] = PacketType.DISCONNECT


@dataclass
class Auth(_Reasoned):
    type: ClassVar[PacketType] = PacketType.AUTH


Packet = (
    Connect
    | ConnAck
    | Publish
    | PubAck
    | PubRec
    | PubRel
    | PubComp
    | Subscribe
    | SubAck
    | Unsubscribe
    | UnsubAck
    | PingReq
    | PingResp
    | Disconnect
    | Auth
)
