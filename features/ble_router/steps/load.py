"""Load steps: a crowd of advertisers under each scan filter, the router's connection limit,
and many devices notifying at once (:func:`scenarios.ble_router.load.notification_load`).

The crowd is the stock sensor (:func:`devices.ble.spec.standard_peripheral`), ``HIL-0001`` ...
``HIL-<n>`` at random spots within a radius: manufacturer data ``FFFF`` + the index as 2 bytes,
service ``180D``, except every 100th device, which advertises ``FD00`` instead. Judgements work
on addresses (a crowd's reports are too many to map back to names one by one).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from pytest_bdd import given, then, when

from conformance.evidence import expect
from devices.ble.spec import standard_peripheral
from features.ble_router.steps.connection import connect_path
from features.ble_router.steps.scan import SCAN, SCAN_PATH, bdaddrs_of
from features.ble_router.steps.support import Ctx, norm_mac, query_dict, step_text
from scenarios.ble_router.load import notification_load

CROWD = "crowd"


def crowd(ctx: Ctx) -> dict[str, dict[str, Any]]:
    """Address -> spec of every crowd device."""
    return ctx.discovered.setdefault(CROWD, {})


@given(step_text("a crowd of {count:I} advertising peripherals within {radius:N} m"))
def _(ctx: Ctx, count: int, radius: float) -> None:
    rng = ctx.bed.world.rng("crowd")
    x0, y0, z0 = ctx.router_position()

    async def place() -> None:
        for i in range(1, count + 1):
            r, a = radius * math.sqrt(rng.random()), 2 * math.pi * rng.random()
            spec = standard_peripheral(
                i, position=(x0 + r * math.cos(a), y0 + r * math.sin(a), z0), notify_hz=0.0
            )
            if i % 100 == 0:
                spec["advertising"]["service_uuids"] = ["FD00"]
            address = await ctx.bed.place(spec)
            crowd(ctx)[norm_mac(address)] = spec

    ctx.run(place())


def _stream_kind(label: str) -> str:
    return f"{SCAN}/{label}"


def _reports(ctx: Ctx, label: str) -> list[dict[str, Any]]:
    recorder = ctx.stream(_stream_kind(label))
    expect(
        recorder.status == 200 and recorder.error is None,
        f"the {label} scan stream open",
        recorder.describe(),
        f"the scan stream filtered by {label} was not served",
    )
    return [e.data for e in recorder.events if isinstance(e.data, dict)]


def _per_device(reports: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for report in reports:
        for address in bdaddrs_of(report):
            counts[address] = counts.get(address, 0) + 1
    return counts


def _wanted(ctx: Ctx, which: str) -> set[str]:
    """``"HIL-0007, HIL-0500"`` (names), ``"advertising FD00"``, ``"address F0:00:00:00:01*"``."""
    devices = crowd(ctx)
    if which.startswith("advertising "):
        uuid = which.split(" ", 1)[1].upper()
        return {
            a
            for a, s in devices.items()
            if uuid in [u.upper() for u in s["advertising"]["service_uuids"]]
        }
    if which.startswith("address "):
        prefix = which.split(" ", 1)[1].rstrip("*").upper()
        return {a for a in devices if a.startswith(prefix)}
    names = {n.strip() for n in which.split(",")}
    return {a for a, s in devices.items() if s["name"] in names}


def _judge(ctx: Ctx, label: str, which: str) -> tuple[bool, str, str]:
    """(ok, expected, observed) for one filtered stream."""
    reports = _reports(ctx, label)
    counts = _per_device(reports)
    size = len(crowd(ctx))
    if which.startswith("rssi >= "):
        floor = int(which.split(">=", 1)[1])
        weak = [
            r.get("rssi")
            for r in reports
            if not isinstance(r.get("rssi"), int) or r["rssi"] < floor
        ]
        return (
            not weak and 0 < len(counts) < size,
            f"only rssi >= {floor}, from some but not all of the {size} devices",
            f"{len(counts)} devices, {len(weak)} weaker reports (e.g. {weak[:3]})",
        )
    if which.startswith("each once, at least "):
        least = int(which.rsplit(" ", 1)[1])
        repeated = {a: c for a, c in counts.items() if c > 1}
        return (
            not repeated and len(counts) >= least,
            f"each device reported once, >= {least} devices",
            f"{len(counts)} devices, {len(repeated)} repeated (e.g. {list(repeated.items())[:3]})",
        )
    wanted = _wanted(ctx, which)
    extra, missing = sorted(set(counts) - wanted), sorted(wanted - set(counts))
    return (
        bool(wanted) and not extra and not missing,
        f"reports from exactly the {len(wanted)} devices {which!r}",
        f"{len(extra)} unexpected (e.g. {extra[:3]}), {len(missing)} missing (e.g. {missing[:3]})",
    )


@when("clients open scan streams filtered by:")
def _(ctx: Ctx, datatable: list[list[str]]) -> None:
    for label, query in [(r[0].strip(), r[1].strip()) for r in datatable[1:] if r]:
        ctx.open_stream(
            _stream_kind(label), SCAN_PATH, {"event": "1", **query_dict(ctx.expand(query))}
        )


@then("each filtered scan stream reported what its filter lets through:")
def _(ctx: Ctx, datatable: list[list[str]], hil_record: dict[str, Any]) -> None:
    verdicts = {}
    for label, which in [(r[0].strip(), r[1].strip()) for r in datatable[1:] if r]:
        verdicts[label] = _judge(ctx, label, which)
        hil_record.setdefault("measurements", {}).setdefault("crowd_scan_reports", []).append(
            len(_reports(ctx, label))
        )
    wrong = {label: v for label, v in verdicts.items() if not v[0]}
    expect(
        not wrong,
        {label: v[1] for label, v in wrong.items()} or "every filter right",
        {label: v[2] for label, v in wrong.items()},
        f"scan filters wrong under a crowd of {len(crowd(ctx))}: {', '.join(wrong)}",
    )


# -- the connection limit ----------------------------------------------------------------------


def chip_limits(ctx: Ctx) -> list[int]:
    ctx.request("GET", "/cassia/info")
    body = ctx.json()
    chips = body.get("chipinfo") if isinstance(body, dict) else None
    expect(
        isinstance(chips, dict) and chips,
        "chipinfo with each chip's max",
        body,
        "/cassia/info has no chipinfo to read the connection limit from",
    )
    assert isinstance(chips, dict)
    return [int(c.get("max", 0)) for c in chips.values() if isinstance(c, dict)]


@given(step_text("a router that holds at least {n:I} connections"))
def _(ctx: Ctx, n: int) -> None:
    router = getattr(ctx.bed, "router", None)
    if router is not None:  # the builtin router: configure it as such a model would be
        per_chip = math.ceil(n / router.central.chip_count)
        router.central.max_connections_per_chip = max(
            per_chip, router.central.max_connections_per_chip
        )
    total = sum(chip_limits(ctx))
    if total < n:
        pytest.skip(f"the router holds {total} connections (chipinfo max), fewer than {n}")


@when(step_text("the client connects the first {n:I} of {count:I} standard peripherals"))
def _(ctx: Ctx, n: int, count: int) -> None:
    async def run() -> list[int]:
        statuses = []
        for i in range(1, count + 1):
            spec = standard_peripheral(
                i, ctx.position_at(2.0 + (i % 7) * 0.5, 13.0 * i), notify_hz=0.0
            )
            address = await ctx.bed.place(spec)
            if i <= n:
                last = await ctx.send_async(
                    "POST", connect_path(address), json_body={"type": "random"}
                )
                statuses.append(last.response.status if last.response else 0)
                if i == n:
                    ctx.last = last
        return statuses

    ctx.discovered["connect_statuses"] = ctx.run(run())


@then(step_text("all {n:I} connections succeed as chipinfo allows"))
def _(ctx: Ctx, n: int) -> None:
    statuses = ctx.discovered.get("connect_statuses", [])
    limits = chip_limits(ctx)
    failed = [(i + 1, s) for i, s in enumerate(statuses) if s != 200]
    expect(
        len(statuses) == n and not failed and n <= sum(limits),
        f"{n} connects answered 200 (chipinfo max {limits})",
        failed or statuses[-3:],
        "the router refused connections below its documented limit",
    )


@when(step_text('the client connects one more, "{name:Q}"'))
def _(ctx: Ctx, name: str) -> None:
    spec = standard_peripheral(999, ctx.position_at(2.5, 200.0), notify_hz=0.0)
    spec["name"] = name
    ctx.place(spec)
    ctx.request("POST", connect_path(ctx.address(name)), json_body={"type": "random"})


@then(step_text("the connected-device list holds {n:I} devices"))
def _(ctx: Ctx, n: int) -> None:
    ctx.request("GET", "/gap/nodes", params={"connection_state": "connected"})
    body = ctx.json()
    nodes = body.get("nodes") if isinstance(body, dict) else None
    expect(
        isinstance(nodes, list) and len(nodes) == n,
        f"{n} connected devices",
        len(nodes) if isinstance(nodes, list) else body,
        "the connected list is wrong",
    )


# -- notifications under load --------------------------------------------------------------------


@when(
    step_text(
        "{count:I} connected peripherals notify at {hz:N} Hz for {minutes:N} simulated "
        "minutes through the notification stream"
    )
)
def _(ctx: Ctx, count: int, hz: float, minutes: float, hil_record: dict[str, Any]) -> None:
    result = ctx.run(notification_load(ctx.bed, count, hz, minutes * 60.0))
    ctx.discovered["notify_load"] = result
    if result.latencies_ms:
        hil_record.setdefault("measurements", {})["notify_latency_ms"] = result.latencies_ms


@then(
    step_text(
        "every device's notifications arrived complete and in order, at least {share:N} "
        "percent of those sent"
    )
)
def _(ctx: Ctx, share: float) -> None:
    result = ctx.discovered["notify_load"]
    problems = result.problems()
    expected = result.count * result.hz * result.seconds
    short = {
        mac: len(run.seqs)
        for mac, run in result.devices.items()
        if len(run.seqs) < share / 100.0 * result.hz * result.seconds
    }
    expect(
        not problems and not result.malformed,
        "per device: seqNum 1, 2, 3 ... and counter values n, n+1, ...",
        {"problems": dict(list(problems.items())[:3]), "malformed": result.malformed},
        "notifications were lost or reordered under load",
    )
    expect(
        not short,
        f">= {share:g}% of {result.hz * result.seconds:g} per device ({expected:g} in all)",
        dict(list(short.items())[:5]),
        "devices delivered too few notifications",
    )
