"""Reason codes: MQTT 5's one-byte reason codes and MQTT 3.1.1's CONNACK return codes.

MQTT 5 (section 2.4) gives one table of reason codes shared by CONNACK, PUBACK, PUBREC, PUBREL,
PUBCOMP, SUBACK, UNSUBACK, DISCONNECT and AUTH; a value below 0x80 is a success, 0x80 and above
a failure. Some values mean different things per packet (0x00 is "granted QoS 0" in a SUBACK and
"normal disconnection" in a DISCONNECT), so the enum names the common meaning and aliases the
others.

MQTT 3.1.1 has only the CONNACK return codes 0-5 and the SUBACK failure 0x80; every other error
is answered by closing the network connection. :func:`v311_connack_code` maps an MQTT 5 CONNACK
reason to the nearest 3.1.1 return code.
"""

from __future__ import annotations

import enum


class Reason(enum.IntEnum):
    """MQTT 5 reason codes (MQTT 5.0, 2.4)."""

    SUCCESS = 0x00
    GRANTED_QOS_0 = 0x00
    NORMAL_DISCONNECTION = 0x00
    GRANTED_QOS_1 = 0x01
    GRANTED_QOS_2 = 0x02
    DISCONNECT_WITH_WILL = 0x04
    NO_MATCHING_SUBSCRIBERS = 0x10
    NO_SUBSCRIPTION_EXISTED = 0x11
    CONTINUE_AUTHENTICATION = 0x18
    RE_AUTHENTICATE = 0x19
    UNSPECIFIED_ERROR = 0x80
    MALFORMED_PACKET = 0x81
    PROTOCOL_ERROR = 0x82
    IMPLEMENTATION_SPECIFIC_ERROR = 0x83
    UNSUPPORTED_PROTOCOL_VERSION = 0x84
    CLIENT_IDENTIFIER_NOT_VALID = 0x85
    BAD_USER_NAME_OR_PASSWORD = 0x86
    NOT_AUTHORIZED = 0x87
    SERVER_UNAVAILABLE = 0x88
    SERVER_BUSY = 0x89
    BANNED = 0x8A
    SERVER_SHUTTING_DOWN = 0x8B
    BAD_AUTHENTICATION_METHOD = 0x8C
    KEEP_ALIVE_TIMEOUT = 0x8D
    SESSION_TAKEN_OVER = 0x8E
    TOPIC_FILTER_INVALID = 0x8F
    TOPIC_NAME_INVALID = 0x90
    PACKET_IDENTIFIER_IN_USE = 0x91
    PACKET_IDENTIFIER_NOT_FOUND = 0x92
    RECEIVE_MAXIMUM_EXCEEDED = 0x93
    TOPIC_ALIAS_INVALID = 0x94
    PACKET_TOO_LARGE = 0x95
    MESSAGE_RATE_TOO_HIGH = 0x96
    QUOTA_EXCEEDED = 0x97
    ADMINISTRATIVE_ACTION = 0x98
    PAYLOAD_FORMAT_INVALID = 0x99
    RETAIN_NOT_SUPPORTED = 0x9A
    QOS_NOT_SUPPORTED = 0x9B
    USE_ANOTHER_SERVER = 0x9C
    SERVER_MOVED = 0x9D
    SHARED_SUBSCRIPTIONS_NOT_SUPPORTED = 0x9E
    CONNECTION_RATE_EXCEEDED = 0x9F
    MAXIMUM_CONNECT_TIME = 0xA0
    SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED = 0xA1
    WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED = 0xA2


class ConnackCode(enum.IntEnum):
    """MQTT 3.1.1 CONNACK return codes (MQTT 3.1.1, 3.2.2.3)."""

    ACCEPTED = 0
    UNACCEPTABLE_PROTOCOL_VERSION = 1
    IDENTIFIER_REJECTED = 2
    SERVER_UNAVAILABLE = 3
    BAD_USER_NAME_OR_PASSWORD = 4
    NOT_AUTHORIZED = 5


SUBACK_FAILURE_V311 = 0x80
"""MQTT 3.1.1's only SUBACK failure return code."""

_V311_CONNACK: dict[int, ConnackCode] = {
    Reason.SUCCESS: ConnackCode.ACCEPTED,
    Reason.UNSUPPORTED_PROTOCOL_VERSION: ConnackCode.UNACCEPTABLE_PROTOCOL_VERSION,
    Reason.CLIENT_IDENTIFIER_NOT_VALID: ConnackCode.IDENTIFIER_REJECTED,
    Reason.BAD_USER_NAME_OR_PASSWORD: ConnackCode.BAD_USER_NAME_OR_PASSWORD,
    Reason.BAD_AUTHENTICATION_METHOD: ConnackCode.BAD_USER_NAME_OR_PASSWORD,
    Reason.NOT_AUTHORIZED: ConnackCode.NOT_AUTHORIZED,
    Reason.BANNED: ConnackCode.NOT_AUTHORIZED,
}


def v311_connack_code(reason: int) -> ConnackCode:
    """The 3.1.1 return code for an MQTT 5 CONNACK reason; anything unmapped is "server
    unavailable" (3), the 3.1.1 code for a refusal that is not the client's credentials."""
    return _V311_CONNACK.get(reason, ConnackCode.SERVER_UNAVAILABLE)


def is_failure(reason: int) -> bool:
    return reason >= 0x80


def _codes(*codes: int) -> frozenset[int]:
    return frozenset(codes)


_ACK_FAILURES = (0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99)
VALID_REASONS: dict[str, frozenset[int]] = {
    "CONNACK": _codes(0x00, *range(0x80, 0x8B), 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C)
    | _codes(0x9D, 0x9F),
    "PUBACK": _codes(0x00, 0x10, *_ACK_FAILURES),
    "PUBREC": _codes(0x00, 0x10, *_ACK_FAILURES),
    "PUBREL": _codes(0x00, 0x92),
    "PUBCOMP": _codes(0x00, 0x92),
    "SUBACK": _codes(0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2),
    "UNSUBACK": _codes(0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91),
    "DISCONNECT": _codes(0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E)
    | _codes(0x8F, 0x90, *range(0x93, 0xA3)),
    "AUTH": _codes(0x00, 0x18, 0x19),
}
"""The MQTT 5 reason codes each packet may carry (MQTT 5.0, 3.x.2.x tables)."""
