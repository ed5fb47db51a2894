"""Authentication steps: the token request (``POST /api/oauth2/token``, HTTP Basic developer
key and secret, ``{"grant_type":"client_credentials"}``) and calls with a bearer token, the
``access_token=`` parameter, no token, a wrong one or an expired one."""

from __future__ import annotations

import asyncio
import base64

from pytest_bdd import given, then, when

from conformance.evidence import expect
from features.ble_ac.steps.support import AcCtx, LastRequest, status_is, step_text
from scenarios.ble_ac.bed import ANONYMOUS

TOKEN_PATH = "/api/oauth2/token"
HUBS_PATH = "/api/cassia/hubs"


def _token_request(
    ctx: AcCtx, secret: str | None = None, grant: str = "client_credentials"
) -> None:
    bed = ctx.bed
    pair = f"{bed.client_id}:{bed.secret if secret is None else secret}"

    async def ask() -> LastRequest:
        loop = asyncio.get_running_loop()
        started = loop.time()
        response = await bed.client(ANONYMOUS).request(
            "POST",
            TOKEN_PATH,
            json_body={"grant_type": grant},
            headers={"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()},
        )
        return LastRequest("POST", TOKEN_PATH, started, loop.time() - started, response)

    ctx.last = ctx.run(ask())


@when("a client asks for a token with the developer credentials")
def _(ctx: AcCtx) -> None:
    _token_request(ctx)


@when("a client asks for a token with a wrong secret")
def _(ctx: AcCtx) -> None:
    _token_request(ctx, secret=ctx.bed.secret + "-wrong")


@when(step_text('a client asks for a token with grant type "{grant:Q}"'))
def _(ctx: AcCtx, grant: str) -> None:
    _token_request(ctx, grant=grant)


@given("a fresh token")
def _(ctx: AcCtx) -> None:
    answer = ctx.run(ctx.bed.token())
    expect(answer.status == 200, "200 and a token", f"{answer.status} {answer.text[:200]}")
    ctx.answers["token"] = answer.json()
    ctx.refresh_client()


@then("the answer is a bearer token with its lifetime in seconds")
def _(ctx: AcCtx) -> None:
    status_is(ctx, 200)
    body = ctx.json()
    expect(
        isinstance(body, dict)
        and isinstance(body.get("access_token"), str)
        and body["access_token"]
        and str(body.get("token_type", "")).lower() == "bearer"
        and isinstance(body.get("expires_in"), int)
        and body["expires_in"] > 0,
        '{"access_token": <text>, "token_type": "bearer", "expires_in": <seconds > 0>}',
        {k: (v if k != "access_token" else "...") for k, v in (body or {}).items()},
        "the token answer is not a bearer token with its lifetime",
    )


@when("a client without a token lists the routers")
def _(ctx: AcCtx) -> None:
    ctx.last = ctx.run(_anonymous(ctx, "GET", HUBS_PATH))


@when("a client lists the routers with the token as access_token")
def _(ctx: AcCtx) -> None:
    token = ctx.bed._token
    ctx.last = ctx.run(_anonymous(ctx, "GET", HUBS_PATH, {"access_token": token}))


@when(step_text('a client lists the routers with the token "{token:Q}"'))
def _(ctx: AcCtx, token: str) -> None:
    ctx.last = ctx.run(
        _anonymous(ctx, "GET", HUBS_PATH, headers={"Authorization": f"Bearer {token}"})
    )


async def _anonymous(
    ctx: AcCtx,
    method: str,
    path: str,
    params: dict[str, str | None] | None = None,
    headers: dict[str, str] | None = None,
) -> LastRequest:
    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await ctx.bed.client(ANONYMOUS).request(method, path, params, headers=headers)
    return LastRequest(method, path, started, loop.time() - started, response)


@when("the token's lifetime passes")
def _(ctx: AcCtx) -> None:
    token = ctx.answers.get("token")
    if token is None:
        raise RuntimeError("no token was taken in this scenario: add 'Given a fresh token'")
    ctx.pass_time(float(token["expires_in"]) + 1.0)


@then(step_text("the answer is {status:I}"))
def _(ctx: AcCtx, status: int) -> None:
    status_is(ctx, status)


@then(step_text('the answer is {status:I} saying "{word:Q}"'))
def _(ctx: AcCtx, status: int, word: str) -> None:
    status_is(ctx, status)
    text = ctx.response().text
    expect(
        word.lower() in text.lower(),
        f"a message saying {word!r}",
        text[:300],
        f"the {status} answer does not say {word!r}",
    )


@then("the answer is refused with a message")
def _(ctx: AcCtx) -> None:
    response = ctx.response()
    expect(
        response.status >= 400 and response.text.strip(),
        "an error status (4xx/5xx) with a message",
        f"{response.status} {response.text[:200]!r}",
        "the call was not refused with a message",
    )
