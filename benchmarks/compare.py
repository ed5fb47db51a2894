"""Each benchmark next to its bare-stack baseline, both measured in the same process run:
the harness's overhead as a ratio (ours / bare; the target is <= 1.3x).

* ``ble``: stock Bumble on its stock ``LocalLink`` (:mod:`benchmarks.bare_ble`) vs the same
  exchanges through our radio, the reference router and its SSE streams: a crowd of N
  advertisers heard by a scanner (CPU per advertisement and CPU load per simulated second, over
  N: the stock link's N² term, and where it stalls), and connect + discover + notifications.
* ``rs485``: pymodbus client and server in memory (:mod:`benchmarks.bare_rs485`) vs
  ``rs485-poll`` through the line model: CPU microseconds per poll.
* ``cm``: grpcio on an in-process server (:mod:`benchmarks.bare_grpc`) vs our virtual-time
  channel; grpcio with mutual TLS vs our real wire (grpc.aio, mutual TLS, loopback), for a call
  the master forwards to its device gateway and one it answers itself: CPU microseconds per
  call.

Costs are the process's CPU time: on a busy machine wall time measures the other processes too.

    hil bench --compare [ble rs485 cm] [--json]
    python -m benchmarks.compare rs485 --json      # one comparison, in this process
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TARGET_RATIO = 1.3
CROWD_SIZES = (50, 100, 200, 400)
CROWD_BARE_WALL_S = 3.0
CROWD_OURS_SIM_S = 10.0


def _row(
    system: str, exchange: str, unit: str, bare: str, bare_value: float, ours: str, value: float
) -> dict[str, Any]:
    return {
        "system": system,
        "exchange": exchange,
        "unit": unit,
        "baseline": bare,
        "baseline_value": round(bare_value, 2),
        "ours": ours,
        "ours_value": round(value, 2),
        "ratio": round(value / bare_value, 2) if bare_value else None,
    }


# -- RS485 ---------------------------------------------------------------------------------------


def compare_rs485(buses: int = 2, slaves: int = 32, minutes: float = 1.0) -> dict[str, Any]:
    from benchmarks.bare_rs485 import bare_modbus_poll_us
    from benchmarks.rs485 import rs485_poll

    bare = bare_modbus_poll_us()
    started, cpu = time.perf_counter(), time.process_time()
    figures = rs485_poll(buses=buses, slaves=slaves, minutes=minutes)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    ours = cpu / max(1, figures["polls_answered"]) * 1e6
    return {
        "rows": [
            _row(
                "rs485",
                "read 2 input registers (poll)",
                "CPU us/poll",
                "pymodbus client + server in memory",
                bare,
                f"rs485-poll: {buses} lines x {slaves} slaves at 9600 baud",
                ours,
            )
        ],
        "figures": {"rs485_poll_speedup": round(figures["sim_seconds"] / wall, 1)},
    }


# -- Connect Master ------------------------------------------------------------------------------


async def _timed_calls(call: Callable[[], Any], calls: int, warm_up: int = 50) -> float:
    for _ in range(warm_up):
        await call()
    started = time.process_time()
    for _ in range(calls):
        await call()
    return (time.process_time() - started) / calls * 1e6


WIRE_SCALE = 1000.0
"""How fast the world runs while its master is called over the real wire. At 1,000x the
in-world link's 0.5 ms latency is half a microsecond of wall time, already past when the loop
next looks, so a call never puts the loop to sleep. At 10x each forwarded call sleeps twice
(epoll waits whole milliseconds), and a sleep and wake-up costs CPU of its own: the bare
server's handler given the same two sleeps costs 130-150 µs more a call."""

UNIT = "CPU us/call"
ONE_HOP = "grpcio, in-process server, mutual TLS loopback"
RELAY = "grpcio relaying to a second grpcio server, mutual TLS both"
RELAYED = ("GetDeviceList",)
"""Calls the master answers by calling the device gateway: compared with the bare server
answering by itself, and with a bare server relaying to a second one (a hop of its own on the
bare stack; ours is the uplink's framing over in-memory TLS, cheaper than a gRPC hop)."""

