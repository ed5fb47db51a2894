"""Stream-parameter steps: the scan stream's ``timestamp`` and ``beacon`` fields, the
notification stream's ``sequence`` and ``timestamp``, and the router's SSE stream limit."""

from __future__ import annotations

import re
from typing import Any

from pytest_bdd import given, then, when

from conformance.evidence import expect
from features.ble_router.steps.notify import NOTIFICATION_PATH, NOTIFICATIONS, from_node
from features.ble_router.steps.scan import SCAN, bdaddrs_of
from features.ble_router.steps.support import Ctx, StreamRecorder, norm_mac, query_dict, step_text

# the seed's form: "2021-03-08 10:07:17.723 CST"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} [A-Z]{2,5}$")
LIMIT_PROBE = 64  # give up looking for the stream limit past this many


@given(step_text('a client opens the notification stream with "{query:Q}"'))
@when(step_text('a client opens the notification stream with "{query:Q}"'))
def _(ctx: Ctx, query: str) -> None:
    ctx.open_stream(
        NOTIFICATIONS, NOTIFICATION_PATH, {"event": "1", **query_dict(ctx.expand(query))}
    )


@when(step_text("a client opens the scan stream with the value filter {value}"))
def _(ctx: Ctx, value: str) -> None:
    """``filter_value`` as the seed writes it: JSON, which cannot sit inside a quoted step."""
    ctx.open_stream(SCAN, "/gap/nodes", {"event": "1", "filter_value": value.strip()})


def scan_reports(ctx: Ctx, name: str) -> list[dict[str, Any]]:
    address = norm_mac(ctx.address(name))
    return [e.data for e in ctx.stream(SCAN).events if address in bdaddrs_of(e.data)]


@then(step_text('every scan report from "{name:Q}" carries a timestamp'))
def _(ctx: Ctx, name: str) -> None:
    reports = scan_reports(ctx, name)
    bad = [r.get("timestamp") for r in reports if not TIMESTAMP.match(str(r.get("timestamp")))]
    expect(
        reports and not bad,
        '"timestamp": "2021-03-08 10:07:17.723 CST" form',
        bad[:3] or "no report",
        "scan reports lack the documented timestamp",
    )


@then(step_text('no scan report from "{name:Q}" carries a timestamp'))
def _(ctx: Ctx, name: str) -> None:
    reports = scan_reports(ctx, name)
    stamped = [r for r in reports if "timestamp" in r]
    expect(
        reports and not stamped,
        "reports without timestamp",
        stamped[:2] or "no report",
        "timestamp is added although timestamp=1 was not asked",
    )


@then(
    step_text(
        'the scan reports from "{name:Q}" carry the iBeacon "{uuid:Q}" major {major:I} '
        "minor {minor:I}"
    )
)
def _(ctx: Ctx, name: str, uuid: str, major: int, minor: int) -> None:
    reports = scan_reports(ctx, name)
    beacons = [r.get("beacon") for r in reports]
    good = [
        b
        for b in beacons
        if isinstance(b, dict)
        and b.get("type") == "iBeacon"
        and str(b.get("UUID", "")).upper() == uuid.upper()
        and b.get("major") == major
        and b.get("minor") == minor
    ]
    expect(
        reports and len(good) == len(reports),
        {"type": "iBeacon", "UUID": uuid, "major": major, "minor": minor},
        beacons[:2] or "no report",
        "beacon=1 does not decode the iBeacon frame",
    )


@then(step_text('the scan reports from "{name:Q}" carry no beacon'))
def _(ctx: Ctx, name: str) -> None:
    reports = scan_reports(ctx, name)
    with_beacon = [r for r in reports if "beacon" in r]
    expect(
        reports and not with_beacon,
        "no beacon field",
        with_beacon[:2] or "no report",
        "beacon data is added although beacon=1 was not asked",
    )


@then(step_text("the notification stream numbers its events 1, 2, 3 ... across devices"))
def _(ctx: Ctx) -> None:
    events = [e.data for e in ctx.stream(NOTIFICATIONS).events if isinstance(e.data, dict)]
    numbers = [e.get("seqNum") for e in events]
    expect(
        len(numbers) >= 2 and numbers == list(range(1, len(numbers) + 1)),
        "seqNum 1..n over the whole stream",
        numbers[:20],
        "sequence=1 must number the stream's notifications globally",
    )


@then(
    step_text(
        'the notification stream numbers the events of "{first:Q}" and "{second:Q}" each from 1'
    )
)
def _(ctx: Ctx, first: str, second: str) -> None:
    for name in (first, second):
        numbers = [e.data.get("seqNum") for e in from_node(ctx, name)]
        expect(
            len(numbers) >= 2 and numbers == list(range(1, len(numbers) + 1)),
            f"seqNum 1..n for {name}",
            numbers[:20],
            "sequence=2 must number each device's notifications on its own",
        )


@then("every notification event carries a timestamp and no seqNum")
def _(ctx: Ctx) -> None:
    events = [e.data for e in ctx.stream(NOTIFICATIONS).events if isinstance(e.data, dict)]
    bad = [e for e in events if "seqNum" in e or not TIMESTAMP.match(str(e.get("timestamp")))]
    expect(
        events and not bad,
        '"timestamp": "2023-07-23 16:00:01.668 CST" form, no seqNum',
        bad[:2] or "no event",
        "timestamp=1 (sequence=0) not as documented",
    )


@when("clients open connection-state streams until the router refuses one")
def _(ctx: Ctx) -> None:
    for i in range(LIMIT_PROBE):
        recorder = ctx.open_stream(f"extra-{i}", "/management/nodes/connection-state", {})
        if recorder.status != 200:
            ctx.marks["refused_at"] = i
            return
    ctx.marks["refused_at"] = -1


def extras(ctx: Ctx) -> list[StreamRecorder]:
    return [r for k, r in ctx.streams.items() if k.startswith("extra-")]


@then(
    step_text("a further stream is answered {status:I} once {low:I} to {high:I} streams are open")
)
def _(ctx: Ctx, status: int, low: int, high: int) -> None:
    refused_at = int(ctx.marks.get("refused_at", -1))
    refused = ctx.streams.get(f"extra-{refused_at}")
    open_now = sum(1 for r in ctx.streams.values() if r.open)
    expect(
        refused is not None and refused.status == status and low <= open_now <= high,
        f"{status} when {low}..{high} streams are open",
        f"refused with {refused.status if refused else None} at {open_now} open streams"
        if refused
        else f"no refusal after {LIMIT_PROBE} streams",
        "the router's SSE stream limit is not as documented",
    )


@then("the streams opened before are still open")
def _(ctx: Ctx) -> None:
    ctx.pass_time(1.0)
    refused_at = int(ctx.marks.get("refused_at", -1))
    closed = [
        k
        for k, r in ctx.streams.items()
        if k.startswith("extra-") and k != f"extra-{refused_at}" and not r.open
    ]
    expect(
        not closed,
        "all earlier streams still open",
        closed,
        "refusing one stream must not close the others",
    )


@when("the client closes one of them")
def _(ctx: Ctx) -> None:
    first = next(r for r in extras(ctx) if r.open)
    first.close()
    ctx.pass_time(0.5)


@then("a new stream is accepted")
def _(ctx: Ctx) -> None:
    recorder = ctx.open_stream("extra-again", "/management/nodes/connection-state", {})
    expect(
        recorder.status == 200,
        200,
        recorder.describe(),
        "a closed stream's place must be free again",
    )
