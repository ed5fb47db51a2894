"""Modbus RTU slaves and masters on pymodbus over the simulated line, and the slave's receiver
(framing, the application protocol's exceptions, identity) probed with raw frames."""

from __future__ import annotations

import asyncio
import random
import struct

import pytest
from pymodbus.simulator import DataType, SimData, SimDevice
from pymodbus.simulator.simcore import SimCore

from devices.protocols.modbus_rtu import Request, crc16, cut, frame
from devices.rs485.discovery import SlaveRegistry, search_modbus
from devices.rs485.modbus_master import ModbusMaster
from devices.rs485.modbus_rules import QUANTITY_LIMITS, fields_length, illegal_value
from devices.rs485.modbus_slave import ModbusSlave, ModbusSlaveSpec, standard_slave
from devices.rs485.raw_port import RawPort
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


# -- the slave's receiver: what reaches pymodbus, and what is answered before it ----------------


def _probed(*specs: ModbusSlaveSpec) -> tuple[World, Rs485Bus, RawPort]:
    world = World(seed=3)
    bus = Rs485Bus(world, "line")
    for spec in specs:
        world.run(ModbusSlave(world, bus, spec).start())
    return world, bus, RawPort(bus, "probe")


def test_only_declared_functions_are_served() -> None:
    world, _, probe = _probed(standard_slave(4, functions=(3, 4)))
    with world:
        assert world.run(probe.exchange(frame(4, bytes.fromhex("0300000001")))) == [
            frame(4, bytes.fromhex("030200c8"))
        ]
        for fc in (1, 6, 8, 17, 43):  # implemented (by us or pymodbus) but not declared
            pdu = bytes([fc]) + bytes.fromhex("00000001")
            assert world.run(probe.exchange(frame(4, pdu))) == [frame(4, bytes([0x80 | fc, 1]))]
    with pytest.raises(ValueError, match="function code 8 not accepted; accepted: 1, 2, 3"):
        ModbusSlaveSpec(1, functions=(3, 8))


def test_each_slave_reports_the_identity_of_its_spec() -> None:
    meter = standard_slave(1, vendor="Acme", model="EM-24", revision="2.4")
    world, _, probe = _probed(meter, standard_slave(2))
    with world:
        assert world.run(probe.exchange(frame(1, b"\x11"))) == [frame(1, b"\x11\x0bAcme EM-24\xff")]
        assert world.run(probe.exchange(frame(2, b"\x11"))) == [
            frame(2, b"\x11\x1bgateway-hil standard slave\xff")
        ]
        regular = world.run(probe.exchange(frame(1, bytes([43, 14, 2, 1]))))
        assert regular == [frame(1, bytes([43, 14, 2, 0x81, 0, 0, 2, 1, 5]) + b"EM-24\x02\x032.4")]
        restart = world.run(probe.exchange(frame(1, bytes([43, 14, 1, 0x55]))))
        assert restart[0][5:9] == bytes([0, 0, 3, 0])  # an unknown object: from object 0
    with pytest.raises(ValueError, match="vendor '' not accepted; accepted: 1 to 64 ASCII"):
        standard_slave(1, vendor="")


def test_discarded_frames_are_traced_and_leave_the_slave_ready() -> None:
    world, _, probe = _probed(standard_slave(1))
    read = frame(1, bytes.fromhex("0300000001"))
    with world:
        for junk in (b"\x01\x03", read[:-1] + b"\x00", read + read, bytes(300), read[:-2] + b""):
            assert world.run(probe.exchange(junk)) == []
            assert world.run(probe.exchange(read)) == [frame(1, bytes.fromhex("030200c8"))]
        truncated = frame(1, bytes.fromhex("030000"))  # a good CRC over too few fields
        assert world.run(probe.exchange(truncated)) == []
        reasons = [r["reason"] for r in world.trace.select(event="frame-discarded")]
    assert reasons == ["runt", "crc", "crc", "oversize", "crc", "length"]


def test_request_rules_follow_the_application_protocol() -> None:
    def fields(quantity: int, count: int | None = None) -> bytes:
        head = bytes(2) + quantity.to_bytes(2, "big")
        return head if count is None else head + bytes([count]) + bytes(count)

    for fc, limit in QUANTITY_LIMITS.items():
        count = {15: (limit + 7) // 8, 16: 2 * limit}.get(fc)
        assert not illegal_value(fc, fields(limit, count)), fc
        assert illegal_value(fc, fields(0, 0 if count is not None else None)), fc
        assert illegal_value(fc, fields(limit + 1, count)), fc
    assert illegal_value(16, fields(2, 2)) and not illegal_value(16, fields(2, 4))
    assert illegal_value(15, fields(9, 1)) and not illegal_value(15, fields(9, 2))
    for value, illegal in ((0x0000, False), (0xFF00, False), (0x0001, True), (0x00FF, True)):
        assert illegal_value(5, bytes(2) + value.to_bytes(2, "big")) is illegal
    assert [fields_length(fc, fields(1, 2)) for fc in (1, 6, 15, 16, 17)] == [4, 4, 7, 7, 0]
    assert fields_length(43, b"\x0e\x01\x00") == 3 and fields_length(43, b"\x0d") is None
    assert fields_length(50, b"") is None and fields_length(16, b"\x00") == 5


def test_frames_are_cut_at_the_silence_with_the_modbus_crc() -> None:
    from pymodbus.framer.rtu import FramerRTU

    rng = random.Random(5)
    for size in range(0, 40):
        data = bytes(rng.randrange(256) for _ in range(size))
        assert crc16(data) == int.from_bytes(
            FramerRTU.compute_CRC(data).to_bytes(2, "big"), "little"
        )
    request = frame(0, bytes.fromhex("0600010002"))
    assert cut(request) == Request(0, 6, bytes.fromhex("00010002")) and cut(request).broadcast
    assert [cut(b"\x01\x03\x00"), cut(bytes(257)), cut(request[:-1] + b"\x00")] == [
        "runt",
        "oversize",
        "crc",
    ]
