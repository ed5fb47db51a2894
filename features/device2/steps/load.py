"""Steps on a fleet of devices (the ``@load`` scenarios): placing it, when each provisioned,
and the exactness of its data (:mod:`scenarios.device2.load`)."""

from __future__ import annotations

from pytest_bdd import given, then

from features.device2.steps.support import Ctx, d2_step
from scenarios.device2.load import (
    Exactness,
    check_aggregates,
    check_values,
    place_fleet,
    provisioning,
    stop_fleet,
)


@given(
    d2_step(
        "{count:d} {protocol} devices provisioning within {within:N} seconds and reporting "
        "every {period:N} seconds"
    )
)
def fleet(ctx: Ctx, count: int, protocol: str, within: float, period: float) -> None:
    ctx.fleet = ctx.bed.run(
        place_fleet(ctx.bed, count, protocol.lower(), within_s=within, period_s=period)
    )


@then(d2_step("every device provisioned within {within:N} seconds of the fleet's start"))
def provisioned_in_time(ctx: Ctx, within: float) -> None:
    assert ctx.fleet is not None
    _latencies, moments = provisioning(ctx.bed, ctx.fleet)
    late = [m for m in moments if m > within]
    assert not late, f"{len(late)} devices provisioned after {within} s (last at {max(moments)})"


@then("every value the fleet wrote is found by the queries")  # the fleet is stopped first
def fleet_values(ctx: Ctx) -> None:
    assert ctx.fleet is not None
    result = Exactness()
    ctx.bed.run(stop_fleet(ctx.bed, ctx.fleet))
    ctx.bed.run(check_values(ctx.bed, ctx.fleet, result))
    assert result.written and result.exact, result.summary()


@then(d2_step("the \"{bucket}\" aggregates equal the fleet's values' own sums and counts"))
def fleet_aggregates(ctx: Ctx, bucket: str) -> None:
    assert ctx.fleet is not None
    result = Exactness()
    ctx.bed.run(stop_fleet(ctx.bed, ctx.fleet))
    ctx.bed.run(check_aggregates(ctx.bed, ctx.fleet, bucket, result))
    assert result.exact, result.summary()
