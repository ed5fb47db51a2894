"""Router auto-selection steps: ``POST /api/aps/ap-select-switch``,
``/api/aps/connections/connect`` and ``/disconnect``, and which router ends up holding a device
(asked of every router through its own connected list, ``GET /api/gap/nodes?
connection_state=connected&mac=<router>``)."""

from __future__ import annotations

from pytest_bdd import given, then, when

from conformance.evidence import expect
from features.ble_ac.steps.combined import _value
from features.ble_ac.steps.router_calls import connect_via, connected_on, listed_on
from features.ble_ac.steps.support import AcCtx, norm_mac, status_is, step_text
from features.ble_router.steps.world import table_options

SWITCH = "/api/aps/ap-select-switch"
CONNECT = "/api/aps/connections/connect"
DISCONNECT = "/api/aps/connections/disconnect"


def switch(ctx: AcCtx, flag: int, scan_params: dict[str, object] | None = None) -> None:
    body: dict[str, object] = {"flag": flag}
    if scan_params is not None:
        body["scan_params"] = scan_params
    ctx.request("POST", SWITCH, json_body=body)


@given("auto-selection is on")
@when("a client switches auto-selection on")
def _(ctx: AcCtx) -> None:
    switch(ctx, 1)


@given("auto-selection is on with scan_params:")
@when("a client switches auto-selection on with scan_params:")
def _(ctx: AcCtx, datatable: list[list[str]]) -> None:
    params = {k: _value(ctx.expand(v)) for k, v in table_options(datatable).items()}
    switch(ctx, 1, params)


@when("a client switches auto-selection off")
def _(ctx: AcCtx) -> None:
    switch(ctx, 0)


@then(step_text("the switch answers success with flag {flag:I}"))
def _(ctx: AcCtx, flag: int) -> None:
    status_is(ctx, 200)
    body = ctx.json()
    expect(
        isinstance(body, dict) and body.get("status") == "success" and body.get("flag") == flag,
        f'{{"status": "success", "flag": {flag}}}',
        str(body)[:200],
    )


def auto_connect(ctx: AcCtx, name: str, aps: object, options: dict[str, str] | None = None) -> None:
    body: dict[str, object] = {"aps": aps, "devices": [ctx.address(name)]}
    for key, value in (options or {}).items():
        body[key] = int(value) if value.lstrip("-").isdigit() else value
    ctx.marks["connect"] = ctx.now
    ctx.request("POST", CONNECT, json_body=body, timeout=40)


@when(step_text('a client auto-connects "{name:Q}" through every router'))
def _(ctx: AcCtx, name: str) -> None:
    auto_connect(ctx, name, "*")


@when(step_text('a client auto-connects "{name:Q}" through every router with:'))
def _(ctx: AcCtx, name: str, datatable: list[list[str]]) -> None:
    auto_connect(ctx, name, "*", table_options(datatable))


@when(step_text('a client auto-connects "{name:Q}" through routers {routers:Names}'))
@when(step_text('a client auto-connects "{name:Q}" through router {routers:Names}'))
def _(ctx: AcCtx, name: str, routers: list[str]) -> None:
    auto_connect(ctx, name, [ctx.router_mac(r) for r in routers])


@when(step_text('a client auto-disconnects "{name:Q}"'))
def _(ctx: AcCtx, name: str) -> None:
    ctx.request("POST", DISCONNECT, json_body={"devices": [ctx.address(name)]})


@given(step_text('router "{router:Q}" holds links to "{prefix:Q}" 1 to {count:I}'))
def _(ctx: AcCtx, router: str, prefix: str, count: int) -> None:
    for i in range(1, count + 1):
        connect_via(ctx, f"{prefix}{i}", router)
        status_is(ctx, 200)


@then("the auto-connection is accepted")
def _(ctx: AcCtx) -> None:
    status_is(ctx, 200)


def holders(ctx: AcCtx, name: str) -> list[str]:
    address = norm_mac(ctx.address(name))
    return [r for r in ctx.bed.router_names() if address in connected_on(ctx, r)]


@then(step_text('"{name:Q}" is connected through router "{router:Q}" only'))
def _(ctx: AcCtx, name: str, router: str) -> None:
    found = holders(ctx, name)
    expect(found == [router], f"{name} connected through {router} only", found)


@then(step_text('"{name:Q}" is connected through router "{router:Q}" within {seconds:N} seconds'))
def _(ctx: AcCtx, name: str, router: str, seconds: float) -> None:
    address = norm_mac(ctx.address(name))

    async def there() -> bool:
        return address in await listed_on(ctx, router)

    ok = ctx.wait_until(there, seconds)
    expect(ok, f"{name} connected through {router} within {seconds:g} s", holders(ctx, name))


@then(step_text('"{name:Q}" is connected through no router'))
def _(ctx: AcCtx, name: str) -> None:
    found = holders(ctx, name)
    expect(not found, f"{name} connected through no router", found)


@then(step_text('"{name:Q}" stays connected through router "{router:Q}" for {seconds:N} seconds'))
def _(ctx: AcCtx, name: str, router: str, seconds: float) -> None:
    address = norm_mac(ctx.address(name))

    async def gone() -> bool:
        return address not in await listed_on(ctx, router)

    left = ctx.wait_until(gone, seconds)
    expect(not left, f"{name} still on {router} after {seconds:g} s", holders(ctx, name))
