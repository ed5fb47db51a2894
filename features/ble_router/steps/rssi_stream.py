"""RSSI stream steps: ``GET /gap/rssi`` with ``rssi``, ``rssi_interval`` and ``filter_mac``."""

from __future__ import annotations

from typing import Any

from pytest_bdd import given, then, when

from conformance.evidence import expect
from features.ble_router.steps.support import Ctx, Received, norm_mac, query_dict, step_text

RSSI = "rssi"
RSSI_PATH = "/gap/rssi"


def rssi_events(ctx: Ctx, name: str | None = None) -> list[Received]:
    recorder = ctx.stream(RSSI)
    expect(
        recorder.status == 200 and recorder.error is None,
        "the RSSI stream open",
        recorder.describe(),
        "the RSSI stream was not served",
    )
    address = norm_mac(ctx.address(name)) if name else None
    return [
        e
        for e in recorder.events
        if isinstance(e.data, dict)
        and (address is None or norm_mac(e.data.get("id", "")) == address)
    ]


@given("a client opens the RSSI stream")
@when("a client opens the RSSI stream")
def _(ctx: Ctx) -> None:
    ctx.open_stream(RSSI, RSSI_PATH, {})
    ctx.marks["rssi_opened"] = ctx.now


@given(step_text('a client opens the RSSI stream with "{query:Q}"'))
@when(step_text('a client opens the RSSI stream with "{query:Q}"'))
def _(ctx: Ctx, query: str) -> None:
    ctx.open_stream(RSSI, RSSI_PATH, query_dict(ctx.expand(query)))
    ctx.marks["rssi_opened"] = ctx.now


@then(step_text('the RSSI stream reports "{name:Q}" between {low:I} and {high:I} times'))
def _(ctx: Ctx, name: str, low: int, high: int, hil_record: dict[str, Any]) -> None:
    events = rssi_events(ctx, name)
    hil_record.setdefault("measurements", {}).setdefault("rssi_reports", []).append(len(events))
    expect(
        low <= len(events) <= high,
        f"{low}..{high} reports for {name}",
        len(events),
        "the RSSI stream does not report at its rssi_interval",
    )
    bad = [
        e.data
        for e in events
        if not isinstance(e.data.get("rssi"), int) or set(e.data) != {"id", "rssi"}
    ]
    expect(not bad, '{"id": <node>, "rssi": <dBm>}', bad[:2], "RSSI reports not as documented")


@then(step_text('the RSSI stream reports nothing from "{name:Q}"'))
def _(ctx: Ctx, name: str) -> None:
    events = rssi_events(ctx, name)
    expect(
        not events,
        f"no report for {name}",
        [e.data for e in events[:3]],
        f"the RSSI stream reports {name} although its parameters exclude it",
    )


@then(step_text("every RSSI reported on the stream is below {threshold:I} dBm"))
def _(ctx: Ctx, threshold: int) -> None:
    values = [e.data.get("rssi") for e in rssi_events(ctx)]
    bad = [v for v in values if not isinstance(v, int) or v >= threshold]
    expect(
        values and not bad,
        f"readings below {threshold}",
        values[:10],
        "the rssi threshold is not applied (report only if lower)",
    )
