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

from devices.cloud.device2.device_clients import SimDevice
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
    found_by: dict[str, list[float]] = field(default_factory=dict)  # identity -> values found

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


@dataclass
class Totals:
    """Sum, count, minimum and maximum of a series (the aggregates' fields)."""

    sum: float = 0.0
    count: int = 0
    min: float = math.inf
    max: float = -math.inf

    @classmethod
    def of(cls, values: list[float]) -> Totals:
        return cls(
            math.fsum(values),
            len(values),
            min(values, default=math.inf),
            max(values, default=-math.inf),
        )

    def add_row(self, row: dict[str, Any]) -> None:
        """One aggregate bucket (``sum``, ``count``, ``min``, ``max``) added in."""
        self.sum += row["sum"]
        self.count += row["count"]
        self.min = min(self.min, row["min"])
        self.max = max(self.max, row["max"])

    def equals(self, other: Totals) -> bool:
        return (
            self.count == other.count
            and math.isclose(self.sum, other.sum, rel_tol=1e-12, abs_tol=1e-6)
            and (self.count == 0 or (self.min == other.min and self.max == other.max))
        )


async def paged(bed: Device2Bed, operation: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every row of a query, page by page (``limit`` 10000)."""
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        answer = await bed.client().call(operation, {**params, "limit": PAGE, "page": page})
        if answer.status != 200:
            raise BedError(f"{operation} {params} -> {answer.status}: {answer.text}")
        data = answer.json()["data"]
        rows += data
        if len(data) < PAGE:
            return rows
        page += 1


def totals_by_identity(rows: list[dict[str, Any]]) -> dict[str, Totals]:
    """Aggregate rows summed per identity."""
    out: dict[str, Totals] = {}
    for row in rows:
        out.setdefault(row["identity"], Totals()).add_row(row)
    return out


async def window(bed: Device2Bed, fleet: Fleet) -> tuple[int, int]:
    """The query window around the fleet's life, in seconds."""
    return fleet.started_us // US - 60, (await bed.service_now_us()) // US + 60


def reported(device: SimDevice, alias: str, sent: bool = False) -> list[float]:
    """The values of ``alias`` the service acknowledged to ``device`` (``sent``: every value it
    sent), by the device's own log."""
    return [float(v[alias]) for _t, v in written_values(device, sent) if alias in v]


async def stop_fleet(bed: Device2Bed, fleet: Fleet, settle_s: float = 1.0) -> None:
    """Switch every device of the fleet off and let what is on its way land: the data stops
    changing, so the checks compare still values."""
    for name in fleet.names:
        await bed.set_power(name, False)
    await bed.sleep(settle_s)


async def check_values(bed: Device2Bed, fleet: Fleet, result: Exactness) -> None:
    """Every value each device had acknowledged is found by querySignal, and nothing it never
    sent (a write cut short by the device's stop may be found or not). Stop the fleet first
    (:func:`stop_fleet`)."""
    start_s, end_s = await window(bed, fleet)
    for name in fleet.names:
        device = bed.client(name)
        identity = device.identity or name
        written = reported(device, fleet.alias)
        rows = await paged(
            bed,
            "querySignal",
            {
                "identity": identity,
                "signal": fleet.alias,
                "start_time": start_s,
                "end_time": end_s,
                "order": "asc",
            },
        )
        found = [float(p["value"]) for p in rows]
        result.found_by[identity] = found
        result.written += len(written)
        result.found += len(found)
        missing = Counter(written) - Counter(found)
        extra = Counter(found) - Counter(reported(device, fleet.alias, sent=True))
        if missing:
            result.missing.append(f"{identity}: {sorted(missing.elements())[:5]}")
        if extra:
            result.extra.append(f"{identity}: {sorted(extra.elements())[:5]}")


async def check_aggregates(bed: Device2Bed, fleet: Fleet, bucket: str, result: Exactness) -> None:
    """The ``bucket`` aggregates of aggrqueryResource, summed per identity, equal the sum,
    count, minimum and maximum of the values themselves: those :func:`check_values` found
    (and matched against what each device wrote), which it runs first when it has not."""
    if not result.found_by:
        await check_values(bed, fleet, result)
    start_s, end_s = await window(bed, fleet)
    by_identity = result.found_by
    rows = await paged(
        bed,
        "aggrqueryResource",
        {
            "resource": fleet.alias,
            "bucket": bucket,
            "start_time": start_s,
            "end_time": end_s,
            "identities": ",".join(by_identity),
        },
    )
    got = totals_by_identity(rows)
    for identity, values in by_identity.items():
        want, have = Totals.of(values), got.get(identity, Totals())
        if not have.equals(want):
            result.aggregate_mismatches.append(f"{identity}: {have} != {want}")


async def check_fleet(bed: Device2Bed, fleet: Fleet, bucket: str = "1h") -> Exactness:
    """Both checks (:func:`check_values`, :func:`check_aggregates`)."""
    result = Exactness()
    await check_values(bed, fleet, result)
    await check_aggregates(bed, fleet, bucket, result)
    return result