WIRE_EXCHANGES = (
    ("GetDeviceList", "forwarded: master -> in-world TLS uplink -> device gateway and back"),
    ("GetAsyncConnectionDB", "answered by the master from its database"),
)


def _run_and_close(bed: Any, work: Any) -> Any:
    """``work`` run in ``bed``'s world; the bed closed however it ends."""
    try:
        return bed.run(work)
    finally:
        bed.close()


def _cm_virtual(calls: int) -> tuple[dict[str, tuple[Any, Any]], float]:
    """A request and its answer for each of :data:`WIRE_EXCHANGES` (what the bare servers
    answer), and CPU µs per GetDeviceList over the virtual-time channel."""
    from scenarios.connect_master.bed import LocalCmBed

    bed = LocalCmBed(seed=1, keep_trace=False)

    async def main() -> tuple[dict[str, tuple[Any, Any]], float]:
        await bed.start()
        gateway, spec = next(iter(bed.cm_world.specs.items()))
        client = bed.client(spec.tenant)
        await client.login()
        pairs = {}
        for rpc, _ in WIRE_EXCHANGES:
            request = client.request(rpc, gatewayID=gateway)
            pairs[rpc] = (request, await client.call(rpc, gatewayID=gateway))
        us = await _timed_calls(lambda: client.call("GetDeviceList", gatewayID=gateway), calls)
        return pairs, us

    return _run_and_close(bed, main())


def _cm_forward(calls: int) -> float:
    """CPU µs per GetDeviceList the master forwards to its device gateway, called in the
    real-time world at :data:`WIRE_SCALE` without gRPC: the forward's own cost."""
    from devices.gateways.connect_master.protos import connect_pb2 as pb
    from scenarios.connect_master.bed import LocalCmBed
    from sim.clock import REAL

    bed = LocalCmBed(seed=1, clock=REAL, scale=WIRE_SCALE, keep_trace=False)

    async def main() -> float:
        await bed.start()
        gateway = next(iter(bed.cm_world.specs))
        master = bed.cm_world.master
        return await _timed_calls(
            lambda: master.call(gateway, "GetDeviceList", pb.GetDeviceListRequest()), calls
        )

    return _run_and_close(bed, main())


def _cm_wire(calls: int, rpc: str = "GetDeviceList", scale: float = WIRE_SCALE) -> float:
    """CPU µs per ``rpc`` call to the bed's master served over the real wire (mutual TLS on
    loopback), the world running at ``scale``."""
    from scenarios.connect_master.bed import LocalCmBed
    from scenarios.connect_master.loopback import serve_loopback
    from sim.clock import REAL

    bed = LocalCmBed(seed=1, clock=REAL, scale=scale, keep_trace=False)

    async def main() -> float:
        await bed.start()
        served = await serve_loopback(bed)
        try:
            gateway, spec = next(iter(bed.cm_world.specs.items()))
            client = served.client(spec.tenant)
            await client.login()
            wall = time.perf_counter()
            per_call = await _timed_calls(lambda: client.call(rpc, gatewayID=gateway), calls)
            wall = time.perf_counter() - wall
            # The world runs in real time meanwhile (its gateways' timers, grpc's poller): what
            # it burns idle for as long as the calls took is not the calls' cost.
            idle = time.process_time()
            await asyncio.sleep(wall)
            idle = time.process_time() - idle
            return max(0.0, per_call - idle / calls * 1e6)
        finally:
            await served.close()

    return _run_and_close(bed, main())


