"""Serial characters as bits on a line, and a UART that samples them back.

The RS485 bus hands bytes through untouched when nothing disturbs them (one driver, matching
settings, no bit flipped). Otherwise it renders what was on the line — each driver's bits at
its own baud rate, contention where two drivers overlap, flipped bits from noise — and every
receiver decodes that waveform the way a UART does: it waits for a falling edge, checks the
start bit in its middle, samples data, parity and stop bits at *its own* bit time, and flags a
framing or parity error. A node with the wrong baud rate or parity therefore sees the garbage
a real one would.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

PARITIES = {"N": "none", "E": "even", "O": "odd"}
MIN_BAUD, MAX_BAUD = 50, 12_000_000


@dataclass(frozen=True)
class LineSettings:
    """Baud rate and character framing of a serial line (``9600 8N1`` by default)."""

    baud: int = 9600
    data_bits: int = 8
    parity: str = "N"
    stop_bits: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.baud, int) or not MIN_BAUD <= self.baud <= MAX_BAUD:
            raise ValueError(
                f"baud rate {self.baud!r} is not accepted; "
                f"accepted: an integer from {MIN_BAUD} to {MAX_BAUD}"
            )
        if self.data_bits not in (5, 6, 7, 8):
            raise ValueError(f"data bits {self.data_bits!r} not accepted; accepted: 5, 6, 7, 8")
        if self.parity not in PARITIES:
            raise ValueError(
                f"parity {self.parity!r} not accepted; accepted: "
                + ", ".join(f"{k} ({v})" for k, v in PARITIES.items())
            )
        if self.stop_bits not in (1, 2):
            raise ValueError(f"stop bits {self.stop_bits!r} not accepted; accepted: 1, 2")

    @classmethod
    def parse(cls, text: str) -> LineSettings:
        """``"9600 8N1"`` or ``"19200 8E1"`` -> settings."""
        try:
            baud, frame = text.split()
            return cls(int(baud), int(frame[0]), frame[1].upper(), int(frame[2:]))
        except (ValueError, IndexError):
            raise ValueError(
                f"line settings {text!r} not understood; accepted: "
                "'<baud> <data bits><N|E|O><stop bits>', e.g. '9600 8N1'"
            ) from None

    @property
    def bits_per_char(self) -> int:
        return 1 + self.data_bits + (self.parity != "N") + self.stop_bits

    @property
    def bit_time(self) -> float:
        return 1.0 / self.baud

    @property
    def char_time(self) -> float:
        return self.bits_per_char / self.baud

    @property
    def t35(self) -> float:
        """Modbus RTU inter-frame silence: 3.5 characters, fixed at 1.75 ms above 19200 baud."""
        return 3.5 * self.char_time if self.baud <= 19200 else 0.00175

    def __str__(self) -> str:
        return f"{self.baud} {self.data_bits}{self.parity}{self.stop_bits}"

    def char_bits(self, byte: int) -> list[int]:
        """Start bit (0), data LSB first, parity, stop bits (1)."""
        data = [(byte >> i) & 1 for i in range(self.data_bits)]
        bits = [0, *data]
        if self.parity != "N":
            ones = sum(data) & 1
            bits.append(ones if self.parity == "E" else ones ^ 1)
        bits.extend([1] * self.stop_bits)
        return bits

    def encode(self, data: bytes) -> list[int]:
        out: list[int] = []
        for byte in data:
            out.extend(self.char_bits(byte))
        return out


@dataclass
class Drive:
    """One driver's contiguous transmission: bits at its own bit time from ``start``."""

    start: float
    bit_time: float
    bits: list[int]

    @property
    def end(self) -> float:
        return self.start + len(self.bits) * self.bit_time


@dataclass
class Waveform:
    """What the line carried during one line frame. Where two drivers overlap the level is
    undefined on real RS485; here it is a seeded random level per contention slot."""

    drives: list[Drive]
    rng: random.Random
    _contention: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.drives.sort(key=lambda d: d.start)
        self._slot = min(d.bit_time for d in self.drives) if self.drives else 1.0

    @property
    def start(self) -> float:
        return self.drives[0].start

    @property
    def end(self) -> float:
        return max(d.end for d in self.drives)

    def level(self, t: float) -> int:
        active = [d for d in self.drives if d.start <= t < d.end]
        if not active:
            return 1  # idle line, held high by the fail-safe bias
        if len(active) == 1:
            d = active[0]
            return d.bits[int((t - d.start) / d.bit_time)]
        slot = int((t - self.start) / self._slot)
        level = self._contention.get(slot)
        if level is None:
            level = self._contention[slot] = self.rng.getrandbits(1)
        return level


@dataclass
class Received:
    data: bytes
    framing_errors: int = 0
    parity_errors: int = 0


def uart_receive(wave: Waveform, rx: LineSettings, oversample: int = 16) -> Received:
    """Decode ``wave`` as a UART with settings ``rx`` would (16x oversampling)."""
    bit = rx.bit_time
    step = bit / oversample
    t = wave.start - step
    end = wave.end + bit
    out = bytearray()
    framing = parity_err = 0
    previous = 1
    while t < end:
        level = wave.level(t)
        if previous == 1 and level == 0 and wave.level(t + bit / 2) == 0:
            data = [wave.level(t + (1.5 + i) * bit) for i in range(rx.data_bits)]
            at = t + (1.5 + rx.data_bits) * bit
            if rx.parity != "N":
                expected = (sum(data) & 1) ^ (rx.parity == "O")
                if wave.level(at) != expected:
                    parity_err += 1
                at += bit
            if wave.level(at) == 0:
                framing += 1
            out.append(sum(b << i for i, b in enumerate(data)))
            t = at
            previous = wave.level(t)
            continue
        previous = level
        t += step
    return Received(bytes(out), framing, parity_err)
