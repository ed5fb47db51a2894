"""The Modbus side of a gateway-role world: the meters the harness puts on the RS485 line, and
a sniffer that hears what the gateway under test read and wrote, off the line itself.

Every meter is a :func:`~devices.rs485.modbus_slave.standard_slave` (serial string at input 0,
float32 temperature at input 4, int32 energy at input 6, uint16 pressure at input 8, int16
setpoint at holding 0 with limits 0..1000) plus :data:`TICKS`: a uint32 at input registers
10-11 holding the world's time in tenths of a second when it is read. No two polls of a meter
share a ticks value, so each reading a gateway publishes from it names itself, and
:func:`~scenarios.mqtt_gateway.continuity.judge_continuity` can say exactly which readings
were lost, duplicated or reordered on their way to the platform.

:class:`LineSniffer` is a listening port on the line (it drives nothing): it pairs each request
with the answer that follows and keeps every register read and write, so the harness knows what
the gateway read (``ticks`` values, with the time) and what it wrote (a shared attribute or an
RPC reaching the meter) by protocol, never by looking inside the gateway.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from devices.protocols import modbus_rtu
from devices.rs485.modbus_slave import ModbusSlaveSpec, Point, standard_slave
from devices.rs485.sensor import SensorModel

if TYPE_CHECKING:
    from devices.rs485.modbus_slave import ModbusSlave
    from sim.rs485 import LineFrame, Rs485Bus

TICKS = "ticks"
TICKS_ADDRESS = 10  # input registers 10-11, uint32, big-endian words
SETPOINT_ADDRESS = 0  # holding register 0, int16, tenths
READS = (3, 4)
WRITES = (6, 16)


class WorldTicks(SensorModel):
    """The world's time in tenths of a second, whenever the point is read."""

    def __init__(self) -> None:
        self.period = 0.1

    def value(self, t: float, previous: Any, slave: ModbusSlave, point: Point) -> int:
        return int(slave.world.now * 10) & 0xFFFFFFFF


def meter_slave(unit: int, **overrides: Any) -> ModbusSlaveSpec:
    """A standard slave with the :data:`TICKS` point (``overrides``: spec fields)."""
    spec = standard_slave(unit, **overrides)
    if not any(p.name == TICKS for p in spec.points):
        spec.points.append(Point(TICKS, "input", TICKS_ADDRESS, "uint32", 0, WorldTicks()))
    return spec


@dataclass(frozen=True)
class Access:
    """One register exchange heard on the line: a read answered, or a write acknowledged."""

    t: float
    unit: int
    function: int
    address: int
    registers: tuple[int, ...]

    @property
    def write(self) -> bool:
        return self.function in WRITES

    def word(self, address: int, count: int = 1) -> int | None:
        """The big-endian value of ``count`` registers from ``address``, if this covers them."""
        first = address - self.address
        if first < 0 or first + count > len(self.registers):
            return None
        value = 0
        for register in self.registers[first : first + count]:
            value = value << 16 | register
        return value

    def as_json(self) -> dict[str, Any]:
        return {
            "t": round(self.t, 6),
            "unit": self.unit,
            "fc": self.function,
            "address": self.address,
            "registers": list(self.registers),
        }


class LineSniffer:
    """Hears every frame on ``bus`` and keeps the register exchanges it can pair."""

    def __init__(self, bus: Rs485Bus, name: str = "sniffer") -> None:
        self.bus = bus
        self.accesses: list[Access] = []
        self._pending: dict[int, tuple[int, int, int, tuple[int, ...]]] = {}
        self.port = bus.attach(name, self._on_frame)

    def close(self) -> None:
        self.port.detach()

    def _on_frame(self, data: bytes, frame: LineFrame) -> None:
        if frame.collision or frame.flipped_bits:
            return
        request = modbus_rtu.cut(data)
        if isinstance(request, str) or request.broadcast:
            return
        unit, fc, fields = request.address, request.function, request.data
        pending = self._pending.get(unit)
        if pending is not None and pending[0] == fc and self._answer(unit, pending, fields):
            return
        if fc in READS and len(fields) == 4:
            address, count = struct.unpack(">HH", fields)
            self._pending[unit] = (fc, address, count, ())
        elif fc == 6 and len(fields) == 4:
            address, value = struct.unpack(">HH", fields)
            self._pending[unit] = (fc, address, 1, (value,))
        elif fc == 16 and len(fields) >= 5 and fields[4] == len(fields) - 5:
            address, count = struct.unpack(">HH", fields[:4])
            values = struct.unpack(f">{count}H", fields[5:]) if fields[4] == 2 * count else ()
            self._pending[unit] = (fc, address, count, tuple(values))

    def _answer(
        self, unit: int, pending: tuple[int, int, int, tuple[int, ...]], fields: bytes
    ) -> bool:
        """``fields`` as the answer to the pending request of ``unit``; False if it is not."""
        fc, address, count, written = pending
        if fc in READS:
            if len(fields) != 1 + 2 * count or fields[0] != 2 * count:
                return False
            registers = struct.unpack(f">{count}H", fields[1:])
        else:
            if len(fields) != 4 or struct.unpack(">H", fields[:2])[0] != address:
                return False
            registers = written
        del self._pending[unit]
        self.accesses.append(Access(self.bus.world.now, unit, fc, address, tuple(registers)))
        return True

    # -- what the gateway read and wrote ---------------------------------------------------------
    def ticks(self, unit: int, until: float | None = None) -> list[tuple[float, int]]:
        """Every ``(t, ticks)`` the gateway read from ``unit`` (up to world time ``until``)."""
        found = []
        for access in self.accesses:
            if access.unit != unit or access.write or access.function != 4:
                continue
            if until is not None and access.t > until:
                continue
            value = access.word(TICKS_ADDRESS, 2)
            if value is not None:
                found.append((access.t, value))
        return found

    def writes(self, unit: int, address: int) -> list[tuple[float, int]]:
        """Every ``(t, value)`` written to holding register ``address`` of ``unit``."""
        return [
            (a.t, v)
            for a in self.accesses
            if a.unit == unit and a.write and (v := a.word(address)) is not None
        ]

    def rows(self) -> list[dict[str, Any]]:
        return [a.as_json() for a in self.accesses]
