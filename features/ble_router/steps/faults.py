"""Fault steps: the router's reboot (``POST /cassia/reboot``), streams ending, the API coming
back, radio loss, and what must hold across a link loss (notifications complete and in order,
no resubscription by magic).

The reboot goes through the router's own API, so it works against any SUT that declares the
``reboot`` capability. Radio loss changes the simulated air, so it needs the harness's own radio
(``radio-faults``: the builtin SUT).
"""

from __future__ import annotations

import struct
from typing import Any

from pytest_bdd import given, then, when

from conformance.evidence import expect
from features.ble_router.steps.connection import CONNECTION_STATE, state_events
from features.ble_router.steps.notify import NOTIFICATION_PATH, NOTIFICATIONS, from_node
from features.ble_router.steps.scan import SCAN, reports_from
from features.ble_router.steps.support import Ctx, Received, step_text

REBOOT_PATH = "/cassia/reboot"
STREAMS = {"scan": SCAN, "notification": NOTIFICATIONS, "connection-state": CONNECTION_STATE}


def _stream_kind(kind: str) -> str:
    if kind not in STREAMS:
        raise ValueError(f"which stream? {kind!r}; accepted: {', '.join(STREAMS)}")
    return STREAMS[kind]


# -- the router's reboot ------------------------------------------------------------------------


@when("the client reboots the router")
def _(ctx: Ctx) -> None:
    ctx.marks["reboot"] = ctx.now
    ctx.request("POST", REBOOT_PATH)


@then("the router accepts the reboot")
def _(ctx: Ctx) -> None:
    response = ctx.response()
    expect(
        response.status == 200,
        "200 (OK)",
        f"{response.status} {response.text[:200]!r}",
        f"POST {REBOOT_PATH} was not accepted",
    )


@then(step_text("the {kind} stream ends within {seconds:N} seconds"))
def _(ctx: Ctx, kind: str, seconds: float) -> None:
    recorder = ctx.stream(_stream_kind(kind))
    ended = ctx.wait_until(lambda: recorder.ended_at is not None, seconds, recorder)
    expect(
        ended,
        f"the {kind} stream closed by the router within {seconds:g} s",
        f"still open after {seconds:g} s ({recorder.describe()})",
        f"the router kept the {kind} stream open although it restarted",
    )


@then("the router's API is unavailable")
def _(ctx: Ctx) -> None:
    last = ctx.request("GET", "/cassia/info", timeout=5.0)
    status = last.response.status if last.response is not None else None
    expect(
        last.response is None or status == 503,
        "no answer (connection refused or reset) or 503 while the router boots",
        f"{status} {last.response.text[:120]!r}" if last.response is not None else last.error,
        "the router answered as if nothing happened right after accepting a reboot",
    )


@when(step_text("the router answers again within {seconds:N} seconds"))
def _(ctx: Ctx, seconds: float, hil_record: dict[str, Any]) -> None:
    started = ctx.marks.get("reboot", ctx.now)

    async def answers() -> bool:
        last = await ctx.send_async("GET", "/cassia/info", timeout=2.0)
        return last.response is not None and last.response.status == 200

    back = ctx.wait_until(answers, seconds)
    hil_record.setdefault("measurements", {}).setdefault("reboot_downtime_s", []).append(
        round(ctx.now - started, 3)
    )
    expect(
        back,
        f"GET /cassia/info answered 200 within {seconds:g} s of the reboot",
        f"no 200 after {ctx.now - started:.1f} s",
        "the router did not come back",
    )


@then(step_text("the router's uptime is less than {seconds:N} seconds"))
def _(ctx: Ctx, seconds: float) -> None:
    ctx.request("GET", "/cassia/info")
    body = ctx.json()
    uptime = body.get("uptime") if isinstance(body, dict) else None
    expect(
        isinstance(uptime, int | float) and uptime < seconds,
        f"uptime < {seconds:g} s",
        uptime,
        "the uptime did not restart with the reboot",
    )


# -- the connection-state stream across losses --------------------------------------------------


@then(step_text('the connection-state stream has shown "{name:Q}" "{state:Q}" {n:I} times'))
def _(ctx: Ctx, name: str, state: str, n: int) -> None:
    events = state_events(ctx, name)
    count = sum(1 for e in events if e.get("connectionState") == state)
    expect(
        count == n,
        f"{n} '{state}' events for {name}",
        events,
        f"the connection-state stream showed {name} '{state}' {count} times",
    )


@then(step_text("the {kind} stream is still open"))
def _(ctx: Ctx, kind: str) -> None:
    recorder = ctx.stream(_stream_kind(kind))
    expect(
        recorder.open,
        f"the {kind} stream open",
        recorder.describe(),
        f"the {kind} stream ended although the router kept running",
    )


