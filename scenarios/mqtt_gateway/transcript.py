"""The MQTT transcript of a scenario: every packet between the gateways and the platform, as
JSON-ready rows, and the questions the steps ask of it.

One row per packet, in the order it crossed the wire::

    {"t": 12.5, "conn": "gw0:40001", "dir": "c2s", "type": "PUBLISH",
     "topic": "v1/gateway/telemetry", "qos": 1, "packet_id": 7, "dup": false,
     "retain": false, "payload": {...}, "bytes": 120}

``dir`` is ``c2s`` (a gateway to the platform) or ``s2c`` whatever the SUT's role; ``conn``
names one network connection (a peer address on the platform's side, ``<gateway>#<n>`` on a
harness gateway's side). Payloads are decoded as JSON when they are JSON (else ``payload_text``
or ``payload_hex``). Access tokens never appear: a CONNECT's user name is written ``<token>``.

Where it comes from: in the gateway role the harness's platform records every packet through
its server's transcript hook (:attr:`MqttServer.transcript`); in the platform role each harness
gateway decodes its own wire both ways (:class:`WireTap`), so a remote platform's answers are
recorded byte for byte too.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from devices.protocols.mqtt import (
    PROTOCOL_5,
    ConnAck,
    Connect,
    Disconnect,
    MqttError,
    Packet,
    PacketReader,
    Publish,
    SubAck,
    Subscribe,
    UnsubAck,
    Unsubscribe,
)

C2S, S2C = "c2s", "s2c"
TOKEN = "<token>"
CONFIRM_S = 0.5
"""A PUBACK this long before its connection was ended on purpose reached the sender."""


@dataclass(frozen=True)
class Blackout:
    """A time the harness cut a gateway off: connections ended at ``start`` (an outage, a
    restart, a crash), or, ``silent``, packets lost from ``start`` to ``end`` (a partition)."""

    kind: str
    start: float
    end: float
    silent: bool = False


_ACKS = ("PUBACK", "PUBREC", "PUBREL", "PUBCOMP")


def payload_fields(payload: bytes) -> dict[str, Any]:
    """A payload as the transcript keeps it: JSON when it is JSON."""
    try:
        return {"payload": json.loads(payload.decode("utf-8"))}
    except (UnicodeDecodeError, ValueError):
        pass
    try:
        return {"payload_text": payload.decode("utf-8")}
    except UnicodeDecodeError:
        return {"payload_hex": payload.hex()}


def packet_row(t: float, conn: str, direction: str, packet: Packet) -> dict[str, Any]:
    """One transcript row (see the module docstring)."""
    row: dict[str, Any] = {
        "t": round(t, 6),
        "conn": conn,
        "dir": direction,
        "type": packet.type.name,
    }
    if isinstance(packet, Connect):
        token = packet.username
        client_id = packet.client_id
        row.update(
            client_id=TOKEN if token and token in client_id else client_id,
            version=packet.protocol_level,
            clean_start=packet.clean_start,
            keepalive=packet.keepalive,
            username=None if token is None else TOKEN,
            password=packet.password is not None,
        )
    elif isinstance(packet, ConnAck):
        row.update(reason=packet.reason_code, session_present=packet.session_present)
        assigned = packet.properties.assigned_client_identifier
        if assigned:
            row["assigned_client_id"] = assigned
    elif isinstance(packet, Publish):
        row.update(
            topic=packet.topic,
            qos=packet.qos,
            packet_id=packet.packet_id,
            dup=packet.dup,
            retain=packet.retain,
            bytes=len(packet.payload),
            **payload_fields(packet.payload),
        )
    elif packet.type.name in _ACKS:
        row.update(packet_id=packet.packet_id, reason=packet.reason_code)  # type: ignore[union-attr]
    elif isinstance(packet, Subscribe):
        row.update(
            packet_id=packet.packet_id,
            filters=[[s.topic_filter, s.qos] for s in packet.subscriptions],
        )
    elif isinstance(packet, SubAck | UnsubAck):
        row.update(packet_id=packet.packet_id, reasons=list(packet.reason_codes))
    elif isinstance(packet, Unsubscribe):
        row.update(packet_id=packet.packet_id, filters=list(packet.topic_filters))
    elif isinstance(packet, Disconnect):
        row["reason"] = packet.reason_code
    reason_string = getattr(getattr(packet, "properties", None), "reason_string", None)
    if reason_string:
        row["reason_string"] = reason_string
    return row


@dataclass
class Transcript:
    """The rows of one scenario (``clock``: the world's time)."""

    clock: Callable[[], float]
    rows: list[dict[str, Any]]

    @classmethod
    def new(cls, clock: Callable[[], float]) -> Transcript:
        return cls(clock, [])

    def record(self, conn: str, direction: str, packet: Packet) -> None:
        self.rows.append(packet_row(self.clock(), conn, direction, packet))

    def server_hook(self) -> Callable[[str, str, Packet], None]:
        """For :attr:`MqttServer.transcript`: (peer, "in"/"out", packet) -> a row."""

        def hook(peer: str, direction: str, packet: Packet) -> None:
            self.record(peer, C2S if direction == "in" else S2C, packet)

        return hook

    def mark(self) -> int:
        """Where the transcript stands now (for :meth:`since`)."""
        return len(self.rows)

    def since(self, mark: int = 0) -> list[dict[str, Any]]:
        return self.rows[mark:]

    # -- questions ------------------------------------------------------------------------------
    def of_type(self, kind: str, direction: str | None = None, since: int = 0) -> list[dict]:
        return [
            r
            for r in self.rows[since:]
            if r["type"] == kind and (direction is None or r["dir"] == direction)
        ]

    def publishes(
        self, topic: str | None = None, direction: str = C2S, since: int = 0
    ) -> list[dict[str, Any]]:
        return [
            r
            for r in self.of_type("PUBLISH", direction, since)
            if topic is None or r["topic"] == topic
        ]

    def ack_of(self, publish: dict[str, Any]) -> dict[str, Any] | None:
        """The PUBACK (or PUBREC) answering ``publish`` on its connection, if one came."""
        if not publish.get("packet_id"):
            return None
        index = self._index(publish)
        answer_dir = S2C if publish["dir"] == C2S else C2S
        for row in self.rows[index + 1 :]:
            if row["conn"] != publish["conn"]:
                continue
            if (
                row["dir"] == publish["dir"]
                and row["type"] == "PUBLISH"
                and (row.get("packet_id") == publish["packet_id"] and not row.get("dup"))
            ):
                return None  # the id was used again: this one was never answered
            if (
                row["dir"] == answer_dir
                and row["type"] in ("PUBACK", "PUBREC")
                and row.get("packet_id") == publish["packet_id"]
            ):
                return row
        return None

    def accepted(self, publish: dict[str, Any]) -> bool:
        """The platform took it: a QoS 0 PUBLISH on a connection that went on, or a PUBACK
        with a success reason."""
        if publish["qos"] == 0:
            return not self._closed_after(publish)
        ack = self.ack_of(publish)
        return ack is not None and ack.get("reason", 0) < 0x80

    def ack_confirmed(self, publish: dict[str, Any], blackouts: Sequence[Blackout] = ()) -> bool:
        """Whether the sender can be held to have heard the answer to ``publish`` (QoS 0:
        nothing to hear). Yes when its connection carried something more from the sender after
        the PUBACK; else only when the connection was ended on purpose (a ``blackout`` the
        harness made: an outage, a restart) at least ``CONFIRM_S`` after the PUBACK and the
        PUBACK was not sent into a silent partition. Anything else is given the benefit of the
        doubt: sending such a message again is no duplicate."""
        ack = self.ack_of(publish)
        if ack is None:
            return publish["qos"] == 0
        index = self._index(ack)
        if any(
            r["conn"] == publish["conn"] and r["dir"] == publish["dir"]
            for r in self.rows[index + 1 :]
        ):
            return True
        t = ack["t"]
        if any(b.silent and b.start - CONFIRM_S <= t <= b.end for b in blackouts):
            return False
        ends = [b.start for b in blackouts if not b.silent and b.start >= t]
        return bool(ends) and min(ends) - t >= CONFIRM_S

    def accepted_publishes(self, topic: str, since: int = 0) -> list[dict[str, Any]]:
        return [r for r in self.publishes(topic, C2S, since) if self.accepted(r)]

    def connections(self) -> dict[str, dict[str, Any]]:
        """conn -> its CONNECT row (connections whose CONNECT was seen)."""
        return {r["conn"]: r for r in self.rows if r["type"] == "CONNECT"}

    def accepted_connections(self) -> list[str]:
        """Connections whose CONNACK accepted them, in order."""
        return [r["conn"] for r in self.rows if r["type"] == "CONNACK" and r["reason"] == 0]

    def subscriptions(self, conn: str) -> list[str]:
        """Topic filters ``conn`` asked for and was granted."""
        granted: list[str] = []
        asked: dict[int, list[str]] = {}
        for row in self.rows:
            if row["conn"] != conn:
                continue
            if row["type"] == "SUBSCRIBE":
                asked[row["packet_id"]] = [f for f, _q in row["filters"]]
            elif row["type"] == "SUBACK":
                filters = asked.pop(row["packet_id"], [])
                granted += [
                    f for f, code in zip(filters, row["reasons"], strict=False) if code < 0x80
                ]
        return granted

    def rows_of(self, conn: str) -> Iterator[dict[str, Any]]:
        return (r for r in self.rows if r["conn"] == conn)

    def _index(self, row: dict[str, Any]) -> int:
        for i in range(len(self.rows) - 1, -1, -1):
            if self.rows[i] is row:
                return i
        raise ValueError("the row is not in this transcript")

    def _closed_after(self, publish: dict[str, Any]) -> bool:
        index = self._index(publish)
        for row in self.rows[index + 1 :]:
            if row["conn"] == publish["conn"]:
                return row["type"] == "DISCONNECT" and row["dir"] == S2C
        return False


# -- the harness gateways' side -------------------------------------------------------------------


class WireTap(asyncio.Protocol):
    """Sits between a stream and the protocol reading it (paho's socket), decoding both ways
    into a :class:`Transcript`. Undecodable bytes end the tap's decoding, never the stream."""

    def __init__(self, inner: asyncio.Protocol, transcript: Transcript, conn: str) -> None:
        self.inner = inner
        self.transcript = transcript
        self.conn = conn
        self._up = PacketReader(1 << 28)
        self._down = PacketReader(1 << 28)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.inner.connection_made(_TappedTransport(transport, self))

    def data_received(self, data: bytes) -> None:
        self._decode(self._down, data, S2C)
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.inner.connection_lost(exc)

    def sent(self, data: bytes) -> None:
        self._decode(self._up, data, C2S)

    def _decode(self, reader: PacketReader, data: bytes, direction: str) -> None:
        try:
            reader.feed(data)
            for packet in reader:
                if isinstance(packet, Connect):
                    version = packet.protocol_level
                    self._up.version = self._down.version = (
                        version if version in (4, PROTOCOL_5) else None
                    )
                self.transcript.record(self.conn, direction, packet)
        except (MqttError, ValueError):
            return


class _TappedTransport(asyncio.Transport):
    def __init__(self, transport: asyncio.BaseTransport, tap: WireTap) -> None:
        super().__init__()
        self._transport = transport
        self._tap = tap

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._tap.sent(bytes(data))
        self._transport.write(data)  # type: ignore[attr-defined]

    def close(self) -> None:
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def abort(self) -> None:
        self._transport.abort()  # type: ignore[attr-defined]

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)
