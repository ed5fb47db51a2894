"""World steps: peripherals placed near routers, moved, walked and powered; faults on routers
(an uplink cut and healed, a reboot, a power loss) through the bed's verbs; and which router
the world says holds a link (its radio, not the controller's answers).

Peripherals are the stock sensor of :func:`devices.ble.spec.standard_peripheral` (heart rate
180D with 2A37 read|notify), with the router profile's table keys
(:func:`features.ble_router.steps.world.sensor_spec`).
"""

from __future__ import annotations

import asyncio
import math

from pytest_bdd import given, then, when

from conformance.evidence import expect
from features.ble_ac.steps.support import AcCtx, norm_mac, step_text
from features.ble_router.steps.world import sensor_spec, table_options


def place_near(
    ctx: AcCtx, name: str, distance: float, router: str, options: dict[str, str] | None = None
) -> str:
    spec = sensor_spec(ctx, name, distance, options)
    spec["position"] = ctx.near(router, distance)
    return ctx.place(spec)


@given(step_text('a peripheral "{name:Q}" {distance:N} m from router "{router:Q}"'))
def _(ctx: AcCtx, name: str, distance: float, router: str) -> None:
    place_near(ctx, name, distance, router)


@given(
    step_text(
        'a peripheral "{name:Q}" {distance:N} m from router "{router:Q}" advertising the name '
        '"{adv:Q}"'
    )
)
def _(ctx: AcCtx, name: str, distance: float, router: str, adv: str) -> None:
    place_near(ctx, name, distance, router, {"advertised name": adv})


@given(step_text('a peripheral "{name:Q}" {distance:N} m from router "{router:Q}" with:'))
def _(ctx: AcCtx, name: str, distance: float, router: str, datatable: list[list[str]]) -> None:
    place_near(ctx, name, distance, router, table_options(datatable))


@given(step_text('a beacon "{name:Q}" {distance:N} m from router "{router:Q}"'))
def _(ctx: AcCtx, name: str, distance: float, router: str) -> None:
    place_near(ctx, name, distance, router, {"advertising type": "ADV_NONCONN_IND"})


@given(step_text('a peripheral "{name:Q}" halfway between routers "{a:Q}" and "{b:Q}"'))
def _(ctx: AcCtx, name: str, a: str, b: str) -> None:
    spec = sensor_spec(ctx, name, 1.0)
    pa, pb = ctx.router_at(a), ctx.router_at(b)
    spec["position"] = [round((u + v) / 2, 6) for u, v in zip(pa, pb, strict=True)]
    spec["position"][1] += 1.0  # beside the line, not on it
    ctx.place(spec)


@given(step_text('{count:I} peripherals "{prefix:Q}" {distance:N} m from router "{router:Q}"'))
def _(ctx: AcCtx, count: int, prefix: str, distance: float, router: str) -> None:
    for i in range(1, count + 1):
        place_near(ctx, f"{prefix}{i}", distance, router)


@given(step_text('"{name:Q}" moves to {distance:N} m from router "{router:Q}"'))
@when(step_text('"{name:Q}" moves to {distance:N} m from router "{router:Q}"'))
def _(ctx: AcCtx, name: str, distance: float, router: str) -> None:
    here = ctx.near(router, distance, bearing=_bearing(ctx, name, router))
    ctx.run(ctx.bed.move(name, here))
    ctx.specs[name]["position"] = here


@when(
    step_text(
        '"{name:Q}" walks to {distance:N} m from router "{router:Q}" over {seconds:N} seconds'
    )
)
def _(ctx: AcCtx, name: str, distance: float, router: str, seconds: float) -> None:
    """A straight walk, one step a second, from where it stands to the point ``distance`` m
    from ``router`` on the side facing it."""
    start = [float(v) for v in ctx.specs[name]["position"]]
    rx, ry, rz = ctx.router_at(router)
    dx, dy = start[0] - rx, start[1] - ry
    norm = math.hypot(dx, dy) or 1.0
    goal = [rx + distance * dx / norm, ry + distance * dy / norm, rz]
    steps = max(1, int(seconds))

    async def walk() -> None:
        for i in range(1, steps + 1):
            f = i / steps
            here = [round(s + (g - s) * f, 6) for s, g in zip(start, goal, strict=True)]
            await ctx.bed.move(name, here)
            await asyncio.sleep(seconds / steps)

    ctx.run(walk())
    ctx.specs[name]["position"] = goal


