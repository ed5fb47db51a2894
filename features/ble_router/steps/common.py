"""Generic HTTP steps: any request, and what its answer must be."""

from __future__ import annotations

from pytest_bdd import then, when

from conformance.evidence import expect
from features.ble_router.steps.support import Ctx, query_dict, step_text

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")


def send(ctx: Ctx, request: str) -> None:
    """``"GET /gatt/nodes/${HR-1}/services?uuid=180d"`` -> the request, placeholders filled."""
    method, _, target = ctx.expand(request).strip().partition(" ")
    method = method.upper()
    if method not in METHODS or not target.startswith("/"):
        raise ValueError(f"{request!r} is not 'METHOD /path[?query]'")
    path, _, query = target.strip().partition("?")
    ctx.request(method, path, params=query_dict(query) or None)


def mentions(ctx: Ctx, text: str) -> bool:
    return ctx.expand(text).lower() in ctx.response().text.lower()


@when(step_text('the client sends "{request:Q}"'))
def _(ctx: Ctx, request: str) -> None:
    send(ctx, request)


@then(step_text("the response status is {status:I}"))
def _(ctx: Ctx, status: int) -> None:
    response = ctx.response()
    expect(
        response.status == status,
        status,
        f"{response.status} {response.text[:200]!r}",
        f"{ctx.last.method} {ctx.last.target} answered {response.status}" if ctx.last else "",
    )


@then(step_text('the response status is {status:I} and the message mentions "{text:Q}"'))
def _(ctx: Ctx, status: int, text: str) -> None:
    response = ctx.response()
    expect(
        response.status == status and mentions(ctx, text),
        f"{status} with a message mentioning {ctx.expand(text)!r}",
        f"{response.status} {response.text[:300]!r}",
        "the error answer is not as required",
    )


@then(step_text('the router still answers "{request:Q}" with {status:I}'))
def _(ctx: Ctx, request: str, status: int) -> None:
    send(ctx, request)
    response = ctx.response()
    expect(
        response.status == status,
        f"{status} to {request}",
        f"{response.status} {response.text[:200]!r}",
        "the router stopped serving correctly after the bad requests",
    )
