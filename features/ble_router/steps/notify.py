"""Notification steps: the ``GET /gatt/nodes?event=1`` stream and the CCCD writes that open
and close it ("0100" notifications, "0200" indications, "0000" off), found as the seed says:
discover the characteristic's descriptors, take the handle of its 2902 descriptor.
"""

from __future__ import annotations

import struct
from typing import Any

from pytest_bdd import given, then, when

from conformance.evidence import expect
from features.ble_router.steps.connection import expect_ok
from features.ble_router.steps.gatt import char_handle, descriptor_handle, value_path
from features.ble_router.steps.support import Ctx, Received, as_int, norm_mac, step_text

NOTIFICATIONS = "notification"
NOTIFICATION_PATH = "/gatt/nodes"
CCCD = {"notifications": "0100", "indications": "0200"}


def write_cccd(ctx: Ctx, name: str, uuid: str, value: str) -> None:
    handle = descriptor_handle(ctx, name, uuid)  # the CCCD
    ctx.request("GET", value_path(ctx, name, handle, value))
    expect_ok(ctx, f"writing {value} to the CCCD (handle {handle}) of {uuid} on {name}")


def from_node(ctx: Ctx, name: str, uuid: str | None = None) -> list[Received]:
    recorder = ctx.stream(NOTIFICATIONS)
    address = norm_mac(ctx.address(name))
    handle = char_handle(ctx, name, uuid) if uuid else None
    return [
        e
        for e in recorder.events
        if isinstance(e.data, dict)
        and norm_mac(e.data.get("id", "")) == address
        and (handle is None or as_int(e.data.get("handle")) == handle)
    ]


def live_notifications(ctx: Ctx) -> None:
    recorder = ctx.stream(NOTIFICATIONS)
    expect(
        recorder.status == 200 and recorder.error is None,
        "the notification stream open",
        recorder.describe(),
        "the notification stream was not served",
    )


@given("a client opens the notification stream")
@when("a client opens the notification stream")
def _(ctx: Ctx) -> None:
    ctx.open_stream(NOTIFICATIONS, NOTIFICATION_PATH, {"event": "1"})


@when(step_text('the client enables {kind:w} of "{uuid:Q}" on "{name:Q}"'))
def _(ctx: Ctx, kind: str, uuid: str, name: str) -> None:
    if kind not in CCCD:
        raise ValueError(f"enable what? {kind!r}; accepted: notifications, indications")
    write_cccd(ctx, name, uuid, CCCD[kind])


@when(step_text('the client disables {kind:w} of "{uuid:Q}" on "{name:Q}"'))
def _(ctx: Ctx, kind: str, uuid: str, name: str) -> None:
    if kind not in CCCD:
        raise ValueError(f"disable what? {kind!r}; accepted: notifications, indications")
    write_cccd(ctx, name, uuid, "0000")


@then(
    step_text(
        'the notification stream receives at least {n:I} {kind:w} from "{name:Q}" on '
        '"{uuid:Q}" within {seconds:N} seconds'
    )
)
def _(
    ctx: Ctx, n: int, kind: str, name: str, uuid: str, seconds: float, hil_record: dict[str, Any]
) -> None:
    live_notifications(ctx)
    recorder = ctx.stream(NOTIFICATIONS)
    handle = char_handle(ctx, name, uuid)
    started = ctx.now
    ok = ctx.wait_until(lambda: len(from_node(ctx, name, uuid)) >= n, seconds, recorder)
    events = from_node(ctx, name, uuid)
    hil_record.setdefault("measurements", {}).setdefault("notification_wait_s", []).append(
        ctx.now - started
    )
    others = [e.data for e in recorder.events][:3]
    expect(
        ok,
        f">= {n} events {{id: {ctx.address(name)}, handle: {handle}}}",
        f"{len(events)} matching; first events on the stream: {others}",
        f"too few {kind} from {name} on {uuid} within {seconds:g} s",
    )
    allowed = {"notification"} if kind == "notifications" else {"indication", "notification"}
    for event in events:
        data = event.data
        problems = [k for k in ("value", "id", "handle", "dataType") if k not in data]
        expect(
            not problems,
            "value, id, handle, dataType",
            data,
            f"a notification event lacks {', '.join(problems)}",
        )
        expect(
            data.get("dataType") in allowed,
            f"dataType in {sorted(allowed)}",
            data.get("dataType"),
            "wrong dataType",
        )


@then(step_text('the notification stream receives nothing from "{name:Q}" for {seconds:N} seconds'))
def _(ctx: Ctx, name: str, seconds: float) -> None:
    live_notifications(ctx)
    before = len(from_node(ctx, name))
    ctx.pass_time(seconds)
    after = from_node(ctx, name)
    fresh = [e.data for e in after[before:]]
    expect(
        not fresh,
        f"no notification from {name} for {seconds:g} s",
        f"{len(fresh)} arrived, e.g. {fresh[:2]}",
        f"{name} kept notifying although its CCCD was not enabled",
    )


@then(step_text('the notified values of "{uuid:Q}" from "{name:Q}" count up'))
def _(ctx: Ctx, uuid: str, name: str) -> None:
    events = from_node(ctx, name, uuid)
    expect(len(events) >= 2, ">= 2 notifications", len(events), "too few to compare")
    values = []
    for event in events:
        try:
            raw = bytes.fromhex(str(event.data.get("value", "")))
        except ValueError:
            raw = b""
        expect(
            len(raw) >= 2,
            "a hex value of at least 2 bytes (u16 counter)",
            event.data.get("value"),
            "the notified value is not the counter's bytes",
        )
        values.append(struct.unpack("<H", raw[:2])[0])
    expect(
        all(b > a for a, b in zip(values, values[1:], strict=False)),
        "strictly increasing counter values",
        values,
        "the notified values are not the characteristic's changing value",
    )
