"""A raw node on a line: it drives bytes exactly as given and keeps every line frame it hears,
to probe a device below its protocol stack (runt frames, bad CRCs, reserved function codes,
two frames without the silence between them). Scenarios and the fuzz campaign use it; it
knows no protocol.
"""

from __future__ import annotations

import asyncio

from sim.rs485 import BusPort, LineFrame, Rs485Bus
from sim.uart import LineSettings


class RawPort:
    def __init__(self, bus: Rs485Bus, name: str, settings: LineSettings | None = None) -> None:
        self.bus = bus
        self.name = name
        self.heard: list[bytes] = []
        self.port: BusPort = bus.attach(name, self._on_frame, settings)

    def _on_frame(self, data: bytes, frame: LineFrame) -> None:
        self.heard.append(data)

    async def exchange(self, data: bytes, window: float = 0.5) -> list[bytes]:
        """Drive ``data`` (if any) and return the line frames heard until ``window`` seconds
        after its last bit left."""
        world = self.bus.world
        mark = len(self.heard)
        end = self.port.send(data) if data else world.now
        await asyncio.sleep(max(0.0, end - world.now) + window)
        return self.heard[mark:]

    def close(self) -> None:
        self.port.detach()
