"""The RS485 test bed: one bus, our masters on it, and the slave under test.

* builtin SUT -> everything in one world (virtual time by default): the slave under test is a
  :func:`devices.rs485.modbus_slave.standard_slave` at the declared unit id.
* an external SUT -> the world runs in real time; its ``rs485-modbus`` endpoint names a bridge
  (``tcp: "127.0.0.1:5020"`` for RTU over TCP, ``pty``/``serial``: a device path) and the
  device's register map; the slave under test is outside and our master polls it through it.

The OSDP bed (profile ``rs485-osdp``) is built the same way: builtin -> the reader under test
is an :class:`devices.rs485.osdp_pd.OsdpReader` at the declared address and SCBK; external ->
its ``rs485-osdp`` endpoint names the bridge (``serial``/``pty``: a device path, ``tcp``:
host:port) and our control panel polls the vendor's PD through it, in real time.

Evidence per scenario: ``trace.jsonl`` (the timeline) and ``rs485-<bus>.log`` (every line
frame with timestamps, hex and a decoded summary).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from conformance.pytest_plugin import HilConfig
from devices.rs485.bridges import SerialBridge, TcpBridge
from devices.rs485.discovery import SlaveRegistry
from devices.rs485.modbus_master import ModbusMaster
from devices.rs485.modbus_slave import ModbusSlave, standard_slave
from devices.rs485.osdp_clock import ON_WORLD_CLOCK
from devices.rs485.osdp_cp import OsdpControlPanel, PdConfig
from devices.rs485.osdp_link import check_key
from devices.rs485.osdp_pd import OsdpReader, ReaderSpec
from sim.clock import REAL
from sim.rs485 import Rs485Bus
from sim.uart import LineSettings
from sim.world import World

T = TypeVar("T")
PROFILE = "rs485-modbus"
OSDP_PROFILE = "rs485-osdp"

# The register map of the builtin slave under test (a standard_slave); an external SUT
# declares its own in its `rs485-modbus` endpoint with the same keys.
BUILTIN_DEVICE: dict[str, Any] = {
    "unit": 1,
    "settings": "9600 8N1",
    "coil": 0,
    "discrete_input": 0,
    "input": 0,
    "writable_register": 10,
    "bad_address": 1000,
    "limited_register": 0,
    "out_of_range_value": 5000,
    "unsupported_function": 22,
}


class ModbusBed:
    """What Modbus steps drive."""

    def __init__(self, world: World, bus: Rs485Bus, device: dict[str, Any], external: bool) -> None:
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
            raise KeyError(
                f"the SUT's {PROFILE} endpoint declares no {key!r}; "
                f"declared: {', '.join(sorted(self.device))}"
            ) from None

    def add_slave(self, unit: int, **overrides: Any) -> ModbusSlave:
        if unit in self.slaves:
            return self.slaves[unit]
        slave = ModbusSlave(self.world, self.bus, standard_slave(unit, **overrides))
        self.run(slave.start())
        self.slaves[unit] = slave
        return slave

    def add_master(
        self,
        name: str,
        timeout: float = 0.5,
        retries: int = 2,
        settings: LineSettings | None = None,
    ) -> ModbusMaster:
        master = ModbusMaster(self.world, self.bus, name, timeout, retries, settings)
        self.run(master.start())
        self.masters[name] = master
        return master


def _device(config: HilConfig, profile: str, defaults: dict[str, Any]) -> dict[str, Any]:
    if config.sut.builtin:
        return {**defaults, **dict(config.sut.endpoints.get(profile, {}))}
    return {**defaults, **dict(config.sut.endpoint(profile))}


@contextmanager
def _line(
    config: HilConfig,
    record: dict[str, Any],
    evidence: Path,
    settings: str,
    protocol: str,
    clock: str | None = None,
) -> Iterator[tuple[World, Rs485Bus, list[Any]]]:
    """A world with one bus for a scenario; on the way out, ``closers`` run (callables that
    may return an awaitable), the capture is closed and the trace written as evidence."""
    external = not config.sut.builtin
    world = World(seed=config.seed, clock=REAL if external else clock or config.clock)
    bus = Rs485Bus(
        world, "line", LineSettings.parse(settings), capture_dir=evidence, protocol=protocol
    )
    closers: list[Callable[[], Any]] = []
    try:
        record["sim_start"] = round(world.now, 6)
        yield world, bus, closers
    finally:
        record["sim_end"] = round(world.now, 6)
        try:
            for close in reversed(closers):
                result = close()
                if result is not None:
                    world.run(result)
        finally:
            bus.close()
            (evidence / "trace.jsonl").write_text(world.trace.dump(), encoding="utf-8")
            world.close()


@pytest.fixture
def modbus_bed(
    hil_config: HilConfig, hil_record: dict[str, Any], hil_evidence_dir: Path
) -> Iterator[ModbusBed]:
    device = _device(hil_config, PROFILE, BUILTIN_DEVICE)
    with _line(hil_config, hil_record, hil_evidence_dir, str(device["settings"]), "modbus-rtu") as (
        world,
        bus,
        closers,
    ):
        bed = ModbusBed(world, bus, device, not hil_config.sut.builtin)
        bed.closers = closers
        closers.append(lambda: _stop_all(bed))
        if bed.external:
            _join_external(bed, device, PROFILE)
        yield bed


async def _stop_all(bed: ModbusBed) -> None:
    for master in bed.masters.values():
        await master.stop()
    for slave in bed.slaves.values():
        await slave.stop()


def _join_external(bed: ModbusBed | OsdpBed, device: dict[str, Any], profile: str) -> None:
    if "tcp" in device:
        host, _, port = str(device["tcp"]).rpartition(":")
        tcp = TcpBridge(bed.bus, "sut-bridge")
        bed.run(tcp.dial(host, int(port)))
        bed.closers.append(tcp.close)
    elif "serial" in device or "pty" in device:
        serial = SerialBridge(bed.bus, str(device.get("serial") or device["pty"]), "sut-bridge")
        bed.closers.append(serial.close)
    else:
        raise KeyError(
            f"the SUT's {profile} endpoint names no bridge; accepted keys: "
            "tcp (host:port), serial or pty (a device path)"
        )


# -- OSDP -------------------------------------------------------------------------------------

# The builtin reader under test; an external SUT declares the same keys in `rs485-osdp`
# (scbk may be left out for a PD without a secure channel).
BUILTIN_READER: dict[str, Any] = {
    "address": 1,
    "settings": "9600 8N1",
    "scbk": "000102030405060708090a0b0c0d0e0f",
}


class OsdpBed:
    """What OSDP steps drive: the line, our readers (the one under test when builtin, and any
    extra ones) and our control panels."""

    def __init__(
        self,
        world: World,
        bus: Rs485Bus,
        device: dict[str, Any],
        external: bool,
        closers: list[Any],
    ) -> None:
        self.world = world
        self.bus = bus
        self.device = device
        self.external = external
        self.closers = closers
        self.readers: dict[int, OsdpReader] = {}
        self.cps: dict[str, OsdpControlPanel] = {}
        self.seen: dict[str, Any] = {}

    def run(self, awaitable: Awaitable[T]) -> T:
        return self.world.run(awaitable)

    @property
    def address(self) -> int:
        return int(self.device["address"])

    @property
    def scbk(self) -> bytes | None:
        return check_key(self.device.get("scbk"), "the declared scbk")

    def add_reader(self, address: int, scbk: bytes | None = None) -> OsdpReader:
        if address in self.readers:
            return self.readers[address]
        reader = OsdpReader(self.world, self.bus, ReaderSpec(address, scbk))
        reader.start()
        self.readers[address] = reader
        self.closers.append(reader.stop)
        return reader

    def reader(self, address: int) -> OsdpReader:
        if address not in self.readers:
            raise KeyError(
                f"no simulated reader at address {address}; readers: "
                f"{', '.join(map(str, sorted(self.readers))) or 'none'}"
            )
        return self.readers[address]

    def add_cp(self, name: str, pds: list[PdConfig]) -> OsdpControlPanel:
        cp = OsdpControlPanel(self.world, self.bus, pds, name)
        self.cps[name] = cp
        self.closers.append(cp.stop)
        return cp


@pytest.fixture
def osdp_bed(
    hil_config: HilConfig, hil_record: dict[str, Any], hil_evidence_dir: Path
) -> Iterator[OsdpBed]:
    device = _device(hil_config, OSDP_PROFILE, BUILTIN_READER)
    # Without the world-clock shim libosdp keeps the wall clock: run in real time then.
    clock = None if ON_WORLD_CLOCK else REAL
    with _line(
        hil_config, hil_record, hil_evidence_dir, str(device["settings"]), "osdp", clock
    ) as (world, bus, closers):
        bed = OsdpBed(world, bus, device, not hil_config.sut.builtin, closers)
        if bed.external:
            _join_external(bed, device, OSDP_PROFILE)
        yield bed
