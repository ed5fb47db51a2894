"""A timed multidrop, half-duplex RS485 line on the world's clock.

Every byte takes its time on the line (start + data + parity + stop bits at the sender's baud
rate). Receivers get a *line frame* once the line has been silent for the frame gap (3.5
character times for Modbus RTU, :attr:`LineSettings.t35`), as an RTU receiver delimits frames.
Two drivers whose transmissions overlap collide: the overlap carries undefined levels and every
receiver decodes garbage. Seeded noise flips bits at a configured bit-error rate. A node whose
baud rate or framing differ from the sender's decodes what its own UART would (:mod:`sim.uart`).
A sender does not hear itself (its transceiver's receiver is disabled while driving).

Only the bytes travel: which slave answers is each node's business (a Modbus slave ignores
frames for other addresses). The bus counts busy time, so its utilisation is a model figure.

The bus knows no protocol. Two things come from the layer that puts one on the line:

* addressed delivery (a speed-up, not a behaviour change): a port attached with ``address=``
  declares that it only ever acts on frames whose first byte is its own address or 0
  (broadcast), as a Modbus RTU slave does. A clean frame (no collision, no noise, sent at the
  bus's own settings) is then handed only to the ports of that address plus every port without
  one (masters, bridges, sniffers), instead of to all 32 slaves; the capture and listeners
  still see every frame. Disturbed frames and ports with other settings go the full way,
  through the UART. Ports that declare no address (OSDP nodes) hear every frame.
* the capture's summaries: ``summarise`` (bytes -> one line of text) decodes each frame in
  ``rs485-<bus>.log`` (:mod:`sim.rs485_capture`); without it the capture shows hex only.

API for nodes (Modbus slaves and masters, OSDP PDs and CPs, terminals' RS485 ports)::

    port = bus.attach("slave-7", on_frame=callback)     # settings default to the bus's
    port = bus.attach("slave-7", on_frame=cb, address=7)  # clean frames for 7 (and 0) only
    port.send(b"...")                                    # returns when the last bit leaves
    port.powered = False                                 # deaf and mute until powered again
    port.retune(LineSettings.parse("19200 8N1"))         # its UART runs at other settings
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.rs485_capture import HexCapture, Summariser
from sim.uart import Drive, LineSettings, Waveform, uart_receive

if TYPE_CHECKING:
    import asyncio

    from sim.world import World

__all__ = ["Rs485Bus", "BusPort", "LineFrame", "LineSettings"]

FrameHandler = Callable[[bytes, "LineFrame"], None]


class _Tx:
    """One driver's contiguous bytes within a line frame."""

    __slots__ = ("port", "start", "data", "end")

    def __init__(self, port: BusPort, start: float, data: bytes) -> None:
        self.port = port
        self.start = start
        self.data = bytearray(data)
        self.end = start + len(data) * port.settings.char_time

    def extend(self, data: bytes) -> None:
        self.data.extend(data)
        self.end = self.start + len(self.data) * self.port.settings.char_time


@dataclass
class LineFrame:
    """What one line frame was: who drove it, when, and what happened to it."""

    number: int
    start: float
    end: float
    drivers: tuple[str, ...]
    sent: tuple[bytes, ...]
    collision: bool = False
    flipped_bits: int = 0
    line_bytes: bytes = b""
    framing_errors: int = 0
    parity_errors: int = 0

    @property
    def clean(self) -> bool:
        return not self.collision and not self.flipped_bits and not self.framing_errors

    def notes(self) -> list[str]:
        """What went wrong on the line, for people (the capture)."""
        notes = []
        if self.collision:
            notes.append("COLLISION")
        if self.flipped_bits:
            notes.append(f"NOISE {self.flipped_bits} bit(s) flipped")
        if self.framing_errors:
            notes.append(f"{self.framing_errors} framing error(s)")
        return notes


@dataclass
class BusStats:
    frames: int = 0
    collisions: int = 0
    noisy_frames: int = 0
    bytes_sent: int = 0
    busy_seconds: float = 0.0


