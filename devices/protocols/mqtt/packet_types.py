"""Control packet types: the high nibble of a packet's first byte (MQTT 5.0 2.1.2)."""

from __future__ import annotations

import enum


class PacketType(enum.IntEnum):
    CONNECT = 1
    CONNACK = 2
    PUBLISH = 3
    PUBACK = 4
    PUBREC = 5
    PUBREL = 6
    PUBCOMP = 7
    SUBSCRIBE = 8
    SUBACK = 9
    UNSUBSCRIBE = 10
    UNSUBACK = 11
    PINGREQ = 12
    PINGRESP = 13
    DISCONNECT = 14
    AUTH = 15  # MQTT 5 only; reserved (a Malformed Packet) under 3.1.1


PROTOCOL_3_1 = 3  # "MQIsdp": not spoken here, answered with "unacceptable protocol version"
PROTOCOL_3_1_1 = 4
PROTOCOL_5 = 5
