"""Same seed, same inputs: the same timeline, byte for byte. A different seed: a different one."""

from __future__ import annotations

import asyncio

from devices.ble.spec import standard_peripheral
from scenarios.ble_router.bed import LocalBleBed


def _run(seed: int) -> tuple[str, list]:
    bed = LocalBleBed(seed=seed)

    async def main() -> list:
        await bed.start()
        for i in range(1, 6):
            await bed.place(standard_peripheral(i, position=(1.0 + i, 0.5 * i, 0)))
        client = bed.client()
        events: list = []
        async with client.sse("/gap/nodes", {"event": 1, "active": 1}) as scan:
            events += [e.data for e in await scan.collect(3)]
        address = bed.address_of("HIL-0002")
        await client.request(
            "POST", f"/gap/nodes/{address}/connection", json_body={"type": "random"}
        )
        async with client.sse("/management/nodes/connection-state") as states:
            await bed.move("HIL-0002", [400, 0, 0])
            events += [e.data for e in await states.collect(3)]
        await asyncio.sleep(1)
        return events

    try:
        events = bed.run(main())
        return bed.world.trace.dump(), events
    finally:
        bed.close()


def test_same_seed_gives_a_byte_identical_trace():
    trace_a, events_a = _run(7)
    trace_b, events_b = _run(7)
    assert trace_a == trace_b
    assert events_a == events_b
    assert len(events_a) > 10 and '"disconnected"' in events_a[-1]


def test_a_different_seed_gives_a_different_trace():
    trace_a, events_a = _run(7)
    trace_c, events_c = _run(8)
    assert trace_a != trace_c or events_a != events_c
