"""The MQTT transcript of a Device2 scenario: every packet the service's MQTT device API saw,
one JSON-ready row each, in the order they crossed the wire::

    {"t": 12.5, "conn": "192.0.2.10:40001", "dir": "c2s", "type": "PUBLISH",
     "topic": "$resource/temperature", "qos": 1, "packet_id": 3, "payload_text": "21.5"}

Credentials never appear: a CONNECT shows whether it carried a user name and a password, and
the payload of a ``$provision`` reply (a token) is written ``<token>``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devices.protocols.mqtt import ConnAck, Connect, Packet, Publish

MAX_PAYLOAD = 200


@dataclass
class MqttTranscript:
    clock: Callable[[], float]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def hook(self) -> Callable[[str, str, Packet], None]:
        """For :attr:`MqttServer.transcript`: (peer, "in" | "out", packet) -> a row."""

        def record(peer: str, direction: str, packet: Packet) -> None:
            self.rows.append(row(self.clock(), peer, direction, packet))

        return record


def row(t: float, conn: str, direction: str, packet: Packet) -> dict[str, Any]:
    out: dict[str, Any] = {
        "t": round(t, 6),
        "conn": conn,
        "dir": "c2s" if direction == "in" else "s2c",
        "type": packet.type.name,
    }
    if isinstance(packet, Connect):
        out.update(
            client_id=packet.client_id,
            version=packet.protocol_level,
            username=packet.username is not None,
            password=packet.password is not None,
        )
    elif isinstance(packet, ConnAck):
        out["reason"] = packet.reason_code
    elif isinstance(packet, Publish):
        secret = direction == "out" and packet.topic.startswith("$provision")
        text = packet.payload[:MAX_PAYLOAD].decode("utf-8", "replace")
        out.update(
            topic=packet.topic,
            qos=packet.qos,
            packet_id=packet.packet_id,
            bytes=len(packet.payload),
            payload_text="<token>" if secret and packet.payload else text,
        )
    elif hasattr(packet, "packet_id"):
        out["packet_id"] = packet.packet_id
    return out
