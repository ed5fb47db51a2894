"""Advertising steps: ``GET /advertise/start`` / ``stop`` and an observer — another scanner in
the world (a Bumble host on the simulated radio) — that hears what the router sends.

The observer lives in the scenario's own world, so these steps need the router in that world
(the builtin SUT). An external router's advertisements would need a scanner on its radio,
which the world-control API does not offer; such SUTs declare no ``advertise`` capability.
"""

from __future__ import annotations

from typing import Any

from pytest_bdd import given, then, when

from conformance.evidence import expect
from devices.ble.observer import BleObserver, Heard
from features.ble_router.steps.connection import expect_ok
from features.ble_router.steps.support import Ctx, norm_hex, query_dict, step_text

OBSERVER = "observer"
EVT_NAMES = {
    0: "ADV_IND",
    1: "ADV_DIRECT_IND",
    2: "ADV_SCAN_IND",
    3: "ADV_NONCONN_IND",
    4: "SCAN_RSP",
}


def observer(ctx: Ctx) -> BleObserver:
    found = ctx.discovered.get(OBSERVER)
    if not isinstance(found, BleObserver):
        raise RuntimeError(
            "no observer in this scenario; add 'Given a scanner in the world at "
            "<n> m from the router'"
        )
    return found


def router_address(ctx: Ctx) -> str:
    router = getattr(ctx.bed, "router", None)
    if router is None:
        raise RuntimeError("the advertising steps need the router in the scenario's world")
    return str(router.chip_addresses[0])


def heard(ctx: Ctx, since: float = 0.0) -> list[Heard]:
    return observer(ctx).from_address(router_address(ctx), since)


@given(step_text("a scanner in the world at {distance:N} m from the router"))
def _(ctx: Ctx, distance: float) -> None:
    radio = getattr(ctx.bed, "radio", None)
    if radio is None:
        raise RuntimeError("an observer needs the scenario's own radio (builtin SUT)")
    x, y, z = ctx.position_at(distance, 200.0)
    node = BleObserver(ctx.bed.world, radio, position=(x, y, z))
    ctx.run(node.start(active=True))
    ctx.discovered[OBSERVER] = node


@when(step_text('the client starts advertising with "{params:Q}"'))
def _(ctx: Ctx, params: str) -> None:
    ctx.request("GET", "/advertise/start", params=query_dict(ctx.expand(params)))
    expect_ok(ctx, "GET /advertise/start")
    ctx.marks["adv_changed"] = ctx.now


@when("the client stops advertising")
def _(ctx: Ctx) -> None:
    ctx.request("GET", "/advertise/stop")
    expect_ok(ctx, "GET /advertise/stop")
    ctx.marks["adv_changed"] = ctx.now


def recent(ctx: Ctx) -> list[Heard]:
    return heard(ctx, float(ctx.marks.get("adv_changed", 0.0)) + 0.011)  # after advDelay


@then(
    step_text(
        'the scanner hears the router advertise "{data:Q}" as {evt:w} between {low:I} '
        "and {high:I} times"
    )
)
def _(ctx: Ctx, data: str, evt: str, low: int, high: int, hil_record: dict[str, Any]) -> None:
    packets = [h for h in recent(ctx) if not h.scan_response]
    hil_record.setdefault("measurements", {}).setdefault("adv_heard", []).append(len(packets))
    expect(
        low <= len(packets) <= high,
        f"{low}..{high} advertising PDUs",
        len(packets),
        "the router's advertising interval is not what was asked",
    )
    wrong = [
        (EVT_NAMES.get(h.evt_type), h.data.hex().upper())
        for h in packets
        if EVT_NAMES.get(h.evt_type) != evt or h.data.hex().upper() != norm_hex(data)
    ]
    expect(
        not wrong,
        f"{evt} carrying {norm_hex(data)}",
        wrong[:3],
        "the router's advertisement is not the type and data asked for",
    )


@then(step_text('the scanner receives the router\'s scan response "{data:Q}"'))
def _(ctx: Ctx, data: str) -> None:
    responses = [h.data.hex().upper() for h in recent(ctx) if h.scan_response]
    expect(
        responses and set(responses) == {norm_hex(data)},
        f"SCAN_RSP {norm_hex(data)}",
        sorted(set(responses)) or "no scan response",
        "resp_data is not sent as asked",
    )


@then("the scanner receives no scan response from the router")
def _(ctx: Ctx) -> None:
    responses = [h for h in recent(ctx) if h.scan_response]
    expect(
        not responses,
        "no SCAN_RSP",
        len(responses),
        "a non-scannable advertisement must not be answered with a scan response",
    )


@then(step_text("the scanner hears nothing from the router for {seconds:N} seconds"))
def _(ctx: Ctx, seconds: float) -> None:
    start = float(ctx.marks.get("adv_changed", ctx.now)) + 0.011
    ctx.pass_time(seconds)
    packets = heard(ctx, start)
    expect(not packets, "silence", f"{len(packets)} PDUs", "the router kept advertising")
