"""``ble-ac``: 10 routers and 2,000 peripherals on one access controller's combined stream.

Ten routers stand 30 m apart on a grid; 2,000 asset tags (connectable, one constant
characteristic, advertising every ``interval_ms``, 5 s, switched on at random moments so that
they are not in step) are spread at random over the hall, whose walls limit the radio's range
to ``range_m`` (20 m: most tags are heard by one or two routers). The controller opens a scan
on every router (``POST /api/aps/scan/open``, no filter) and one client reads the combined
stream (``GET /api/aps/events``) for ``seconds`` of world time (300 s). Figures:

* ``events`` and ``events_per_wall_s``: scan messages the client parsed, per wall second of the
  measured window (``wall_s``; ``cpu_s`` is the process time it took, which is what counts on
  a busy machine);
* ``latency_ms_p50/p99/max``: world time from the advertisement on the air (the radio's
  delivery to the router's chip, seen by a probe on the radio's capture hook) to the client
  parsing its message, in virtual time: the uplink's and the client link's latency, the
  routers' and the controller's queues and the combined stream's 5 ms batching;
* ``matched``: messages whose advertisement the probe saw;
* ``speedup_window``: world seconds per wall second of the window; the runner's speed-up also
  counts setting up the 2,000 Bumble hosts (target >= 10x), and its peak memory.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import json
import time
from typing import Any

from devices.ble.spec import standard_peripheral
from devices.protocols.http_client import SseStream
from scenarios.ble_ac.bed import LocalAcBed, router_grid
from sim.radio import RadioConfig

SPACING_M = 30.0
# an asset tag: one constant battery level, nothing that changes over time
TAG = [
    {"uuid": "180F", "characteristics": [{"uuid": "2A19", "properties": ["read"], "value": "64"}]}
]


class OnAirProbe:
    """A radio capture that notes when each advertisement reached each scanning router chip
    (it draws nothing from the world's random streams: measuring changes nothing)."""

    def __init__(self, chips: dict[Any, str]) -> None:
        self.chips = chips  # chip controller -> router MAC
        self.sent: dict[tuple[str, bytes], collections.deque[float]] = collections.defaultdict(
            collections.deque
        )
        self.now = 0.0

    def advertising(self, _sender: Any, rx: Any, packet: Any, _rssi: int) -> None:
        ap = self.chips.get(rx)
        if ap is not None:
            self.sent[(ap, packet.advertiser_address.address_bytes)].append(self.clock())

    def clock(self) -> float:
        return asyncio.get_running_loop().time()

    def taken(self, ap: str, mac: str) -> float | None:
        queue = self.sent.get((ap, bytes.fromhex(mac.replace(":", ""))[::-1]))
        return queue.popleft() if queue else None

    def __getattr__(self, _name: str) -> Any:  # scan exchanges, links, data: not measured
        return lambda *args, **kwargs: None


async def _read(
    stream: SseStream, probe: OnAirProbe, counts: dict[str, int], latencies: list[float]
) -> None:
    """Parse every scan message and match it to its advertisement on the air."""
    loop = asyncio.get_running_loop()
    async for event in stream:
        if not event.data.startswith("{"):
            continue  # a keep-alive message
        data = json.loads(event.data)
        if data.get("dataType") != "scan":
            continue
        counts["events"] += 1
        sent = probe.taken(data["ap"], data["bdaddrs"][0]["bdaddr"])
        if sent is not None:
            counts["matched"] += 1
            latencies.append((loop.time() - sent) * 1000.0)


def _spread(count: int, width: float, height: float, rng: Any) -> list[tuple[float, float, float]]:
    return [(rng.uniform(-5, width + 5), rng.uniform(-5, height + 5), 0.0) for _ in range(count)]


def ble_ac(
    seed: int = 1,
    routers: int = 10,
    peripherals: int = 2000,
    seconds: float = 300.0,
    interval_ms: float = 5000.0,
    range_m: float = 20.0,
) -> dict[str, Any]:
    grid = router_grid(routers, SPACING_M)
    width = max(r["position"][0] for r in grid)
    height = max(r["position"][1] for r in grid)
    bed = LocalAcBed(seed=seed, keep_trace=False, routers=grid, radio=RadioConfig(range_m=range_m))
    latencies: list[float] = []
    counts = {"events": 0, "matched": 0}

    async def main() -> dict[str, Any]:
        gc.disable()  # set-up builds only long-lived objects: no garbage worth a collection
        await bed.start()
        rng = bed.world.rng("placement")
        # tags are switched on at random moments over one advertising interval, as tags in a
        # hall are: their advertising is not in step
        gap = interval_ms / 1000.0 / peripherals
        for i, spot in enumerate(_spread(peripherals, width, height, rng), start=1):
            await asyncio.sleep(rng.uniform(0.0, 2 * gap))
            await bed.place(
                standard_peripheral(
                    i, position=spot, interval_ms=interval_ms, spec_changes={"services": TAG}
                )
            )
        # 2,000 Bumble hosts are millions of long-lived objects: let the collector skip them
        gc.collect()
        gc.freeze()
        gc.enable()
        chips = {}
        for router in bed.routers.values():
            for chip in router.central.chips:
                chips[chip.controller] = router.mac
        probe = OnAirProbe(chips)
        client = bed.client()
        async with client.sse("/api/aps/events") as stream:
            await stream.next(5.0)  # the state message
            answer = await client.request("POST", "/api/aps/scan/open", json_body={"aps": "*"})
            if answer.status != 200:
                raise RuntimeError(f"scan/open refused: {answer.status} {answer.text}")
            bed.radio.capture = probe
            reader = asyncio.ensure_future(_read(stream, probe, counts, latencies))
            start, wall, cpu = bed.now, time.perf_counter(), time.process_time()
            await asyncio.sleep(seconds)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            reader.cancel()
            bed.radio.capture = None
        latencies.sort()

        def pct(p: float) -> float | None:
            return round(latencies[int(p * (len(latencies) - 1))], 3) if latencies else None

        return {
            "sim_seconds": bed.now - start,
            "routers": routers,
            "peripherals": peripherals,
            "interval_ms": interval_ms,
            "adverts_on_air": bed.radio.adv_pdus,
            "events": counts["events"],
            "matched": counts["matched"],
            "events_per_wall_s": round(counts["events"] / wall) if wall else None,
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),
            "speedup_window": round(seconds / wall, 1) if wall else None,
            "latency_ms_p50": pct(0.5),
            "latency_ms_p99": pct(0.99),
            "latency_ms_max": latencies[-1] if latencies else None,
        }

    try:
        return bed.run(main())
    finally:
        bed.close()
        gc.enable()
        gc.unfreeze()
