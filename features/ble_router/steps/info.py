"""Management steps: the router's configuration (``GET /cassia/info``)."""

from __future__ import annotations

from typing import Any

from pytest_bdd import then, when

from conformance.evidence import expect
from features.ble_router.steps.support import MAC_TEXT, Ctx, query_dict, step_text

INFO_PATH = "/cassia/info"


def configuration(ctx: Ctx) -> dict[str, Any]:
    response = ctx.response()
    expect(
        response.status == 200,
        "200 with the configuration",
        f"{response.status} {response.text[:200]!r}",
        "GET /cassia/info failed",
    )
    content_type = response.headers.get("content-type", "")
    expect(
        content_type.startswith("application/json"),
        "Content-Type: application/json",
        content_type or "(none)",
        "the configuration is not served as JSON",
    )
    body = ctx.json(response)
    expect(isinstance(body, dict), "a JSON object", body, "the configuration is not an object")
    return dict(body)


@when("the client asks for the router's configuration")
def _(ctx: Ctx) -> None:
    ctx.request("GET", INFO_PATH)


@when(step_text('the client asks for the router\'s configuration with "{query:Q}"'))
def _(ctx: Ctx, query: str) -> None:
    ctx.request("GET", INFO_PATH, params=query_dict(query))


@then("the configuration names the router's MAC address and firmware version")
def _(ctx: Ctx) -> None:
    body = configuration(ctx)
    mac, version = body.get("mac"), body.get("version")
    expect(
        isinstance(mac, str) and MAC_TEXT.match(mac),
        '"mac": "CC:1B:E0:E7:FD:84"-like',
        mac,
        "the configuration has no usable MAC address",
    )
    expect(
        isinstance(version, str) and version.strip(),
        '"version": a non-empty string',
        version,
        "the configuration has no firmware version",
    )


@then(step_text("the configuration has the fields {fields:Names}"))
def _(ctx: Ctx, fields: list[str]) -> None:
    body = configuration(ctx)
    missing = [f for f in fields if f not in body]
    expect(not missing, fields, sorted(body), f"missing field(s): {', '.join(missing)}")


@then(step_text('the configuration has no "{field:Q}" section'))
def _(ctx: Ctx, field: str) -> None:
    body = configuration(ctx)
    expect(
        field not in body,
        f"no {field!r} key",
        f"{field!r}: {str(body.get(field))[:200]}",
        f"the default configuration output must not carry {field!r}",
    )


@then(step_text('the configuration has a "{field:Q}" section'))
def _(ctx: Ctx, field: str) -> None:
    body = configuration(ctx)
    expect(
        isinstance(body.get(field), dict),
        f"{field!r}: {{...}}",
        body.get(field, "absent"),
        f"the configuration lacks its {field!r} section",
    )


@then("the answer carries the container status")
def _(ctx: Ctx) -> None:
    """``fields=container``: the seed says the output has the structure of the old container
    section; accept it bare or under a ``container`` key."""
    body = configuration(ctx)
    section = body.get("container", body)
    expect(
        isinstance(section, dict) and "status" in section and "status_code" in section,
        'the container status ({"status": ..., "status_code": ..., ...})',
        body,
        "fields=container did not return the container status",
    )