class BusPort:
    """One transceiver on the bus."""

    def __init__(
        self,
        bus: Rs485Bus,
        name: str,
        settings: LineSettings,
        on_frame: FrameHandler | None,
        address: int | None = None,
    ) -> None:
        self.bus = bus
        self.name = name
        self.settings = settings
        self.on_frame = on_frame
        self.address = address
        self.powered = True
        self.attached = True
        self.tx_end = 0.0
        self.frames_received = 0

    def send(self, data: bytes) -> float:
        """Drive ``data`` onto the line now (or right after this port's previous bytes);
        return the time the last stop bit ends."""
        return self.bus._send(self, bytes(data))

    def detach(self) -> None:
        self.bus.detach(self)

    def retune(self, settings: LineSettings) -> None:
        """This node's UART now runs at ``settings`` (an outside program behind a bridge set
        its serial port's speed): from now on it drives and decodes the line at them."""
        if settings == self.settings:
            return
        self.settings = settings
        self.bus._routes = None
        self.bus.world.trace.emit(self.name, "bus", "retuned", settings=str(settings))

    def __repr__(self) -> str:
        return f"BusPort({self.name!r} on {self.bus.name!r}, {self.settings})"


class Rs485Bus:
    """The line. ``frame_gap`` defaults to the Modbus RTU 3.5-character silence."""

    def __init__(
        self,
        world: World,
        name: str,
        settings: LineSettings | None = None,
        bit_error_rate: float = 0.0,
        frame_gap: float | None = None,
        capture_dir: Path | None = None,
        summarise: Summariser | None = None,
    ) -> None:
        self.world = world
        self.name = name
        self.settings = settings or LineSettings()
        self.frame_gap = self.settings.t35 if frame_gap is None else frame_gap
        self.bit_error_rate = 0.0
        self.set_noise(bit_error_rate)
        self.ports: list[BusPort] = []
        self.stats = BusStats()
        self._loop: asyncio.AbstractEventLoop = world.loop
        self._rng = world.rng(f"rs485/{name}")
        self._frame: list[_Tx] = []
        self._line_end = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._started = world.now
        self.listeners: list[Callable[[LineFrame], None]] = []
        self._routes: _Routes | None = None
        self.capture: HexCapture | None = None
        if capture_dir is not None:
            self.capture = HexCapture(
                Path(capture_dir) / f"rs485-{name}.log",
                name,
                str(self.settings),
                self.frame_gap,
                summarise,
            )
        world.add_medium(f"rs485/{name}", self)

    # -- nodes -------------------------------------------------------------------------------
    def attach(
        self,
        name: str,
        on_frame: FrameHandler | None = None,
        settings: LineSettings | None = None,
        address: int | None = None,
    ) -> BusPort:
        if any(p.name == name for p in self.ports):
            raise ValueError(f"a port named {name!r} is already attached to bus {self.name!r}")
        if address is not None and not 1 <= address <= 247:
            raise ValueError(
                f"port address {address!r} not accepted; accepted: 1 to 247 "
                "(the frame's first byte), or none to hear every frame"
            )
        port = BusPort(self, name, settings or self.settings, on_frame, address)
        self.ports.append(port)
        self._routes = None
        self.world.trace.emit(name, "bus", "attached", bus=self.name, settings=str(port.settings))
        return port

    def detach(self, port: BusPort) -> None:
        if port in self.ports:
            port.attached = False
            self.ports.remove(port)
            self._routes = None
            self.world.trace.emit(port.name, "bus", "detached", bus=self.name)

    # -- faults ------------------------------------------------------------------------------
    def set_noise(self, bit_error_rate: float) -> None:
        if not isinstance(bit_error_rate, int | float) or not 0.0 <= bit_error_rate < 0.5:
            raise ValueError(
                f"bit error rate {bit_error_rate!r} not accepted; "
                "accepted: a number from 0 up to (not including) 0.5"
            )
        self.bit_error_rate = float(bit_error_rate)

    def noise_burst(self, bit_error_rate: float, duration: float) -> None:
        """Raise the bit-error rate for ``duration`` seconds from now, then restore it."""
        before = self.bit_error_rate
        self.set_noise(bit_error_rate)
        self.world.trace.emit(
            self.name, "fault", "noise-burst", ber=bit_error_rate, duration=duration
        )

        def restore() -> None:
            self.bit_error_rate = before
            self.world.trace.emit(self.name, "fault", "noise-end", ber=before)

        self._loop.call_at(self._loop.time() + duration, restore)

    # -- figures -----------------------------------------------------------------------------
    def utilisation(self) -> float:
        """Fraction of the time since the bus was made that some driver was on the line."""
        elapsed = self.world.now - self._started
        return self.stats.busy_seconds / elapsed if elapsed > 0 else 0.0

    def close(self) -> None:
        if self._frame:
            self._finish()
        if self.capture is not None:
            self.capture.close()

    # -- the line ----------------------------------------------------------------------------
    def _send(self, port: BusPort, data: bytes) -> float:
        now = self._loop.time()
        if not port.powered or not port.attached or not data:
            return now
        frame = self._frame
        if frame and now >= self._line_end + self.frame_gap:
            self._finish()  # its timer is due at this very instant
            frame = self._frame
        start = max(now, port.tx_end)
        last = None
        for tx in reversed(frame):
            if tx.port is port:
                last = tx
                break
        if last is not None and abs(last.end - start) <= 1e-12:
            last.extend(data)
            tx = last
        else:
            tx = _Tx(port, start, data)
            frame.append(tx)
        port.tx_end = tx.end
        self.stats.bytes_sent += len(data)
        if tx.end > self._line_end:
            self._line_end = tx.end
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(self._line_end + self.frame_gap, self._finish)
        return tx.end

    def _finish(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        txs, self._frame = self._frame, []
        if not txs:
            return
        stats = self.stats
        stats.frames += 1
        if len(txs) == 1:  # one driver: no overlap to look for
            tx = txs[0]
            sent_settings: LineSettings | None = tx.port.settings
            if self.bit_error_rate == 0.0 and (
                sent_settings is self.settings or sent_settings == self.settings
            ):
                self._finish_clean(tx)
                return
            frame = LineFrame(stats.frames, tx.start, tx.end, (tx.port.name,), (bytes(tx.data),))
            stats.busy_seconds += tx.end - tx.start
        else:
            txs.sort(key=lambda tx: tx.start)
            frame = LineFrame(
                stats.frames,
                txs[0].start,
                max(tx.end for tx in txs),
                tuple(tx.port.name for tx in txs),
                tuple(bytes(tx.data) for tx in txs),
            )
            frame.collision = any(
                a.port is not b.port and a.start < b.end and b.start < a.end
                for i, a in enumerate(txs)
                for b in txs[i + 1 :]
            )
            stats.busy_seconds += _union_length([(tx.start, tx.end) for tx in txs])
            same = {tx.port.settings for tx in txs}
            sent_settings = next(iter(same)) if len(same) == 1 else None
        # Bits are rendered only when something can disturb them: noise, a collision, or a
        # receiver whose settings differ from a sender's (the common clean case skips this).
        drives: list[Drive] = []
        if frame.collision or self.bit_error_rate > 0.0:
            drives = self._drives(txs)
            frame.flipped_bits = self._apply_noise(drives)
        if frame.collision:
            stats.collisions += 1
        if frame.flipped_bits:
            stats.noisy_frames += 1
        disturbed = frame.collision or frame.flipped_bits > 0
        wave = Waveform(drives, self._rng) if disturbed else None
        clean = frame.sent[0] if len(frame.sent) == 1 else b"".join(frame.sent)
        decoded: dict[LineSettings, tuple[bytes, int, int]] = {}

        def view(settings: LineSettings) -> tuple[bytes, int, int]:
            if not disturbed and (settings is sent_settings or settings == sent_settings):
                return clean, 0, 0
            if settings not in decoded:
                got = uart_receive(wave or Waveform(self._drives(txs), self._rng), settings)
                decoded[settings] = (got.data, got.framing_errors, got.parity_errors)
            return decoded[settings]

        frame.line_bytes, frame.framing_errors, frame.parity_errors = view(self.settings)
        self._publish(frame)
        drivers = [tx.port for tx in txs]
        receivers = self.ports
        if not disturbed and (sent_settings is self.settings or sent_settings == self.settings):
            receivers = self._route(clean[0] if clean else -1)
        for port in list(receivers):
            if not port.powered or port.on_frame is None or port in drivers:
                continue
            data = view(port.settings)[0]
            if data:
                port.frames_received += 1
                port.on_frame(data, frame)

    def _finish_clean(self, tx: _Tx) -> None:
        """The common case, kept short: one driver at the bus's own settings, no noise. The
        bytes arrive as sent at every port with those settings; a port with other settings
        decodes the rendered bits with its own UART, as in the general case."""
        data = bytes(tx.data)
        stats = self.stats
        frame = LineFrame(stats.frames, tx.start, tx.end, (tx.port.name,), (data,), line_bytes=data)
        stats.busy_seconds += tx.end - tx.start
        self._publish(frame)
        settings = self.settings
        driver = tx.port
        receivers = self._route(data[0])
        other: dict[LineSettings, bytes] = {}
        for port in list(receivers):
            if port is driver or not port.powered or port.on_frame is None:
                continue
            got = data
            if port.settings is not settings and port.settings != settings:
                got = other.get(port.settings, b"")
                if port.settings not in other:
                    got = other[port.settings] = uart_receive(
                        Waveform(self._drives([tx]), self._rng), port.settings
                    ).data
            if got:
                port.frames_received += 1
                port.on_frame(got, frame)

    def _publish(self, frame: LineFrame) -> None:
        """The frame to the trace, the capture and the bus's listeners."""
        if self.world.trace.recording:
            self.world.trace.emit(
                self.name,
                "bus",
                "frame",
                n=frame.number,
                start=frame.start,
                drivers=list(frame.drivers),
                data=frame.line_bytes,
                collision=frame.collision,
                flipped=frame.flipped_bits,
            )
        if self.capture is not None:
            self.capture.write(
                frame.start, frame.end, frame.drivers, frame.line_bytes, frame.notes()
            )
        for listener in self.listeners:
            listener(frame)

    def _route(self, address: int) -> list[BusPort]:
        """Ports that may act on a clean frame for ``address``, in attach order."""
        routes = self._routes
        if routes is None:
            routes = self._routes = _Routes(self.ports, self.settings)
        return routes.ports(address)

    @staticmethod
    def _drives(txs: list[_Tx]) -> list[Drive]:
        return [
            Drive(tx.start, tx.port.settings.bit_time, tx.port.settings.encode(tx.data))
            for tx in txs
        ]

    def _apply_noise(self, drives: list[Drive]) -> int:
        """Flip bits at the bit-error rate (geometric skips: cost per flip, not per bit)."""
        p = self.bit_error_rate
        if p <= 0.0:
            return 0
        flips = 0
        log_q = math.log1p(-p)
        for drive in drives:
            i = -1
            while True:
                i += 1 + int(math.log(1.0 - self._rng.random()) / log_q)
                if i >= len(drive.bits):
                    break
                drive.bits[i] ^= 1
                flips += 1
        return flips


class _Routes:
    """Which ports hear a clean frame, by its first byte (0: broadcast, everyone)."""

    def __init__(self, ports: list[BusPort], settings: LineSettings) -> None:
        self._all = list(ports)
        self._by_address: dict[int, list[BusPort]] = {}
        self._everyone = [p for p in ports if p.address is None or p.settings != settings]
        order = {id(p): i for i, p in enumerate(ports)}
        addressed = [p for p in ports if p.address is not None and p.settings == settings]
        for address in {p.address for p in addressed}:
            chosen = [p for p in addressed if p.address == address]
            self._by_address[address] = sorted(self._everyone + chosen, key=lambda p: order[id(p)])

    def ports(self, address: int) -> list[BusPort]:
        if address == 0:
            return self._all
        return self._by_address.get(address, self._everyone)


def _union_length(intervals: list[tuple[float, float]]) -> float:
    total, cur_start, cur_end = 0.0, -math.inf, -math.inf
    for start, end in sorted(intervals):
        if start > cur_end:
            total += max(0.0, cur_end - cur_start) if cur_end > -math.inf else 0.0
            cur_start, cur_end = start, end
        else:
            cur_end = max(cur_end, end)
    if cur_end > -math.inf:
        total += cur_end - cur_start
    return total


def line_stats(bus: Rs485Bus) -> dict[str, Any]:
    s = bus.stats
    return {
        "frames": s.frames,
        "collisions": s.collisions,
        "noisy_frames": s.noisy_frames,
        "bytes": s.bytes_sent,
        "utilisation": round(bus.utilisation(), 4),
    }
