"""What the MQTT server hands to the application above it, and what it asks of it.

The session terminates MQTT; the application (the ThingsBoard platform emulator, a test's
echo app) sees connections, messages and subscriptions through these protocol-agnostic
callbacks. Answers are MQTT 5 reason codes (:class:`devices.protocols.mqtt.Reason`); the session
turns them into what the connection's version can say: a PUBACK/PUBREC reason under MQTT 5, a
CONNACK return code under 3.1.1, or closing the connection where 3.1.1 has no way to say no.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from devices.protocols.mqtt.packets import Subscription
from devices.protocols.mqtt.properties import Properties
from devices.protocols.mqtt.reasons import Reason


@dataclass(frozen=True)
class ConnectRequest:
    """An authenticated-to-be CONNECT. ``client_id`` is the one in force (``assigned`` when the
    server chose it because the client sent an empty one)."""

    client_id: str
    username: str | None
    password: bytes | None
    version: int
    clean_start: bool
    keepalive: int
    assigned: bool = False
    peer: str = ""
    properties: Properties = field(default_factory=Properties)


@dataclass(frozen=True)
class Message:
    """An application message: a client's PUBLISH, or its Will when the connection ends."""

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    dup: bool = False
    packet_id: int | None = None
    properties: Properties = field(default_factory=Properties)


class ClientHandle(Protocol):
    """One connected client, as the application may address it."""

    @property
    def client_id(self) -> str: ...

    @property
    def username(self) -> str | None: ...

    @property
    def version(self) -> int | None: ...

    @property
    def connected(self) -> bool: ...

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 0,
        retain: bool = False,
        properties: Properties | None = None,
        require_subscription: bool = True,
    ) -> int | None:
        """Send a PUBLISH to the client; the packet id (0 for QoS 0), None if not sent."""
        ...

    def disconnect(self, reason: int = Reason.NORMAL_DISCONNECTION, detail: str = "") -> None:
        """End the connection (MQTT 5: DISCONNECT with ``reason`` first)."""
        ...


class Application:
    """Base class with accepting defaults; override what the application decides."""

    def authenticate(self, request: ConnectRequest) -> int:
        """0 to accept, else a CONNACK reason (0x86 bad user name or password, 0x87 not
        authorized, 0x85 client identifier not valid, ...)."""
        return Reason.SUCCESS

    def on_connect(self, client: ClientHandle) -> None:
        """The CONNACK accepting ``client`` is on its way."""

    def on_publish(self, client: ClientHandle, message: Message) -> int:
        """0 (or 0x10 no matching subscribers) to accept, else a PUBACK failure reason: 0x80
        unspecified, 0x83 implementation specific, 0x87 not authorized, 0x90 topic name
        invalid, 0x97 quota exceeded, 0x99 payload format invalid."""
        return Reason.SUCCESS

    def on_subscribe(self, client: ClientHandle, subscription: Subscription) -> int:
        """The granted QoS (at most the requested one), or a failure reason (0x80+)."""
        return subscription.qos

    def on_unsubscribe(self, client: ClientHandle, topic_filter: str) -> None:
        """``client`` no longer subscribes to ``topic_filter``."""

    def on_acknowledged(self, client: ClientHandle, packet_id: int, reason: int) -> None:
        """The client acknowledged a server PUBLISH (PUBACK, or PUBCOMP/failed PUBREC)."""

    def on_will(self, client: ClientHandle, message: Message) -> None:
        """The connection ended without a normal DISCONNECT and the client left a Will."""

    def on_disconnect(self, client: ClientHandle, reason: int, detail: str) -> None:
        """A connection accepted earlier is gone: ``reason`` as an MQTT 5 code, ``detail`` why."""
