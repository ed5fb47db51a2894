"""Bare-stack baseline for RS485: a pymodbus RTU client and server exchanging polls directly in
memory, with no line model, world, bus timing or capture: the ceiling `rs485-poll` is held to.

Both ends are pymodbus' own (``AsyncModbusSerialClient``, ``ModbusSerialServer`` on a
``SimDevice``); their serial connections are replaced by a pair of in-memory transports that hand
each write to the other end's ``data_received`` on the next turn of a plain asyncio loop.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pymodbus.client import AsyncModbusSerialClient
from pymodbus.framer import FramerType
from pymodbus.server import ModbusSerialServer
from pymodbus.simulator import DataType, SimData, SimDevice


class _MemoryTransport(asyncio.Transport):
    """One end of an in-memory serial link."""

    def __init__(self, protocol: asyncio.BaseProtocol) -> None:
        super().__init__()
        self._protocol = protocol
        self.peer: _MemoryTransport | None = None
        self._closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        peer = self.peer
        if peer is not None and not peer._closing:
            receive = peer._protocol.data_received  # type: ignore[attr-defined]
            asyncio.get_running_loop().call_soon(receive, bytes(data))

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        self._closing = True

    def abort(self) -> None:
        self._closing = True

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def is_reading(self) -> bool:
        return not self._closing

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _bare_polls(polls: int, unit: int) -> float:
    """CPU seconds for ``polls`` read-input-registers polls, answered by one server."""
    device = SimDevice(
        id=unit,
        simdata=[SimData(0, count=16, values=215, datatype=DataType.REGISTERS)],
    )
    server = ModbusSerialServer(device, framer=FramerType.RTU, port="memory")
    client = AsyncModbusSerialClient("memory", timeout=1.0, retries=0, reconnect_delay=0)
    ends: dict[str, _MemoryTransport] = {}

    async def server_side() -> tuple[_MemoryTransport, Any]:
        protocol = server.handle_new_connection()
        ends["server"] = transport = _MemoryTransport(protocol)
        protocol.connection_made(transport)
        return transport, protocol

    async def client_side() -> tuple[_MemoryTransport, Any]:
        protocol = client.ctx
        ends["client"] = transport = _MemoryTransport(protocol)
        protocol.connection_made(transport)
        return transport, protocol

    server.call_create = server_side  # type: ignore[method-assign]
    client.ctx.call_create = client_side  # type: ignore[method-assign]
    await server.serve_forever(background=True)
    if not await client.connect():
        raise RuntimeError("the in-memory pymodbus client did not connect")
    ends["client"].peer, ends["server"].peer = ends["server"], ends["client"]
    try:
        for _ in range(50):  # warm-up: imports, first-call caches
            await client.read_input_registers(4, count=2, device_id=unit)
        started = time.process_time()
        for _ in range(polls):
            reply = await client.read_input_registers(4, count=2, device_id=unit)
            if reply.isError():
                raise RuntimeError(f"bare pymodbus poll failed: {reply}")
        return time.process_time() - started
    finally:
        client.close()
        await server.shutdown()


def bare_modbus_poll_us(polls: int = 5000, unit: int = 1) -> float:
    """CPU microseconds per poll of the bare pymodbus pair (the process's CPU time: the stable
    figure on a busy machine; on an idle one it is the wall time)."""
    return asyncio.run(_bare_polls(polls, unit)) / polls * 1e6
