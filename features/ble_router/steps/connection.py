"""Connection steps: connect/disconnect, the connected-device list and the connection-state
stream (``GET /management/nodes/connection-state``).

Connect requests send their parameters as a JSON body with string values, as the seed's own
example does (``-d '{"timeout":"10000","type":"public"}'``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from pytest_bdd import given, then, when

from conformance.evidence import expect
from features.ble_router.steps.support import Ctx, LastRequest, norm_mac, query_dict, step_text

CONNECTION_STATE = "connection-state"
CONNECTION_STATE_PATH = "/management/nodes/connection-state"


def connect_path(address: str) -> str:
    return f"/gap/nodes/{address}/connection"


def connect_body(ctx: Ctx, name: str, params: str = "", with_type: bool = True) -> dict[str, str]:
    body: dict[str, str] = {"type": ctx.address_type(name)} if with_type else {}
    body.update(query_dict(ctx.expand(params)))
    return body


def connect(ctx: Ctx, name: str, params: str = "", with_type: bool = True) -> LastRequest:
    return ctx.request(
        "POST",
        connect_path(ctx.address(name)),
        json_body=connect_body(ctx, name, params, with_type),
    )


def expect_ok(ctx: Ctx, what: str) -> None:
    response = ctx.response()
    expect(
        response.status == 200 and response.text.strip() == "OK",
        "200 OK",
        f"{response.status} {response.text.strip()[:200]!r}",
        f"{what} did not answer 200 OK",
    )


def connected_nodes(ctx: Ctx) -> list[dict[str, Any]]:
    last = ctx.request("GET", "/gap/nodes", params={"connection_state": "connected"})
    response = ctx.response()
    expect(
        response.status == 200,
        "200 with the connected devices",
        f"{response.status} {response.text[:200]!r}",
        f"{last.method} {last.target} failed",
    )
    body = ctx.json(response)
    nodes = body.get("nodes") if isinstance(body, dict) else None
    expect(
        isinstance(nodes, list),
        '{"nodes": [...]}',
        response.text[:300],
        "the connected-device list is not shaped as documented",
    )
    assert isinstance(nodes, list)
    return [n for n in nodes if isinstance(n, dict)]


def node_ids(nodes: list[dict[str, Any]]) -> list[str]:
    return [norm_mac(n.get("id", "")) for n in nodes]


# -- connect and disconnect -------------------------------------------------------------------


@when(step_text('the client connects to "{name:Q}"'))
def _(ctx: Ctx, name: str) -> None:
    connect(ctx, name)


@when(step_text('the client connects to "{name:Q}" with "{params:Q}"'))
def _(ctx: Ctx, name: str, params: str) -> None:
    connect(ctx, name, params)


@when(step_text('the client connects to "{name:Q}" without giving the address type'))
def _(ctx: Ctx, name: str) -> None:
    connect(ctx, name, with_type=False)


@when(step_text('the client connects to the address "{address:Q}" with "{params:Q}"'))
def _(ctx: Ctx, address: str, params: str) -> None:
    ctx.request("POST", connect_path(ctx.expand(address)), json_body=query_dict(ctx.expand(params)))


@given(step_text('"{name:Q}" is connected'))
@when(step_text('"{name:Q}" is connected'))
def _(ctx: Ctx, name: str) -> None:
    connect(ctx, name)
    expect_ok(ctx, f"connecting {name}")


@when(step_text('the client disconnects "{name:Q}"'))
def _(ctx: Ctx, name: str) -> None:
    ctx.request("DELETE", connect_path(ctx.address(name)))


@when(step_text('the client connects to "{first:Q}" and "{second:Q}" at the same time'))
def _(ctx: Ctx, first: str, second: str) -> None:
    async def both() -> list[LastRequest]:
        one = asyncio.ensure_future(
            ctx.send_async(
                "POST", connect_path(ctx.address(first)), json_body=connect_body(ctx, first)
            )
        )
        await asyncio.sleep(0.001)  # the first request is surely on its way
        two = asyncio.ensure_future(
            ctx.send_async(
                "POST", connect_path(ctx.address(second)), json_body=connect_body(ctx, second)
            )
        )
        return list(await asyncio.gather(one, two))

    results = ctx.run(both())
    ctx.concurrent = list(zip((first, second), results, strict=True))
    ctx.last = results[-1]


@then("the connection succeeds")
def _(ctx: Ctx) -> None:
    expect_ok(ctx, "the connect request")


@then("the disconnection succeeds")
def _(ctx: Ctx) -> None:
    expect_ok(ctx, "the disconnect request")


@then(step_text("the attempt gave up within {seconds:N} seconds"))
def _(ctx: Ctx, seconds: float, hil_record: dict[str, Any]) -> None:
    last = ctx.last
    assert last is not None
    hil_record.setdefault("measurements", {}).setdefault("request_s", []).append(last.elapsed)
    expect(
        last.elapsed <= seconds,
        f"an answer within {seconds:g} s",
        f"{last.elapsed:.3f} s",
        f"{last.method} {last.target} took too long",
    )


@then(step_text("the attempt lasted between {low:N} and {high:N} seconds"))
def _(ctx: Ctx, low: float, high: float, hil_record: dict[str, Any]) -> None:
    last = ctx.last
    assert last is not None
    hil_record.setdefault("measurements", {}).setdefault("request_s", []).append(last.elapsed)
    expect(
        low <= last.elapsed <= high,
        f"an answer after {low:g}..{high:g} s",
        f"{last.elapsed:.3f} s",
        f"{last.method} {last.target} did not keep to its timeout",
    )


@then(step_text("the first connect succeeds and the second is answered with 200 or 500"))
def _(ctx: Ctx) -> None:
    expect(len(ctx.concurrent) == 2, "two concurrent connects", ctx.concurrent, "")
    (first, one), (second, two) = ctx.concurrent
    for name, result in ((first, one), (second, two)):
        expect(
            result.response is not None,
            f"an answer to connecting {name}",
            result.error,
            f"connecting {name} got no answer while another connect was running",
        )
    assert one.response is not None and two.response is not None
    expect(
        one.response.status == 200,
        "200 OK for the first connect",
        f"{one.response.status} {one.response.text[:200]!r}",
        f"connecting {first} failed because a second connect request came in",
    )
    expect(
        two.response.status in (200, 500),
        "200 (queued) or 500 (refused while busy)",
        f"{two.response.status} {two.response.text[:200]!r}",
        f"the second, overlapping connect to {second} got an undocumented answer",
    )


@then("the connected-device list agrees with the connect answers")
def _(ctx: Ctx) -> None:
    ids = node_ids(connected_nodes(ctx))
    for name, result in ctx.concurrent:
        ok = result.response is not None and result.response.status == 200
        listed = norm_mac(ctx.address(name)) in ids
        expect(
            ok == listed,
            f"{name} {'listed' if ok else 'not listed'} (connect answered "
            f"{result.response.status if result.response else 'nothing'})",
            f"{name} {'listed' if listed else 'not listed'}",
            f"the connected-device list contradicts the answer to connecting {name}",
        )


# -- the connected-device list ----------------------------------------------------------------


@then(step_text('the connected-device list contains "{name:Q}"'))
def _(ctx: Ctx, name: str) -> None:
    ids = node_ids(connected_nodes(ctx))
    expect(
        norm_mac(ctx.address(name)) in ids,
        f"{ctx.address(name)} listed",
        ids or "an empty list",
        f"{name} is missing from the connected-device list",
    )


@then(step_text('the connected-device list does not contain "{name:Q}"'))
def _(ctx: Ctx, name: str) -> None:
    ids = node_ids(connected_nodes(ctx))
    expect(
        norm_mac(ctx.address(name)) not in ids,
        f"{ctx.address(name)} not listed",
        ids,
        f"{name} is still in the connected-device list",
    )


@then(step_text('the connected-device list describes "{name:Q}" as documented'))
def _(ctx: Ctx, name: str) -> None:
    address = norm_mac(ctx.address(name))
    nodes = [n for n in connected_nodes(ctx) if norm_mac(n.get("id", "")) == address]
    expect(nodes, f"an entry with id {address}", "none", f"{name} is not listed")
    node = nodes[0]
    kind = ctx.address_type(name)
    bdaddrs = node.get("bdaddrs")
    if isinstance(bdaddrs, list):  # tolerate the scan stream's list form
        bdaddrs = bdaddrs[0] if bdaddrs else None
    problems = []
    if node.get("connectionState") != "connected":
        problems.append(f"connectionState is {node.get('connectionState')!r}")
    if node.get("type") != kind:
        problems.append(f"type is {node.get('type')!r}, the device's address is {kind}")
    if not isinstance(bdaddrs, dict) or norm_mac(bdaddrs.get("bdaddr", "")) != address:
        problems.append(f"bdaddrs is {bdaddrs!r}")
    else:
        # the seed's example spells it "bdaddType"; accept either spelling
        given_type = bdaddrs.get("bdaddrType", bdaddrs.get("bdaddType"))
        if given_type != kind:
            problems.append(f"bdaddrs type is {given_type!r}, expected {kind!r}")
    expect(
        not problems,
        {
            "id": address,
            "type": kind,
            "connectionState": "connected",
            "bdaddrs": {"bdaddr": address, "bdaddrType": kind},
        },
        node,
        "; ".join(problems),
    )


@then(step_text('"{name:Q}" holds a link to the router, by its own account'))
def _(ctx: Ctx, name: str) -> None:
    _expect_links(ctx, name, connected=True)


@then(step_text('"{name:Q}" holds no link any more, by its own account'))
def _(ctx: Ctx, name: str) -> None:
    _expect_links(ctx, name, connected=False)


def _expect_links(ctx: Ctx, name: str, connected: bool, seconds: float = 3.0) -> None:
    """The device's own view of its links (world control), given the time the air needs."""
    state: dict[str, Any] = {}

    async def agrees() -> bool:
        state.update(await ctx.bed.peripheral_state(name))
        return isinstance(state.get("links"), int) and (state["links"] > 0) == connected

    ok = ctx.wait_until(agrees, seconds)
    expect(
        ok,
        f"{name} {'connected' if connected else 'holding no link'} by its own account",
        f"links: {state.get('links', 'not reported by world control')}",
        f"the router's answers and {name}'s own view of its link disagree",
    )


