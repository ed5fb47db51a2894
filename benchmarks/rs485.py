"""RS485 benchmark: many buses of pymodbus slaves polled by pymodbus masters, virtual time."""

from __future__ import annotations

import asyncio
from typing import Any

from devices.rs485.modbus_master import ModbusMaster
from devices.rs485.modbus_slave import ModbusSlave, standard_slave
from sim.rs485 import Rs485Bus
from sim.world import World


def rs485_poll(
    seed: int = 1, buses: int = 16, slaves: int = 32, minutes: float = 10.0
) -> dict[str, Any]:
    """``buses`` lines at 9600 8N1 with ``slaves`` slaves each; every slave is asked for its
    temperature (2 input registers) once a second by its line's master."""
    world = World(seed=seed, keep_trace=False)
    lines = [Rs485Bus(world, f"bus-{b}") for b in range(buses)]
    masters = [
        ModbusMaster(world, bus, f"master-{b}", timeout=0.2, retries=1)
        for b, bus in enumerate(lines)
    ]
    answered = [0]
    missed = [0]

    async def poll(master: ModbusMaster, end: float) -> None:
        period = 1.0 / slaves
        tick = world.now
        while world.now < end:
            for unit in range(1, slaves + 1):
                reply = await master.request("read_input_registers", 4, count=2, device_id=unit)
                if reply is None or reply.isError():
                    missed[0] += 1
                else:
                    answered[0] += 1
                tick += period
                await asyncio.sleep(max(0.0, tick - world.now))

    async def main() -> float:
        for b, bus in enumerate(lines):
            for unit in range(1, slaves + 1):
                spec = standard_slave(unit, name=f"b{b}-s{unit}")
                await ModbusSlave(world, bus, spec).start()
            await masters[b].start()
        start = world.now
        end = start + minutes * 60
        await asyncio.gather(*(poll(m, end) for m in masters))
        return world.now - start

    with world:
        sim = world.run(main())
        utilisation = sum(bus.utilisation() for bus in lines) / len(lines)
        frames = sum(bus.stats.frames for bus in lines)
    return {
        "sim_seconds": sim,
        "buses": buses,
        "slaves": buses * slaves,
        "polls_answered": answered[0],
        "polls_missed": missed[0],
        "frames": frames,
        "bus_utilisation": round(utilisation, 3),
    }
