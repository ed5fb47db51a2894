"""Domain errors of the MQTT codec and session, each carrying its MQTT 5 reason code.

A server that catches one answers as the spec says for the connection's version: under MQTT 5
a DISCONNECT (or, before the CONNACK, a CONNACK) with :attr:`MqttError.reason`, then close;
under 3.1.1 it just closes the network connection.
"""

from __future__ import annotations

from devices.protocols.mqtt.reasons import Reason


class MqttError(Exception):
    """Something on the wire broke the MQTT rules; ``reason`` is the MQTT 5 reason code."""

    reason: int = Reason.UNSPECIFIED_ERROR

    def __init__(self, message: str, reason: int | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason
        # The protocol level of a CONNECT that failed to decode, once it was read: it tells the
        # server whether a CONNACK may carry the reason (MQTT 5) or the connection just closes.
        self.protocol_level: int | None = None


class MalformedPacket(MqttError):
    """The bytes do not parse as the packet their type announces (0x81)."""

    reason = Reason.MALFORMED_PACKET


class ProtocolError(MqttError):
    """The packet parses but breaks a protocol rule (0x82)."""

    reason = Reason.PROTOCOL_ERROR


class UnsupportedProtocolVersion(MqttError):
    """A CONNECT names a protocol level or name this side does not speak (0x84)."""

    reason = Reason.UNSUPPORTED_PROTOCOL_VERSION


class PacketTooLarge(MqttError):
    """A packet is larger than the Maximum Packet Size in force (0x95)."""

    reason = Reason.PACKET_TOO_LARGE
