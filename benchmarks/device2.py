"""Device2 load benchmark (the issue's load): 1,000 simulated devices provisioning within one
simulated minute over the HTTP device API, then each reporting every 10 s for an hour of
simulated time, against the reference service (virtual time, in-world links, SQLite).

Figures: provisioning latency percentiles (device start -> token, world time), the messages
the service acknowledged and how many per wall second, and exactness: after the fleet stops,
every value each device had acknowledged is found by ``querySignal`` (nothing it never sent),
and the ``1h`` aggregates of ``aggrqueryResource`` equal the values' own sums, counts, minima
and maxima (:mod:`scenarios.device2.load`).

    python -m benchmarks.runner device2               # the issue's figures (defaults)
    python -m benchmarks.device2 --minutes 5 --devices 200 --protocol mqtt

Measured on a shared 2-core machine: about 80 messages per wall second with the database on a
real disk (each acknowledged write is an fsync), about 320 on a RAM disk with the machine to
itself. The full hour at 1,000 devices (363,429 messages, all exact) took 34 wall minutes at
176 messages per wall second while other work shared the machine, peaking at 1.4 GB (every
device keeps its own log and HTTP transcript).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from scenarios.device2.bed import LocalDevice2Bed
from scenarios.device2.load import check_fleet, percentile, place_fleet, provisioning, stop_fleet

PROVISION_WITHIN_S = 60.0
PERIOD_S = 10.0
RAM_DISK = Path("/dev/shm")


def default_db_dir() -> str:
    """Where the benchmark's database goes: a RAM disk when the system has one. The service
    commits every acknowledged write with ``synchronous=FULL``; on a RAM disk the figure is what
    the service costs, on a real disk it is mostly what the disk's fsync costs (both are
    printed: ``db_dir``)."""
    return str(RAM_DISK) if RAM_DISK.is_dir() else tempfile.gettempdir()


def device2(
    seed: int = 1,
    devices: int = 1000,
    minutes: float = 60.0,
    protocol: str = "http",
    db_dir: str | None = None,
) -> dict[str, Any]:
    """The fleet's figures; the database lives in a temporary folder under ``db_dir``."""
    db_dir = db_dir or default_db_dir()
    folder = Path(tempfile.mkdtemp(prefix="bench-device2-", dir=db_dir))
    bed = LocalDevice2Bed(seed=seed, keep_trace=False, work_dir=folder)
    try:
        bed.run(bed.start())
        answer = bed.run(
            bed.client().call("addResource", {"alias": "temperature", "format": "number"})
        )
        assert answer.status == 204, answer.text
        fleet = bed.run(place_fleet(bed, devices, protocol, PROVISION_WITHIN_S, PERIOD_S))
        started = time.perf_counter()
        bed.run(bed.sleep(PROVISION_WITHIN_S))
        provisioned_wall = time.perf_counter() - started
        bed.run(bed.sleep(minutes * 60.0))
        bed.run(stop_fleet(bed, fleet))
        run_wall = time.perf_counter() - started
        latencies, moments = provisioning(bed, fleet)
        checked = time.perf_counter()
        exactness = bed.run(check_fleet(bed, fleet, "1h"))
        check_wall = time.perf_counter() - checked
        ms = [1000.0 * x for x in latencies]
        return {
            "sim_seconds": bed.now,
            "devices": devices,
            "db_dir": db_dir,
            "protocol": protocol,
            "simulated_minutes": minutes,
            "provisioning_ms_p50": round(percentile(ms, 50), 3),
            "provisioning_ms_p90": round(percentile(ms, 90), 3),
            "provisioning_ms_p99": round(percentile(ms, 99), 3),
            "provisioning_ms_max": round(max(ms), 3),
            "all_provisioned_by_s": round(max(moments), 3),
            "provisioning_wall_s": round(provisioned_wall, 2),
            "messages": exactness.written,
            "messages_per_wall_s": round(exactness.written / run_wall, 1),
            "run_wall_s": round(run_wall, 2),
            "found": exactness.found,
            "exact": exactness.exact,
            "exactness": exactness.summary(),
            "check_wall_s": round(check_wall, 2),
        }
    finally:
        bed.close()
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.device2",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument(
        "--minutes",
        type=float,
        default=60.0,
        help="simulated minutes of reporting after the provisioning minute",
    )
    parser.add_argument("--protocol", choices=("http", "mqtt"), default="http")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db-dir", help="the database's folder (default: a RAM disk if any)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    figures = device2(args.seed, args.devices, args.minutes, args.protocol, args.db_dir)
    figures["wall_seconds"] = round(time.perf_counter() - started, 2)
    print(json.dumps(figures, indent=2))
    return 0 if figures["exact"] else 1


if __name__ == "__main__":
    sys.exit(main())
