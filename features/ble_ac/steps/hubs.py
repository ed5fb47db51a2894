"""Router status steps: ``GET /api/cassia/hubs``, ``GET /api/cassia/hubs/<mac>`` and the
``GET /api/cassia/hubStatus`` stream."""

from __future__ import annotations

from typing import Any

from pytest_bdd import then, when

from conformance.evidence import expect
from features.ble_ac.steps.support import (
    HUB_FIELDS,
    HUB_STATUS,
    AcCtx,
    missing_fields,
    norm_mac,
    status_is,
    step_text,
)

HUBS = "/api/cassia/hubs"
HUB_STATUS_PATH = "/api/cassia/hubStatus"
STATUS_FIELDS = (
    "model",
    "ip",
    "mac",
    "version",
    "uptime",
    "user",
    "localip",
    "whitelist",
    "status",
)
UNKNOWN_ROUTER = "CC:1B:E0:0F:FF:FE"


@when("a client lists the routers")
def _(ctx: AcCtx) -> None:
    ctx.request("GET", HUBS)


@when(step_text('a client asks for the status of router "{router:Q}"'))
def _(ctx: AcCtx, router: str) -> None:
    ctx.request("GET", f"{HUBS}/{ctx.router_mac(router)}")


@when("a client asks for the status of a router the controller does not know")
def _(ctx: AcCtx) -> None:
    ctx.request("GET", f"{HUBS}/{UNKNOWN_ROUTER}")


def _listed(ctx: AcCtx) -> dict[str, Any]:
    status_is(ctx, 200)
    body = ctx.json()
    expect(isinstance(body, list), "a JSON array of routers", str(body)[:200])
    return {norm_mac(h.get("mac", "")): h for h in body if isinstance(h, dict)}


@then("the list has every router online with the documented fields")
def _(ctx: AcCtx) -> None:
    listed = _listed(ctx)
    for name in ctx.bed.router_names():
        mac = ctx.router_mac(name)
        entry = listed.get(mac)
        expect(entry is not None, f"router {name} ({mac}) listed", sorted(listed))
        missing = missing_fields(entry, HUB_FIELDS)
        expect(not missing, f"the fields {', '.join(HUB_FIELDS)}", f"missing {missing}")
        expect(entry["status"] == "online", "status online", entry["status"])
        expect(norm_mac(entry["id"]) == mac, f"id {mac}", entry["id"])


@then(step_text('the list does not have router "{router:Q}"'))
def _(ctx: AcCtx, router: str) -> None:
    listed = _listed(ctx)
    mac = ctx.router_mac(router)
    expect(mac not in listed, f"router {router} ({mac}) not listed (offline)", sorted(listed))


@then(step_text('the answer is router "{router:Q}" {status}, with the documented fields'))
def _(ctx: AcCtx, router: str, status: str) -> None:
    status_is(ctx, 200)
    body = ctx.json()
    mac = ctx.router_mac(router)
    expect(isinstance(body, dict), "a JSON object", str(body)[:200])
    missing = missing_fields(body, HUB_FIELDS)
    expect(not missing, f"the fields {', '.join(HUB_FIELDS)}", f"missing {missing}")
    expect(norm_mac(body["mac"]) == mac, f"mac {mac}", body["mac"])
    expect(body["status"] == status, f"status {status}", body["status"])


@then(step_text('router "{router:Q}" reports an uptime below {seconds:I} seconds'))
def _(ctx: AcCtx, router: str, seconds: int) -> None:
    ctx.request("GET", f"{HUBS}/{ctx.router_mac(router)}")
    body = ctx.json()
    uptime = body.get("uptime") if isinstance(body, dict) else None
    expect(
        isinstance(uptime, int | float) and uptime < seconds,
        f"uptime < {seconds} s (it restarted)",
        uptime,
    )


@when("a client opens the hub status stream")
def _(ctx: AcCtx) -> None:
    """Opened, and half a second to take what the stream says first (the current statuses),
    so that a fault in the next step is judged on what follows it."""
    ctx.open_stream(HUB_STATUS, HUB_STATUS_PATH, {})
    ctx.pass_time(0.5)


def _statuses(ctx: AcCtx, router: str, since: float) -> list[dict[str, Any]]:
    mac = ctx.router_mac(router)
    return [
        e.data
        for e in ctx.stream(HUB_STATUS).events
        if e.t >= since and isinstance(e.data, dict) and norm_mac(e.data.get("mac", "")) == mac
    ]


@then(
    step_text(
        'the hub status stream reports router "{router:Q}" {status} within {seconds:N} seconds'
    )
)
def _(ctx: AcCtx, router: str, status: str, seconds: float) -> None:
    since = ctx.marks.get("fault", 0.0)
    recorder = ctx.stream(HUB_STATUS)
    seen = ctx.wait_until(
        lambda: any(s.get("status") == status for s in _statuses(ctx, router, since)),
        seconds,
        recorder,
    )
    expect(
        seen,
        f"a hubStatus message {{mac: {ctx.router_mac(router)}, status: {status}}}",
        [s.get("status") for s in _statuses(ctx, router, since)] or recorder.describe(),
        f"router {router} was not reported {status} within {seconds:g} s",
    )


@then("every online message of the hub status stream has the documented fields")
def _(ctx: AcCtx) -> None:
    online = [
        e.data
        for e in ctx.stream(HUB_STATUS).events
        if isinstance(e.data, dict) and e.data.get("status") == "online"
    ]
    expect(online, "at least one online message", ctx.stream(HUB_STATUS).describe())
    for message in online:
        missing = missing_fields(message, STATUS_FIELDS)
        expect(not missing, f"the fields {', '.join(STATUS_FIELDS)}", f"missing {missing}")


@then("every offline message of the hub status stream names the router's mac")
def _(ctx: AcCtx) -> None:
    offline = [
        e.data
        for e in ctx.stream(HUB_STATUS).events
        if isinstance(e.data, dict) and e.data.get("status") == "offline"
    ]
    expect(offline, "at least one offline message", ctx.stream(HUB_STATUS).describe())
    known = {ctx.router_mac(n) for n in ctx.bed.router_names()}
    for message in offline:
        expect(norm_mac(message.get("mac", "")) in known, "a router's mac", message)
