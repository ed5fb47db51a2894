"""Pairing steps: the seed's Secure Pairing API (``pair``, ``pair-input``, ``DELETE .../bond``)
and what the peripheral on the other side shows, types and keeps.

Peripherals are the stock sensor with a ``security`` description (see
:class:`devices.ble.spec.SecuritySpec`), written in a step as
``"io=KeyboardOnly; sc=no; oob=legacy; behaviour=reject; passkey=123456; mitm=yes; bonding=no"``.
What a person would read off a peripheral (its displayed passkey or comparison number, its OOB
label) comes from the world-control state, never from the router. Pair requests carry a JSON
body with the peripheral's address type, as the seed's Security OOB example does.
"""

from __future__ import annotations

import re
from typing import Any

from pytest_bdd import given, then, when

from conformance.evidence import expect
from features.ble_router.steps.connection import connected_nodes
from features.ble_router.steps.support import Ctx, norm_mac, query_dict, step_text
from features.ble_router.steps.world import sensor_spec

# The seed's "Pairing Status Codes" table.
PAIRING_STATUS = {
    0: "Pairing Failed",
    1: "Pairing Successful",
    2: "Pairing Aborted",
    3: "LE Legacy Pairing OOB Expected",
    4: "LE Secure Connections Pairing OOB Expected",
    5: "Passkey Input Expected",
    6: "Passkey Display Expected",
    7: "Numeric Comparison Expected",
}
_SECURITY_KEYS = {
    "io": "io_capability",
    "sc": "secure_connections",
    "mitm": "mitm",
    "bonding": "bonding",
    "behaviour": "behaviour",
    "oob": "oob",
    "passkey": "passkey",
}


def security_of(options: str) -> dict[str, Any]:
    """``"io=KeyboardOnly; sc=no"`` -> ``{"io_capability": "KeyboardOnly",
    "secure_connections": False}``."""
    security: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in options.split(";"))):
        key, _, value = part.partition("=")
        key, value = key.strip().lower(), value.strip()
        if key not in _SECURITY_KEYS:
            raise ValueError(f"security option {key!r} is not one of {', '.join(_SECURITY_KEYS)}")
        field = _SECURITY_KEYS[key]
        if field in ("secure_connections", "mitm", "bonding"):
            security[field] = value.lower() in ("yes", "true", "1")
        elif field == "passkey":
            security[field] = int(value)
        else:
            security[field] = value
    return security


def node_path(ctx: Ctx, name: str, tail: str) -> str:
    return f"/management/nodes/{ctx.address(name)}/{tail}"


def pair(ctx: Ctx, name: str, body: dict[str, Any]) -> None:
    full = {"type": ctx.address_type(name), **body}
    ctx.request("POST", node_path(ctx, name, "pair"), json_body=full, timeout=60)


def pair_input(ctx: Ctx, name: str, body: dict[str, Any]) -> None:
    ctx.request("POST", node_path(ctx, name, "pair-input"), json_body=body, timeout=60)


async def security_async(ctx: Ctx, name: str) -> dict[str, Any]:
    state = await ctx.bed.peripheral_state(name)
    return dict(state.get("security") or {})


def security_state(ctx: Ctx, name: str) -> dict[str, Any]:
    return ctx.run(security_async(ctx, name))


def security_holds(ctx: Ctx, name: str, test: Any) -> Any:
    """A :meth:`Ctx.wait_until` predicate: ``test(security state)`` read in the world."""

    async def check() -> bool:
        return bool(test(await security_async(ctx, name)))

    return check


def shown_on(ctx: Ctx, name: str, seconds: float = 5.0) -> str:
    """The number the peripheral displays (waiting for it to appear)."""
    holder: dict[str, Any] = {}

    async def displayed() -> bool:
        holder.update(await security_async(ctx, name))
        return bool(holder.get("display"))

    ctx.wait_until(displayed, seconds)
    expect(
        bool(holder.get("display")),
        f"{name} displays a passkey or number",
        holder,
        f"{name} showed nothing to read within {seconds:g} s",
    )
    return str(holder["display"])


def pairing_answer(ctx: Ctx) -> dict[str, Any]:
    response = ctx.response()
    expect(
        response.status == 200,
        "200 with a pairing status",
        f"{response.status} {response.text[:300]!r}",
        f"{ctx.last.method} {ctx.last.target} did not answer 200" if ctx.last else "",
    )
    body = ctx.json(response)
    expect(isinstance(body, dict), "a JSON object", response.text[:300], "not a JSON object")
    return dict(body)


