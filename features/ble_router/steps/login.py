"""Login steps: ``POST /cassia/login`` (form data) and the login page that stands in front of
the ``/cassia/*`` APIs until then.

With the builtin SUT the step "the router requires a login" configures the reference router
with the SUT declaration's ``credentials``; an external SUT that declares the ``login``
capability is expected to have login enabled with its declared credentials.
"""

from __future__ import annotations

from typing import Any

from pytest_bdd import given, then, when

from conformance.evidence import expect
from conformance.pytest_plugin import HilConfig
from features.ble_router.steps.support import Ctx, step_text


def credentials(hil_config: HilConfig) -> tuple[str, str]:
    creds = hil_config.sut.credentials or {}
    user, password = creds.get("username"), creds.get("password")
    if not user or password is None:
        raise RuntimeError(
            "the SUT declaration has no credentials (username, password); the "
            "login scenarios need them"
        )
    return str(user), str(password)


@given("the router requires a login")
def _(ctx: Ctx, hil_config: HilConfig) -> None:
    router = getattr(ctx.bed, "router", None)
    if router is not None:
        router.credentials = credentials(hil_config)


@when("the client logs in with the declared credentials")
def _(ctx: Ctx, hil_config: HilConfig) -> None:
    login(ctx, *credentials(hil_config))


@when(step_text('the client logs in as "{user:Q}" with the password "{password:Q}"'))
def _(ctx: Ctx, user: str, password: str) -> None:
    login(ctx, user, password)


def login(ctx: Ctx, user: str, password: str) -> None:
    async def post() -> Any:
        return await ctx.client.request(
            "POST", "/cassia/login", form={"username": user, "password": password}
        )

    response = ctx.run(post())
    cookie = response.headers.get("set-cookie", "").split(";")[0].strip()
    if response.status == 200 and cookie:
        ctx.client.headers["Cookie"] = cookie  # the session goes with every request
    ctx.discovered["login_response"] = response


@then(step_text("the login is answered {status:I}"))
def _(ctx: Ctx, status: int) -> None:
    response = ctx.discovered.get("login_response")
    expect(
        response is not None and response.status == status,
        status,
        f"{response.status} {response.text[:200]!r}" if response else "no answer",
        "the login answer is not as required",
    )


@then("the answer is the login page, not the configuration")
def _(ctx: Ctx) -> None:
    response = ctx.response()
    content_type = response.headers.get("content-type", "")
    expect(
        "text/html" in content_type
        and "<form" in response.text.lower()
        and '"mac"' not in response.text,
        "an HTML login page",
        f"{response.status} {content_type} {response.text[:200]!r}",
        "without a login the /cassia/* API must answer the login page",
    )