# -- notifications across faults -------------------------------------------------------------


@given("a client opens the notification stream numbering each device's notifications")
@when("a client opens the notification stream numbering each device's notifications")
def _(ctx: Ctx) -> None:
    ctx.open_stream(NOTIFICATIONS, NOTIFICATION_PATH, {"event": "1", "sequence": "2"})


@when(step_text('the notifications from "{name:Q}" so far are noted'))
def _(ctx: Ctx, name: str) -> None:
    ctx.marks[f"notes/{name}"] = float(len(from_node(ctx, name)))


@then(
    step_text(
        'the notification stream receives {n:I} more notifications from "{name:Q}" '
        "within {seconds:N} seconds"
    )
)
def _(ctx: Ctx, n: int, name: str, seconds: float) -> None:
    recorder = ctx.stream(NOTIFICATIONS)
    before = int(ctx.marks.get(f"notes/{name}", 0))
    ok = ctx.wait_until(lambda: len(from_node(ctx, name)) - before >= n, seconds, recorder)
    got = len(from_node(ctx, name)) - before
    expect(
        ok,
        f">= {n} new notifications from {name}",
        f"{got} ({recorder.describe()})",
        f"notifications from {name} did not resume after it was re-subscribed",
    )


def counter_values(events: list[Received]) -> list[int]:
    """The u16 counter each notification of the stock sensor's 2A37 carries."""
    values = []
    for event in events:
        try:
            raw = bytes.fromhex(str(event.data.get("value", "")))
        except ValueError:
            raw = b""
        values.append(struct.unpack("<H", raw[:2])[0] if len(raw) >= 2 else -1)
    return values


def order_problems(events: list[Received]) -> list[str]:
    """Lost or reordered notifications of one device, judged by the per-device ``seqNum``
    (``sequence=2``) and by the counter values the device sent."""
    problems = []
    seqs = [e.data.get("seqNum") for e in events]
    if seqs and not all(isinstance(s, int) for s in seqs):
        problems.append(f"seqNum missing or not an integer: {seqs[:5]}")
    elif seqs and seqs != list(range(seqs[0], seqs[0] + len(seqs))):
        gaps = [(a, b) for a, b in zip(seqs, seqs[1:], strict=False) if b != a + 1]
        problems.append(f"seqNum jumps {gaps[:5]}")
    values = counter_values(events)
    steps = [(a, b) for a, b in zip(values, values[1:], strict=False) if b != (a + 1) & 0xFFFF]
    if steps:
        problems.append(f"the device's counter jumps {steps[:5]} (lost or reordered)")
    return problems


@then(step_text('the notifications from "{name:Q}" arrived complete and in order'))
def _(ctx: Ctx, name: str) -> None:
    events = from_node(ctx, name)
    expect(len(events) >= 2, ">= 2 notifications", len(events), "too few to judge")
    problems = order_problems(events)
    expect(
        not problems,
        "seqNum 1, 2, 3 ... and counter values n, n+1, ...",
        "; ".join(problems),
        f"notifications from {name} were lost or reordered",
    )


@then(step_text('the notification stream received at least {n:I} notifications from "{name:Q}"'))
def _(ctx: Ctx, n: int, name: str) -> None:
    got = len(from_node(ctx, name))
    expect(
        got >= n,
        f">= {n} notifications from {name}",
        got,
        f"too few notifications from {name} reached the stream",
    )


# -- the radio --------------------------------------------------------------------------------


@when(step_text("the radio loses {percent:N} percent of its transmissions"))
def _(ctx: Ctx, percent: float) -> None:
    """A fault of the bed's own radio: beds without one (an external router) refuse it; such
    scenarios need the radio-faults capability (the builtin SUT)."""
    if not 0 <= percent <= 100:
        raise ValueError(f"a loss of {percent}% is not a percentage from 0 to 100")
    ctx.run(ctx.bed.inject("radio_loss", probability=percent / 100.0))


@then(
    step_text(
        'the scan stream reports "{name:Q}" between {low:I} and {high:I} times in '
        "the next {seconds:N} seconds"
    )
)
def _(ctx: Ctx, name: str, low: int, high: int, seconds: float, hil_record: dict[str, Any]) -> None:
    ctx.stream(SCAN)
    before = len(reports_from(ctx, name))
    ctx.pass_time(seconds)
    n = len(reports_from(ctx, name)) - before
    hil_record.setdefault("measurements", {}).setdefault(f"scan_reports[{name}]", []).append(n)
    expect(
        low <= n <= high,
        f"{low}..{high} reports from {name} in {seconds:g} s",
        f"{n} reports",
        f"the scan stream reported {name} {n} times in {seconds:g} s",
    )