def _bearing(ctx: AcCtx, name: str, router: str) -> float:
    x, y = (float(v) for v in ctx.specs[name]["position"][:2])
    x0, y0, _z = ctx.router_at(router)
    return math.degrees(math.atan2(y - y0, x - x0)) if (x - x0 or y - y0) else 0.0


@given(step_text('"{name:Q}" is powered off'))
@when(step_text('"{name:Q}" is powered off'))
def _(ctx: AcCtx, name: str) -> None:
    ctx.run(ctx.bed.set_power(name, False))


# -- router faults ----------------------------------------------------------------------------


def _fault(ctx: AcCtx, fault: str, router: str, **args: object) -> None:
    ctx.marks["fault"] = ctx.now
    ctx.run(ctx.bed.inject(fault, target=router, **args))


@given(step_text('the uplink of router "{router:Q}" is cut'))
@when(step_text('the uplink of router "{router:Q}" is cut'))
def _(ctx: AcCtx, router: str) -> None:
    _fault(ctx, "router_outage", router)


@when(step_text('the uplink of router "{router:Q}" heals'))
def _(ctx: AcCtx, router: str) -> None:
    _fault(ctx, "router_outage", router, up=True)


@when(step_text('router "{router:Q}" reboots'))
def _(ctx: AcCtx, router: str) -> None:
    _fault(ctx, "router_reboot", router)


@when(step_text('router "{router:Q}" loses power'))
def _(ctx: AcCtx, router: str) -> None:
    _fault(ctx, "router_power", router, on=False)


@when(step_text('router "{router:Q}" is powered again'))
def _(ctx: AcCtx, router: str) -> None:
    _fault(ctx, "router_power", router, on=True)


@given(step_text("{count:I} peripherals spread over the routers' area"))
def _(ctx: AcCtx, count: int) -> None:
    """Named Crowd-1 ... Crowd-<count>, advertising every second, on a grid covering the box
    around the routers (5 m beyond them on every side)."""
    spots = [ctx.router_at(r) for r in ctx.bed.router_names()]
    xs, ys = [p[0] for p in spots], [p[1] for p in spots]
    x0, y0, x1, y1 = min(xs) - 5, min(ys) - 5, max(xs) + 5, max(ys) + 5
    side = max(1, math.ceil(math.sqrt(count)))
    for i in range(count):
        spec = sensor_spec(ctx, f"Crowd-{i + 1}", 1.0)
        spec["position"] = [
            round(x0 + (x1 - x0) * (i % side + 0.5) / side, 3),
            round(y0 + (y1 - y0) * (i // side + 0.5) / side, 3),
            0.0,
        ]
        ctx.place(spec)


@then(step_text('the world has "{name:Q}" linked to router "{router:Q}" only'))
def _(ctx: AcCtx, name: str, router: str) -> None:
    """The link is on that router's radio and on no other: a controller that made the call on
    another router answers alike for every call, so only the world can tell."""
    address = norm_mac(ctx.address(name))
    holders = [
        r
        for r in ctx.bed.router_names()
        if address in {norm_mac(a) for a in ctx.run(ctx.bed.router_links(r))}
    ]
    expect(holders == [router], f"{name} linked to router {router} only", holders)


@then(step_text('the world has router "{router:Q}" advertising, and no other'))
def _(ctx: AcCtx, router: str) -> None:
    advertising = [r for r in ctx.bed.router_names() if ctx.run(ctx.bed.router_advertising(r))]
    expect(advertising == [router], f"router {router} advertising, no other", advertising)


@then("the world has no router advertising")
def _(ctx: AcCtx) -> None:
    advertising = [r for r in ctx.bed.router_names() if ctx.run(ctx.bed.router_advertising(r))]
    expect(not advertising, "no router advertising", advertising)
