"""Combined stream steps (``GET /api/aps/events``) and the switches of what it carries:
``scan/open|close`` with the scan filters, ``notify``, ``connection-state`` and ``ap-state``
``open|close``.

A scan message is "of" a peripheral when its ``bdaddrs`` name the peripheral's address (as
``bdaddr`` or, as the seed's combined example writes it, ``bdad``). Negative checks only count
when the stream was really open, and look at what arrived after a short settling time from the
switch (messages already on their way may still arrive).
"""

from __future__ import annotations

import json
from typing import Any

from pytest_bdd import given, then, when

from conformance.evidence import expect
from features.ble_ac.steps.support import (
    COMBINED,
    AcCtx,
    Received,
    StreamRecorder,
    missing_fields,
    norm_mac,
    status_is,
    step_text,
)
from features.ble_router.steps.world import table_options

EVENTS = "/api/aps/events"
SCAN_FIELDS = ("dataType", "ap", "bdaddrs", "name", "rssi", "evt_type")
NOTIFICATION_FIELDS = ("dataType", "ap", "value", "device", "handle")
STATE_FIELDS = ("handle", "connectionState", "dataType", "ap")
AP_STATE_FIELDS = ("dataType", "ap", "mac", "status")
SETTLE_S = 1.0


def live(ctx: AcCtx) -> StreamRecorder:
    recorder = ctx.stream(COMBINED)
    expect(
        recorder.status == 200 and recorder.error is None,
        "the combined stream open (200)",
        recorder.describe(),
        f"GET {EVENTS} was not served as a stream: {recorder.describe()}",
    )
    return recorder


def messages(ctx: AcCtx, kind: str, since: float = 0.0) -> list[Received]:
    return [
        e
        for e in live(ctx).events
        if e.t >= since and isinstance(e.data, dict) and e.data.get("dataType") == kind
    ]


def addresses(message: dict[str, Any]) -> list[str]:
    items = message.get("bdaddrs")
    items = items if isinstance(items, list) else [items] if isinstance(items, dict) else []
    return [norm_mac(i.get("bdaddr") or i.get("bdad") or "") for i in items if isinstance(i, dict)]


def scans_of(ctx: AcCtx, name: str, router: str | None = None, since: float = 0.0) -> list[Any]:
    address = norm_mac(ctx.address(name))
    ap = ctx.router_mac(router) if router else None
    return [
        e.data
        for e in messages(ctx, "scan", since)
        if address in addresses(e.data) and (ap is None or norm_mac(e.data.get("ap", "")) == ap)
    ]


def aps_body(ctx: AcCtx, routers: list[str] | None) -> dict[str, Any]:
    return {"aps": "*" if routers is None else [ctx.router_mac(r) for r in routers]}


def _value(text: str) -> Any:
    """A table cell as a JSON body value: JSON when it parses as a list or object."""
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    return parsed if isinstance(parsed, list | dict) else text


# -- opening ----------------------------------------------------------------------------------
@given("a client opens the combined stream")
@when("a client opens the combined stream")
def _(ctx: AcCtx) -> None:
    ctx.open_stream(COMBINED, EVENTS, {})


def scan_open(ctx: AcCtx, routers: list[str] | None, options: dict[str, str]) -> None:
    body = {**aps_body(ctx, routers), **{k: _value(v) for k, v in options.items()}}
    ctx.request("POST", "/api/aps/scan/open", json_body=ctx_expanded(ctx, body))
    ctx.marks["switch"] = ctx.now


def ctx_expanded(ctx: AcCtx, body: dict[str, Any]) -> dict[str, Any]:
    """``${name}`` placeholders in string values (and lists of them) replaced by addresses."""
    out: dict[str, Any] = {}
    for key, value in body.items():
        if isinstance(value, str):
            out[key] = ctx.expand(value)
        elif isinstance(value, list):
            out[key] = [ctx.expand(v) if isinstance(v, str) else v for v in value]
        else:
            out[key] = value
    return out


@given("the combined scan is open on every router")
@when("a client opens the combined scan on every router")
def _(ctx: AcCtx) -> None:
    scan_open(ctx, None, {})
    status_is(ctx, 200)


