"""Scan steps: the ``GET /gap/nodes?event=1`` Server-Sent Events stream and its filters.

A report is "from" a peripheral when its ``bdaddrs`` name the peripheral's address. Negative
checks ("reports nothing from") only count when the stream was really open, so a refused or
broken stream never passes them by accident.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from pytest_bdd import given, then, when

from conformance.evidence import expect
from devices.ble.spec import PeripheralSpec
from features.ble_router.steps.support import (
    MAC_TEXT,
    Ctx,
    StreamRecorder,
    median,
    norm_hex,
    norm_mac,
    query_dict,
    step_text,
)

SCAN = "scan"
SCAN_PATH = "/gap/nodes"
SCAN_RSP = 4
HEX_TEXT = re.compile(r"^([0-9A-Fa-f]{2})*$")


def bdaddrs_of(report: Any) -> list[str]:
    if not isinstance(report, dict):
        return []
    value = report.get("bdaddrs")
    items = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
    return [norm_mac(i.get("bdaddr", "")) for i in items if isinstance(i, dict)]


def live_scan(ctx: Ctx) -> StreamRecorder:
    """The scan stream, which must have been accepted (200) for any judgement to count."""
    recorder = ctx.stream(SCAN)
    expect(
        recorder.status == 200 and recorder.error is None,
        "the scan stream open (200)",
        recorder.describe(),
        f"GET {SCAN_PATH} {recorder.params} was not served as a stream: {recorder.describe()}",
    )
    return recorder


def reports_from(ctx: Ctx, name: str) -> list[dict[str, Any]]:
    address = norm_mac(ctx.address(name))
    return [e.data for e in live_scan(ctx).events if address in bdaddrs_of(e.data)]


def seen_names(ctx: Ctx) -> list[str]:
    names: dict[str, None] = {}
    for event in live_scan(ctx).events:
        for address in bdaddrs_of(event.data):
            names[ctx.name_of(address)] = None
    return list(names)


def payload(report: dict[str, Any]) -> str:
    """The packet's bytes as reported: ``adData``, or ``scanData`` for a scan response (the
    seed's filters speak of "adData and scanData packets"; either key is accepted there)."""
    if report.get("evtType") == SCAN_RSP:
        return str(report.get("scanData", report.get("adData", "")))
    return str(report.get("adData", ""))


def placed_spec(ctx: Ctx, name: str) -> PeripheralSpec:
    return PeripheralSpec.from_dict(ctx.specs[name])


# -- opening and closing ----------------------------------------------------------------------


@given("a client opens the scan stream")
@when("a client opens the scan stream")
def _(ctx: Ctx) -> None:
    ctx.open_stream(SCAN, SCAN_PATH, {"event": "1"})


@given(step_text('a client opens the scan stream with "{query:Q}"'))
@when(step_text('a client opens the scan stream with "{query:Q}"'))
def _(ctx: Ctx, query: str) -> None:
    ctx.open_stream(SCAN, SCAN_PATH, {"event": "1", **query_dict(ctx.expand(query))})


@when("the client closes the scan stream")
def _(ctx: Ctx) -> None:
    ctx.stream(SCAN).close()


@then("the scan stream is open as an event stream")
def _(ctx: Ctx) -> None:
    recorder = live_scan(ctx)
    content_type = recorder.headers.get("content-type", "")
    expect(
        content_type.startswith("text/event-stream"),
        "Content-Type: text/event-stream",
        content_type or "(none)",
        "the scan stream is not served as Server-Sent Events",
    )


# -- who is reported --------------------------------------------------------------------------


@then(step_text("the scan stream reports {names:Names}"))
def _(ctx: Ctx, names: list[str]) -> None:
    seen = seen_names(ctx)
    missing = [n for n in names if not reports_from(ctx, n)]
    expect(
        not missing,
        f"reports from {', '.join(names)}",
        f"reports from {', '.join(seen) or 'nobody'}",
        f"the scan stream never reported {', '.join(missing)}",
    )


@then(step_text("the scan stream reports nothing from {names:Names}"))
def _(ctx: Ctx, names: list[str]) -> None:
    counts = {n: len(reports_from(ctx, n)) for n in names}
    wrong = {n: c for n, c in counts.items() if c}
    expect(
        not wrong,
        f"no report from {', '.join(names)}",
        ", ".join(f"{c} report(s) from {n}" for n, c in wrong.items()),
        f"the scan stream reported {', '.join(wrong)} although the filter excludes it",
    )


