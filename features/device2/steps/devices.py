"""Steps on the simulated devices: placing them (one phrase, its clauses in any useful
combination), switching them, what they did and were told, and their own device-API calls."""

from __future__ import annotations

import re
from typing import Any

from pytest_bdd import given, parsers, then, when

from devices.cloud.device2.device_clients import HttpDevice, MqttDevice, Refusal, SimDevice
from features.device2.steps.support import US, Ctx, d2_step, matches_format

_DEVICE = r'(?:an|a) (?P<protocol>HTTP|MQTT) device "(?P<name>[^"]+)"(?P<clauses>.*?)'
_CLAUSES = (
    (re.compile(r' with identity "([^"]+)"'), lambda m: {"identity": m[1]}),
    (re.compile(r" without an identity"), lambda m: {"identity": None}),
    (re.compile(r' at "([^"]+)"'), lambda m: {"ip": m[1]}),
    (
        re.compile(
            r' reporting "([^"]+)" from (-?[\d.]+)(?: by (-?[\d.]+))? every ([\d.]+) seconds'
        ),
        lambda m: {
            "alias": m[1],
            "start": _num(m[2]),
            "step": _num(m[3] or "1"),
            "period_s": float(m[4]),
        },
    ),
    (re.compile(r" reporting every ([\d.]+) seconds"), lambda m: {"period_s": float(m[1])}),
    (re.compile(r' watching "([^"]+)"'), lambda m: {"watch": [m[1]]}),
    (re.compile(r" and a client certificate"), lambda m: {"auth": "certificate"}),
    (re.compile(r' and the password "([^"]+)"'), lambda m: {"auth": "password", "password": m[1]}),
    (re.compile(r" that does not acknowledge sets"), lambda m: {"_no_ack": True}),
)


def _num(text: str) -> float | int:
    value = float(text)
    return int(value) if value.is_integer() else value


def placement(ctx: Ctx, protocol: str, name: str, clauses: str) -> dict[str, Any]:
    """The device spec a step's phrase describes (every clause must be understood)."""
    spec: dict[str, Any] = {
        "name": name,
        "protocol": protocol.lower(),
        "ip": f"192.0.2.{100 + len(ctx.bed.devices)}",
        "alias": "temperature",
        "start": 1,
        "period_s": 10.0,
    }
    rest = clauses
    for pattern, meaning in _CLAUSES:
        found = pattern.search(rest)
        if found:
            spec.update(meaning(found))
            rest = rest.replace(found[0], "", 1)
    assert not rest.strip(), f"the device phrase has words no step understands: {rest!r}"
    return spec


def place(ctx: Ctx, spec: dict[str, Any], powered: bool) -> SimDevice:
    no_ack = spec.pop("_no_ack", False)
    ctx.bed.run(ctx.bed.place({**spec, "powered": False}))
    device = ctx.bed.client(spec["name"])
    device.auto_ack = not no_ack
    if powered:
        ctx.bed.run(ctx.bed.set_power(spec["name"], True))
    return device


@given(parsers.re(_DEVICE + r" is switched on"))
@when(parsers.re(_DEVICE + r" is switched on"))
def device_on(ctx: Ctx, protocol: str, name: str, clauses: str) -> None:
    place(ctx, placement(ctx, protocol, name, clauses), powered=True)


@given(parsers.re(_DEVICE + r" that stays switched off"))
def device_off(ctx: Ctx, protocol: str, name: str, clauses: str) -> None:
    place(ctx, placement(ctx, protocol, name, clauses), powered=False)


@given(
    d2_step(
        "HTTP devices {names:Names} with identities {identities:Names} are switched on one "
        "after the other, {s:N} seconds apart"
    )
)
def devices_in_turn(ctx: Ctx, names: list[str], identities: list[str], s: float) -> None:
    for i, (name, identity) in enumerate(zip(names, identities, strict=True)):
        if i:
            ctx.bed.run(ctx.bed.sleep(s))
        spec = {
            "name": name,
            "identity": identity,
            "protocol": "http",
            "period_s": 3600.0,
            "ip": f"192.0.2.{100 + len(ctx.bed.devices)}",
            "start": 1,
        }
        place(ctx, spec, powered=True)
    ctx.settle(1.0)


