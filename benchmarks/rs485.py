"""RS485 benchmark: many lines of pymodbus slaves polled by pymodbus masters, virtual time, each
line a :class:`~scenarios.rs485.bed.LocalModbusLine` bed in one shared world."""

from __future__ import annotations

import asyncio
from typing import Any

from devices.rs485.modbus_master import ModbusMaster
from scenarios.rs485.bed import LocalModbusLine
from sim.world import World


def rs485_poll(
    seed: int = 1, buses: int = 16, slaves: int = 32, minutes: float = 10.0
) -> dict[str, Any]:
    """``buses`` lines at 9600 8N1 with ``slaves`` slaves each; every slave is asked for its
    temperature (2 input registers) once a second by its line's master."""
    world = World(seed=seed, keep_trace=False)
    lines = [LocalModbusLine(world=world, line=f"bus-{b}") for b in range(buses)]
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
        masters = []
        for b, line in enumerate(lines):
            for unit in range(1, slaves + 1):
                await line.place({"unit": unit, "name": f"b{b}-s{unit}"})
            masters.append(await line.add_master(f"master-{b}", timeout=0.2, retries=1))
        start = world.now
        end = start + minutes * 60
        await asyncio.gather(*(poll(m, end) for m in masters))
        return world.now - start

    with world:
        sim = world.run(main())
        utilisation = sum(line.bus.utilisation() for line in lines) / len(lines)
        frames = sum(line.bus.stats.frames for line in lines)
    return {
        "sim_seconds": sim,
        "buses": buses,
        "slaves": buses * slaves,
        "polls_answered": answered[0],
        "polls_missed": missed[0],
        "frames": frames,
        "bus_utilisation": round(utilisation, 3),
    }