@then(step_text("the scan stream reports only {names:Names}"))
def _(ctx: Ctx, names: list[str]) -> None:
    seen = seen_names(ctx)
    extra = [n for n in seen if n not in names]
    missing = [n for n in names if n not in seen]
    expect(
        not extra and not missing,
        f"reports from exactly {', '.join(names)}",
        f"reports from {', '.join(seen) or 'nobody'}",
        "the scan stream reported "
        + "; ".join(
            p
            for p in (
                f"unexpected {', '.join(extra)}" if extra else "",
                f"never {', '.join(missing)}" if missing else "",
            )
            if p
        ),
    )


@then(step_text("the scan stream reports all {count:I} standard peripherals"))
def _(ctx: Ctx, count: int) -> None:
    names = [f"HIL-{i:04d}" for i in range(1, count + 1)]
    missing = [n for n in names if not reports_from(ctx, n)]
    expect(
        not missing,
        f"reports from all of {', '.join(names)}",
        f"reports from {', '.join(seen_names(ctx)) or 'nobody'}",
        f"never reported: {', '.join(missing)}",
    )


def _count_check(ctx: Ctx, name: str, low: int, high: int | None) -> None:
    n = len(reports_from(ctx, name))
    wanted = f"{low}..{high}" if high is not None else f">= {low}"
    ok = n >= low and (high is None or n <= high)
    expect(
        ok,
        f"{wanted} reports from {name}",
        f"{n} reports",
        f"the scan stream reported {name} {n} times, expected {wanted}",
    )


@then(step_text('the scan stream reports "{name:Q}" at least {n:I} times'))
def _(ctx: Ctx, name: str, n: int) -> None:
    _count_check(ctx, name, n, None)


@then(step_text('the scan stream reports "{name:Q}" at most {n:I} times'))
def _(ctx: Ctx, name: str, n: int) -> None:
    _count_check(ctx, name, 0, n)


@then(step_text('the scan stream reports "{name:Q}" between {low:I} and {high:I} times'))
def _(ctx: Ctx, name: str, low: int, high: int) -> None:
    _count_check(ctx, name, low, high)


@then(step_text('the scan stream reports "{name:Q}" exactly once'))
def _(ctx: Ctx, name: str) -> None:
    _count_check(ctx, name, 1, 1)


@then(step_text('the scan stream reports "{name:Q}" in each of the last {n:I} seconds'))
def _(ctx: Ctx, name: str, n: int) -> None:
    """The stream keeps running: reports from ``name`` in every one-second window up to now."""
    address = norm_mac(ctx.address(name))
    times = [e.t for e in live_scan(ctx).events if address in bdaddrs_of(e.data)]
    end = ctx.run(_loop_time())
    empty = [k for k in range(n, 0, -1) if not any(end - k <= t < end - k + 1 for t in times)]
    expect(
        not empty,
        f"reports from {name} in each of the last {n} seconds",
        f"none in the second(s) ending {', '.join(f'{k - 1} s' for k in empty)} ago; "
        f"{len(times)} reports in all",
        f"the scan stream stopped reporting {name} while it stayed open",
    )


async def _loop_time() -> float:
    """The clock the stream recorders stamp their events with."""
    return asyncio.get_running_loop().time()


# -- what a report says -----------------------------------------------------------------------


def field_problems(report: Any) -> list[str]:
    """What is wrong with one report against the documented shape."""
    if not isinstance(report, dict):
        return [f"not a JSON object: {report!r}"]
    problems = []
    if not isinstance(report.get("name"), str):
        problems.append(f"name {report.get('name')!r} is not a string")
    evt = report.get("evtType")
    if not isinstance(evt, int) or isinstance(evt, bool) or evt not in (0, 1, 2, 3, 4):
        problems.append(f"evtType {evt!r} is not one of 0..4")
    rssi = report.get("rssi")
    if not isinstance(rssi, int) or isinstance(rssi, bool) or not -127 <= rssi <= 20:
        problems.append(f"rssi {rssi!r} is not an integer dBm")
    key = "adData"
    if evt == SCAN_RSP and "adData" not in report:
        key = "scanData"  # a scan response's payload may come as scanData
    ad = report.get(key)
    if not isinstance(ad, str) or not HEX_TEXT.match(ad):
        problems.append(f"{key} {ad!r} is not a hex string")
    bdaddrs = report.get("bdaddrs")
    if not isinstance(bdaddrs, list) or not bdaddrs:
        problems.append(f"bdaddrs {bdaddrs!r} is not a non-empty list")
    else:
        for item in bdaddrs:
            if (
                not isinstance(item, dict)
                or not MAC_TEXT.match(str(item.get("bdaddr", "")))
                or item.get("bdaddrType") not in ("public", "random")
            ):
                problems.append(
                    f"bdaddrs entry {item!r} is not {{bdaddr: <MAC>, bdaddrType: public|random}}"
                )
    return problems