@when(step_text("a client opens the combined scan on routers {routers:Names}"))
@when(step_text("a client opens the combined scan on router {routers:Names}"))
def _(ctx: AcCtx, routers: list[str]) -> None:
    scan_open(ctx, routers, {})


@given("the combined scan is open on every router with:")
@when("a client opens the combined scan on every router with:")
def _(ctx: AcCtx, datatable: list[list[str]]) -> None:
    scan_open(ctx, None, table_options(datatable))


@when(step_text("a client opens the combined scan on router {routers:Names} with:"))
def _(ctx: AcCtx, routers: list[str], datatable: list[list[str]]) -> None:
    scan_open(ctx, routers, table_options(datatable))


@when("a client closes the combined scan on every router")
def _(ctx: AcCtx) -> None:
    ctx.request("POST", "/api/aps/scan/close", json_body=aps_body(ctx, None))
    ctx.marks["switch"] = ctx.now


@when(step_text("a client {verb} the {what} reports of router {routers:Names}"))
def _(ctx: AcCtx, verb: str, what: str, routers: list[str]) -> None:
    paths = {"notification": "notify", "connection-state": "connection-state"}
    if verb not in ("opens", "closes") or what not in paths:
        raise ValueError(
            f"'{verb} the {what} reports': accepted: opens|closes, notification|connection-state"
        )
    action = "open" if verb == "opens" else "close"
    ctx.request("POST", f"/api/aps/{paths[what]}/{action}", json_body=aps_body(ctx, routers))
    ctx.marks["switch"] = ctx.now


@when(step_text("a client {verb} the router state reports"))
def _(ctx: AcCtx, verb: str) -> None:
    action = {"opens": "open", "closes": "close"}[verb]
    ctx.request("GET", f"/api/aps/ap-state/{action}")
    ctx.marks["switch"] = ctx.now


# -- the state message ------------------------------------------------------------------------
def _state(ctx: AcCtx) -> dict[str, Any]:
    recorder = live(ctx)
    ctx.wait_until(lambda: bool(recorder.events), 5.0, recorder)
    expect(recorder.events, "a first message", recorder.describe())
    first = recorder.events[0].data
    expect(
        isinstance(first, dict) and first.get("dataType") == "state",
        'a first message {"dataType": "state", "aps": {...}}',
        recorder.events[0].raw[:300],
    )
    return first


@then("the combined stream starts with a state message listing every router")
def _(ctx: AcCtx) -> None:
    aps = _state(ctx).get("aps")
    expect(isinstance(aps, dict), '"aps": an object keyed by router MAC', str(aps)[:200])
    listed = {norm_mac(k): v for k, v in aps.items()}
    for name in ctx.bed.router_names():
        mac = ctx.router_mac(name)
        expect(mac in listed, f"router {name} ({mac}) in the state message", sorted(listed))
        missing = missing_fields(listed[mac], ("id", "mac", "status", "notify", "connectionstate"))
        expect(not missing, "id, mac, status, notify, connectionstate", f"missing {missing}")


