"""Steps on the management API: operation calls, the answers, identities' statuses."""

from __future__ import annotations

import math
from typing import Any

from pytest_bdd import given, then, when

from features.device2.steps.support import US, Ctx, at_path, d2_step, matches_format, shown


# -- calls ------------------------------------------------------------------------------------
@given(d2_step('the operator has called "{operation:Q}" with {params:J}'))
def called(ctx: Ctx, operation: str, params: Any) -> None:
    ctx.call(operation, params)
    ctx.must_succeed(f"{operation} {shown(params)}")


@given(d2_step('the operator has called "{operation:Q}"'))
def called_bare(ctx: Ctx, operation: str) -> None:
    ctx.call(operation, {})
    ctx.must_succeed(operation)


@when(d2_step('the operator calls "{operation:Q}" with {params:J}'))
@then(d2_step('the operator calls "{operation:Q}" with {params:J}'))
def calls(ctx: Ctx, operation: str, params: Any) -> None:
    ctx.call(operation, params)


@when(d2_step('the operator calls "{operation:Q}"'))
def calls_bare(ctx: Ctx, operation: str) -> None:
    ctx.call(operation, {})


@when(d2_step('the operator calls "{operation:Q}" of the product "{product:Q}" with {params:J}'))
def calls_product(ctx: Ctx, operation: str, product: str, params: Any) -> None:
    ctx.call(operation, params, product=product)


@when(d2_step('the operator posts "{text:Q}" to "{operation:Q}"'))
def posts_raw(ctx: Ctx, text: str, operation: str) -> None:
    client = ctx.bed.client()
    ctx.take(
        ctx.bed.run(
            client.rest(
                "POST",
                f"/{operation}",
                raw=text.encode(),
                headers={"Content-Type": "application/json"},
            )
        )
    )


@when(d2_step('the operator sends {method} "{path:Q}" with {body:J}'))
def sends_rest(ctx: Ctx, method: str, path: str, body: Any) -> None:
    ctx.take(ctx.bed.run(ctx.bed.client().rest(method, path, json_body=body)))


@given(
    d2_step('the operator whitelists "{identity:Q}" with a provisioning window of {s:N} seconds')
)
def whitelist_with_window(ctx: Ctx, identity: str, s: float) -> None:
    expire = ctx.bed.run(ctx.bed.service_now_us()) + int(s * US)
    ctx.call("addIdentity", {"identity": identity, "auth": {"expire": expire}})
    ctx.must_succeed(f"addIdentity {identity}")


@when(d2_step('the operator sets the credentials of "{identity:Q}" to expire in {s:N} seconds'))
def credentials_expire(ctx: Ctx, identity: str, s: float) -> None:
    expire = ctx.bed.run(ctx.bed.service_now_us()) + int(s * US)
    ctx.call("updateIdentity", {"identity": identity, "auth": {"expire": expire}})
    ctx.must_succeed(f"updateIdentity {identity}")


# -- answers ----------------------------------------------------------------------------------
@then(d2_step("the answer is {status:d}"))
def answer_status(ctx: Ctx, status: int) -> None:
    assert ctx.answer is not None
    assert ctx.answer.status == status, (
        f"expected {status}, got {ctx.answer.status}: {ctx.answer.text}"
    )


@then(d2_step('the answer is {status:d} naming "{field:Q}"'))
def answer_names_field(ctx: Ctx, status: int, field: str) -> None:
    answer_status(ctx, status)
    body = ctx.body
    assert isinstance(body, dict), (
        f"the refusal is not a JSON object: {ctx.answer and ctx.answer.text}"
    )
    assert body.get("field") == field, (
        f"the refusal names field {body.get('field')!r}, not {field!r}: {body}"
    )
    message = str(body.get("message") or "")
    value = ctx.params.get(field) if isinstance(ctx.params, dict) else None
    named = field in message or (isinstance(value, str) and value and repr(value) in message)
    assert named, f"the message names neither {field!r} nor its value: {message!r}"


@then(d2_step("the answer is {value:L}"))
def answer_is(ctx: Ctx, value: Any) -> None:
    assert ctx.body == value, f"the answer is {shown(ctx.body)}, expected {shown(value)}"


@then(d2_step('the answer\'s "{path}" is {value:J}'))
def answer_field(ctx: Ctx, path: str, value: Any) -> None:
    got = at_path(ctx.body, path)
    assert got == value, f"{path} is {shown(got)}, expected {shown(value)}"


@then(d2_step('the answer\'s "{path}" is not {value:J}'))
def answer_field_not(ctx: Ctx, path: str, value: Any) -> None:
    got = at_path(ctx.body, path)
    assert got != value, f"{path} is {shown(got)}"


@then(d2_step('the answer\'s "{path}" is a number'))
def answer_number(ctx: Ctx, path: str) -> None:
    got = at_path(ctx.body, path)
    assert isinstance(got, int | float) and not isinstance(got, bool) and math.isfinite(got), got


@then(d2_step('the answer\'s "{path}" is a valid "{kind}" identity'))
def answer_identity_format(ctx: Ctx, path: str, kind: str) -> None:
    identity = at_path(ctx.body, path)
    assert ctx.identity_format.get("type") == kind, ctx.identity_format
    assert isinstance(identity, str) and matches_format(identity, ctx.identity_format), (
        f"{identity!r} is not a {kind} identity of {ctx.identity_format}"
    )


@then(d2_step("the answer has the fields {names:Names}"))
def answer_fields(ctx: Ctx, names: list[str]) -> None:
    missing = [n for n in names if n not in (ctx.body or {})]
    assert not missing, f"the answer lacks {missing}: {shown(ctx.body)}"


@then(d2_step('the answer does not contain "{text:Q}"'))
def answer_lacks(ctx: Ctx, text: str) -> None:
    assert ctx.answer is not None and text not in ctx.answer.text


@then(d2_step('the answer does not contain the token of "{name:Q}"'))
def answer_lacks_token(ctx: Ctx, name: str) -> None:
    token = ctx.bed.client(name).token
    assert token and ctx.answer is not None and token not in ctx.answer.text


@then(d2_step("the listed identities are {names:Names}"))
def listed(ctx: Ctx, names: list[str]) -> None:
    got = [d["identity"] for d in at_path(ctx.body, "devices")]
    assert got == names, f"listed {got}, expected {names}"


@then(d2_step("the listed identities, in any order, are {names:Names}"))
def listed_any_order(ctx: Ctx, names: list[str]) -> None:
    got = [d["identity"] for d in at_path(ctx.body, "devices")]
    assert sorted(got) == sorted(names), f"listed {got}, expected {names}"


# -- identities ------------------------------------------------------------------------------
@given(d2_step('"{identity:Q}" has status "{status:Q}"'))
@then(d2_step('"{identity:Q}" has status "{status:Q}"'))
def has_status(ctx: Ctx, identity: str, status: str) -> None:
    body = ctx.call("getIdentity", {"identity": identity})
    ctx.must_succeed(f"getIdentity {identity}")
    assert body["status"] == status, f"{identity} is {body['status']}, expected {status}"


@then(d2_step('"{identity:Q}" is online'))
def is_online(ctx: Ctx, identity: str) -> None:
    body = ctx.call("getIdentity", {"identity": identity})
    ctx.must_succeed(f"getIdentity {identity}")
    assert body["online"] is True, body
