"""The RS485 test bed: one bus, our masters on it, and the slave under test.

* builtin SUT -> everything in one world (virtual time by default): the slave under test is a
  :func:`devices.rs485.modbus_slave.standard_slave` at the declared unit id.
* an external SUT -> the world runs in real time; its ``rs485-modbus`` endpoint names a bridge
  (``tcp: "127.0.0.1:5020"`` for RTU over TCP, ``pty``/``serial``: a device path) and the
  device's register map; the slave under test is outside and our master polls it through it.

Evidence per scenario: ``trace.jsonl`` (the timeline) and ``rs485-<bus>.log`` (every line
frame with timestamps, hex and a decoded summary).
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from conformance.pytest_plugin import HilConfig
from devices.rs485.bridges import SerialBridge, TcpBridge
from devices.rs485.discovery import SlaveRegistry
from devices.rs485.modbus_master import ModbusMaster
from devices.rs485.modbus_slave import ModbusSlave, standard_slave
from sim.clock import REAL
from sim.rs485 import Rs485Bus
from sim.uart import LineSettings
from sim.world import World

T = TypeVar("T")
PROFILE = "rs485-modbus"

# The register map of the builtin slave under test (a standard_slave); an external SUT
# declares its own in its `rs485-modbus` endpoint with the same keys.
BUILTIN_DEVICE: dict[str, Any] = {
    "unit": 1, "settings": "9600 8N1", "coil": 0, "discrete_input": 0, "input": 0,
    "writable_register": 10, "bad_address": 1000, "limited_register": 0,
    "out_of_range_value": 5000, "unsupported_function": 22,
}


class ModbusBed:
    """What Modbus steps drive."""

    def __init__(self, world: World, bus: Rs485Bus, device: dict[str, Any],
                 external: bool) -> None:
        self.world = world
        self.bus = bus
        self.device = device
        self.external = external
        self.masters: dict[str, ModbusMaster] = {}
        self.slaves: dict[int, ModbusSlave] = {}
        self.replies: dict[str, Any] = {}
        self.sent_before: dict[str, int] = {}
        self.registry = SlaveRegistry()
        self.closers: list[Any] = []

    def run(self, awaitable: Awaitable[T]) -> T:
        return self.world.run(awaitable)

    @property
    def unit(self) -> int:
        return int(self.device["unit"])

    def address(self, key: str) -> int:
        try:
            return int(self.device[key])
        except KeyError:
            raise KeyError(f"the SUT's {PROFILE} endpoint declares no {key!r}; "
                           f"declared: {', '.join(sorted(self.device))}") from None

    def add_slave(self, unit: int, **overrides: Any) -> ModbusSlave:
        if unit in self.slaves:
            return self.slaves[unit]
        slave = ModbusSlave(self.world, self.bus, standard_slave(unit, **overrides))
        self.run(slave.start())
        self.slaves[unit] = slave
        return slave

    def add_master(self, name: str, timeout: float = 0.5, retries: int = 2,
                   settings: LineSettings | None = None) -> ModbusMaster:
        master = ModbusMaster(self.world, self.bus, name, timeout, retries, settings)
        self.run(master.start())
        self.masters[name] = master
        return master


def _device(config: HilConfig) -> dict[str, Any]:
    if config.sut.builtin:
        declared = dict(config.sut.endpoints.get(PROFILE, {}))
        return {**BUILTIN_DEVICE, **declared}
    return {**BUILTIN_DEVICE, **dict(config.sut.endpoint(PROFILE))}


@pytest.fixture
def modbus_bed(hil_config: HilConfig, hil_record: dict[str, Any],
               hil_evidence_dir: Path) -> Iterator[ModbusBed]:
    device = _device(hil_config)
    external = not hil_config.sut.builtin
    settings = LineSettings.parse(str(device["settings"]))
    world = World(seed=hil_config.seed, clock=REAL if external else hil_config.clock)
    bus = Rs485Bus(world, "line", settings, capture_dir=hil_evidence_dir)
    bed = ModbusBed(world, bus, device, external)
    try:
        if external:
            _join_external(bed, device)
        hil_record["sim_start"] = round(world.now, 6)
        yield bed
    finally:
        hil_record["sim_end"] = round(world.now, 6)
        try:
            for master in bed.masters.values():
                world.run(master.stop())
            for slave in bed.slaves.values():
                world.run(slave.stop())
            for close in bed.closers:
                result = close()
                if result is not None:
                    world.run(result)
        finally:
            bus.close()
            (hil_evidence_dir / "trace.jsonl").write_text(world.trace.dump(), encoding="utf-8")
            world.close()


def _join_external(bed: ModbusBed, device: dict[str, Any]) -> None:
    if "tcp" in device:
        host, _, port = str(device["tcp"]).rpartition(":")
        tcp = TcpBridge(bed.bus, "sut-bridge")
        bed.run(tcp.dial(host, int(port)))
        bed.closers.append(tcp.close)
    elif "serial" in device or "pty" in device:
        serial = SerialBridge(bed.bus, str(device.get("serial") or device["pty"]), "sut-bridge")
        bed.closers.append(serial.close)
    else:
        raise KeyError(f"the SUT's {PROFILE} endpoint names no bridge; accepted keys: "
                       "tcp (host:port, RTU over TCP), serial or pty (a device path)")
