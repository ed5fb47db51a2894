"""``ble-notify-load``: 40 peripherals notifying at 10 Hz through one notification stream with
``sequence=2`` for 10 simulated minutes (the ``@load`` scenario's full run), with its loss,
order and latency figures."""

from __future__ import annotations

import statistics
from typing import Any

from scenarios.ble_router.bed import LocalBleBed
from scenarios.ble_router.load import notification_load


def ble_notify_load(
    seed: int = 1, minutes: float = 10.0, count: int = 40, hz: float = 10.0
) -> dict[str, Any]:
    bed = LocalBleBed(
        seed=seed, keep_trace=False, router={"max_connections_per_chip": (count + 1) // 2}
    )

    async def main() -> dict[str, Any]:
        await bed.start()
        start = bed.now
        result = await notification_load(bed, count, hz, minutes * 60.0)
        latencies = sorted(result.latencies_ms)
        return {
            "sim_seconds": bed.now - start,
            "notifications": result.received,
            "expected": int(count * hz * minutes * 60),
            "devices_with_loss_or_reorder": len(result.problems()),
            "latency_ms_median": round(statistics.median(latencies), 3) if latencies else None,
            "latency_ms_p99": latencies[int(0.99 * (len(latencies) - 1))] if latencies else None,
            "latency_ms_max": latencies[-1] if latencies else None,
        }

    try:
        return bed.run(main())
    finally:
        bed.close()