@then("every scan report has the documented fields name, evtType, rssi, adData and bdaddrs")
def _(ctx: Ctx) -> None:
    recorder = live_scan(ctx)
    expect(
        recorder.events,
        "at least one scan report",
        "none",
        "the scan stream carried no report to check",
    )
    for event in recorder.events:
        problems = field_problems(event.data)
        expect(
            not problems,
            "name, evtType, rssi, adData, bdaddrs as documented",
            event.raw[:300],
            "; ".join(problems),
        )


@then(step_text('the scan reports from "{name:Q}" carry its address and address type'))
def _(ctx: Ctx, name: str) -> None:
    reports = reports_from(ctx, name)
    expect(reports, f"reports from {name}", "none", f"{name} was never reported")
    wanted = {"bdaddr": norm_mac(ctx.address(name)), "bdaddrType": ctx.address_type(name)}
    for report in reports:
        entry = (
            report["bdaddrs"][0]
            if isinstance(report.get("bdaddrs"), list)
            else report.get("bdaddrs")
        )
        got = {"bdaddr": norm_mac(entry.get("bdaddr", "")), "bdaddrType": entry.get("bdaddrType")}
        expect(got == wanted, wanted, got, f"a report from {name} names the wrong address")


@then(step_text('the scan reports from "{name:Q}" carry its advertising data'))
def _(ctx: Ctx, name: str) -> None:
    spec = placed_spec(ctx, name)
    reports = [r for r in reports_from(ctx, name) if r.get("evtType") != SCAN_RSP]
    expect(reports, f"advertising reports from {name}", "none", f"{name} was never reported")
    wanted = spec.ad_data.hex().upper()
    for report in reports:
        got = norm_hex(report.get("adData", ""))
        expect(got == wanted, wanted, got, f"adData of {name} is not what it advertises")


@then(step_text('every advertising report from "{name:Q}" carries the name "{adv:Q}"'))
def _(ctx: Ctx, name: str, adv: str) -> None:
    reports = [r for r in reports_from(ctx, name) if r.get("evtType") != SCAN_RSP]
    expect(reports, f"advertising reports from {name}", "none", f"{name} was never reported")
    names = sorted({str(r.get("name")) for r in reports})
    expect(names == [adv], adv, ", ".join(names), f"name reported for {name}")


@then(step_text('every scan report from "{name:Q}" has evtType {evt:I}'))
def _(ctx: Ctx, name: str, evt: int) -> None:
    reports = reports_from(ctx, name)
    expect(reports, f"reports from {name}", "none", f"{name} was never reported")
    types = sorted({r.get("evtType") for r in reports}, key=str)
    expect(
        types == [evt],
        f"evtType {evt}",
        f"evtType {types}",
        f"reports from {name} carry the wrong event type",
    )


@then(step_text('the scan stream has scan responses from "{name:Q}"'))
def _(ctx: Ctx, name: str) -> None:
    reports = reports_from(ctx, name)
    responses = [r for r in reports if r.get("evtType") == SCAN_RSP]
    expect(
        responses,
        f"reports from {name} with evtType 4 (scan response)",
        f"evtTypes {sorted({r.get('evtType') for r in reports}, key=str)}",
        f"no scan response from {name} was reported",
    )


@then(
    step_text(
        'a scan response from "{name:Q}" carries its scan response data and the name "{adv:Q}"'
    )
)
def _(ctx: Ctx, name: str, adv: str) -> None:
    spec = placed_spec(ctx, name)
    responses = [r for r in reports_from(ctx, name) if r.get("evtType") == SCAN_RSP]
    expect(responses, f"a scan response from {name}", "none", "no scan response reported")
    wanted = spec.scan_response.hex().upper()
    good = [r for r in responses if norm_hex(payload(r)) == wanted and r.get("name") == adv]
    expect(
        good,
        {"scanData": wanted, "name": adv},
        {"scanData": payload(responses[0]), "name": responses[0].get("name")},
        f"the scan response reports of {name} do not carry its scan response data and name",
    )