def pair_status(ctx: Ctx, name: str) -> str | None:
    for node in connected_nodes(ctx):
        if norm_mac(node.get("id", "")) == norm_mac(ctx.address(name)):
            return str(node.get("pairStatus"))
    return None


def pair_status_is(ctx: Ctx, name: str, status: str) -> Any:
    """A :meth:`Ctx.wait_until` predicate: the connected list shows ``status`` for ``name``."""

    async def check() -> bool:
        last = await ctx.send_async("GET", "/gap/nodes", {"connection_state": "connected"})
        if last.response is None or last.response.status != 200:
            return False
        for node in last.response.json().get("nodes", []):
            if norm_mac(node.get("id", "")) == norm_mac(ctx.address(name)):
                return bool(node.get("pairStatus") == status)
        return False

    return check


# -- the peripherals ------------------------------------------------------------------------------
@given(step_text('a peripheral "{name:Q}" at {distance:N} m with security "{options:Q}"'))
def _(ctx: Ctx, name: str, distance: float, options: str) -> None:
    spec = sensor_spec(ctx, name, distance)
    spec["security"] = security_of(options)
    ctx.place(spec)


# -- the requests ---------------------------------------------------------------------------------
@given(step_text('the client paired with "{name:Q}" using "{params:Q}"'))
@when(step_text('the client pairs with "{name:Q}" using "{params:Q}"'))
def _(ctx: Ctx, name: str, params: str) -> None:
    pair(ctx, name, query_dict(ctx.expand(params)))


@when(
    step_text(
        'the client pairs with "{name:Q}" using the Security OOB data printed on it '
        'and "{params:Q}"'
    )
)
def _(ctx: Ctx, name: str, params: str) -> None:
    label = security_state(ctx, name).get("oob") or {}
    expect(
        "rand" in label and "confirm" in label,
        "rand and confirm on the device's label",
        label,
        f"{name} shows no Security OOB data",
    )
    pair(
        ctx,
        name,
        {"oob": 2, "rand": label["rand"], "confirm": label["confirm"], **query_dict(params)},
    )


@when(
    step_text('the client pairs with "{name:Q}" using Security OOB data with a wrong confirm value')
)
def _(ctx: Ctx, name: str) -> None:
    label = security_state(ctx, name).get("oob") or {}
    wrong = f"{(int(label['confirm'], 16) ^ 1):032x}"
    pair(
        ctx,
        name,
        {"oob": 2, "rand": label["rand"], "confirm": wrong, "iocapability": "KeyboardDisplay"},
    )


@when(step_text('the client enters the passkey shown on "{name:Q}"'))
def _(ctx: Ctx, name: str) -> None:
    pair_input(ctx, name, {"passkey": shown_on(ctx, name)})


@when(step_text('the client enters a wrong passkey for "{name:Q}"'))
def _(ctx: Ctx, name: str) -> None:
    wrong = (int(shown_on(ctx, name)) + 1) % 1_000_000
    pair_input(ctx, name, {"passkey": f"{wrong:06d}"})


@when(step_text('the client sends the pair-input "{body:Q}" for "{name:Q}"'))
def _(ctx: Ctx, body: str, name: str) -> None:
    pair_input(ctx, name, query_dict(body))


@when(step_text('the client enters the TK printed on "{name:Q}"'))
def _(ctx: Ctx, name: str) -> None:
    label = security_state(ctx, name).get("oob") or {}
    expect("tk" in label, "a TK on the device's label", label, f"{name} shows no TK")
    pair_input(ctx, name, {"tk": label["tk"]})


@when(step_text('the client enters a TK other than the one printed on "{name:Q}"'))
def _(ctx: Ctx, name: str) -> None:
    tk = str((security_state(ctx, name).get("oob") or {}).get("tk", "0x" + "0" * 32))
    pair_input(ctx, name, {"tk": "0x" + f"{int(tk, 16) ^ 1:032X}"})


@when(step_text('the client answers the comparison for "{name:Q}" with "{answer:Q}"'))
def _(ctx: Ctx, name: str, answer: str) -> None:
    pair_input(ctx, name, {"passkey": answer})


