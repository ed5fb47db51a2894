"""Positioning steps (``GET /api/middleware/position/by-device/<mac>`` and ``/*``,
``.../by-ap/<hub>`` and ``/*``)."""

from __future__ import annotations

from typing import Any

from pytest_bdd import then, when

from conformance.evidence import expect
from features.ble_ac.steps.support import AcCtx, norm_mac, status_is, step_text

BY_DEVICE = "/api/middleware/position/by-device"
BY_AP = "/api/middleware/position/by-ap"


@when(step_text('a client asks where "{name:Q}" is'))
def _(ctx: AcCtx, name: str) -> None:
    ctx.request("GET", f"{BY_DEVICE}/{ctx.address(name)}")


@when("a client asks where every device is")
def _(ctx: AcCtx) -> None:
    ctx.request("GET", f"{BY_DEVICE}/*")


@when(step_text('a client asks which devices are around router "{router:Q}"'))
def _(ctx: AcCtx, router: str) -> None:
    ctx.request("GET", f"{BY_AP}/{ctx.router_mac(router)}")


@when("a client asks which devices are around every router")
def _(ctx: AcCtx) -> None:
    ctx.request("GET", f"{BY_AP}/*")


def _body(ctx: AcCtx) -> Any:
    status_is(ctx, 200)
    return ctx.json()


@then(step_text('the answer names router "{router:Q}"'))
def _(ctx: AcCtx, router: str) -> None:
    body = _body(ctx)
    mac = ctx.router_mac(router)
    expect(
        isinstance(body, dict) and norm_mac(body.get("hubMac", "")) == mac,
        f'{{"hubMac": "{mac}"}}',
        str(body)[:200],
    )


def _keyed(body: Any) -> dict[str, Any]:
    """An object keyed by MAC, keys normalised (the seed's example spaces them oddly)."""
    return (
        {norm_mac(k).replace(" ", ""): v for k, v in body.items()} if isinstance(body, dict) else {}
    )


@then(step_text('the answer places "{name:Q}" at router "{router:Q}"'))
def _(ctx: AcCtx, name: str, router: str) -> None:
    entries = _keyed(_body(ctx))
    entry = entries.get(norm_mac(ctx.address(name)))
    mac = ctx.router_mac(router)
    expect(
        isinstance(entry, dict) and norm_mac(entry.get("hubMac", "")).replace(" ", "") == mac,
        f'"{ctx.address(name)}": {{"hubMac": "{mac}"}}',
        str(entry),
    )


@then(step_text("the answer lists {names:Names}"))
def _(ctx: AcCtx, names: list[str]) -> None:
    body = _body(ctx)
    listed = [norm_mac(d) for d in body] if isinstance(body, list) else []
    for name in names:
        expect(norm_mac(ctx.address(name)) in listed, f"{name} listed", listed)


@then(step_text('the answer does not list "{name:Q}"'))
def _(ctx: AcCtx, name: str) -> None:
    body = _body(ctx)
    listed = [norm_mac(d) for d in body] if isinstance(body, list) else []
    expect(norm_mac(ctx.address(name)) not in listed, f"{name} not listed", listed)


@then(step_text('the answer lists "{name:Q}" around router "{router:Q}"'))
def _(ctx: AcCtx, name: str, router: str) -> None:
    entries = _keyed(_body(ctx))
    mac = ctx.router_mac(router)
    around = [norm_mac(d) for d in entries.get(mac, [])] if mac in entries else None
    expect(
        around is not None and norm_mac(ctx.address(name)) in around,
        f"{name} in the list of router {router}",
        around,
    )
