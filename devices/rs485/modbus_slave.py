"""Modbus RTU slaves on pymodbus, attached to an RS485 bus.

Each slave is a real ``pymodbus.server.ModbusSerialServer`` (its RTU framer, request decoding,
``ServerRequestHandler`` and ``SimDevice`` datastore) whose serial port is a bus port
(:mod:`devices.rs485.transport`). Broadcast (address 0) writes run on the datastore and are
never answered (``broadcast_enable=True``).

Every line frame passes the slave's receiver first (:meth:`ModbusSlave._admit`), as a real RTU
slave's does at the 3.5-character silence, before pymodbus sees it:

* a frame for another address is dropped. pymodbus alone would answer for absent slave IDs
  (``SimCore`` answers an unknown device id from device 0 if there is one, else its request
  handler answers exception 4), and on a shared line that makes every slave answer every
  address. The port also declares its address to the bus, which then skips handing it other
  slaves' clean frames;
* a runt, oversize or CRC-failed frame, or one whose length disagrees with its function and
  byte count, is discarded whole (:func:`devices.protocols.modbus_rtu.cut`). pymodbus' framer
  reads a byte stream and would keep a partial frame to prepend to the next one (a header-only
  broadcast left every slave deaf for some 30 polls); here each frame stands alone. Two
  requests sent without the silence between them are one frame that fails its CRC: neither is
  answered;
* a function the slave does not declare (``functions``, default every one implemented here),
  including codes 128-255 that are reserved for exception replies, is answered with exception 1
  (Modbus Application Protocol V1.1b3 §7: the function code is not an allowable action for the
  server; §4.1 reserves 128-255 for exception responses, so such a request names no function
  the server has). pymodbus would hunt through such a frame or answer exception 4 with a
  traceback in its log;
* a quantity out of range, a byte count that disagrees with it, or a coil value other than
  0x0000/0xFF00 is answered with exception 3 (:mod:`devices.rs485.modbus_rules`);
* Report Server ID (17) and Read Device Identification (43/14) are answered from the spec's
  vendor, model and revision (pymodbus' answers come from one process-wide control block and
  name pymodbus);
* a broadcast is never answered, whatever it holds.

What passes goes to pymodbus whole. Exceptions: 1 as above, 2 for an address outside its tables
(pymodbus), 3 as above and for a holding-register write outside a declared range (``limits``),
4 while a point's sensor has failed (:meth:`fail_point`).

Sensor points are brought up to date when a request reaches the datastore (pymodbus calls the
device's ``action`` hook before it touches the registers), not by a timer per point: see
:mod:`devices.rs485.sensor`.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
from pymodbus.server import ModbusSerialServer
from pymodbus.simulator import DataType, SimData, SimDevice

from devices.deviations import Deviations
from devices.protocols import modbus_rtu
from devices.rs485.deviations import MODBUS_DEVIATIONS as DEVIATIONS
from devices.rs485.deviations import modbus_deviations
from devices.rs485.modbus_rules import (
    ENCAPSULATED,
    REPORT_SERVER_ID,
    Identity,
    fields_length,
    illegal_value,
)
from devices.rs485.sensor import Ramp, RandomWalk, SensorModel, SensorTrack, Sine
from devices.rs485.transport import bus_connector
from sim.eager import run_eagerly
from sim.rs485 import Rs485Bus
from sim.world import World

IMPLEMENTED_FUNCTIONS = (1, 2, 3, 4, 5, 6, 15, 16, REPORT_SERVER_ID, ENCAPSULATED)
TABLES = ("holding", "input")
TYPES: dict[str, DataType] = {
    "int16": DataType.INT16,
    "uint16": DataType.UINT16,
    "int32": DataType.INT32,
    "uint32": DataType.UINT32,
    "float32": DataType.FLOAT32,
    "string": DataType.STRING,
}
_STRUCT = {"int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I", "float32": ">f"}
_WRITE_FUNCTIONS = (5, 6, 15, 16)
_TABLE_OF_FUNCTION = {1: "c", 2: "d", 3: "h", 4: "i", 5: "c", 6: "h", 15: "c", 16: "h"}
LATE_S = 1.0  # response-late: how late every reply leaves
DEAF_S = 1.0  # deaf-after-runt: how long the slave hears nothing
__all__ = ["DEVIATIONS", "ModbusSlave", "ModbusSlaveSpec", "Point", "standard_slave"]


@dataclass
class Point:
    """A typed value at a register address; ``sensor`` makes it change over time."""

    name: str
    table: str
    address: int
    type: str
    value: Any
    sensor: SensorModel | None = None

    def __post_init__(self) -> None:
        if self.table not in TABLES:
            raise ValueError(
                f"point {self.name!r}: table {self.table!r} not accepted; "
                f"accepted: {', '.join(TABLES)}"
            )
        if self.type not in TYPES:
            raise ValueError(
                f"point {self.name!r}: type {self.type!r} not accepted; "
                f"accepted: {', '.join(TYPES)}"
            )

    def registers(self, value: Any | None = None) -> list[int]:
        """The point's registers, big-endian words as pymodbus' ``SimData`` builds them (numbers
        are packed with ``struct`` directly: sensor updates run thousands of times a second)."""
        value = self.value if value is None else value
        fmt = _STRUCT.get(self.type)
        if fmt is not None:
            packed = struct.pack(fmt, int(value) if fmt != ">f" else float(value))
            return list(struct.unpack(f">{len(packed) // 2}H", packed))
        data = SimData(self.address, values=value, datatype=TYPES[self.type])
        return [int(r) for r in data.build_registers(False)]


@dataclass
class ModbusSlaveSpec:
    unit: int
    coils: int = 32
    discrete_inputs: int = 32
    holding: int = 32
    inputs: int = 32
    points: list[Point] = field(default_factory=list)
    functions: tuple[int, ...] = IMPLEMENTED_FUNCTIONS
    limits: dict[int, tuple[int, int]] = field(default_factory=dict)
    response_delay: float = 0.0
    name: str = ""
    vendor: str = "gateway-hil"
    model: str = "standard slave"
    revision: str = "1.0"
    identity: Identity = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.unit, int) or not 1 <= self.unit <= 247:
            raise ValueError(f"Modbus unit id {self.unit!r} not accepted; accepted: 1 to 247")
        for fc in self.functions:
            if fc not in IMPLEMENTED_FUNCTIONS:
                raise ValueError(
                    f"function code {fc!r} not accepted; accepted: "
                    f"{', '.join(map(str, IMPLEMENTED_FUNCTIONS))}"
                )
        self.identity = Identity(self.vendor, self.model, self.revision)
        if self.response_delay < 0:
            raise ValueError(
                f"response delay {self.response_delay!r} s not accepted; accepted: >= 0"
            )
        if not self.name:
            self.name = f"modbus-{self.unit}"


def standard_slave(unit: int, **overrides: Any) -> ModbusSlaveSpec:
    """A meter-like slave: serial string, an int32 energy counter, a float32 temperature that
    follows a sensor model, a setpoint with limits 0..1000."""
    points = [
        Point("serial", "input", 0, "string", f"SN{unit:06d}"),
        Point("temperature", "input", 4, "float32", 21.5, Sine(21.5, 2.0, 60.0)),
        Point("energy", "input", 6, "int32", 1000 * unit, Ramp(1000 * unit, 3.0)),
        Point("pressure", "input", 8, "uint16", 1013, RandomWalk(1013, 1, 950, 1050)),
        Point("setpoint", "holding", 0, "int16", 200),
    ]
    spec = {"unit": unit, "points": points, "limits": {0: (0, 1000)}}
    spec.update(overrides)
    return ModbusSlaveSpec(**spec)


class ModbusSlave:
    """One Modbus RTU slave node on a bus; ``deviations``: the ways it misbehaves on purpose
    (:mod:`devices.rs485.deviations`; none by default)."""

    def __init__(
        self,
        world: World,
        bus: Rs485Bus,
        spec: ModbusSlaveSpec,
        settings: Any = None,
        deviations: Iterable[str] | Deviations = (),
    ) -> None:
        self.deviations = modbus_deviations(deviations)
        self._deaf_until = -1.0  # deaf-after-runt: world time until which it hears nothing
        self.world = world
        self.bus = bus
        self.spec = spec
        self.name = spec.name
        self.settings = settings
        self.failed: set[str] = set()
        self.server: ModbusSerialServer | None = None
        self.requests = 0
        self._link: Any = None  # pymodbus' request handler on the bus port
        self._passed = b""  # the last frame handed to pymodbus
        # (track, table code, first register, end register) per sensor point
        self._sensors: list[tuple[SensorTrack, str, int, int]] = []
        world.add_node(self)

    # -- life cycle --------------------------------------------------------------------------
    async def start(self) -> None:
        """Power on: a fresh datastore from the spec, the server on a new bus port."""
        if self.server is not None:
            return
        spec = self.spec
        device = SimDevice(id=spec.unit, simdata=self._tables(), action=self._action)
        server = ModbusSerialServer(
            device,
            framer=FramerType.RTU,
            port=f"rs485:{self.bus.name}",
            broadcast_enable=True,
            ignore_missing_devices=True,
            trace_pdu=self._trace_pdu,
        )
        server.call_create = bus_connector(  # type: ignore[method-assign]
            self.bus,
            self.name,
            lambda: self._handler(server),
            settings=self.settings,
            accept=self._admit,
            delay=spec.response_delay + (LATE_S if self.deviations.active("response-late") else 0),
            address=None if self.deviations.active("answers-absent-unit") else spec.unit,
            outgoing=self._outgoing if self.deviations else None,
        )
        await server.serve_forever(background=True)
        self.server = server
        now = self.world.now
        self._sensors = [
            (
                SensorTrack(p.sensor, self, p, now),
                p.table[0],
                p.address,
                p.address + len(p.registers()),
            )
            for p in spec.points
            if p.sensor is not None
        ]
        self.world.trace.emit(self.name, "app", "power-on", unit=spec.unit)

    async def stop(self) -> None:
        """Power off: the port goes away and the datastore is lost."""
        server, self.server = self.server, None
        self._sensors = []
        self._link = None
        if server is not None:
            await server.shutdown()
            self.world.trace.emit(self.name, "app", "power-off")

    async def power_cycle(self, off_for: float) -> None:
        await self.stop()
        await asyncio.sleep(off_for)
        await self.start()

    @property
    def powered(self) -> bool:
        return self.server is not None

    # -- faults ------------------------------------------------------------------------------
    def fail_point(self, name: str, failed: bool = True) -> None:
        """A failed point answers exception 4 (server device failure) until restored."""
        self.point(name)
        (self.failed.add if failed else self.failed.discard)(name)
        self.world.trace.emit(
            self.name, "fault", "point-failed" if failed else "point-restored", point=name
        )

    # -- data --------------------------------------------------------------------------------
    def point(self, name: str) -> Point:
        for p in self.spec.points:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.spec.points) or "none"
        raise KeyError(f"slave {self.name!r} has no point {name!r}; points: {known}")

    def set_point(self, name: str, value: Any) -> None:
        """Write a point's value into the live datastore (a sensor update)."""
        self._write(self.point(name), value)

    def _write(self, p: Point, value: Any) -> None:
        if self.server is None:
            return
        runtime = self.server.context.devices[self.spec.unit]  # type: ignore[union-attr]
        start, _, registers, _ = runtime.block["h" if p.table == "holding" else "i"]
        regs = p.registers(value)
        offset = p.address - start
        registers[offset : offset + len(regs)] = regs

    def _tables(self) -> tuple[list[SimData], list[SimData], list[SimData], list[SimData]]:
        spec = self.spec
        coils = [SimData(0, count=spec.coils, values=False, datatype=DataType.BITS)]
        discrete = [
            SimData(
                0,
                values=[bool(i % 3 == 0) for i in range(spec.discrete_inputs)],
                datatype=DataType.BITS,
            )
        ]
        return (
            coils,
            discrete,
            self._registers("holding", spec.holding),
            self._registers("input", spec.inputs),
        )

    def _registers(self, table: str, size: int) -> list[SimData]:
        blocks: list[SimData] = []
        at = 0
        for p in sorted((p for p in self.spec.points if p.table == table), key=lambda p: p.address):
            if p.address > at:
                blocks.append(
                    SimData(at, count=p.address - at, values=0, datatype=DataType.REGISTERS)
                )
            regs = p.registers()
            blocks.append(SimData(p.address, values=regs, datatype=DataType.REGISTERS))
            at = p.address + len(regs)
        if size > at:
            blocks.append(SimData(at, count=size - at, values=0, datatype=DataType.REGISTERS))
        return blocks

    # -- pymodbus hooks ----------------------------------------------------------------------
    def _handler(self, server: ModbusSerialServer) -> Any:
        """pymodbus' request handler for the bus connection, started on the world's loop.

        pymodbus starts each request's ``handle_request`` coroutine through
        ``asyncio.run_coroutine_threadsafe`` (a hop meant for callers on other threads: a
        self-pipe write, a ``concurrent.futures.Future``, a task and a callback chain per
        request). The world has one thread, so the same coroutine is run eagerly on its loop
        (:func:`sim.eager.run_eagerly`): the request is decoded, checked and answered by
        pymodbus exactly as before, two scheduling hops sooner."""
        handler = server.handle_new_connection()
        loop = self.world.loop
        handler.handle_later = lambda: run_eagerly(handler.handle_request(), loop)
        self._link = handler
        return handler

    # -- the receiver ------------------------------------------------------------------------
    def _admit(self, data: bytes) -> bool:
        """One line frame, delimited by the 3.5-character silence: True hands it to pymodbus
        (whole: any partial frame pymodbus kept is dropped first); False when it is not for
        this slave, discarded, or answered here (see the module docstring)."""
        spec = self.spec
        if self.world.now < self._deaf_until:
            return self._discard("deaf", data)
        if data and data[0] not in (0, spec.unit) and self.deviations.active("answers-absent-unit"):
            request = modbus_rtu.cut(data)
            if not isinstance(request, str) and not request.broadcast:
                return self._answer(request, modbus_rtu.exception_pdu(request.function, 4))
        if not data or data[0] not in (0, spec.unit):
            return False
        if data[0] == 0 and self.deviations.active("broadcast-write-ignored"):
            return self._discard("broadcast", data)
        if data == self._passed:  # a master's usual poll, judged before (the common case)
            self._link.recv_buffer = b""
            return True
        request = modbus_rtu.cut(data)
        if isinstance(request, str):
            if request == "runt" and self.deviations.active("deaf-after-runt"):
                self._deaf_until = self.world.now + DEAF_S
            if request == "crc" and self.deviations.active("frames-split-by-header"):
                requests = _split_by_header(data)
                if len(requests) > 1:
                    self._in_turn(requests)
                    return False
            if request == "crc" and self.deviations.active("corrupt-frame-answered"):
                return self._answer(
                    modbus_rtu.Request(data[0], data[1], b""), modbus_rtu.exception_pdu(data[1], 4)
                )
            return self._discard(request, data)
        fc, fields = request.function, request.data
        if fc not in spec.functions:
            code = 2 if self.deviations.active("exception-1-as-2") else 1
            return self._answer(request, modbus_rtu.exception_pdu(fc, code))
        expected = fields_length(fc, fields)
        if expected is not None and expected != len(fields):
            return self._discard("length", data)
        if illegal_value(fc, fields):
            return self._answer(request, modbus_rtu.exception_pdu(fc, 3))
        if fc == REPORT_SERVER_ID:
            return self._answer(request, spec.identity.report_server_id())
        if fc == ENCAPSULATED:
            if expected is None:  # an MEI type other than device identification
                return self._answer(request, modbus_rtu.exception_pdu(fc, 1))
            reply = spec.identity.device_identification(fields)
            if isinstance(reply, int):
                reply = modbus_rtu.exception_pdu(fc, reply)
            return self._answer(request, reply)
        self._link.recv_buffer = b""
        if fc == 16 and self.deviations.active("fc16-first-register-only"):
            self._link.recv_buffer = b""
            self._passed = b""
            self._link.data_received(_first_register_only(request))
            return False
        self._passed = data
        return True

    def _in_turn(self, requests: list[bytes], not_before: float = 0.0) -> None:
        """frames-split-by-header: each of ``requests`` goes through the receiver as if it were a
        frame of its own, the next one once the reply to this one has left and the line has
        been silent again (each reply its own frame)."""
        if self._link is None or not requests:
            return
        loop, transport = self.world.loop, self._link.transport
        ready = max(not_before, transport.port.tx_end + self.bus.frame_gap)
        if loop.time() < ready:
            loop.call_at(ready, self._in_turn, requests, not_before)
            return
        if self._admit(requests[0]):
            self._link.data_received(requests[0])
        if len(requests) > 1:  # a reply waits out the turnaround delay before it is driven
            after = loop.time() + transport.delay + self.bus.frame_gap
            loop.call_at(after, self._in_turn, requests[1:], after)

    def _discard(self, reason: str, data: bytes) -> bool:
        if self.world.trace.recording:
            self.world.trace.emit(
                self.name, "app", "frame-discarded", reason=reason, size=len(data)
            )
        return False

    def _answer(self, request: modbus_rtu.Request, pdu: bytes) -> bool:
        """Reply ``pdu`` to a request handled here (never to a broadcast)."""
        self.requests += 1
        trace = self.world.trace
        if trace.recording:
            trace.emit(self.name, "app", "modbus-rx", fc=request.function, unit=request.address)
        if request.broadcast and not self.deviations.active("answers-broadcast"):
            return False
        if trace.recording:
            trace.emit(self.name, "app", "modbus-tx", fc=pdu[0], unit=request.address)
        self._link.transport.write(modbus_rtu.frame(request.address, pdu))
        return False

    def _outgoing(self, frame: bytes) -> bytes:
        """A reply frame as the reply deviations bend it on its way to the line."""
        if len(frame) < 5:
            return frame
        address, fc, body = frame[0], frame[1], bytearray(frame[2:-2])
        if fc & 0x80:
            if body[0] == 2 and self.deviations.active("exception-2-as-4"):
                body[0] = 4
            elif body[0] == 3 and self.deviations.active("exception-3-as-2"):
                body[0] = 2
        elif fc in (3, 4) and len(body) >= 3 and self.deviations.active("register-value-off"):
            body[1:3] = ((int.from_bytes(body[1:3], "big") + 1) & 0xFFFF).to_bytes(2, "big")
        elif fc == 1 and self.deviations.active("coil-bits-reversed"):
            body[1:] = bytes(int(f"{b:08b}"[::-1], 2) for b in body[1:])
        elif fc == 2 and self.deviations.active("discrete-inputs-missing"):
            body = bytearray([0])
        out = modbus_rtu.frame(address, bytes([fc]) + bytes(body))
        if self.deviations.active("reply-crc-wrong"):
            out = out[:-1] + bytes([out[-1] ^ 0xFF])
        return out

    async def _action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        spec = self.spec
        table = _TABLE_OF_FUNCTION.get(function_code)
        if self._sensors:
            self._catch_up(table, address, address + count, start_address, registers)
        if table == "h" and values and function_code in _WRITE_FUNCTIONS:
            for i, value in enumerate(values):
                limit = spec.limits.get(address + i)
                signed = int(value) - 0x10000 if int(value) >= 0x8000 else int(value)
                if limit is not None and not limit[0] <= signed <= limit[1]:
                    return ExcCodes.ILLEGAL_VALUE
        for name in self.failed:
            p = self.point(name)
            if ("h" if p.table == "holding" else "i") != table:
                continue
            width = len(p.registers())
            if address < p.address + width and p.address < address + count:
                return ExcCodes.DEVICE_FAILURE
        return None

    def _catch_up(
        self, table: str | None, first: int, end: int, start_address: int, registers: list[int]
    ) -> None:
        """Bring the sensor points this request touches up to date in ``registers`` (its table
        in the live datastore, from ``start_address``). The other points wait: their tracks
        step through every period boundary whenever they are next read."""
        now = self.world.now
        for track, point_table, point_first, point_end in self._sensors:
            if point_table == table and first < point_end and point_first < end:
                value = track.catch_up(now)
                if value is not None:
                    regs = track.point.registers(value)
                    offset = point_first - start_address
                    registers[offset : offset + len(regs)] = regs

    def _trace_pdu(self, sending: bool, pdu: Any) -> Any:
        if not sending:
            self.requests += 1
        if self.world.trace.recording:
            self.world.trace.emit(
                self.name,
                "app",
                "modbus-tx" if sending else "modbus-rx",
                fc=int(pdu.function_code),
                unit=int(pdu.dev_id),
            )
        return pdu


def _first_register_only(request: modbus_rtu.Request) -> bytes:
    """fc16-first-register-only: a function 16 request cut to the first register of its range."""
    fields = request.data
    pdu = bytes([16]) + fields[:2] + (1).to_bytes(2, "big") + bytes([2]) + fields[5:7]
    return modbus_rtu.frame(request.address, pdu)


def _split_by_header(data: bytes) -> list[bytes]:
    """frames-split-by-header: ``data`` cut into consecutive requests, each as long as its
    function and byte count say, as a receiver that frames a byte stream by length would; what
    is left over (an unknown layout, a short tail) is one last piece."""
    pieces: list[bytes] = []
    rest = data
    while len(rest) >= modbus_rtu.MIN_FRAME:
        length = fields_length(rest[1], rest[2:])
        size = None if length is None else 2 + length + 2
        if size is None or size > len(rest):
            break
        pieces.append(rest[:size])
        rest = rest[size:]
    return pieces + [rest] if rest else pieces
