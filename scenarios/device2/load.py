"""A fleet of simulated Device2 devices and the exactness checks of its data, shared by the
``@load`` scenarios and ``hil bench device2`` (``benchmarks/device2.py``).

:func:`place_fleet` places ``count`` devices whose starts are spread evenly over ``within_s``
(each provisions when it starts, then reports every ``period_s``; device ``i`` reports
``i*1000 + n`` at its n-th report, so every value is its own). :func:`check_fleet` asks the
service, through its management API, for every value each device wrote (``querySignal``, paged)
and for the aggregates (``aggrqueryResource``), and compares them with the devices' own logs.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from scenarios.bed import BedError
from scenarios.device2.bed import Device2Bed
from scenarios.device2.placement import written_values

US = 1_000_000
PAGE = 10_000


@dataclass
class Fleet:
    names: list[str]
    protocol: str
    alias: str
    started_at: float  # world time of the placement
    started_us: int  # the service's clock then


@dataclass
class Exactness:
    """What the checks found: counts, and every mismatch (empty lists: exact)."""

    written: int = 0
    found: int = 0
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    aggregate_mismatches: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return not (self.missing or self.extra or self.aggregate_mismatches)

    def summary(self) -> str:
        first = (self.missing + self.extra + self.aggregate_mismatches)[:5]
        return (
            f"{self.found} of {self.written} written values found; "
            f"{len(self.missing)} devices with values missing, {len(self.extra)} with values "
            f"never written, {len(self.aggregate_mismatches)} aggregate mismatches"
            + (f"; first: {'; '.join(first)}" if first else "")
        )


def address(i: int) -> str:
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255 or 1}"


async def place_fleet(
    bed: Device2Bed,
    count: int,
    protocol: str = "http",
    within_s: float = 60.0,
    period_s: float = 10.0,
    alias: str = "temperature",
    prefix: str = "fleet",
) -> Fleet:
    names = [f"{prefix}-{i:04d}" for i in range(count)]
    fleet = Fleet(names, protocol, alias, bed.now, await bed.service_now_us())
    for i, name in enumerate(names):
        await bed.place(
            {
                "name": name,
                "identity": name,
                "protocol": protocol,
                "ip": address(i + 1),
                "period_s": period_s,
                "alias": alias,
                "start": i * 1000,
                "step": 1,
                "delay_s": within_s * i / max(count, 1),
            }
        )
    return fleet


def provisioning(bed: Device2Bed, fleet: Fleet) -> tuple[list[float], list[float]]:
    """(latency of each device's provisioning from its start, when each provisioned since the
    fleet's start), in seconds; a device that never provisioned raises :class:`BedError`."""
    latencies, moments = [], []
    for name in fleet.names:
        device = bed.client(name)
        started = device.seen("started")
        done = device.seen("provisioned")
        if not started or not done:
            raise BedError(f"device {name} never provisioned: {device.stopped}")
        latencies.append(done[0].at - started[-1].at)
        moments.append(done[0].at - fleet.started_at)
    return latencies, moments


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank ``q`` percentile (0-100) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _key(value: Any) -> float:
    return float(value)


async def check_fleet(bed: Device2Bed, fleet: Fleet, bucket: str = "1h") -> Exactness:
    """Every value each device wrote found by querySignal (nothing more), and the ``bucket``
    aggregates of aggrqueryResource equal to those values' sums, counts, minima, maxima."""
    client = bed.client()
    start_s = fleet.started_us // US - 60
    end_s = (await bed.service_now_us()) // US + 60
    result = Exactness()
    written_by: dict[str, list[float]] = {}
    for name in fleet.names:
        identity = bed.client(name).identity or name
        written = [_key(v[fleet.alias]) for _t, v in written_values(bed.client(name))]
        written_by[identity] = written
        result.written += len(written)
        found: list[float] = []
        page = 1
        while True:
            answer = await client.call(
                "querySignal",
                {
                    "identity": identity,
                    "signal": fleet.alias,
                    "start_time": start_s,
                    "end_time": end_s,
                    "limit": PAGE,
                    "page": page,
                    "order": "asc",
                },
            )
            if answer.status != 200:
                raise BedError(f"querySignal for {identity} -> {answer.status}: {answer.text}")
            data = answer.json()["data"]
            found += [_key(p["value"]) for p in data]
            if len(data) < PAGE:
                break
            page += 1
        result.found += len(found)
        missing = Counter(written) - Counter(found)
        extra = Counter(found) - Counter(written)
        if missing:
            result.missing.append(f"{identity}: {sorted(missing.elements())[:5]}")
        if extra:
            result.extra.append(f"{identity}: {sorted(extra.elements())[:5]}")
    await _check_aggregates(bed, fleet, bucket, start_s, end_s, written_by, result)
    return result


async def _check_aggregates(
    bed: Device2Bed,
    fleet: Fleet,
    bucket: str,
    start_s: int,
    end_s: int,
    written_by: dict[str, list[float]],
    result: Exactness,
) -> None:
    totals: dict[str, list[float]] = {i: [0.0, 0, math.inf, -math.inf] for i in written_by}
    page = 1
    while True:
        answer = await bed.client().call(
            "aggrqueryResource",
            {
                "resource": fleet.alias,
                "bucket": bucket,
                "start_time": start_s,
                "end_time": end_s,
                "identities": ",".join(written_by),
                "limit": PAGE,
                "page": page,
            },
        )
        if answer.status != 200:
            raise BedError(f"aggrqueryResource -> {answer.status}: {answer.text}")
        rows = answer.json()["data"]
        for row in rows:
            t = totals.setdefault(row["identity"], [0.0, 0, math.inf, -math.inf])
            t[0] += row["sum"]
            t[1] += row["count"]
            t[2] = min(t[2], row["min"])
            t[3] = max(t[3], row["max"])
        if len(rows) < PAGE:
            break
        page += 1
    for identity, values in written_by.items():
        got = totals.get(identity)
        want = [math.fsum(values), len(values), min(values, default=math.inf),
                max(values, default=-math.inf)]
        if got is None or got[1] != want[1] or not math.isclose(got[0], want[0], abs_tol=1e-6) \
                or (values and (got[2] != want[2] or got[3] != want[3])):
            result.aggregate_mismatches.append(
                f"{identity}: sum/count/min/max {got} != {want}"
            )
