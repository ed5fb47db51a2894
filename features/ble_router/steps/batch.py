"""Batch-connect steps: ``POST /gap/batch-connect`` (a JSON body with ``list``, ``timeout``,
``per_dev_timeout``), ``DELETE /gap/batch-connect`` and the "connect timeout" events of the
connection-state stream."""

from __future__ import annotations

import json
from typing import Any

from pytest_bdd import then, when

from conformance.evidence import expect
from features.ble_router.steps.connection import CONNECTION_STATE, expect_ok, state_events
from features.ble_router.steps.support import Ctx, norm_mac, query_dict, step_text

BATCH_PATH = "/gap/batch-connect"


def entry(ctx: Ctx, name_or_address: str) -> dict[str, str]:
    if ":" in name_or_address:  # an address nobody has
        return {"type": "random", "addr": name_or_address}
    return {"type": ctx.address_type(name_or_address), "addr": ctx.address(name_or_address)}


@when(step_text('the client batch-connects {names:Names} with "{params:Q}"'))
def _(ctx: Ctx, names: list[str], params: str) -> None:
    body: dict[str, Any] = dict(query_dict(ctx.expand(params)))
    body["list"] = [entry(ctx, n) for n in names]
    ctx.marks["batch_sent"] = ctx.now
    ctx.request("POST", BATCH_PATH, json_body=body)
    expect_ok(ctx, "the batch-connect request")


@when(step_text("the client batch-connects {names:Names}"))
def _(ctx: Ctx, names: list[str]) -> None:
    ctx.marks["batch_sent"] = ctx.now
    ctx.request("POST", BATCH_PATH, json_body={"list": [entry(ctx, n) for n in names]})
    expect_ok(ctx, "the batch-connect request")


@when(step_text("the client sends the batch-connect body {body}"))
def _(ctx: Ctx, body: str) -> None:
    ctx.request("POST", BATCH_PATH, json_body=json.loads(ctx.expand(body)))


@when("the client removes the batch-connect list")
def _(ctx: Ctx) -> None:
    ctx.request("DELETE", BATCH_PATH)
    expect_ok(ctx, "DELETE /gap/batch-connect")


@then(
    step_text(
        'the connection-state stream shows "{name:Q}" "connect timeout" between '
        "{low:N} and {high:N} seconds after the batch request"
    )
)
def _(ctx: Ctx, name: str, low: float, high: float, hil_record: dict[str, Any]) -> None:
    address = name if ":" in name else ctx.address(name)
    recorder = ctx.stream(CONNECTION_STATE)
    sent = float(ctx.marks["batch_sent"])

    def timeout_events() -> list[Any]:
        return [
            e
            for e in recorder.events
            if isinstance(e.data, dict)
            and norm_mac(e.data.get("handle", "")) == norm_mac(address)
            and e.data.get("connectionState") == "connect timeout"
        ]

    ctx.wait_until(lambda: timeout_events(), sent + high + 0.5 - ctx.now, recorder)
    found = timeout_events()
    at = found[0].t - sent if found else None
    if at is not None:
        hil_record.setdefault("measurements", {}).setdefault("connect_timeout_s", []).append(at)
    expect(
        at is not None and low <= at <= high,
        {"handle": address, "connectionState": "connect timeout", "after_s": f"{low:g}..{high:g}"},
        f"after {at:.3f} s: {found[0].data}"
        if found and at is not None
        else "no connect timeout event",
        f"the batch's connect timeout for {name} is not reported as documented",
    )
    data = found[0].data if found else {}
    expect(
        isinstance(data.get("chipId"), int),
        "a chipId number",
        data,
        "the connect timeout event lacks chipId",
    )


@then(step_text('the connection-state stream never shows "{name:Q}" "{state:Q}"'))
def _(ctx: Ctx, name: str, state: str) -> None:
    if ":" in name:
        seen = [
            e.data
            for e in ctx.stream(CONNECTION_STATE).events
            if isinstance(e.data, dict) and norm_mac(e.data.get("handle", "")) == name
        ]
    else:
        seen = state_events(ctx, name)
    bad = [e for e in seen if e.get("connectionState") == state]
    expect(not bad, f"no {state!r} event for {name}", bad, f"{name} was reported {state!r}")