def _devices_in(value: Any) -> set[str]:
    """Every MAC listed under a ``devices`` object anywhere in ``value``."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "devices" and isinstance(item, dict):
                found |= {norm_mac(k) for k in item}
            found |= _devices_in(item)
    return found


@then(step_text('the state message lists "{name:Q}" as connected'))
def _(ctx: AcCtx, name: str) -> None:
    state = _state(ctx)
    expect(
        norm_mac(ctx.address(name)) in _devices_in(state),
        f"{name} under a devices object",
        sorted(_devices_in(state)),
    )


# -- scans ------------------------------------------------------------------------------------
@then(
    step_text(
        'the combined stream reports "{name:Q}" from router "{router:Q}" within {seconds:N} seconds'
    )
)
def _(ctx: AcCtx, name: str, router: str, seconds: float) -> None:
    recorder = live(ctx)
    seen = ctx.wait_until(lambda: bool(scans_of(ctx, name, router)), seconds, recorder)
    expect(seen, f"a scan message of {name} from router {router}", recorder.describe())


@then(step_text("the combined stream reports scans only of {names:Names}"))
def _(ctx: AcCtx, names: list[str]) -> None:
    wanted = {norm_mac(ctx.address(n)) for n in names}
    seen = {a for e in messages(ctx, "scan") for a in addresses(e.data)}
    expect(
        seen == wanted, sorted(ctx.name_of(a) for a in wanted), sorted(ctx.name_of(a) for a in seen)
    )


@then(step_text('the combined stream reports no scan of "{name:Q}"'))
def _(ctx: AcCtx, name: str) -> None:
    found = scans_of(ctx, name)
    expect(not found, f"no scan message of {name}", f"{len(found)}: {found[:1]}")


@then(step_text('the combined stream reports no scan from router "{router:Q}"'))
def _(ctx: AcCtx, router: str) -> None:
    mac = ctx.router_mac(router)
    found = [e.data for e in messages(ctx, "scan") if norm_mac(e.data.get("ap", "")) == mac]
    expect(not found, f"no scan message from router {router}", f"{len(found)}: {found[:1]}")


@then("every scan message has the documented fields")
def _(ctx: AcCtx) -> None:
    scans = messages(ctx, "scan")
    expect(scans, "scan messages", live(ctx).describe())
    for e in scans:
        missing = missing_fields(e.data, SCAN_FIELDS)
        has_data = "adData" in e.data or "scanData" in e.data
        expect(not missing and has_data, f"{', '.join(SCAN_FIELDS)} and adData", e.raw[:300])
        expect(addresses(e.data), "bdaddrs naming the device's address", e.raw[:300])


@then(step_text('every scan message of "{name:Q}" has an RSSI of at least {rssi:I} dBm'))
def _(ctx: AcCtx, name: str, rssi: int) -> None:
    values = [m.get("rssi") for m in scans_of(ctx, name)]
    expect(values, f"scan messages of {name}", live(ctx).describe())
    expect(all(isinstance(v, int) and v >= rssi for v in values), f">= {rssi}", values)


@then(step_text('the combined stream reports "{name:Q}" at most once per router'))
def _(ctx: AcCtx, name: str) -> None:
    per_router: dict[str, int] = {}
    for message in scans_of(ctx, name):
        per_router[message.get("ap", "")] = per_router.get(message.get("ap", ""), 0) + 1
    expect(per_router, f"scan messages of {name}", live(ctx).describe())
    expect(max(per_router.values()) == 1, "one message per router", per_router)


@then(step_text('the combined stream reports "{name:Q}" at least {count:I} times'))
def _(ctx: AcCtx, name: str, count: int) -> None:
    found = scans_of(ctx, name)
    expect(len(found) >= count, f">= {count} scan messages of {name}", len(found))


@then(step_text('the combined stream reports "{name:Q}" at most {count:I} times'))
def _(ctx: AcCtx, name: str, count: int) -> None:
    found = scans_of(ctx, name)
    expect(found and len(found) <= count, f"1..{count} scan messages of {name}", len(found))


@then("every scan message carries a timestamp")
def _(ctx: AcCtx) -> None:
    scans = messages(ctx, "scan")
    expect(scans, "scan messages", live(ctx).describe())
    lacking = [e.raw for e in scans if not isinstance(e.data.get("timestamp"), str)]
    expect(not lacking, "a timestamp in each", lacking[:1])


@then(step_text("no scan message arrives {seconds:N} seconds after the switch"))
def _(ctx: AcCtx, seconds: float) -> None:
    since = ctx.marks["switch"] + SETTLE_S
    ctx.pass_time(seconds)
    late = messages(ctx, "scan", since)
    expect(not late, f"no scan message after {SETTLE_S:g} s", f"{len(late)}: {late[:1]}")


# -- notifications, connection states, router states ------------------------------------------
def _from(ctx: AcCtx, kind: str, router: str, since: float = 0.0) -> list[dict[str, Any]]:
    mac = ctx.router_mac(router)
    return [e.data for e in messages(ctx, kind, since) if norm_mac(e.data.get("ap", "")) == mac]


@then(
    step_text(
        'the combined stream reports notifications of "{name:Q}" from router "{router:Q}" '
        "within {seconds:N} seconds"
    )
)
def _(ctx: AcCtx, name: str, router: str, seconds: float) -> None:
    address = norm_mac(ctx.address(name))

    def found() -> list[dict[str, Any]]:
        return [
            m
            for m in _from(ctx, "notification", router)
            if norm_mac(str(m.get("device", ""))) == address
        ]

    expect(
        ctx.wait_until(lambda: bool(found()), seconds, live(ctx)),
        "notifications",
        live(ctx).describe(),
    )
    for message in found():
        missing = missing_fields(message, NOTIFICATION_FIELDS)
        expect(not missing, f"{', '.join(NOTIFICATION_FIELDS)}", f"missing {missing}")


@then(
    step_text(
        "no {kind} message of router {routers:Names} arrives {seconds:N} seconds after the switch"
    )
)
def _(ctx: AcCtx, kind: str, routers: list[str], seconds: float) -> None:
    data_type = {"notification": "notification", "connection": "connection_state"}[kind]
    since = ctx.marks["switch"] + SETTLE_S
    ctx.pass_time(seconds)
    late = [m for r in routers for m in _from(ctx, data_type, r, since)]
    expect(not late, f"no {data_type} message", f"{len(late)}: {late[:1]}")


@then(
    step_text(
        'the combined stream reports "{name:Q}" {state} on router "{router:Q}" within '
        "{seconds:N} seconds"
    )
)
def _(ctx: AcCtx, name: str, state: str, router: str, seconds: float) -> None:
    address = norm_mac(ctx.address(name))

    def found() -> list[dict[str, Any]]:
        return [
            m
            for m in _from(ctx, "connection_state", router)
            if norm_mac(str(m.get("handle", ""))) == address and m.get("connectionState") == state
        ]

    ok = ctx.wait_until(lambda: bool(found()), seconds, live(ctx))
    expect(ok, f"{name} {state} on {router}", live(ctx).describe())
    missing = missing_fields(found()[0], STATE_FIELDS)
    expect(not missing, ", ".join(STATE_FIELDS), f"missing {missing}")


@then(
    step_text('the combined stream reports router "{router:Q}" {status} within {seconds:N} seconds')
)
def _(ctx: AcCtx, router: str, status: str, seconds: float) -> None:
    since = ctx.marks.get("fault", 0.0)

    def found() -> list[dict[str, Any]]:
        return [m for m in _from(ctx, "ap_state", router, since) if m.get("status") == status]

    ok = ctx.wait_until(lambda: bool(found()), seconds, live(ctx))
    expect(ok, f"an ap_state message: router {router} {status}", live(ctx).describe())
    message = found()[0]
    missing = missing_fields(message, AP_STATE_FIELDS)
    expect(not missing, ", ".join(AP_STATE_FIELDS), f"missing {missing}")
    if status == "offline":
        expect(isinstance(message.get("offline_time"), int), "offline_time (ms)", message)


@then(step_text('the combined stream reports no router state of "{router:Q}"'))
def _(ctx: AcCtx, router: str) -> None:
    found = _from(ctx, "ap_state", router, ctx.marks.get("fault", 0.0))
    expect(not found, f"no ap_state message of router {router}", found[:1])


@then(step_text("the combined stream carries a keep-alive message every {seconds:I} seconds"))
def _(ctx: AcCtx, seconds: int) -> None:
    recorder = live(ctx)
    beats = [e.t for e in recorder.events if "keep-alive" in e.raw]
    expect(len(beats) >= 2, "keep-alive messages", f"{len(beats)} in {recorder.describe()}")
    gaps = [b - a for a, b in zip([recorder.events[0].t, *beats], beats, strict=False)]
    expect(max(gaps) <= seconds + 1.0, f"at most {seconds} s apart", [round(g, 1) for g in gaps])


@then(step_text("the combined stream reports every one of the {count:I} peripherals"))
def _(ctx: AcCtx, count: int) -> None:
    seen = {a for e in messages(ctx, "scan") for a in addresses(e.data)}
    wanted = {norm_mac(ctx.address(f"Crowd-{i}")) for i in range(1, count + 1)}
    missing = sorted(ctx.name_of(a) for a in wanted - seen)
    expect(not missing, f"all {count} reported", f"{len(missing)} missing: {missing[:10]}")
