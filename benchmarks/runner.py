"""Run benchmarks and print their figures: simulated seconds, wall seconds, the speed-up over
real time, and peak memory (the process's peak resident set, so each benchmark runs in a fresh
process of its own).

    python -m benchmarks.runner ble-few --json      # one benchmark, in this process
    hil bench [NAME ...] [--json]                   # each in its own process
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from typing import Any

# name -> ("module:function", what it measures). Modules load only when their benchmark runs,
# so one benchmark's peak memory never includes another's stacks (grpc, pymodbus, ...).
BENCHMARKS: dict[str, tuple[str, str]] = {
    "ble-few": (
        "benchmarks.ble:ble_few",
        "10 peripherals notifying at 1 Hz through SSE, 10 simulated min (target >= 100x real time)",
    ),
    "ble-notify-load": (
        "benchmarks.ble_notify_load:ble_notify_load",
        "40 peripherals "
        "notifying at 10 Hz through SSE with sequence=2, 10 simulated min: loss, "
        "order, latency",
    ),
    "ble-crowd": (
        "benchmarks.ble:ble_crowd",
        "1,000 advertisers at 1 Hz, name-filtered scan "
        "SSE, 60 simulated s (target >= 10x, < 150 MiB)",
    ),
    "ble-ac": (
        "benchmarks.ble_ac:ble_ac",
        "10 routers and 2,000 peripherals (tags advertising every 5 s) on one access "
        "controller's combined stream, 300 simulated s: events per wall s, on-air to stream "
        "latency (virtual) (target >= 10x)",
    ),
    "ble-crowd-curve": (
        "benchmarks.curves:ble_crowd_curve",
        "ble-crowd at 100, 1,000, 5,000 and 10,000 advertisers, 30 simulated s each, each in "
        "its own process: wall s per simulated s, us per advertisement (target: flat in N), "
        "KiB per peripheral (target <= 60 KB), speed-up (target >= 2x at 10,000)",
    ),
    "rs485-poll": (
        "benchmarks.rs485:rs485_poll",
        "16 RS485 buses x 32 pymodbus slaves at 9600 "
        "baud, each polled once a second, 10 simulated min (target >= 35x)",
    ),
    "mqtt-gateway": (
        "benchmarks.mqtt_gateway:mqtt_gateway",
        "10 reference MQTT gateways x 1,000 devices, 1 telemetry reading per device per s, "
        "60 simulated s, through the platform's server to SQLite: readings per wall s "
        "(target >= 10,000), latency percentiles (virtual), lost and duplicated (must be 0)",
    ),
    "device2": (
        "benchmarks.device2:device2",
        "1,000 Device2 devices provisioning over HTTP within one simulated minute, then "
        "reporting every 10 s for one simulated hour: provisioning latency percentiles, "
        "messages per wall s, exactness of queries and aggregates (slow: 20-35 wall min; "
        "python -m benchmarks.device2 --minutes N for less)",
    ),
    "cm-reconnect": (
        "benchmarks.connect_master:cm_reconnect",
        "500 terminals on 2 device "
        "gateways, a gateway restart and a power cycle, 10 simulated min, virtual "
        "gRPC channel",
    ),
    "cm-storm-curve": (
        "benchmarks.curves:cm_storm_curve",
        "cm-reconnect at 500, 2,000 and 5,000 terminals, 5 simulated min each, each in its own "
        "process: speed-up, KiB per terminal, time back after the restart and power cycle",
    ),
}


def describe_benchmarks() -> str:
    """The benchmarks by name with what each measures, for ``--help``."""
    width = max(len(name) for name in BENCHMARKS)
    lines = [
        textwrap.fill(
            what,
            80,
            initial_indent=f"  {name:<{width}}  ",
            subsequent_indent=" " * (width + 4),
        )
        for name, (_, what) in BENCHMARKS.items()
    ]
    return "benchmarks:\n" + "\n".join(lines)


def _load(target: str) -> Callable[[], dict[str, Any]]:
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)  # type: ignore[no-any-return]


def measure(name: str) -> dict[str, Any]:
    target, description = BENCHMARKS[name]
    func = _load(target)
    started = time.perf_counter()
    figures = func()
    wall = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    sim = float(figures.pop("sim_seconds"))
    return {
        "name": name,
        "description": description,
        "sim_seconds": round(sim, 3),
        "wall_seconds": round(wall, 3),
        "speedup": round(sim / wall, 1) if wall else None,
        "peak_rss_mib": round(peak_mib, 1),
        "figures": figures,
    }


def format_result(r: dict[str, Any]) -> str:
    figures = dict(r.get("figures", {}))
    points = figures.pop("points", [])  # a curve: one line per size
    extra = ", ".join(f"{k}={v}" for k, v in figures.items())
    lines = [
        f"{r['name']:<10} sim {r['sim_seconds']:>8.1f} s  wall {r['wall_seconds']:>7.2f} s  "
        f"x{r['speedup']:>7}  peak {r['peak_rss_mib']:>6.1f} MiB  {extra}"
    ]
    lines += ["    " + ", ".join(f"{k}={v}" for k, v in point.items()) for point in points]
    return "\n".join(lines)


def run_all(names: list[str], as_json: bool, out: Any = sys.stdout) -> int:
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(
            f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}",
            file=sys.stderr,
        )
        return 2
    results = []
    for name in names or list(BENCHMARKS):
        if not as_json:
            print(f"running {name}: {BENCHMARKS[name][1]} ...", file=out, flush=True)
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.runner", name, "--json"],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            print(f"{name} failed:\n{proc.stderr[-3000:]}", file=sys.stderr)
            return 1
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        results.append(result)
        if not as_json:
            print(format_result(result), file=out, flush=True)
    if as_json:
        print(json.dumps(results, indent=2), file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.runner",
        description="Run one benchmark in this process and print its figures.",
        epilog=describe_benchmarks(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", choices=list(BENCHMARKS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = measure(args.name)
    print(json.dumps(result) if args.json else format_result(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
