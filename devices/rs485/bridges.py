"""Bridges that join a bus from outside the process. The world must run in real time then.

Every bridge is one bus port plus a byte stream: bytes arriving from outside are driven onto
the line (so they take their time at the line's baud rate and can collide like any other
driver's), and every line frame the bridge did not drive itself goes out in one piece.

* :class:`PtyBridge` — a pseudo-terminal (``os.openpty``) in raw mode; any serial program
  (a Modbus poller, pymodbus' serial client or server, an OSDP tool) opens :attr:`path`.
* :class:`SerialBridge` — a real adapter by path through pyserial (not exercised in CI).
* :class:`TcpBridge` — Modbus RTU over TCP: RTU frames, CRC included (or any protocol's bytes,
  e.g. OSDP packets), in a TCP stream. ``listen`` serves outside masters or slaves that connect
  in (on loopback unless told otherwise); ``dial`` connects to an outside RTU-over-TCP device (a
  vendor's slave under test, a serial-to-TCP converter).
"""

from __future__ import annotations

import asyncio
import os
import tty
from typing import Any

from sim.rs485 import BusPort, LineFrame, Rs485Bus


class _FdBridge:
    """A bus port pumped to and from a file descriptor with the loop's reader."""

    def __init__(self, bus: Rs485Bus, name: str) -> None:
        self.bus = bus
        self.name = name
        self._fd = -1
        self.port: BusPort = bus.attach(name, self._on_frame)

    def _start_reading(self, fd: int) -> None:
        self._fd = fd
        os.set_blocking(fd, False)
        self.bus.world.loop.add_reader(fd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self._fd, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # the far side closed a pty: keep the bus alive
            data = b""
        if data:
            self.port.send(data)

    def _on_frame(self, data: bytes, frame: LineFrame) -> None:
        if self._fd < 0:
            return
        try:
            os.write(self._fd, data)
        except OSError as exc:
            self.bus.world.trace.emit(self.name, "bus", "bridge-write-failed", error=str(exc))

    def close(self) -> None:
        if self._fd >= 0:
            self.bus.world.loop.remove_reader(self._fd)
        self.port.detach()


class PtyBridge(_FdBridge):
    """Open :attr:`path` with any serial program to join the bus."""

    def __init__(self, bus: Rs485Bus, name: str = "pty") -> None:
        super().__init__(bus, name)
        master, slave = os.openpty()
        tty.setraw(slave)
        self._slave = slave
        self.path = os.ttyname(slave)
        self._start_reading(master)
        bus.world.trace.emit(name, "bus", "pty-bridge", bus=bus.name)

    def close(self) -> None:
        super().close()
        for fd in (self._fd, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass


class SerialBridge(_FdBridge):
    """A real RS485 adapter (``/dev/ttyUSB0``-like path), opened with the bus's settings."""

    def __init__(self, bus: Rs485Bus, device: str, name: str = "serial") -> None:
        import serial  # pyserial; optional at run time

        super().__init__(bus, name)
        s = bus.settings
        self._serial = serial.Serial(
            device,
            baudrate=s.baud,
            bytesize=s.data_bits,
            parity=s.parity,
            stopbits=s.stop_bits,
            timeout=0,
        )
        self._start_reading(self._serial.fileno())

    def close(self) -> None:
        super().close()
        self._serial.close()


class _StreamProtocol(asyncio.Protocol):
    def __init__(self, bridge: TcpBridge) -> None:
        self.bridge = bridge
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.bridge._peers.append(self)

    def data_received(self, data: bytes) -> None:
        self.bridge.port.send(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self in self.bridge._peers:
            self.bridge._peers.remove(self)


class TcpBridge:
    """The line's bytes over TCP (Modbus RTU over TCP)."""

    def __init__(self, bus: Rs485Bus, name: str = "tcp") -> None:
        self.bus = bus
        self.name = name
        self.port: BusPort = bus.attach(name, self._on_frame)
        self._peers: list[_StreamProtocol] = []
        self._server: asyncio.base_events.Server | None = None
        self.address: tuple[str, int] | None = None

    async def listen(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """Accept outside peers at ``host:port`` (0: a free port); returns the address taken."""
        loop = self.bus.world.loop
        self._server = await loop.create_server(lambda: _StreamProtocol(self), host, port)
        sock = self._server.sockets[0].getsockname()
        self.address = (sock[0], sock[1])
        self.bus.world.trace.emit(self.name, "bus", "tcp-bridge-listening", port=sock[1])
        return self.address

    async def dial(self, host: str, port: int, timeout: float = 5.0) -> None:
        loop = self.bus.world.loop
        await asyncio.wait_for(
            loop.create_connection(lambda: _StreamProtocol(self), host, port), timeout
        )
        self.address = (host, port)
        self.bus.world.trace.emit(self.name, "bus", "tcp-bridge-connected", port=port)

    def _on_frame(self, data: bytes, frame: LineFrame) -> None:
        for peer in list(self._peers):
            if peer.transport is not None and not peer.transport.is_closing():
                peer.transport.write(data)

    async def close(self) -> Any:
        for peer in list(self._peers):
            if peer.transport is not None:
                peer.transport.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self.port.detach()