@when(step_text('the user types the passkey the router displays into "{name:Q}"'))
def _(ctx: Ctx, name: str) -> None:
    display = str(pairing_answer(ctx).get("display", ""))
    expect(
        bool(re.fullmatch(r"\d{6}", display)),
        "a 6-digit display in the answer",
        display,
        "the router's answer carries no passkey to type",
    )
    ctx.wait_until(security_holds(ctx, name, lambda s: s.get("waiting_for_passkey")), 5.0)
    ctx.run(ctx.bed.type_passkey(name, int(display)))


@when(step_text('the client unpairs "{name:Q}"'))
def _(ctx: Ctx, name: str) -> None:
    ctx.request("DELETE", node_path(ctx, name, "bond"))


# -- the answers ----------------------------------------------------------------------------------
@then(step_text("the pairing answer is {code:I}"))
def _(ctx: Ctx, code: int) -> None:
    body = pairing_answer(ctx)
    got = (body.get("pairingStatusCode"), body.get("pairingStatus"))
    expect(
        got == (code, PAIRING_STATUS[code]),
        f"{code} {PAIRING_STATUS[code]!r}",
        f"{got[0]} {got[1]!r}",
        "the pairing status is not the one the seed's table gives",
    )
    if code in (6, 7):
        display = str(body.get("display", ""))
        expect(
            bool(re.fullmatch(r"\d{6}", display)),
            "display: 6 digits",
            body,
            f"status {code} must carry the number to display",
        )


@then(step_text('the pairing answer is 7 showing the number "{name:Q}" displays'))
def _(ctx: Ctx, name: str) -> None:
    body = pairing_answer(ctx)
    shown = shown_on(ctx, name)
    got = (body.get("pairingStatusCode"), body.get("display"))
    expect(
        got == (7, shown),
        f"7 with display {shown!r}",
        got,
        "numeric comparison must show the same number on both sides",
    )


@then(step_text('"{name:Q}" is listed with pairStatus "{status:Q}"'))
def _(ctx: Ctx, name: str, status: str) -> None:
    got = pair_status(ctx, name)
    expect(
        got == status,
        f'pairStatus "{status}"',
        got,
        f"{name}'s pairStatus in the connected-device list is wrong",
    )


@then(step_text('"{name:Q}" is listed with pairStatus "{status:Q}" within {seconds:N} seconds'))
def _(ctx: Ctx, name: str, status: str, seconds: float) -> None:
    ctx.wait_until(pair_status_is(ctx, name, status), seconds)
    got = pair_status(ctx, name)
    expect(
        got == status,
        f'pairStatus "{status}" within {seconds:g} s',
        got,
        f"{name}'s pairStatus did not become {status!r}",
    )


@then(step_text('"{name:Q}" has completed {count:I} pairing(s)'))
def _(ctx: Ctx, name: str, count: int) -> None:
    ctx.wait_until(security_holds(ctx, name, lambda s: s.get("pairings") == count), 2.0)
    got = security_state(ctx, name).get("pairings")
    expect(
        got == count,
        f"{count} completed pairing(s) on {name}",
        got,
        f"{name} went through a different number of pairings",
    )


@then(step_text('the link to "{name:Q}" is encrypted'))
def _(ctx: Ctx, name: str) -> None:
    ctx.wait_until(security_holds(ctx, name, lambda s: s.get("encrypted")), 3.0)
    state = security_state(ctx, name)
    expect(
        bool(state.get("encrypted")),
        f"an encrypted link to {name}",
        state,
        "the router did not encrypt the link",
    )


@then(step_text('the link to "{name:Q}" is not encrypted'))
def _(ctx: Ctx, name: str) -> None:
    ctx.pass_time(1.0)
    state = security_state(ctx, name)
    expect(
        not state.get("encrypted"),
        f"a plain link to {name}",
        state,
        "the link was encrypted although no bond should exist",
    )


@then(step_text('"{name:Q}" holds {count:I} bond(s)'))
def _(ctx: Ctx, name: str, count: int) -> None:
    ctx.wait_until(security_holds(ctx, name, lambda s: len(s.get("bonds") or []) == count), 2.0)
    bonds = security_state(ctx, name).get("bonds") or []
    expect(
        len(bonds) == count,
        f"{count} bond(s) kept by {name}",
        bonds,
        "the device kept a different set of bonds than bond= asked for",
    )