def compare_cm(calls: int = 1000, rounds: int = 3) -> dict[str, Any]:
    """Each real-wire pair is measured ``rounds`` times, in turn, and each side's median kept:
    grpc's own threads make one round's CPU figure vary by a third."""
    from benchmarks.bare_grpc import bare_grpc_call_us
    from devices.gateways.connect_master.protos import connect_master_pb2 as mpb

    pairs, virtual = _cm_virtual(calls)
    service = mpb.DESCRIPTOR.services_by_name["ConnectMaster"].full_name
    bare = bare_grpc_call_us(service, "GetDeviceList", *pairs["GetDeviceList"], calls)
    median = statistics.median
    rows = [
        _row(
            "cm",
            "GetDeviceList (unary)",
            UNIT,
            "grpcio, in-process server, insecure loopback",
            bare,
            "virtual-time channel (master, uplink, gateway)",
            virtual,
        )
    ]
    for rpc, what in WIRE_EXCHANGES:
        tls, wire, relay = [], [], []
        for _ in range(rounds):
            tls.append(bare_grpc_call_us(service, rpc, *pairs[rpc], calls, mutual_tls=True))
            wire.append(_cm_wire(calls, rpc))
            if rpc in RELAYED:
                relay.append(
                    bare_grpc_call_us(service, rpc, *pairs[rpc], calls, mutual_tls=True, relay=True)
                )
        ours = f"real wire (mTLS), {what}"
        rows.append(_row("cm", f"{rpc} (unary)", UNIT, ONE_HOP, median(tls), ours, median(wire)))
        if relay:
            rows.append(
                _row("cm", f"{rpc} (unary)", UNIT, RELAY, median(relay), ours, median(wire))
            )
    wire = {r["exchange"].split()[0]: r["ours_value"] for r in rows[1:]}
    return {
        "rows": rows,
        "figures": {
            "wire_world_scale": WIRE_SCALE,
            # the forward alone, and what it adds between gRPC's calls (forwarded - answered)
            "forward_in_world_us": round(_cm_forward(calls), 1),
            "forward_on_wire_us": round(wire["GetDeviceList"] - wire["GetAsyncConnectionDB"], 1),
            # the same forwarded call with the world at 10x: two sleeps a call (see WIRE_SCALE)
            "getdevicelist_wire_at_10x_us": round(_cm_wire(calls, scale=10.0), 1),
        },
    }


# -- BLE -----------------------------------------------------------------------------------------


def _ours_crowd(count: int, seconds: float) -> dict[str, Any]:
    from benchmarks.ble import ble_crowd

    figures = ble_crowd(count=count, seconds=seconds)
    cpu = figures["window_cpu_s"]
    return {
        "advertisers": count,
        "cpu_per_sim_s": round(cpu / figures["sim_seconds"], 4),
        "cpu_us_per_advert": round(cpu / max(1, figures["adverts_on_air"]) * 1e6, 1),
    }


def _ours_notify(count: int = 10, minutes: float = 1.0) -> float:
    from benchmarks.ble import ble_few

    figures = ble_few(count=count, minutes=minutes)
    return figures["window_cpu_s"] / max(1, figures["notifications"]) * 1e6


def compare_ble(sizes: tuple[int, ...] = CROWD_SIZES) -> dict[str, Any]:
    from benchmarks.bare_ble import bare_crowd, bare_notify

    curve = []
    for n in sizes:
        bare = bare_crowd(n, seconds=CROWD_BARE_WALL_S)
        ours = _ours_crowd(n, CROWD_OURS_SIM_S)
        print(f"ble crowd {n}: bare {bare}, ours {ours}", file=sys.stderr, flush=True)
        curve.append(
            {
                "advertisers": n,
                "bare_cpu_load": bare["cpu_load"],
                "bare_cpu_us_per_advert": bare["cpu_us_per_advert"],
                "bare_stalls": bare["stalled"],
                "ours_cpu_per_sim_s": ours["cpu_per_sim_s"],
                "ours_cpu_us_per_advert": ours["cpu_us_per_advert"],
            }
        )
    notify_bare = bare_notify()
    notify_ours = _ours_notify()
    rows = [
        _row(
            "ble",
            f"{point['advertisers']} advertisers, scanner",
            "CPU us/advert",
            "stock Bumble on LocalLink",
            point["bare_cpu_us_per_advert"],
            "our radio + router + SSE scan",
            point["ours_cpu_us_per_advert"],
        )
        for point in curve
        if point["bare_cpu_us_per_advert"] is not None  # a stalled stock run has no figure
    ]
    rows.append(
        _row(
            "ble",
            "notifications (after connect + discover)",
            "CPU us/notification",
            "stock Bumble on LocalLink",
            notify_bare["cpu_us_per_notification"],
            "ble-few: radio + router + SSE",
            notify_ours,
        )
    )
    return {
        "rows": rows,
        "curve": curve,
        "figures": {"bare_setup_cpu_ms": notify_bare["setup_cpu_ms"]},
    }


