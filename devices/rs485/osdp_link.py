"""What OSDP nodes share: libosdp's ``Channel`` on an RS485 bus port, and the loop task that
drives a libosdp context's ``refresh()`` on the world's clock (no thread).

libosdp reads and writes its channel only inside ``refresh()``: writes go onto the line at
once (they take their time at the line's baud rate), line frames received are buffered until
the next ``read``. The driver refreshes every ``tick`` of world time and right after a frame
arrives, so a PD answers a command as soon as it has heard it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from devices.rs485 import osdp_clock
from devices.rs485.osdp_clock import osdp
from devices.rs485.osdp_values import check_address, check_key

__all__ = ["BusChannel", "Refresher", "Screen", "check_address", "check_key"]
from sim.rs485 import BusPort, LineFrame, Rs485Bus
from sim.uart import LineSettings
from sim.world import World

DEFAULT_TICK = 0.02


# A line frame -> (what libosdp may read of it, a reply to drive instead of libosdp's)
Screen = Callable[[bytes], tuple[bytes, bytes | None]]


class BusChannel(osdp.Channel):  # type: ignore[misc]
    """libosdp's byte stream on a bus port (``screen``: see :mod:`devices.rs485.osdp_guard`)."""

    def __init__(
        self,
        bus: Rs485Bus,
        name: str,
        settings: LineSettings | None = None,
        on_data: Callable[[], None] | None = None,
        screen: Screen | None = None,
    ) -> None:
        super().__init__()
        self._rx = bytearray()
        self._on_data = on_data
        self._screen = screen
        self.port: BusPort = bus.attach(name, self._on_frame, settings)

    def _on_frame(self, data: bytes, frame: LineFrame) -> None:
        if self._screen is not None:
            data, reply = self._screen(data)
            if reply is not None:
                self.port.send(reply)
            if not data:
                return
        self._rx.extend(data)
        if self._on_data is not None:
            self._on_data()

    def read(self, max_bytes: int) -> bytes:
        data = bytes(self._rx[:max_bytes])
        del self._rx[:max_bytes]
        return data

    def write(self, buf: bytes) -> int:
        self.port.send(bytes(buf))
        return len(buf)

    def flush(self) -> None:
        self._rx.clear()

    def close(self) -> None:
        self._rx.clear()
        self.port.detach()


class Refresher:
    """Calls ``ctx.refresh()`` on the world's loop every ``tick`` and soon after input."""

    def __init__(self, world: World, name: str, ctx: Any, tick: float = DEFAULT_TICK) -> None:
        self.world = world
        self.ctx = ctx
        self.tick = tick
        self._kick: asyncio.Event = asyncio.Event()
        self._task = world.spawn(self._run(), name=f"osdp-refresh/{name}")

    def kick(self) -> None:
        """Input arrived: refresh now rather than at the next tick."""
        self._kick.set()

    def refresh(self) -> None:
        osdp_clock.sync(self.world.now)
        self.ctx.refresh()

    async def _run(self) -> None:
        while True:
            self.refresh()
            self._kick.clear()
            try:
                await asyncio.wait_for(self._kick.wait(), self.tick)
            except TimeoutError:
                pass

    def stop(self) -> None:
        self._task.cancel()
