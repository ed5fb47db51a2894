"""Modbus RTU slaves on an RS485 bus, bridged to the platform: the gateway's own pymodbus master
(:class:`~devices.rs485.modbus_master.ModbusMaster`) polls each configured slave.

* Each poll reads the device's telemetry points, grouped into as few requests as the tables
  allow (contiguous spans of at most 125 registers / 2000 bits), and reports one telemetry
  entry stamped with the poll's time.
* A slave that answers (even with a Modbus exception) is present: the first answer after
  silence makes the device *connected* (``v1/gateway/connect``) and reads its attribute points
  once (client attributes). ``offline_after`` polls in a row without any answer (each after
  pymodbus' own timeout and retries) make it *disconnected*.
* Writes (shared attributes, RPC ``write``) use function 5 for a coil, 6 for one register, 16
  for several; reads (RPC ``read``) the point's table.

The line is half duplex: one request at a time, whatever asks (poller, RPC, attribute update).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from devices.gateways.mqtt_gateway.config import DeviceConfig, Point, Register
from devices.gateways.mqtt_gateway.errors import DeviceFailure, DeviceOffline
from devices.gateways.mqtt_gateway.values import CodecError
from devices.rs485.modbus_master import ModbusMaster

if TYPE_CHECKING:
    from devices.gateways.mqtt_gateway.bridge import Reporter
    from devices.gateways.mqtt_gateway.config import ModbusSettings
    from sim.rs485 import Rs485Bus
    from sim.world import World

READ_METHODS = {
    "holding": "read_holding_registers",
    "input": "read_input_registers",
    "coil": "read_coils",
    "discrete": "read_discrete_inputs",
}
SPAN_LIMIT = {"holding": 125, "input": 125, "coil": 2000, "discrete": 2000}


@dataclass(frozen=True)
class Span:
    """One read request: ``count`` items of ``table`` from ``address``, feeding ``points``."""

    table: str
    address: int
    count: int
    points: tuple[Point, ...]


def spans(points: tuple[Point, ...]) -> list[Span]:
    """Group points into contiguous read requests per table."""
    out: list[Span] = []
    by_table: dict[str, list[Point]] = {}
    for p in points:
        assert isinstance(p.target, Register)
        by_table.setdefault(p.target.table, []).append(p)
    for table, group in by_table.items():
        group.sort(key=lambda p: _reg(p).address)
        start, end, members = -1, -1, []  # type: ignore[var-annotated]
        for p in group:
            r = _reg(p)
            if members and r.address + r.count - start <= SPAN_LIMIT[table]:
                end = max(end, r.address + r.count)
                members.append(p)
                continue
            if members:
                out.append(Span(table, start, end - start, tuple(members)))
            start, end, members = r.address, r.address + r.count, [p]
        if members:
            out.append(Span(table, start, end - start, tuple(members)))
    return out


def _reg(point: Point) -> Register:
    assert isinstance(point.target, Register)
    return point.target


class ModbusBridge:
    def __init__(
        self,
        world: World,
        settings: ModbusSettings,
        bus: Rs485Bus,
        node: str,
        reporter: Reporter,
    ) -> None:
        self.world = world
        self.settings = settings
        self.node = node
        self.master = ModbusMaster(
            world, bus, name=f"{node}/modbus", timeout=settings.timeout_s, retries=settings.retries
        )
        self._reporter = reporter
        self._line = asyncio.Lock()
        self._online: set[str] = set()
        self._misses: dict[str, int] = {}
        self._spans = {d.name: spans(d.telemetry) for d in settings.devices}
        self._tasks: list[asyncio.Task[None]] = []

    def is_online(self, device: str) -> bool:
        return device in self._online

    async def start(self) -> None:
        await self.master.start()
        for device in self.settings.devices:
            self._tasks.append(
                self.world.spawn(self._poll_forever(device), name=f"{self.node}/poll/{device.name}")
            )

    async def stop(self) -> None:
        tasks = list(self._tasks)
        self.abort()
        await asyncio.gather(*tasks, return_exceptions=True)

    def abort(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        if self.master.name in self.world.nodes:
            with contextlib.suppress(RuntimeError):  # never started
                self.master.client.close()  # its bus port detaches
            self.world.remove_node(self.master.name)

    # -- polling -----------------------------------------------------------------------------
    async def _poll_forever(self, device: DeviceConfig) -> None:
        while True:
            await self.poll(device)
            await asyncio.sleep(device.poll_s)

    async def poll(self, device: DeviceConfig) -> None:
        """One poll of ``device``: presence, and its telemetry when it answers."""
        answered = False
        values: dict[str, Any] = {}
        for span in self._spans[device.name]:
            reply = await self._request(READ_METHODS[span.table], span.address, span.count, device)
            if reply is None:
                continue
            answered = True
            if reply.isError():
                self.world.trace.emit(
                    self.node,
                    "app",
                    "modbus-exception",
                    device=device.name,
                    table=span.table,
                    address=span.address,
                    code=int(getattr(reply, "exception_code", 0)),
                )
                continue
            values.update(_decode_span(span, reply, self.node, device.name, self.world))
        if not self._spans[device.name]:
            answered = await self._probe(device)
        if answered:
            self._misses[device.name] = 0
            if device.name not in self._online:
                await self._came_online(device)
            if values:
                self._reporter.report_telemetry(device, values)
            return
        misses = self._misses[device.name] = self._misses.get(device.name, 0) + 1
        if device.name in self._online and misses >= device.offline_after:
            self._online.discard(device.name)
            self._reporter.device_offline(device, f"no answer to {misses} polls")

    async def _probe(self, device: DeviceConfig) -> bool:
        """Presence of a device with no telemetry points: read one holding register."""
        return await self._request("read_holding_registers", 0, 1, device) is not None

    async def _came_online(self, device: DeviceConfig) -> None:
        self._online.add(device.name)
        self._reporter.device_online(device)
        attributes: dict[str, Any] = {}
        for point in device.attributes:
            try:
                attributes[point.name] = await self.read(device, point)
            except (DeviceFailure, DeviceOffline, CodecError) as exc:
                self.world.trace.emit(
                    self.node, "app", "attribute-read-failed", device=device.name, key=point.name,
                    error=str(exc),
                )  # fmt: skip
        if attributes:
            self._reporter.report_attributes(device, attributes)

    # -- reads and writes --------------------------------------------------------------------
    async def read(self, device: DeviceConfig, point: Point) -> Any:
        self._require_online(device)
        reg = _reg(point)
        reply = await self._request(READ_METHODS[reg.table], reg.address, reg.count, device)
        _check(reply, device, f"read of {reg.table} {reg.address}")
        if reg.table in ("coil", "discrete"):
            return bool(reply.bits[0])
        return point.codec.decode_registers(list(reply.registers))

    async def write(self, device: DeviceConfig, point: Point, value: Any) -> None:
        self._require_online(device)
        reg = _reg(point)
        if reg.table == "coil":
            if not isinstance(value, bool | int):
                raise CodecError(f"{value!r} is not true or false (coil {reg.address})")
            reply = await self._request("write_coil", reg.address, bool(value), device)
        else:
            registers = point.codec.encode_registers(value)
            if len(registers) == 1:
                reply = await self._request("write_register", reg.address, registers[0], device)
            else:
                reply = await self._request("write_registers", reg.address, registers, device)
        _check(reply, device, f"write of {reg.table} {reg.address}")
        self.world.trace.emit(
            self.node, "app", "modbus-written", device=device.name, key=point.name,
            table=reg.table, address=reg.address, value=value,
        )  # fmt: skip

    def _require_online(self, device: DeviceConfig) -> None:
        if device.name not in self._online:
            raise DeviceOffline(
                f"device {device.name!r} (Modbus unit {device.unit}) is not connected"
            )

    async def _request(self, method: str, address: int, arg: Any, device: DeviceConfig) -> Any:
        async with self._line:
            if method.startswith("read"):
                return await self.master.request(method, address, count=arg, device_id=device.unit)
            return await self.master.request(method, address, arg, device_id=device.unit)


def _check(reply: Any, device: DeviceConfig, what: str) -> None:
    if reply is None:
        raise DeviceFailure(f"{what} on {device.name!r} (unit {device.unit}): no answer")
    if reply.isError():
        code = int(getattr(reply, "exception_code", 0))
        raise DeviceFailure(
            f"{what} on {device.name!r} (unit {device.unit}): Modbus exception {code}"
        )


def _decode_span(span: Span, reply: Any, node: str, device: str, world: World) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for point in span.points:
        reg = _reg(point)
        at = reg.address - span.address
        try:
            if span.table in ("coil", "discrete"):
                values[point.name] = bool(reply.bits[at])
            else:
                values[point.name] = point.codec.decode_registers(
                    list(reply.registers[at : at + reg.count])
                )
        except (CodecError, IndexError) as exc:
            world.trace.emit(
                node, "app", "decode-failed", device=device, key=point.name, error=str(exc)
            )
    return values