# -- the connection-state stream --------------------------------------------------------------


@given("a client opens the connection-state stream")
@when("a client opens the connection-state stream")
def _(ctx: Ctx) -> None:
    ctx.open_stream(CONNECTION_STATE, CONNECTION_STATE_PATH, {})


def state_events(ctx: Ctx, name: str) -> list[dict[str, Any]]:
    address = norm_mac(ctx.address(name))
    recorder = ctx.stream(CONNECTION_STATE)
    return [
        e.data
        for e in recorder.events
        if isinstance(e.data, dict) and norm_mac(e.data.get("handle", "")) == address
    ]


@then(
    step_text('the connection-state stream shows "{name:Q}" "{state:Q}" within {seconds:N} seconds')
)
def _(ctx: Ctx, name: str, state: str, seconds: float, hil_record: dict[str, Any]) -> None:
    recorder = ctx.stream(CONNECTION_STATE)
    expect(
        recorder.status == 200 and recorder.error is None,
        "the connection-state stream open",
        recorder.describe(),
        "the connection-state stream was not served",
    )
    started = ctx.now

    def seen() -> bool:
        return any(e.get("connectionState") == state for e in state_events(ctx, name))

    found = ctx.wait_until(seen, seconds, recorder)
    hil_record.setdefault("measurements", {}).setdefault(
        f"connection_state_wait_s[{state}]", []
    ).append(ctx.now - started)
    events = state_events(ctx, name)
    expect(
        found,
        {"handle": ctx.address(name), "connectionState": state},
        events or f"no event for {name} ({recorder.describe()})",
        f"no '{state}' event for {name} within {seconds:g} s",
    )


@then(step_text('the answer reports the RSSI of "{name:Q}" between {low:I} and {high:I} dBm'))
def _(ctx: Ctx, name: str, low: int, high: int) -> None:
    response = ctx.response()
    body = response.json() if response.status == 200 else None
    rssi = body.get("rssi") if isinstance(body, dict) else None
    expect(
        isinstance(body, dict)
        and body.get("id") == ctx.address(name)
        and isinstance(rssi, int)
        and low <= rssi <= high,
        f'{{"id": "{ctx.address(name)}", "rssi": {low}..{high}}}',
        f"{response.status} {response.text[:200]!r}",
        f"the RSSI of the connection to {name} is not as its distance implies",
    )
