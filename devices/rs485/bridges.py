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

What one bridge's outside clients may queue for the line is bounded (:class:`InputLimit`): a
real transceiver cannot be handed more than the line carries, and a 20 KB burst at 9600 baud
would otherwise hold the line for 21 s.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import select
import termios
import tty
from typing import Any

from devices.rs485.tty_settings import set_tty_settings, tty_settings
from sim.rs485 import BusPort, LineFrame, Rs485Bus

log = logging.getLogger(__name__)

MAX_WRITE = 256  # bytes taken from one read of a client: one RTU frame at most
MAX_QUEUED = 512  # bytes a bridge may have waiting for the line: two RTU frames
PTY_WATCH_S = 0.01  # how often a pty nobody has open is checked for a newcomer


class InputLimit:
    """Bounds what a bridge's clients can queue: at most :data:`MAX_WRITE` bytes of one read
    and :data:`MAX_QUEUED` bytes waiting for the line; the excess is dropped, with one log line
    per burst (and a trace record per write cut)."""

    def __init__(
        self, port: BusPort, max_write: int = MAX_WRITE, max_queued: int = MAX_QUEUED
    ) -> None:
        self.port = port
        self.max_write = max_write
        self.max_queued = max_queued
        self.dropped = 0
        self._dropping = False

    def queued(self) -> int:
        """Bytes this bridge has handed the line that have not left it yet."""
        port = self.port
        left = port.tx_end - port.bus.world.now
        return math.ceil(left / port.settings.char_time - 1e-9) if left > 0 else 0

    def admit(self, data: bytes) -> bytes:
        """The part of ``data`` that may go onto the line now. A burst lasts until the line
        has caught up with the client (nothing of it left waiting)."""
        queued = self.queued()
        if not queued:
            self._dropping = False
        keep = data[: min(self.max_write, max(0, self.max_queued - queued))]
        dropped = len(data) - len(keep)
        if not dropped:
            return keep
        self.dropped += dropped
        world = self.port.bus.world
        world.trace.emit(self.port.name, "bus", "input-dropped", bytes=dropped, kept=len(keep))
        if not self._dropping:
            self._dropping = True
            log.warning(
                "%s: a client sent more than the line takes (%d bytes per write, %d waiting at "
                "most); dropping the excess (%d bytes so far)",
                self.port.name,
                self.max_write,
                self.max_queued,
                self.dropped,
            )
        return keep

    def send(self, data: bytes) -> None:
        """Drive what is admitted of ``data``."""
        keep = self.admit(data)
        if keep:
            self.port.send(keep)


class _FdBridge:
    """A bus port pumped to and from a file descriptor with the loop's reader."""

    def __init__(self, bus: Rs485Bus, name: str) -> None:
        self.bus = bus
        self.name = name
        self._fd = -1
        self._reading = False
        self.port: BusPort = bus.attach(name, self._on_frame)
        self.limit = InputLimit(self.port)

    def _start_reading(self, fd: int) -> None:
        self._fd = fd
        os.set_blocking(fd, False)
        self.bus.world.loop.add_reader(fd, self._readable)
        self._reading = True

    def _stop_reading(self) -> None:
        if self._reading:
            self._reading = False
            self.bus.world.loop.remove_reader(self._fd)

    def _readable(self) -> None:
        try:
            data = os.read(self._fd, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # the far side went away (a pty's client closed it)
            self._gone(exc)
            return
        if data:
            self._incoming()
            self.limit.send(data)

    def _incoming(self) -> None:
        """Before a client's bytes go onto the line."""

    def _gone(self, exc: OSError) -> None:
        self._stop_reading()
        self.bus.world.trace.emit(self.name, "bus", "bridge-read-failed", error=str(exc))

    def _on_frame(self, data: bytes, frame: LineFrame) -> None:
        if not self._reading:
            return
        try:
            os.write(self._fd, data)
        except OSError as exc:
            self.bus.world.trace.emit(self.name, "bus", "bridge-write-failed", error=str(exc))

    def close(self) -> None:
        self._stop_reading()
        self.port.detach()


class PtyBridge(_FdBridge):
    """Open :attr:`path` with any serial program to join the bus.

    Like a serial port, the pty carries the line only while a program has it open: line frames
    that pass while nobody has it open are not kept for the next program, and anything left
    unread by the previous one is flushed when a new one opens it. The pty starts at the line's
    speed; a program that sets another speed drives and hears the line at its own, so it
    garbles and sees garbage as on a real line (:mod:`devices.rs485.tty_settings`). Parity
    cannot cross a pty (the pty driver forces 8 data bits, no parity): only the speed and stop
    bits are compared with the line's.
    """

    def __init__(self, bus: Rs485Bus, name: str = "pty", watch_s: float = PTY_WATCH_S) -> None:
        super().__init__(bus, name)
        master, slave = os.openpty()
        tty.setraw(slave)
        set_tty_settings(slave, bus.settings)
        self.path = os.ttyname(slave)
        os.close(slave)  # the pty lives as long as its master; nobody has it open now
        self._fd = master
        os.set_blocking(master, False)
        self._poll = select.poll()
        self._poll.register(master, select.POLLIN)
        self._watch_s = watch_s
        self._timer: asyncio.TimerHandle | None = None
        self.dropped_frames = 0  # line frames that passed while nobody had the pty open
        self._wait_for_client()
        bus.world.trace.emit(name, "bus", "pty-bridge", bus=bus.name)

    @property
    def client_open(self) -> bool:
        """A program has the pty open."""
        return self._reading

    def _wait_for_client(self) -> None:
        loop = self.bus.world.loop
        self._timer = loop.call_at(loop.time() + self._watch_s, self._look)

    def _look(self) -> None:
        """The master hangs up while no program has the pty open; once one has, it is joined."""
        self._timer = None
        if any(events & select.POLLHUP for _, events in self._poll.poll(0)):
            self._wait_for_client()
            return
        termios.tcflush(self._fd, termios.TCOFLUSH)  # nothing stale for the newcomer
        self._incoming()
        self._start_reading(self._fd)
        self.bus.world.trace.emit(self.name, "bus", "pty-opened", settings=str(self.port.settings))

    def _incoming(self) -> None:
        self.port.retune(tty_settings(self._fd, self.bus.settings))

    def _gone(self, exc: OSError) -> None:
        self._stop_reading()
        self.bus.world.trace.emit(self.name, "bus", "pty-closed")
        self._wait_for_client()

    def _on_frame(self, data: bytes, frame: LineFrame) -> None:
        if not self._reading:
            self.dropped_frames += 1
            return
        super()._on_frame(data, frame)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().close()
        try:
            os.close(self._fd)
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
        self.bridge.limit.send(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self in self.bridge._peers:
            self.bridge._peers.remove(self)


class TcpBridge:
    """The line's bytes over TCP (Modbus RTU over TCP). Its clients share one transceiver (and
    one :class:`InputLimit`)."""

    def __init__(self, bus: Rs485Bus, name: str = "tcp") -> None:
        self.bus = bus
        self.name = name
        self.port: BusPort = bus.attach(name, self._on_frame)
        self.limit = InputLimit(self.port)
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
