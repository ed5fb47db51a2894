"""Error steps: what a refused request must look like.

Bad input (malformed MAC, hex, out-of-range parameter) is the client's fault: HTTP's own answer
is 400, and the message names the offending value or parameter (DESIGN: "Errors say what was
wrong, with the offending value"). Requests that are well formed but cannot be carried out
(unknown node, node not connected, handle absent) must fail with an error status, never 200,
and say which node or handle was wrong.
"""

from __future__ import annotations

from pytest_bdd import then

from conformance.evidence import expect
from features.ble_router.steps.common import mentions
from features.ble_router.steps.support import Ctx, step_text


@then(step_text('the request is refused as bad input mentioning "{text:Q}"'))
def _(ctx: Ctx, text: str) -> None:
    response = ctx.response()
    expect(
        response.status == 400 and mentions(ctx, text),
        f"400 with a message mentioning {ctx.expand(text)!r}",
        f"{response.status} {response.text[:300]!r}",
        "bad input must be refused as such, naming what was wrong",
    )


@then("the request is not refused as bad input")
def _(ctx: Ctx) -> None:
    response = ctx.response()
    expect(
        response.status in (200, 500),
        "200 (done) or 500 (tried and failed), not 400",
        f"{response.status} {response.text[:300]!r}",
        "a value inside the documented range was refused",
    )


@then(step_text('the request fails with an error mentioning "{text:Q}"'))
def _(ctx: Ctx, text: str) -> None:
    response = ctx.response()
    expect(
        response.status >= 400 and mentions(ctx, text),
        f"an error status (4xx/5xx) with a message mentioning {ctx.expand(text)!r}",
        f"{response.status} {response.text[:300]!r}",
        "the request cannot be carried out, so it must fail and say why",
    )
