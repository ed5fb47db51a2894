"""Captures are evidence, not actors: the same seed writes byte-identical air and IP captures in
virtual time, and a world that captures does exactly what a world that does not does."""

from __future__ import annotations

import asyncio
from pathlib import Path

from devices.ble.peripheral import add_peripheral
from scenarios.ble_router.bed import LocalBleBed


def _run(seed: int, capture_dir: Path | None) -> str:
    """A scan, a connection and a GATT read; the world's timeline."""
    bed = LocalBleBed(seed=seed, capture_dir=capture_dir)
    try:

        async def scenario() -> None:
            await bed.start()
            p = await add_peripheral(bed, 1)
            await add_peripheral(bed, 2, position=(4.0, 4.0, 0.0))
            client = bed.client()
            async with client.sse("/gap/nodes", {"event": 1, "active": 1}):
                await asyncio.sleep(2)
            await client.request(
                "POST", f"/gap/nodes/{p.address}/connection", json_body={"type": "random"}
            )
            await client.request("GET", f"/gatt/nodes/{p.address}/characteristics")
            await asyncio.sleep(0.5)

        bed.run(scenario())
        bed.run(bed.stop())
        return bed.world.trace.dump()
    finally:
        bed.close()


def test_same_seed_same_capture_bytes_and_capturing_changes_nothing(tmp_path) -> None:
    first = _run(3, tmp_path / "a")
    second = _run(3, tmp_path / "b")
    uncaptured = _run(3, None)
    other = _run(4, tmp_path / "c")
    for name in ("air.pcapng", "ip.pcapng"):
        a = (tmp_path / "a" / name).read_bytes()
        assert len(a) > 1000, name
        assert a == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "air.pcapng").read_bytes() != (
        tmp_path / "c" / "air.pcapng"
    ).read_bytes()
    assert first == second == uncaptured
    assert other != first
