"""Gateway connections and the device sessions they carry.

A :class:`Connection` is one accepted MQTT connection of a gateway. A device has at most one
active :class:`DeviceSession`, on the connection that last named it (connect, telemetry,
attributes, an attribute request, a claim or an RPC reply): a device named through another
connection, of the same gateway or another gateway of the tenant, moves there. Server-side RPCs
and attribute pushes go through that session only. A session ends on ``v1/gateway/disconnect``,
when its connection ends, or after ``timeout_s`` without a message naming the device (one timer
per session, re-armed lazily when it fires early).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from devices.cloud.mqtt_platform.application import ClientHandle
from devices.cloud.mqtt_platform.store import Device

DISCONNECT, GATEWAY_GONE, INACTIVE, MOVED = "disconnect", "gateway", "inactive", "moved"


@dataclass(eq=False)
class Connection:
    client: ClientHandle
    gateway: Device
    devices: dict[int, DeviceSession] = field(default_factory=dict)
    """Active device sessions by device id."""
    closing: bool = False
    """A message was refused with "close": nothing more is processed."""


@dataclass(eq=False)
class DeviceSession:
    device: Device
    connection: Connection
    last_seen: float
    timer: asyncio.TimerHandle | None = None


class DeviceSessions:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        timeout_s: float,
        on_start: Callable[[DeviceSession], None],
        on_end: Callable[[DeviceSession, str], None],
    ) -> None:
        self._loop = loop
        self.timeout_s = timeout_s
        self._on_start = on_start
        self._on_end = on_end
        self._by_device: dict[int, DeviceSession] = {}

    def active(self, device_id: int) -> DeviceSession | None:
        return self._by_device.get(device_id)

    def touch(self, conn: Connection, device: Device) -> DeviceSession:
        """The device's session on ``conn``, started (or moved there) if need be."""
        now = self._loop.time()
        current = self._by_device.get(device.id)
        if current is not None and current.connection is conn:
            current.last_seen = now
            current.device = device
            return current
        if current is not None:
            self.end(current, MOVED)
        session = DeviceSession(device, conn, now)
        self._by_device[device.id] = session
        conn.devices[device.id] = session
        self._arm(session)
        self._on_start(session)
        return session

    def end(self, session: DeviceSession, why: str) -> None:
        if self._by_device.get(session.device.id) is not session:
            return
        del self._by_device[session.device.id]
        session.connection.devices.pop(session.device.id, None)
        if session.timer is not None:
            session.timer.cancel()
            session.timer = None
        self._on_end(session, why)

    def end_device(self, conn: Connection, device_id: int) -> bool:
        session = conn.devices.get(device_id)
        if session is None:
            return False
        self.end(session, DISCONNECT)
        return True

    def end_connection(self, conn: Connection) -> None:
        for session in list(conn.devices.values()):
            self.end(session, GATEWAY_GONE)

    def close(self) -> None:
        for session in list(self._by_device.values()):
            if session.timer is not None:
                session.timer.cancel()
        self._by_device.clear()

    def _arm(self, session: DeviceSession) -> None:
        session.timer = self._loop.call_at(
            session.last_seen + self.timeout_s, self._expire, session
        )

    def _expire(self, session: DeviceSession) -> None:
        session.timer = None
        if self._by_device.get(session.device.id) is not session:
            return
        if self._loop.time() >= session.last_seen + self.timeout_s:
            self.end(session, INACTIVE)
        else:
            self._arm(session)