@given(d2_step('"{name:Q}" is switched {state}'))
@when(d2_step('"{name:Q}" is switched {state}'))
def switch(ctx: Ctx, name: str, state: str) -> None:
    assert state in ("on", "off"), state
    ctx.bed.run(ctx.bed.set_power(name, state == "on"))


def device(ctx: Ctx, name: str) -> SimDevice:
    return ctx.bed.client(name)  # type: ignore[no-any-return]


# -- what devices did -------------------------------------------------------------------------
@then(d2_step('"{name:Q}" is provisioned with a 40-character token'))
def provisioned(ctx: Ctx, name: str) -> None:
    d = device(ctx, name)
    assert d.seen("provisioned"), f"{name} did not provision: {d.stopped} {d.log[-5:]}"
    assert d.token is not None and re.fullmatch(r"[0-9A-Za-z]{40}", d.token), d.token


@then(d2_step('"{name:Q}" has provisioned {n:d} times'))
def provisioned_times(ctx: Ctx, name: str, n: int) -> None:
    got = len(device(ctx, name).seen("provisioned"))
    assert got == n, f"{name} provisioned {got} times"


@then(d2_step('"{name:Q}" is refused'))
def refused(ctx: Ctx, name: str) -> None:
    d = device(ctx, name)
    assert d.stopped is not None, f"{name} was not refused: {d.log[-5:]}"


@then(d2_step('"{name:Q}" is refused with HTTP {code:d}'))
def refused_with(ctx: Ctx, name: str, code: int) -> None:
    d = device(ctx, name)
    assert d.stopped is not None, f"{name} was not refused: {d.log[-5:]}"
    assert d.stopped.code == code, f"{name} was refused with {d.stopped.code}: {d.stopped}"


@then(d2_step('"{name:Q}" has written {n:d} value'))
@then(d2_step('"{name:Q}" has written {n:d} values'))
def written(ctx: Ctx, name: str, n: int) -> None:
    got = len(device(ctx, name).seen("wrote"))
    assert got == n, f"{name} wrote {got} values, expected {n}"


@then(d2_step('"{name:Q}" has applied "{alias:Q}" = {value:J}'))
def applied(ctx: Ctx, name: str, alias: str, value: Any) -> None:
    got = device(ctx, name).applied.get(alias)
    want = value if isinstance(value, str) else str(value)
    assert got == want, f"{name} applied {alias}={got!r}, expected {want!r}"


@then(d2_step('the identity of "{name:Q}" is a valid "{kind:Q}" identity'))
def identity_valid(ctx: Ctx, name: str, kind: str) -> None:
    identity = device(ctx, name).identity
    assert ctx.identity_format.get("type") == kind, ctx.identity_format
    assert identity and matches_format(identity, ctx.identity_format), identity


@then(d2_step('the identity of "{name:Q}" has status "{status:Q}"'))
def identity_status(ctx: Ctx, name: str, status: str) -> None:
    identity = device(ctx, name).identity
    body = ctx.call("getIdentity", {"identity": identity})
    assert ctx.ok and body["status"] == status, ctx.body


# -- a device's own calls ---------------------------------------------------------------------
def _attempt(ctx: Ctx, call: Any) -> None:
    try:
        ctx.bed.run(call)
        ctx.device_status = 204
    except Refusal as exc:
        ctx.device_status = exc.code


@when(d2_step('"{name:Q}" acknowledges "{alias:Q}"'))
def acknowledges(ctx: Ctx, name: str, alias: str) -> None:
    d = device(ctx, name)
    value = d.applied[alias]
    if isinstance(d, HttpDevice):
        ctx.bed.run(d.write({alias: value}))
    else:
        assert isinstance(d, MqttDevice)
        ctx.bed.run(d.publish({alias: value}))


