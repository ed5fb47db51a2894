"""An asyncio transport onto an RS485 bus port, so pymodbus' own client and server (and any
other asyncio protocol) run on the simulated line instead of a serial port.

How pymodbus is put on it: its protocol object (``ModbusProtocol``: a client's ``client.ctx``,
a server's listener) opens its link by awaiting ``call_create()``, which for a serial port is
``create_serial_connection``. We replace that one attribute with :func:`bus_connector`, which
attaches a port, builds a :class:`BusTransport` and calls ``connection_made`` the way
pyserial-asyncio would. Everything above (framer, transaction manager, retries, timeouts) is
pymodbus unchanged; its timeouts are ``asyncio.wait_for`` on the world's loop, so they run on
the world's clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sim.rs485 import BusPort, LineFrame, LineSettings, Rs485Bus

FrameFilter = Callable[[bytes], bool]


class BusTransport(asyncio.Transport):
    """Bytes written go onto the line (after an optional turnaround delay); each line frame
    received is handed to the protocol's ``data_received`` in one piece."""

    def __init__(
        self,
        bus: Rs485Bus,
        name: str,
        protocol: asyncio.BaseProtocol,
        settings: LineSettings | None = None,
        accept: FrameFilter | None = None,
        delay: float = 0.0,
        address: int | None = None,
        outgoing: Callable[[bytes], bytes] | None = None,
    ) -> None:
        """``outgoing``: what each written frame becomes on the line (a deviation's bend)."""
        super().__init__()
        self._outgoing = outgoing
        self._protocol = protocol
        self._loop = bus.world.loop
        self._accept = accept
        self.delay = delay
        self._closing = False
        self.port: BusPort = bus.attach(name, self._on_frame, settings, address)

    def _on_frame(self, data: bytes, frame: LineFrame) -> None:
        if self._closing or (self._accept is not None and not self._accept(data)):
            return
        self._protocol.data_received(data)  # type: ignore[attr-defined]

    # -- asyncio.Transport -------------------------------------------------------------------
    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or not data:
            return
        payload = bytes(data)
        if self._outgoing is not None:
            payload = self._outgoing(payload)
        if self.delay > 0:
            self._loop.call_at(self._loop.time() + self.delay, self._drive, payload)
        else:
            self._drive(payload)

    def _drive(self, payload: bytes) -> None:
        if not self._closing:
            self.port.send(payload)

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self.port.detach()
        self._loop.call_soon(self._protocol.connection_lost, None)

    def abort(self) -> None:
        self.close()

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"bus": self.port.bus.name, "port": self.port.name}.get(name, default)

    def can_write_eof(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0

    def is_reading(self) -> bool:
        return not self._closing

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def bus_connector(
    bus: Rs485Bus, name: str, protocol_factory: Callable[[], Any], **transport_options: Any
) -> Callable[[], Any]:
    """A replacement for pymodbus' ``call_create``: attach to ``bus`` as ``name``."""

    async def create() -> tuple[BusTransport, Any]:
        protocol = protocol_factory()
        transport = BusTransport(bus, name, protocol, **transport_options)
        protocol.connection_made(transport)
        return transport, protocol

    return create
