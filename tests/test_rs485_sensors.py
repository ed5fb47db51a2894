"""Sensor points are followed lazily, yet read exactly what a per-period update would give."""

from __future__ import annotations

import asyncio
import math
import random
import struct

from devices.rs485.modbus_master import ModbusMaster
from devices.rs485.modbus_slave import ModbusSlave, standard_slave
from sim.rs485 import Rs485Bus
from sim.world import World


def _per_period_reference(
    seed: int, slave: str, born: float, reads: list[float]
) -> list[tuple[float, int]]:
    """Temperature (Sine 21.5 ± 2, 60 s cycle) and pressure (RandomWalk ±1 in 950..1050) as a
    process stepping every second from ``born`` would have left them at each read time."""
    rng = random.Random(f"{seed}/sensor/{slave}/pressure")
    due, temp, pressure, out = born + 1.0, 21.5, 1013, []
    for t in reads:
        while due <= t:
            temp = 21.5 + 2.0 * math.sin(2 * math.pi * (due - born) / 60.0)
            pressure = max(950, min(1050, pressure + rng.randint(-1, 1)))
            due += 1.0
        out.append((struct.unpack(">f", struct.pack(">f", temp))[0], pressure))
    return out


def test_lazy_sensors_read_what_a_per_period_process_would_have_written() -> None:
    seed = 5
    with World(seed=seed, keep_trace=False) as world:
        bus = Rs485Bus(world, "line")
        master = ModbusMaster(world, bus, timeout=0.2, retries=1)
        slave = ModbusSlave(world, bus, standard_slave(2))
        world.run(slave.start())
        born = world.now
        world.run(master.start())
        reads: list[float] = []
        got: list[tuple[float, int]] = []

        async def poll() -> None:
            # Irregular gaps: several periods skipped, then reads within one period.
            for gap in (0.3, 4.2, 0.1, 0.5, 17.9, 1.0, 0.01, 61.0):
                await asyncio.sleep(gap)
                reply = await master.request("read_input_registers", 4, count=5, device_id=2)
                assert reply is not None and not reply.isError()
                regs = reply.registers
                got.append((struct.unpack(">f", struct.pack(">HH", *regs[0:2]))[0], regs[4]))
                reads.append(slave_request_time[-1])

        slave_request_time: list[float] = []
        action = slave._action

        async def timed_action(*args: object) -> object:
            slave_request_time.append(world.now)
            return await action(*args)  # type: ignore[arg-type]

        slave.server.context.devices[2].action = timed_action  # type: ignore[union-attr]
        world.run(poll())
    assert got == _per_period_reference(seed, "modbus-2", born, reads)
    assert len({p for _, p in got}) > 1 and len({t for t, _ in got}) > 3


def test_power_cycle_restarts_the_sensors_from_their_initial_values() -> None:
    with World(seed=2, keep_trace=False) as world:
        bus = Rs485Bus(world, "line")
        master = ModbusMaster(world, bus, timeout=0.2, retries=1)
        slave = ModbusSlave(world, bus, standard_slave(1))
        world.run(slave.start())
        world.run(master.start())

        def energy() -> int:
            r = world.run(master.request("read_input_registers", 6, count=2, device_id=1))
            assert r is not None and not r.isError()
            return int(struct.unpack(">i", struct.pack(">HH", *r.registers))[0])

        world.run_for(10.5)
        assert energy() == 1000 + 3 * 10
        world.run(slave.power_cycle(2.0))
        assert energy() == 1000
        world.run_for(5.0)
        assert energy() == 1000 + 3 * 5