@when(d2_step('a device activates "{identity:Q}" over HTTP'))
def activates(ctx: Ctx, identity: str) -> None:
    d = place(
        ctx,
        {
            "name": f"activator-{identity}",
            "identity": identity,
            "protocol": "http",
            "ip": f"192.0.2.{100 + len(ctx.bed.devices)}",
        },
        powered=False,
    )
    assert isinstance(d, HttpDevice)
    try:
        ctx.bed.run(d.activate())
        ctx.device_status = 200
    except Refusal as exc:
        ctx.device_status = exc.code


@then(d2_step("the device API answers {code:d}"))
def device_answer(ctx: Ctx, code: int) -> None:
    assert ctx.device_status == code, f"the device API answered {ctx.device_status}"


@then(d2_step('"{name:Q}" got {code:d}'))
def device_got(ctx: Ctx, name: str, code: int) -> None:
    assert ctx.device_status == code, f"the device API answered {name} {ctx.device_status}"


@when(d2_step('"{name:Q}" asks the device API for the time'))
def asks_time(ctx: Ctx, name: str) -> None:
    d = device(ctx, name)
    assert isinstance(d, HttpDevice)
    ctx.device_time = ctx.bed.run(d.timestamp())


@then(d2_step("the time it got is the service's time within {s:N} seconds"))
def time_matches(ctx: Ctx, s: float) -> None:
    now = ctx.bed.run(ctx.bed.service_now_us()) / US
    assert ctx.device_time is not None and abs(ctx.device_time - now) <= s, (ctx.device_time, now)


@when(d2_step('"{name:Q}" records "{alias:Q}" {values:Nums} at {ages:Nums} seconds ago'))
def records(ctx: Ctx, name: str, alias: str, values: list[float], ages: list[float]) -> None:
    d = device(ctx, name)
    assert isinstance(d, HttpDevice)
    now = ctx.bed.run(ctx.bed.service_now_us()) / US
    points = [(int(now - age), _num(str(v))) for v, age in zip(values, ages, strict=True)]
    status, _conflicts = ctx.bed.run(d.record({alias: points}))
    ctx.device_status = status


@when(
    d2_step('"{name:Q}" publishes a batch of "{alias:Q}" {values:Nums} at {ages:Nums} seconds ago')
)
def batch(ctx: Ctx, name: str, alias: str, values: list[float], ages: list[float]) -> None:
    d = device(ctx, name)
    assert isinstance(d, MqttDevice)
    now_us = ctx.bed.run(ctx.bed.service_now_us())
    batches = [
        (now_us - int(age * US), {alias: _num(str(v))}) for v, age in zip(values, ages, strict=True)
    ]
    _attempt(ctx, d.publish_batch(batches))


@when(d2_step('"{name:Q}" publishes {values:L} as "{target:Q}"'))
def publishes_as(ctx: Ctx, name: str, values: dict[str, Any], target: str) -> None:
    d = device(ctx, name)
    call = (
        d.write(values, publish_as=target)
        if isinstance(d, HttpDevice)
        else d.publish(values, publish_as=target)
    )
    _attempt(ctx, call)


@then(d2_step('"{name:Q}" was refused'))
def was_refused(ctx: Ctx, name: str) -> None:
    assert ctx.device_status is not None and ctx.device_status >= 400, ctx.device_status


@then(d2_step('"{name:Q}" was not refused'))
def was_not_refused(ctx: Ctx, name: str) -> None:
    assert ctx.device_status is not None and ctx.device_status < 400, ctx.device_status


# -- faults -----------------------------------------------------------------------------------
@when("the service restarts")
def service_restarts(ctx: Ctx) -> None:
    ctx.bed.run(ctx.bed.inject("service_restart"))


@when(d2_step('the link of "{name:Q}" is cut for {s:N} seconds'))
def link_cut(ctx: Ctx, name: str, s: float) -> None:
    ctx.bed.run(ctx.bed.inject("partition", target=name, seconds=s))
