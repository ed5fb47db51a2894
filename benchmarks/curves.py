"""Scaling curves: one benchmark at several sizes, each size in a fresh process of its own (so
its peak memory is its own), with the cost per unit of work at every size.

* ``ble-crowd-curve``: ``ble-crowd`` at 100, 1,000, 5,000 and 10,000 advertisers: wall seconds
  per simulated second, wall microseconds per advertisement on the air (flat in N: no
  super-linear term), memory per peripheral (peak resident set above the process's resident
  set before the world is built, over N; target <= 60 KB), speed-up over real time (target
  >= 2x at 10,000 on one core).
* ``cm-storm-curve``: ``cm-reconnect`` (a gateway restart and a power cycle) at 500, 2,000 and
  5,000 terminals, 250 to a device gateway (a gateway's /24 holds at most 253).

    python -m benchmarks.curves ble-crowd 1000      # one size, in this process, as JSON
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from typing import Any

BLE_CROWD_SIZES = (100, 1000, 5000, 10000)
BLE_CROWD_SIM_S = 30.0
CM_STORM_SIZES = (500, 2000, 5000)
CM_STORM_MINUTES = 5.0
CM_PER_GATEWAY = 250


def _rss_kib() -> int:
    """The current resident set (Linux: /proc/self/statm), else the peak so far."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
        return pages * resource.getpagesize() // 1024
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _one_ble_crowd(count: int, seconds: float) -> dict[str, Any]:
    from benchmarks.ble import ble_crowd

    before = _rss_kib()
    started = time.perf_counter()
    figures = ble_crowd(count=count, seconds=seconds)
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sim, window = figures["sim_seconds"], figures["window_wall_s"]
    return {
        "advertisers": count,
        "sim_seconds": sim,
        "wall_seconds": round(wall, 2),
        "setup_wall_s": round(wall - window, 2),
        "wall_s_per_sim_s": round(window / sim, 4),
        "speedup": round(sim / window, 2),
        "us_per_advert": round(window / max(1, figures["adverts_on_air"]) * 1e6, 1),
        # CPU: the figure that stays put on a busy machine
        "cpu_us_per_advert": round(
            figures["window_cpu_s"] / max(1, figures["adverts_on_air"]) * 1e6, 1
        ),
        "adverts_on_air": figures["adverts_on_air"],
        "kib_per_peripheral": round((peak - before) / count, 1),
        "peak_rss_mib": round(peak / 1024, 1),
    }


def _one_cm_storm(terminals: int, minutes: float) -> dict[str, Any]:
    from benchmarks.connect_master import cm_reconnect

    before = _rss_kib()
    started = time.perf_counter()
    gateways = max(2, -(-terminals // CM_PER_GATEWAY))  # a /24 each
    figures = cm_reconnect(per_gateway=terminals // gateways, minutes=minutes, gateways=gateways)
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sim = figures.pop("sim_seconds")
    return {
        "terminals": terminals,
        "gateways": gateways,
        "sim_seconds": sim,
        "wall_seconds": round(wall, 2),
        "speedup": round(sim / wall, 2),
        "kib_per_terminal": round((peak - before) / terminals, 1),
        "peak_rss_mib": round(peak / 1024, 1),
        **{k: figures[k] for k in ("restart_back_max_s", "power_cycle_back_max_s")},
    }


ONE_SIZE = {"ble-crowd": _one_ble_crowd, "cm-storm": _one_cm_storm}


def _sizes_in_processes(kind: str, sizes: tuple[int, ...], length: float) -> list[dict[str, Any]]:
    points = []
    for size in sizes:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.curves", kind, str(size), str(length)],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{kind} at {size} failed:\n{proc.stderr[-3000:]}")
        points.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return points


def ble_crowd_curve(
    sizes: tuple[int, ...] = BLE_CROWD_SIZES, seconds: float = BLE_CROWD_SIM_S
) -> dict[str, Any]:
    points = _sizes_in_processes("ble-crowd", sizes, seconds)
    costs = [p["us_per_advert"] for p in points]
    return {
        "sim_seconds": sum(p["sim_seconds"] for p in points),
        "points": points,
        "us_per_advert_max_over_min": round(max(costs) / min(costs), 2),
        "marginal_kib_per_peripheral": _marginal(points, "advertisers"),
    }


def _marginal(points: list[dict[str, Any]], unit: str) -> float | None:
    """Peak memory added per unit between the smallest and the largest size (the fixed cost of
    the world, router and interpreter cancels out)."""
    if len(points) < 2:
        return None
    first, last = points[0], points[-1]
    added = (last["peak_rss_mib"] - first["peak_rss_mib"]) * 1024
    return round(added / (last[unit] - first[unit]), 1)


def cm_storm_curve(
    sizes: tuple[int, ...] = CM_STORM_SIZES, minutes: float = CM_STORM_MINUTES
) -> dict[str, Any]:
    points = _sizes_in_processes("cm-storm", sizes, minutes)
    return {
        "sim_seconds": sum(p["sim_seconds"] for p in points),
        "points": points,
        "marginal_kib_per_terminal": _marginal(points, "terminals"),
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    kind, size, length = args[0], int(args[1]), float(args[2])
    print(json.dumps(ONE_SIZE[kind](size, length)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
