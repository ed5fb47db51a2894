"""Modbus RTU slaves and masters on pymodbus over the simulated line."""

from __future__ import annotations

import asyncio
import struct

from pymodbus.simulator import DataType, SimData, SimDevice
from pymodbus.simulator.simcore import SimCore

from devices.rs485.discovery import SlaveRegistry, search_modbus
from devices.rs485.modbus_master import ModbusMaster
from devices.rs485.modbus_slave import ModbusSlave, standard_slave
from sim.rs485 import Rs485Bus
from sim.world import World


def _bed(seed: int = 1) -> tuple[World, Rs485Bus, ModbusMaster]:
    world = World(seed=seed)
    bus = Rs485Bus(world, "line")
    master = ModbusMaster(world, bus, timeout=0.2, retries=1)
    return world, bus, master


def test_pymodbus_alone_would_answer_for_an_absent_id_but_our_line_stays_silent() -> None:
    async def datastore_answer() -> object:
        regs = [SimData(0, count=4, values=0, datatype=DataType.REGISTERS)]
        core = SimCore(SimDevice(id=1, simdata=regs))
        try:
            return await core.async_getValues(7, 3, 0, 1)
        except KeyError as exc:  # pymodbus' request handler answers this with exception 4
            return exc

    world, bus, master = _bed()
    with world:
        assert isinstance(world.run(datastore_answer()), KeyError)
        world.run(ModbusSlave(world, bus, standard_slave(1)).start())
        world.run(master.start())
        assert world.run(master.request("read_holding_registers", 0, count=1, device_id=7)) is None
        frames = world.trace.select(layer="bus", event="frame")
        assert all(f["drivers"] == ["master"] for f in frames) and len(frames) == 2


def test_typed_values_follow_their_sensor_models() -> None:
    world, bus, master = _bed()
    with world:
        world.run(ModbusSlave(world, bus, standard_slave(3)).start())
        world.run(master.start())

        async def read() -> tuple[str, float, int]:
            r = await master.request("read_input_registers", 0, count=8, device_id=3)
            assert r is not None and not r.isError()
            regs = r.registers
            serial = b"".join(struct.pack(">H", x) for x in regs[:4]).decode()
            temp = struct.unpack(">f", struct.pack(">HH", *regs[4:6]))[0]
            energy = struct.unpack(">i", struct.pack(">HH", *regs[6:8]))[0]
            return serial, temp, energy

        first = world.run(read())
        world.run_for(15)
        later = world.run(read())
        assert first[0] == later[0] == "SN000003"
        assert first[1] == 21.5 and later[1] != first[1] and 19.5 <= later[1] <= 23.5
        assert later[2] - first[2] >= 3 * 14


def test_response_delay_is_honoured() -> None:
    world, bus, master = _bed()
    with world:
        world.run(ModbusSlave(world, bus, standard_slave(1, response_delay=0.05)).start())
        world.run(master.start())
        world.run(master.request("read_holding_registers", 0, count=1, device_id=1))
        req, reply = world.trace.select(layer="bus", event="frame")[:2]
        gap = reply["start"] - req["start"]
        assert gap >= 8 * 10 / 9600 + 0.05


def test_search_and_registration() -> None:
    world, bus, master = _bed()
    with world:
        for unit in (2, 4):
            world.run(ModbusSlave(world, bus, standard_slave(unit)).start())
        world.run(master.start())
        registry = world.run(search_modbus(master, range(1, 6), SlaveRegistry()))
        assert [r.address for r in registry.found()] == [2, 4]
        assert [r.address for r in registry.register([4])] == [4]
        try:
            registry.register([3])
        except KeyError as exc:
            assert "3" in str(exc) and "found: 2, 4" in str(exc)
        else:
            raise AssertionError("registering an address that was not found must fail")


def test_same_seed_same_trace_with_noise_and_sensors() -> None:
    def run() -> str:
        world, bus, master = _bed(seed=9)
        with world:
            bus.set_noise(0.002)
            world.run(ModbusSlave(world, bus, standard_slave(1)).start())
            world.run(master.start())

            async def poll() -> None:
                for _ in range(30):
                    await master.request("read_input_registers", 4, count=4, device_id=1)
                    await asyncio.sleep(0.5)

            world.run(poll())
            return world.trace.dump()

    assert run() == run()


def test_fast_register_encoding_matches_pymodbus_simdata() -> None:
    from pymodbus.simulator import SimData

    from devices.rs485.modbus_slave import TYPES, Point

    for kind, value in [
        ("int16", -5),
        ("uint16", 1013),
        ("int32", -7),
        ("uint32", 4_000_000_000),
        ("float32", 21.5),
        ("float32", 23.123456),
        ("string", "SN000001"),
    ]:
        expected = [
            int(r) for r in SimData(0, values=value, datatype=TYPES[kind]).build_registers(False)
        ]
        assert Point("p", "input", 0, kind, value).registers() == expected, kind