@then("the scan stream has no scan responses")
def _(ctx: Ctx) -> None:
    recorder = live_scan(ctx)
    expect(recorder.events, "some advertising reports", "none", "the scan stream was silent")
    responses = [e.data for e in recorder.events if e.data.get("evtType") == SCAN_RSP]
    expect(
        not responses,
        "no evtType 4 report (passive scanning)",
        f"{len(responses)} scan response report(s), e.g. {responses[:1]}",
        "the router sent scan requests although active scanning was not asked for",
    )


@then("no scan request went on the air")
def _(ctx: Ctx) -> None:
    """Passive scanning seen from the air (the bed's sniffer capture): no SCAN_REQ at all. A
    bed without an air capture (a remote router) leaves the judgement to the scan reports."""
    capture = ctx.bed.air_capture()
    if capture is None:
        return
    from scapy.layers.bluetooth4LE import BTLE_SCAN_REQ
    from scapy.utils import rdpcap

    requests = [p for p in rdpcap(str(capture)) if BTLE_SCAN_REQ in p]
    first = requests[0][BTLE_SCAN_REQ] if requests else None
    expect(
        not requests,
        "no SCAN_REQ on the air (passive scanning)",
        f"{len(requests)} SCAN_REQ, the first from {first.ScanA} to {first.AdvA}"
        if first is not None
        else "",
        "the router scanned actively although no stream asked for active=1",
    )


@then(step_text('the scan stream has no scan responses from "{name:Q}"'))
def _(ctx: Ctx, name: str) -> None:
    responses = [r for r in reports_from(ctx, name) if r.get("evtType") == SCAN_RSP]
    expect(
        not responses,
        f"no scan response from {name}",
        f"{len(responses)} reported",
        f"{name} cannot answer scan requests, yet scan responses were reported for it",
    )


# -- RSSI -------------------------------------------------------------------------------------


def rssi_of(ctx: Ctx, name: str) -> list[float]:
    values = [r.get("rssi") for r in reports_from(ctx, name)]
    return [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]


@then(step_text('every RSSI reported for "{name:Q}" is at least {rssi:I} dBm'))
def _(ctx: Ctx, name: str, rssi: int) -> None:
    values = rssi_of(ctx, name)
    expect(values, f"RSSI values for {name}", "none", f"{name} was never reported")
    expect(
        min(values) >= rssi,
        f">= {rssi} dBm",
        f"min {min(values):g} dBm",
        f"a report from {name} is weaker than the filter allows",
    )


@then(step_text('the median RSSI reported for "{name:Q}" is between {low:I} and {high:I} dBm'))
def _(ctx: Ctx, name: str, low: int, high: int, hil_record: dict[str, Any]) -> None:
    values = rssi_of(ctx, name)
    hil_record.setdefault("measurements", {}).setdefault(f"rssi_dbm[{name}]", []).extend(values)
    expect(values, f"RSSI values for {name}", "none", f"{name} was never reported")
    m = median(values)
    expect(
        low <= m <= high,
        f"{low}..{high} dBm",
        f"median {m:g} dBm over {len(values)} reports",
        f"the RSSI reported for {name} does not fit its distance",
    )


@then(step_text('"{near:Q}" is reported at least {db:N} dB stronger than "{far:Q}"'))
def _(ctx: Ctx, near: str, far: str, db: float, hil_record: dict[str, Any]) -> None:
    a, b = rssi_of(ctx, near), rssi_of(ctx, far)
    measurements = hil_record.setdefault("measurements", {})
    measurements.setdefault(f"rssi_dbm[{near}]", []).extend(a)
    measurements.setdefault(f"rssi_dbm[{far}]", []).extend(b)
    expect(
        a and b,
        f"RSSI values for {near} and {far}",
        f"{len(a)} and {len(b)} values",
        "one of the two was never reported",
    )
    diff = median(a) - median(b)
    expect(
        diff >= db,
        f"median({near}) - median({far}) >= {db:g} dB",
        f"{diff:g} dB",
        f"{near} is nearer than {far} but not reported stronger",
    )
