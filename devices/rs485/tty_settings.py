"""The line settings a serial program chose for its end of a tty (its termios), so a bridge can
drive and decode that program's bytes at its own speed, as a real line would.

A pseudo-terminal carries bytes, not bits. Read from the pty's master side, its termios is the
one the program set on its end (speed and stop bits included). Parity and data bits do not
cross a pty: Linux's pty driver forces 8 data bits and no parity whenever termios is set, so a
program that asks for 8E1 looks like 8N1 here, and a parity mismatch with the line cannot be
modelled through a pty (it can through a real adapter, :class:`devices.rs485.bridges.SerialBridge`,
where the UART itself checks parity).
"""

from __future__ import annotations

import fcntl
import struct
import sys
import termios

from sim.uart import LineSettings

# Linux: TCGETS2 reads ``struct termios2``, whose speeds are numbers (any rate, also the ones
# termios has no B<rate> constant for).
_TCGETS2 = 0x802C542A
_TERMIOS2 = struct.Struct("4IB19s2I")
_RATES = (50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19200, 38400)
_RATES += (57600, 115200, 230400, 460800, 500000, 576000, 921600, 1000000, 1152000, 1500000)
_RATES += (2000000, 2500000, 3000000, 3500000, 4000000)
_SPEEDS = {getattr(termios, f"B{r}"): r for r in _RATES if hasattr(termios, f"B{r}")}
_CONSTANTS = {rate: constant for constant, rate in _SPEEDS.items()}
_DATA_BITS = {termios.CS5: 5, termios.CS6: 6, termios.CS7: 7, termios.CS8: 8}


def _numeric_speed(fd: int) -> int | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        raw = fcntl.ioctl(fd, _TCGETS2, bytes(_TERMIOS2.size))
    except OSError:
        return None
    speed = _TERMIOS2.unpack(raw)[-1]  # c_ospeed: what the program transmits at
    return int(speed) or None


def tty_settings(fd: int, fallback: LineSettings) -> LineSettings:
    """The settings of the tty behind ``fd``; ``fallback`` where they cannot be read or are
    not a serial line's (speed 0, a rate outside what :class:`LineSettings` accepts)."""
    try:
        _, _, cflag, _, _, ospeed, _ = termios.tcgetattr(fd)
    except termios.error:
        return fallback
    baud = _numeric_speed(fd) or _SPEEDS.get(ospeed) or fallback.baud
    data_bits = _DATA_BITS.get(cflag & termios.CSIZE, 8)
    parity = "N" if not cflag & termios.PARENB else "O" if cflag & termios.PARODD else "E"
    stop_bits = 2 if cflag & termios.CSTOPB else 1
    try:
        return LineSettings(baud, data_bits, parity, stop_bits)
    except ValueError:
        return fallback


def set_tty_settings(fd: int, settings: LineSettings) -> None:
    """Give the tty behind ``fd`` the speed and stop bits of ``settings`` (a program that opens
    it and sets nothing then runs at the line's speed); a rate termios has no constant for is
    left as it was."""
    attrs = termios.tcgetattr(fd)
    constant = _CONSTANTS.get(settings.baud)
    if constant is not None:
        attrs[4] = attrs[5] = constant
    if settings.stop_bits == 2:
        attrs[2] |= termios.CSTOPB
    else:
        attrs[2] &= ~termios.CSTOPB
    termios.tcsetattr(fd, termios.TCSANOW, attrs)
