"""A readable capture of an RS485 line: one line per line frame, with its world timestamps, who
drove it, the bytes as the line carried them (hex) and, when the bus was given a summariser for
the protocol on it, a decoded summary.

    # rs485 capture: bus field-1, 9600 8N1, frame gap 4.010 ms, decoder modbus_rtu.summarise
    #      start s        end s  drivers       bytes | summary
       12.000000    12.008333  master        01 03 00 00 00 02 c4 0b | slave 1 read holding ...

Written beside the scenario's trace (``rs485-<bus>.log``). The world knows no protocol: the
summariser (bytes -> one line of text) comes from the layer that put the protocol on the line
(``devices.protocols.modbus_rtu.summarise``, ``devices.protocols.osdp_frame.summarise``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

Summariser = Callable[[bytes], str]


def _decoder_name(summarise: Summariser) -> str:
    module = getattr(summarise, "__module__", "") or ""
    name = getattr(summarise, "__qualname__", type(summarise).__name__)
    return f"{module.rsplit('.', 1)[-1]}.{name}" if module else name


class HexCapture:
    """Appends one readable line per line frame to ``path``."""

    def __init__(
        self,
        path: Path,
        bus: str,
        settings: str,
        gap: float,
        summarise: Summariser | None = None,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._summarise = summarise
        self._out: IO[str] | None = path.open("w", encoding="utf-8")
        self.frames = 0
        decoder = _decoder_name(summarise) if summarise is not None else "none (hex only)"
        self._out.write(
            f"# rs485 capture: bus {bus}, {settings}, frame gap {gap * 1000:.3f} ms, "
            f"decoder {decoder}\n"
            f"# {'start s':>12} {'end s':>12}  {'drivers':<16} bytes | summary\n"
        )

    def write(
        self,
        start: float,
        end: float,
        drivers: Sequence[str],
        data: bytes,
        notes: Sequence[str] = (),
    ) -> None:
        """One line frame: when, who drove it, what the line carried, what went wrong."""
        if self._out is None:
            return
        if not data:
            summary = "no characters"
        elif self._summarise is not None:
            summary = self._summarise(data)
        else:
            summary = f"{len(data)} bytes"
        if notes:
            summary = f"{summary} [{'; '.join(notes)}]"
        self._out.write(
            f"  {start:12.6f} {end:12.6f}  {','.join(drivers):<16} {data.hex(' ')} | {summary}\n"
        )
        self.frames += 1

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