COMPARISONS: dict[str, tuple[Callable[[], dict[str, Any]], str]] = {
    "ble": (compare_ble, "stock Bumble + LocalLink vs our radio, router and SSE (N sweep)"),
    "rs485": (compare_rs485, "pymodbus in memory vs rs485-poll through the line model"),
    "cm": (compare_cm, "grpcio in-process vs our virtual channel and the real wire"),
}


# -- running, printing, writing ------------------------------------------------------------------


def format_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"{'system':<6} {'exchange':<42} {'unit':<20} {'bare':>9} {'ours':>9} {'ratio':>7}  "
        "ours  [bare]"
    ]
    for r in rows:
        flag = "" if r["ratio"] is None or r["ratio"] <= TARGET_RATIO else " !"
        lines.append(
            f"{r['system']:<6} {r['exchange'][:42]:<42} {r['unit']:<20} "
            f"{r['baseline_value']:>9.2f} {r['ours_value']:>9.2f} {r['ratio']:>6}x{flag}  "
            f"{r['ours']}  [{r['baseline']}]"
        )
    return "\n".join(lines)


def write_outputs(results: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """``compare-<stamp>.json`` and ``compare-<stamp>.svg`` in ``out_dir``."""
    from benchmarks.plot import compare_svg

    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    data, svg = out_dir / f"compare-{stamp}.json", out_dir / f"compare-{stamp}.svg"
    data.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    svg.write_text(compare_svg(results, TARGET_RATIO), encoding="utf-8")
    return data, svg


def run_compare(
    names: list[str], as_json: bool, out_dir: Path = Path("reports/bench"), out: Any = sys.stdout
) -> int:
    """Each comparison in a process of its own; one table, one JSON file, one SVG plot."""
    unknown = [n for n in names if n not in COMPARISONS]
    if unknown:
        print(f"unknown comparison(s) {', '.join(unknown)}; known: {', '.join(COMPARISONS)}")
        return 2
    results: dict[str, Any] = {"target_ratio": TARGET_RATIO, "comparisons": {}}
    for name in names or list(COMPARISONS):
        if not as_json:
            print(f"comparing {name}: {COMPARISONS[name][1]} ...", file=out, flush=True)
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.compare", name, "--json"],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            print(f"{name} failed:\n{proc.stderr[-3000:]}", file=sys.stderr)
            return 1
        results["comparisons"][name] = json.loads(proc.stdout.strip().splitlines()[-1])
    rows = [r for c in results["comparisons"].values() for r in c["rows"]]
    data, svg = write_outputs(results, out_dir)
    if as_json:
        print(json.dumps(results, indent=2), file=out)
    else:
        print(format_table(rows), file=out)
        for name, c in results["comparisons"].items():
            for point in c.get("curve", ()):
                print(f"{name} curve: {point}", file=out)
            if c.get("figures"):
                print(f"{name} figures: {c['figures']}", file=out)
        print(f"written: {data} {svg}", file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.compare",
        description="Run one comparison in this process and print it.",
    )
    parser.add_argument("name", choices=list(COMPARISONS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = COMPARISONS[args.name][0]()
    print(json.dumps(result) if args.json else format_table(result["rows"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
