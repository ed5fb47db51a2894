"""A Modbus RTU master in the world: pymodbus' ``AsyncModbusSerialClient`` on a bus port.

The client's serial connect is replaced by :func:`devices.rs485.transport.bus_connector`; its
framer, transaction manager, timeout and retries are pymodbus' own, running on the world's
clock. Retries show in the trace as repeated ``modbus-tx`` records for one request.
"""

from __future__ import annotations

import logging
from typing import Any

from pymodbus.client import AsyncModbusSerialClient
from pymodbus.exceptions import ModbusException
from pymodbus.pdu import ModbusPDU

from devices.rs485.transport import bus_connector
from sim.rs485 import Rs485Bus
from sim.uart import LineSettings
from sim.world import World

# pymodbus logs every unanswered request with a frame dump at ERROR; the bus capture is the
# evidence here, so keep its logger to warnings (callers may lower it again).
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)


class ModbusMaster:
    def __init__(
        self,
        world: World,
        bus: Rs485Bus,
        name: str = "master",
        timeout: float = 0.5,
        retries: int = 2,
        settings: LineSettings | None = None,
    ) -> None:
        self.world = world
        self.bus = bus
        self.name = name
        self.settings = settings or bus.settings
        self.sent = 0
        self.timeout = timeout
        self.retries = retries
        self.last_error: ModbusException | None = None
        self._client: AsyncModbusSerialClient | None = None
        world.add_node(self)

    @property
    def client(self) -> AsyncModbusSerialClient:
        if self._client is None:
            raise RuntimeError(f"master {self.name!r} is not started")
        return self._client

    async def start(self) -> None:
        """Make the pymodbus client (it needs the running loop) and attach it to the bus."""
        s = self.settings
        client = AsyncModbusSerialClient(
            f"rs485:{self.bus.name}",
            timeout=self.timeout,
            retries=self.retries,
            reconnect_delay=0,
            baudrate=s.baud,
            parity=s.parity,
            stopbits=s.stop_bits,
            bytesize=s.data_bits,
            trace_pdu=self._trace_pdu,
        )
        client.ctx.call_create = bus_connector(  # type: ignore[method-assign]
            self.bus, self.name, lambda: client.ctx, settings=s
        )
        self._client = client
        if not await client.connect():
            raise RuntimeError(f"master {self.name!r} could not attach to bus {self.bus.name!r}")

    async def stop(self) -> None:
        if self._client is not None:
            self._client.close()

    def _trace_pdu(self, sending: bool, pdu: ModbusPDU) -> ModbusPDU:
        if sending:
            self.sent += 1
        if self.world.trace.recording:
            self.world.trace.emit(
                self.name,
                "app",
                "modbus-tx" if sending else "modbus-rx",
                fc=int(pdu.function_code),
                unit=int(pdu.dev_id),
            )
        return pdu

    async def request(self, method: str, *args: Any, **kwargs: Any) -> ModbusPDU | None:
        """Call one of the client's request methods (``read_holding_registers``...); a
        timeout after all retries comes back as ``ModbusException`` (not raised here: the
        caller gets ``None`` and :attr:`last_error`)."""
        self.last_error = None
        try:
            return await getattr(self.client, method)(*args, **kwargs)
        except ModbusException as exc:
            self.last_error = exc
            self.world.trace.emit(self.name, "app", "modbus-timeout", method=method, error=str(exc))
            return None
