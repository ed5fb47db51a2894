"""BLE benchmarks: the router's notification path and its scan path under a crowd."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from devices.ble.gatt_uuids import HEART_RATE_MEASUREMENT, cccd_handle
from devices.ble.spec import standard_peripheral
from devices.protocols.http_client import HttpClient, SseStream
from scenarios.ble_router.bed import LocalBleBed
from scenarios.ble_router.worlds import expand_peripherals


async def _cccd_handle(client: HttpClient, address: str) -> int:
    response = await client.request(
        "GET", f"/gatt/nodes/{address}/services/characteristics/descriptors"
    )
    if response.status != 200:
        raise RuntimeError(f"discovery of {address} failed: {response.status} {response.text}")
    handle = cccd_handle(response.json(), HEART_RATE_MEASUREMENT)
    if handle is None:
        raise RuntimeError(f"{address} has no heart-rate CCCD")
    return handle


async def _drain(stream: SseStream, sink: list[Any]) -> None:
    async for event in stream:
        sink.append(event.data)


def ble_few(seed: int = 1, minutes: float = 10.0, count: int = 10) -> dict[str, Any]:
    """10 peripherals connected to one router, each notifying at 1 Hz through the SSE stream."""
    bed = LocalBleBed(seed=seed, keep_trace=False)
    received: list[Any] = []

    async def main() -> dict[str, Any]:
        await bed.start()
        client = bed.client()
        for i in range(1, count + 1):
            await bed.place(standard_peripheral(i, position=(2.0 + i * 0.2, 0, 0), notify_hz=1.0))
        async with client.sse("/gatt/nodes", {"event": 1, "sequence": 2}) as stream:
            drain = asyncio.ensure_future(_drain(stream, received))
            for name in sorted(bed.peripherals):
                address = bed.address_of(name)
                r = await client.request(
                    "POST",
                    f"/gap/nodes/{address}/connection",
                    json_body={"type": "random", "timeout": 5000},
                )
                if r.status != 200:
                    raise RuntimeError(f"connect {address}: {r.status} {r.text}")
                handle = await _cccd_handle(client, address)
                r = await client.request("GET", f"/gatt/nodes/{address}/handle/{handle}/value/0100")
                if r.status != 200:
                    raise RuntimeError(f"enable notifications on {address}: {r.text}")
            start, cpu = bed.now, time.process_time()
            await asyncio.sleep(minutes * 60)
            sim, cpu = bed.now - start, time.process_time() - cpu
            drain.cancel()
        return {
            "sim_seconds": sim,
            "window_cpu_s": round(cpu, 3),  # notifying, after the connections are set up
            "notifications": len(received),
            "expected_notifications": int(count * minutes * 60),
        }

    try:
        return bed.run(main())
    finally:
        bed.close()


def ble_crowd(seed: int = 1, seconds: float = 60.0, count: int = 1000) -> dict[str, Any]:
    """1,000 peripherals advertising every second; the router scans with a name filter."""
    bed = LocalBleBed(seed=seed, keep_trace=False)
    reports: list[Any] = []

    async def main() -> dict[str, Any]:
        await bed.start()
        specs = expand_peripherals(
            [
                {
                    "template": "standard",
                    "count": count,
                    "layout": {"kind": "random", "radius_m": 20.0},
                    "notify_hz": 0,
                    "interval_ms": 1000,
                }
            ],
            bed.world.rng("placement"),
        )
        for spec in specs:
            await bed.place(spec)
        wanted = [specs[6]["name"], specs[count // 2]["name"]]
        client = bed.client()
        async with client.sse(
            "/gap/nodes", {"event": 1, "filter_name": ",".join(wanted)}
        ) as stream:
            drain = asyncio.ensure_future(_drain(stream, reports))
            start, wall, cpu = bed.now, time.perf_counter(), time.process_time()
            await asyncio.sleep(seconds)
            sim, wall, cpu = bed.now - start, time.perf_counter() - wall, time.process_time() - cpu
            drain.cancel()
        return {
            "sim_seconds": sim,
            # the scan window alone, without the set-up
            "window_wall_s": round(wall, 3),
            "window_cpu_s": round(cpu, 3),
            "advertisers": count,
            "filter": wanted,
            "reports_matching": len(reports),
            "adverts_on_air": bed.radio.adv_pdus,
            "adverts_delivered": bed.radio.adv_deliveries,
        }

    try:
        return bed.run(main())
    finally:
        bed.close()
