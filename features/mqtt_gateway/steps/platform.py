"""Steps of the platform role: the harness's gateways talk to the platform under test, which is
judged by its answers on the wire (PUBACKs, responses, pushes, closed connections) and, where
the SUT offers a control API, by what it stored."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from pytest_bdd import given, parsers, then, when

from conformance.evidence import expect
from features.mqtt_gateway.steps.support import Ctx, mqtt_step
from scenarios.mqtt_gateway.harness_gateway import GATEWAY_TOPICS, V5, V311, HarnessGateway
from scenarios.mqtt_gateway.transcript import S2C

SEED_TELEMETRY = {
    "Device A": [
        {"ts": 1483228800000, "values": {"temperature": 42, "humidity": 80}},
        {"ts": 1483228801000, "values": {"temperature": 43, "humidity": 82}},
    ],
    "Device B": [{"ts": 1483228800000, "values": {"temperature": 42, "humidity": 80}}],
}
PATIENCE = 5.0  # world seconds to wait for an answer the platform owes


def _gateway(ctx: Ctx, name: str, tenant: str = "default", version: int = V5) -> HarnessGateway:
    return ctx.run(ctx.platform_bed.gateway(name, tenant, version))


def _connected(ctx: Ctx, name: str, tenant: str = "default", version: int = V5) -> HarnessGateway:
    gw = _gateway(ctx, name, tenant, version)
    reason = ctx.run(gw.connect())
    expect(reason == 0, 0, reason, f"CONNACK to {name} logging in with its access token")
    return gw


# -- gateways ------------------------------------------------------------------------------------


@given(mqtt_step('a harness gateway "{name:Q}"'))
def harness_gateway(ctx: Ctx, name: str) -> None:
    _gateway(ctx, name)


@given(mqtt_step('a harness gateway "{name:Q}" speaking MQTT 3.1.1'))
def harness_gateway_311(ctx: Ctx, name: str) -> None:
    _gateway(ctx, name, version=V311)


@given(mqtt_step('a connected harness gateway "{name:Q}"'))
def connected_gateway(ctx: Ctx, name: str) -> None:
    _connected(ctx, name)


@given(mqtt_step('a connected harness gateway "{name:Q}" speaking MQTT 3.1.1'))
def connected_gateway_311(ctx: Ctx, name: str) -> None:
    _connected(ctx, name, version=V311)


@given(mqtt_step('a connected harness gateway "{name:Q}" with device "{device:Q}"'))
def connected_gateway_with_device(ctx: Ctx, name: str, device: str) -> None:
    _connected(ctx, name)
    ctx.run(ctx.platform_bed.place({"device": device, "gateway": name}))


@given(
    mqtt_step(
        'a connected harness gateway "{name:Q}" of tenant "{tenant:Q}" with device "{device:Q}"'
    )
)
def tenant_gateway_with_device(ctx: Ctx, name: str, tenant: str, device: str) -> None:
    _connected(ctx, name, tenant)
    ctx.run(ctx.platform_bed.place({"device": device, "gateway": name}))


@given(mqtt_step('"{name:Q}" leaves RPCs unanswered'))
def leaves_rpcs_unanswered(ctx: Ctx, name: str) -> None:
    ctx.platform_bed.client(name).rpc_answer = None


@when(mqtt_step('"{name:Q}" connects with its access token'))
def connects(ctx: Ctx, name: str) -> None:
    ctx.connacks[name] = ctx.run(ctx.platform_bed.client(name).connect())


@when(mqtt_step('"{name:Q}" connects with its access token and subscribes to nothing'))
def connects_without_subscribing(ctx: Ctx, name: str) -> None:
    ctx.connacks[name] = ctx.run(ctx.platform_bed.client(name).connect(subscribe=()))


@when(mqtt_step('"{name:Q}" connects with the access token "{token:Q}"'))
def connects_with_token(ctx: Ctx, name: str, token: str) -> None:
    ctx.connacks[name] = ctx.run(ctx.platform_bed.client(name).connect(token=token))


@when(mqtt_step('"{name:Q}" disconnects'))
def disconnects(ctx: Ctx, name: str) -> None:
    ctx.run(ctx.platform_bed.client(name).disconnect())


@then(mqtt_step('"{name:Q}" is accepted'))
def is_accepted(ctx: Ctx, name: str) -> None:
    reason = ctx.connacks.get(name)
    expect(reason == 0, "CONNACK 0 (success)", reason, f"the platform's answer to {name}")


@then(mqtt_step('"{name:Q}" is refused'))
def is_refused(ctx: Ctx, name: str) -> None:
    reason = ctx.connacks.get(name)
    refused = isinstance(reason, int) and (reason >= 0x80 or 1 <= reason <= 5)
    expect(refused, "a failure CONNACK", reason, f"the platform's answer to {name}")


@then(mqtt_step('"{name:Q}" is not connected'))
def is_not_connected(ctx: Ctx, name: str) -> None:
    gw = ctx.platform_bed.client(name)
    still = ctx.wait_until(lambda: not gw.connected, PATIENCE)
    expect(still, "the connection ended", "still connected", f"{name} after being refused")


@then(mqtt_step('"{name:Q}" is still connected'))
def still_connected(ctx: Ctx, name: str) -> None:
    gw = ctx.platform_bed.client(name)
    ctx.run(_pause(0.5))
    expect(gw.connected, "connected", "closed", f"{name}'s connection after the refusal")


@then(mqtt_step('the platform closed the connection of "{name:Q}"'))
def platform_closed(ctx: Ctx, name: str) -> None:
    gw = ctx.platform_bed.client(name)
    closed = ctx.wait_until(lambda: not gw.connected, PATIENCE)
    expect(closed, "the platform closes the connection", "still connected", name)


async def _pause(seconds: float) -> None:
    await asyncio.sleep(seconds)


# -- publishing ----------------------------------------------------------------------------------


def _send(ctx: Ctx, name: str, topic: str, body: Any) -> None:
    ctx.answers.append(ctx.run(ctx.platform_bed.client(name).send(topic, body)))


@given(mqtt_step('"{name:Q}" publishes {body:J} on "{topic:Q}"'))
@when(mqtt_step('"{name:Q}" publishes {body:J} on "{topic:Q}"'))
def publishes(ctx: Ctx, name: str, body: Any, topic: str) -> None:
    _send(ctx, name, topic, ctx.named(body))


@when(mqtt_step('"{name:Q}" publishes the bytes \'{text}\' on "{topic:Q}"'))
def publishes_bytes(ctx: Ctx, name: str, text: str, topic: str) -> None:
    raw = text
    for device in ("Device A", "Device B"):
        raw = raw.replace(device, str(ctx.named(device)))
    _send(ctx, name, topic, raw.encode())


@when(mqtt_step('"{name:Q}" publishes the seed\'s telemetry example on "{topic:Q}"'))
def publishes_seed_telemetry(ctx: Ctx, name: str, topic: str) -> None:
    _send(ctx, name, topic, ctx.named(SEED_TELEMETRY))


@then(mqtt_step("the platform acknowledged it with reason {reason:I}"))
def acknowledged(ctx: Ctx, reason: int) -> None:
    observed = ctx.answers[-1] if ctx.answers else None
    expect(observed == reason, f"PUBACK {reason}", observed, "the platform's answer")


@then(mqtt_step("the platform answered with reason {reason:X}"))
def answered_reason(ctx: Ctx, reason: int) -> None:
    observed = ctx.answers[-1] if ctx.answers else None
    shown = f"0x{observed:02X}" if isinstance(observed, int) else observed
    expect(observed == reason, f"PUBACK 0x{reason:02X}", shown, "the platform's answer")


@then(mqtt_step('every QoS 1 message "{name:Q}" sent was acknowledged with reason 0'))
def all_acknowledged(ctx: Ctx, name: str) -> None:
    gw = ctx.platform_bed.client(name)
    transcript = ctx.bed.transcript
    bad = [
        (r["topic"], (transcript.ack_of(r) or {}).get("reason"))
        for r in gw.sent()
        if r["qos"] == 1 and (transcript.ack_of(r) or {}).get("reason") != 0
    ]
    expect(not bad, "a PUBACK 0 for each", bad, f"the platform's answers to {name}")


@then(mqtt_step('"{name:Q}" was granted QoS 1 for each gateway topic it asked for'))
def granted_qos1(ctx: Ctx, name: str) -> None:
    gw = ctx.platform_bed.client(name)
    subacks = [r for r in ctx.bed.transcript.of_type("SUBACK", S2C) if r["conn"] == gw.conn]
    codes = [code for r in subacks for code in r["reasons"]]
    expect(
        codes == [1] * len(GATEWAY_TOPICS),
        [1] * len(GATEWAY_TOPICS),
        codes,
        f"granted QoS of {', '.join(GATEWAY_TOPICS)}",
    )


# -- what the gateways got -----------------------------------------------------------------------


@then(mqtt_step('"{name:Q}" receives on "{topic:Q}" {body:J}'))
def receives(ctx: Ctx, name: str, topic: str, body: Any) -> None:
    gw = ctx.platform_bed.client(name)
    wanted = ctx.named(body)
    found = ctx.run(gw.wait_message(topic, lambda p: p == wanted, patience=PATIENCE))
    expect(found is not None, wanted, gw.received(topic) or "nothing", f"{name} on {topic}")


@then(mqtt_step('"{name:Q}" receives on "{topic:Q}" an object with "{a:Q}", "{b:Q}" and "{c:Q}"'))
def receives_object_with(ctx: Ctx, name: str, topic: str, a: str, b: str, c: str) -> None:
    gw = ctx.platform_bed.client(name)
    keys = {a, b, c}
    found = ctx.run(
        gw.wait_message(topic, lambda p: isinstance(p, dict) and keys <= set(p), patience=PATIENCE)
    )
    expect(
        found is not None, f"an object with {sorted(keys)}", gw.received(topic) or "nothing", topic
    )


@then(mqtt_step('"{name:Q}" received nothing on "{topic:Q}"'))
def received_nothing(ctx: Ctx, name: str, topic: str) -> None:
    gw = ctx.platform_bed.client(name)
    ctx.run(_pause(2.0))
    got = gw.received(topic)
    expect(not got, "nothing", got, f"what {name} received on {topic}")


@when(
    parsers.re(
        r'"(?P<name>[^"]+)" sends at once the attribute requests (?P<spec>.+) '
        r'of key "(?P<key>[^"]+)"'
    )
)
def sends_requests_at_once(ctx: Ctx, name: str, spec: str, key: str) -> None:
    gw = ctx.platform_bed.client(name)
    for request_id, device in re.findall(r'(\d+) for "([^"]+)"', spec):
        body = {"id": int(request_id), "device": ctx.named(device), "client": True, "key": key}
        gw.publish("v1/gateway/attributes/request", body)


@then(parsers.re(r'"(?P<name>[^"]+)" receives the answers (?P<spec>.+)'))
def receives_answers(ctx: Ctx, name: str, spec: str) -> None:
    gw = ctx.platform_bed.client(name)
    wanted = {int(i): v for i, v in re.findall(r'(\d+) with "([^"]*)"', spec)}

    def answers() -> dict[int, Any] | None:
        got = {
            p.get("id"): p.get("value")
            for p in gw.received("v1/gateway/attributes/response")
            if isinstance(p, dict)
        }
        return got if all(i in got for i in wanted) else None

    got = ctx.wait_until(answers, PATIENCE) or {
        p.get("id"): p.get("value")
        for p in gw.received("v1/gateway/attributes/response")
        if isinstance(p, dict)
    }
    observed = {i: got.get(i) for i in wanted}
    expect(observed == wanted, wanted, observed, "answers by request id")


# -- the platform's side -------------------------------------------------------------------------


@when(mqtt_step('the platform sets the shared attributes {values:J} of "{device:Q}"'))
def sets_shared(ctx: Ctx, values: dict[str, Any], device: str) -> None:
    control = ctx.bed.platform_control()
    ctx.run(control.set_shared(ctx.named(device), values))


@when(mqtt_step('the platform sends RPC "{method:Q}" with {params:J} to "{device:Q}"'))
def sends_rpc(ctx: Ctx, method: str, params: Any, device: str) -> None:
    _rpc(ctx, device, method, params)


@when(
    mqtt_step(
        'the platform sends RPC "{method:Q}" with {params:J} to "{device:Q}" of tenant "{tenant:Q}"'
    )
)
def sends_rpc_tenant(ctx: Ctx, method: str, params: Any, device: str, tenant: str) -> None:
    _rpc(ctx, device, method, params, tenant)


def _rpc(ctx: Ctx, device: str, method: str, params: Any, tenant: str = "default") -> None:
    control = ctx.bed.platform_control()
    ctx.rpc_mark = ctx.bed.transcript.mark()
    ctx.rpc = ctx.run(control.rpc(ctx.named(device), method, params, tenant=tenant))


@then(mqtt_step('the platform knows device "{device:Q}" of type "{kind:Q}" behind "{gateway:Q}"'))
def knows_device(ctx: Ctx, device: str, kind: str, gateway: str) -> None:
    bed = ctx.platform_bed
    info = ctx.run(bed.platform_control().device(bed.name(device)))
    observed = None if info is None else {"type": info.get("type"), "gateway": info.get("gateway")}
    wanted = {"type": kind, "gateway": bed.name(gateway)}
    expect(observed == wanted, wanted, observed, f"the platform's device {device!r}")


def _series(ctx: Ctx, device: str, key: str) -> list[tuple[int, Any]]:
    points = ctx.run(ctx.bed.platform_control().telemetry(ctx.named(device), key))
    return [(p["ts"], p["value"]) for p in points]


@then(
    parsers.re(
        r'the platform holds "(?P<key>[^"]+)" of "(?P<device>[^"]+)" as (?P<pairs>.+ at \d+.*)'
    )
)
def holds_series(ctx: Ctx, key: str, device: str, pairs: str) -> None:
    wanted = [(int(ts), json.loads(v)) for v, ts in re.findall(r"(\S+) at (\d+)", pairs)]
    observed = _series(ctx, device, key)
    expect(observed == wanted, wanted, observed, f"stored {key} of {device} (ts, value)")


@then(
    mqtt_step(
        'the platform holds "{key:Q}" of "{device:Q}" as {value:N} stamped within {seconds:N} '
        "seconds of now"
    )
)
def holds_stamped(ctx: Ctx, key: str, device: str, value: float, seconds: float) -> None:
    observed = _series(ctx, device, key)
    now_ms = _now_ms(ctx)
    fresh = [v for ts, v in observed if abs(ts - now_ms) <= seconds * 1000]
    expect(fresh == [value], f"[{value}] stamped near {now_ms}", observed, f"{key} of {device}")


def _now_ms(ctx: Ctx) -> int:
    """The time now in Unix ms, as a platform stamps it: the world's calendar (our platform in
    virtual time), the wall clock for an outside one (the remote bed's world follows it)."""
    return int(ctx.bed.world.datetime().timestamp() * 1000)


@then(
    mqtt_step('the platform offers "{device:Q}" for claiming with the key "{key:Q}" for {ms:I} ms')
)
def offers_claim(ctx: Ctx, device: str, key: str, ms: int) -> None:
    _check_claim(ctx, device, key, ms)


@then(
    mqtt_step('the platform offers "{device:Q}" for claiming with the key "" for its own duration')
)
def offers_claim_default(ctx: Ctx, device: str) -> None:
    _check_claim(ctx, device, "", None)


def _check_claim(ctx: Ctx, device: str, key: str, ms: int | None) -> None:
    info = ctx.run(ctx.bed.platform_control().device(ctx.named(device))) or {}
    claim = info.get("claim") or {}
    remaining = claim.get("expiresMs", 0) - _now_ms(ctx)
    if ms is None:
        ok = claim.get("secretKey") == key and remaining > 0
        wanted: Any = {"secretKey": key, "expires": "in the platform's own claim duration"}
    else:
        ok = claim.get("secretKey") == key and abs(remaining - ms) <= 5000
        wanted = {"secretKey": key, "expires in ms": ms}
    observed = {"secretKey": claim.get("secretKey"), "expires in ms": remaining} if claim else None
    expect(ok, wanted, observed, f"the claim of {device}")


# -- RPC outcomes (both roles) -------------------------------------------------------------------


@then(mqtt_step("the RPC succeeded with {data:J}"))
def rpc_succeeded_with(ctx: Ctx, data: Any) -> None:
    outcome = ctx.rpc
    observed = None if outcome is None else (outcome.outcome, outcome.data)
    expect(observed == ("ok", data), ("ok", data), observed, "the RPC's outcome")


@then("the RPC failed at once with no active connection")
def rpc_no_connection(ctx: Ctx) -> None:
    outcome = ctx.rpc
    observed = None if outcome is None else (outcome.outcome, round(outcome.elapsed, 3))
    ok = outcome is not None and outcome.outcome == "no-active-connection" and outcome.elapsed < 2
    expect(ok, "no-active-connection within 2 s", observed, "the RPC's outcome")


@then(mqtt_step("the RPC timed out after {seconds:N} seconds"))
def rpc_timed_out(ctx: Ctx, seconds: float) -> None:
    outcome = ctx.rpc
    observed = None if outcome is None else (outcome.outcome, round(outcome.elapsed, 3))
    ok = (
        outcome is not None
        and outcome.outcome == "timeout"
        and seconds - 0.5 <= outcome.elapsed <= seconds + 3
    )
    expect(ok, f"timeout after {seconds:g} s", observed, "the RPC's outcome")


@then(
    parsers.re(r'the RPC ids "(?P<name>[^"]+)" received for "(?P<device>[^"]+)" were (?P<ids>.+)')
)
def rpc_ids(ctx: Ctx, name: str, device: str, ids: str) -> None:
    gw = ctx.platform_bed.client(name)
    wanted = [int(i) for i in re.findall(r"\d+", ids)]
    real = ctx.named(device)
    observed = [
        p["data"].get("id")
        for p in gw.received("v1/gateway/rpc")
        if isinstance(p, dict) and p.get("device") == real and isinstance(p.get("data"), dict)
    ]
    expect(observed == wanted, wanted, observed, f"RPC ids for {device}")
