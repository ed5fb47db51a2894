"""Steps of the gateway role: the harness is the platform above the gateway under test and the
meters below it. The gateway is judged by what crossed the wire: the MQTT transcript its
platform recorded and the register reads and writes a sniffer heard on the line."""

from __future__ import annotations

import asyncio
from typing import Any

from pytest_bdd import given, then, when

from conformance.evidence import expect
from features.mqtt_gateway.steps.support import Ctx, mqtt_step
from scenarios.mqtt_gateway.bed import TELEMETRY, readings
from scenarios.mqtt_gateway.slaves import SETPOINT_ADDRESS
from scenarios.mqtt_gateway.transcript import C2S, S2C

CONNECT, DISCONNECT = "v1/gateway/connect", "v1/gateway/disconnect"
ATTRIBUTES, REQUEST = "v1/gateway/attributes", "v1/gateway/attributes/request"
RESPONSE, RPC, CLAIM = "v1/gateway/attributes/response", "v1/gateway/rpc", "v1/gateway/claim"
DATA_TOPICS = (TELEMETRY, ATTRIBUTES)
START_PATIENCE = 90.0  # world seconds a gateway may take to connect its meters
DELIVERY_PATIENCE = 90.0  # ... to deliver what it queued once the platform is back
SETTLE_S = 5.0  # readings taken this recently may still be on their way


def _announced(ctx: Ctx, topic: str, device: str, since: int = 0) -> bool:
    return any(
        isinstance(r.get("payload"), dict) and r["payload"].get("device") == device
        for r in ctx.bed.transcript.accepted_publishes(topic, since)
    )


# -- start ------------------------------------------------------------------------------------


@given("the gateway under test has connected its meters")
def meters_connected(ctx: Ctx) -> None:
    bed = ctx.gateway_bed
    meters = list(bed.meter_names().values())
    done = ctx.wait_until(
        lambda: all(_announced(ctx, CONNECT, m) for m in meters), START_PATIENCE, step=0.2
    )
    missing = [m for m in meters if not _announced(ctx, CONNECT, m)]
    expect(done, f"v1/gateway/connect for {meters}", f"none for {missing}", "meters connected")


@given(mqtt_step('the gateway has connected "{device:Q}"'))
def device_connected(ctx: Ctx, device: str) -> None:
    done = ctx.wait_until(lambda: _announced(ctx, CONNECT, device), START_PATIENCE, step=0.2)
    expect(done, f"v1/gateway/connect for {device}", "none", f"{device} connected")


# -- logging in, connecting devices -----------------------------------------------------------


@then("the gateway logged in with its access token as the user name")
def logged_in_with_token(ctx: Ctx) -> None:
    transcript = ctx.bed.transcript
    accepted = transcript.accepted_connections()
    connects = transcript.connections()
    observed = [
        {"username": connects[c].get("username"), "password": connects[c].get("password")}
        for c in accepted
    ]
    ok = bool(accepted) and all(o["username"] == "<token>" for o in observed)
    expect(ok, "CONNECT user name = the access token, accepted", observed, "the gateway's login")


@then("the gateway published v1/gateway/connect for every meter")
def connect_for_every_meter(ctx: Ctx) -> None:
    meters = list(ctx.gateway_bed.meter_names().values())
    missing = [m for m in meters if not _announced(ctx, CONNECT, m)]
    expect(not missing, f"a connect for each of {meters}", f"none for {missing}", CONNECT)


def _devices_of(row: dict[str, Any]) -> list[str]:
    payload = row.get("payload")
    return [str(k) for k in payload] if isinstance(payload, dict) else []


@then("the gateway connected each meter before publishing its data")
def connect_before_data(ctx: Ctx) -> None:
    """A meter's data comes after its connect, and after a disconnect only once it was
    connected again (across connections: a queue sent after a reconnect may carry data of
    devices connected earlier)."""
    meters = set(ctx.gateway_bed.meter_names().values())
    early: list[dict[str, Any]] = []
    connected: set[str] = set()
    for row in ctx.bed.transcript.publishes(direction=C2S):
        payload = row.get("payload")
        if row["topic"] == CONNECT and isinstance(payload, dict):
            connected.add(str(payload.get("device")))
        elif row["topic"] == DISCONNECT and isinstance(payload, dict):
            connected.discard(str(payload.get("device")))
        elif row["topic"] in DATA_TOPICS:
            for device in sorted(set(_devices_of(row)) & meters - connected):
                early.append({"t": row["t"], "topic": row["topic"], "device": device})
    expect(not early, "connect before any data of a device", early[:10], "connect before data")


@then("the gateway published each meter's serial number as a client attribute")
def serial_attributes(ctx: Ctx) -> None:
    bed = ctx.gateway_bed
    key = bed.key("serial_key")
    got: dict[str, Any] = {}
    for row in ctx.bed.transcript.accepted_publishes(ATTRIBUTES):
        payload = row.get("payload")
        if isinstance(payload, dict):
            for device, values in payload.items():
                if isinstance(values, dict) and key in values:
                    got[device] = values[key]
    wanted = {name: f"SN{unit:06d}" for unit, name in bed.meter_names().items()}
    observed = {name: got.get(name) for name in wanted}
    expect(observed == wanted, wanted, observed, f"client attribute {key!r} per meter")


@then("the gateway asked for getSessionLimits on v1/devices/me/rpc/request")
def asked_session_limits(ctx: Ctx) -> None:
    asked = [
        r
        for r in ctx.bed.transcript.publishes(direction=C2S)
        if r["topic"].startswith("v1/devices/me/rpc/request/")
        and isinstance(r.get("payload"), dict)
        and r["payload"].get("method") == "getSessionLimits"
    ]
    expect(asked, "a getSessionLimits request", "none", "the gateway's device API requests")


@then("the gateway published its telemetry and attributes at QoS 1")
def data_at_qos1(ctx: Ctx) -> None:
    rows = [r for r in ctx.bed.transcript.publishes(direction=C2S) if r["topic"] in DATA_TOPICS]
    below = [(r["topic"], r["qos"]) for r in rows if r["qos"] < 1]
    expect(rows and not below, "QoS 1 for every data message", below or "no data", "QoS")


# -- telemetry --------------------------------------------------------------------------------


@then("the gateway published telemetry of every meter as arrays of ts and values")
def telemetry_shape(ctx: Ctx) -> None:
    meters = set(ctx.gateway_bed.meter_names().values())
    bad: list[Any] = []
    seen: set[str] = set()
    for row in ctx.bed.transcript.publishes(TELEMETRY, C2S):
        payload = row.get("payload")
        if not isinstance(payload, dict):
            bad.append(payload)
            continue
        for device, entries in payload.items():
            seen.add(device)
            if (
                not isinstance(entries, list)
                or not entries
                or not all(
                    isinstance(e, dict)
                    and isinstance(e.get("ts"), int)
                    and not isinstance(e.get("ts"), bool)
                    and isinstance(e.get("values"), dict)
                    for e in entries
                )
            ):
                bad.append({device: entries})
    expect(not bad, '{device: [{"ts": <ms>, "values": {...}}]}', bad[:5], "telemetry shape")
    expect(meters <= seen, sorted(meters), sorted(seen), "devices with telemetry")


@then("each reading's ts is within 2 seconds of when the gateway read it from the meter")
def ts_near_reading(ctx: Ctx) -> None:
    bed = ctx.gateway_bed
    key = bed.key("ticks_key")
    epoch_ms = bed.world.epoch.timestamp() * 1000
    read_at = {
        (name, value): epoch_ms + t * 1000
        for unit, name in bed.meter_names().items()
        for t, value in bed.sniffer.ticks(unit)
    }
    far: list[dict[str, Any]] = []
    checked = 0
    for row in ctx.bed.transcript.publishes(TELEMETRY, C2S):
        payload = row.get("payload")
        for device, entries in payload.items() if isinstance(payload, dict) else ():
            for entry in entries if isinstance(entries, list) else ():
                values = entry.get("values") if isinstance(entry, dict) else None
                if not isinstance(values, dict) or key not in values:
                    continue
                when = read_at.get((device, values[key]))
                if when is None:
                    continue
                checked += 1
                if abs(entry.get("ts", 0) - when) > 2000:
                    far.append({"device": device, "ts": entry.get("ts"), "read_at": int(when)})
    expect(checked and not far, "ts within 2 s of the read", far[:5] or "nothing to check", "ts")


@then("every ticks value the platform accepted is one the gateway read from that meter")
def values_are_the_meters(ctx: Ctx) -> None:
    bed = ctx.gateway_bed
    key = bed.key("ticks_key")
    heard = {
        name: {value for _t, value in bed.sniffer.ticks(unit)}
        for unit, name in bed.meter_names().items()
    }
    foreign = [
        (device, value)
        for row in ctx.bed.transcript.accepted_publishes(TELEMETRY)
        for device, value in readings(row.get("payload"), key)
        if device in heard and value not in heard[device]
    ]
    expect(not foreign, "only values read from the meter", foreign[:10], f"{key} values")


def _judge(ctx: Ctx, what: tuple[str, ...]) -> None:
    """Wait (up to DELIVERY_PATIENCE) until nothing of ``what`` is left, then judge; the
    findings go into the evidence either way."""
    bed = ctx.gateway_bed

    def clean() -> bool:
        counts = bed.continuity(SETTLE_S).counts()
        return not any(counts[k] for k in what)

    ctx.wait_until(clean, DELIVERY_PATIENCE, step=1.0)
    verdict = bed.continuity(SETTLE_S)
    bed.note("continuity", verdict.evidence())
    counts = verdict.counts()
    expect(
        not any(counts[k] for k in what),
        {k: 0 for k in what},
        {
            **{k: counts[k] for k in what},
            **{f"{k}_readings": getattr(verdict, k) for k in what if getattr(verdict, k)},
        },
        f"telemetry continuity: {verdict.summary()}",
    )


@then("no telemetry was lost, duplicated or reordered")
def nothing_lost(ctx: Ctx) -> None:
    _judge(ctx, ("lost", "duplicated", "reordered"))


@then("no telemetry was duplicated or reordered")
def nothing_duplicated(ctx: Ctx) -> None:
    _judge(ctx, ("duplicated", "reordered"))


# -- devices coming and going -----------------------------------------------------------------


@when(mqtt_step('meter "{device:Q}" is powered off'))
def meter_off(ctx: Ctx, device: str) -> None:
    ctx.mark = ctx.bed.transcript.mark()
    ctx.run(ctx.bed.set_power(device, False))


@when(mqtt_step('meter "{device:Q}" is powered on'))
def meter_on(ctx: Ctx, device: str) -> None:
    ctx.mark = ctx.bed.transcript.mark()
    ctx.run(ctx.bed.set_power(device, True))


@then(
    mqtt_step(
        'within {seconds:N} seconds the gateway publishes v1/gateway/disconnect for "{device:Q}"'
    )
)
def publishes_disconnect(ctx: Ctx, seconds: float, device: str) -> None:
    done = ctx.wait_until(lambda: _announced(ctx, DISCONNECT, device, ctx.mark), seconds, 0.5)
    expect(done, f'{{"device": "{device}"}} on {DISCONNECT}', "nothing", f"{device} went away")


@then(
    mqtt_step(
        'within {seconds:N} seconds the gateway publishes v1/gateway/connect for "{device:Q}"'
    )
)
def publishes_connect(ctx: Ctx, seconds: float, device: str) -> None:
    done = ctx.wait_until(lambda: _announced(ctx, CONNECT, device, ctx.mark), seconds, 0.5)
    expect(done, f'{{"device": "{device}"}} on {CONNECT}', "nothing", f"{device} came back")


# -- shared attributes and attribute requests -------------------------------------------------


def _writes(ctx: Ctx, device: str, since_t: float) -> list[int]:
    bed = ctx.gateway_bed
    return [v for t, v in bed.sniffer.writes(bed.unit_of(device), SETPOINT_ADDRESS) if t >= since_t]


@when(mqtt_step('the platform sets the shared setpoint of "{device:Q}" to {value:N}'))
def set_shared_setpoint(ctx: Ctx, device: str, value: float) -> None:
    bed = ctx.gateway_bed
    ctx.since_t = bed.now
    ctx.run(bed.platform_control().set_shared(device, {bed.key("setpoint_key"): value}))


@when(
    mqtt_step(
        "the platform is unreachable for {seconds:N} seconds while it takes the shared setpoint "
        '{a:N} for "{first:Q}" and {b:N} for "{second:Q}"'
    )
)
def outage_with_shared(
    ctx: Ctx, seconds: float, a: float, first: str, b: float, second: str
) -> None:
    bed = ctx.gateway_bed
    key = bed.key("setpoint_key")
    ctx.mark, ctx.since_t = bed.transcript.mark(), bed.now

    async def outage() -> None:
        down = asyncio.ensure_future(bed.inject("broker_outage", seconds=seconds))
        await asyncio.sleep(min(1.0, seconds / 2))
        control = bed.platform_control()
        await control.set_shared(first, {key: a})
        await control.set_shared(second, {key: b})
        await down

    ctx.run(outage())


@then(
    mqtt_step(
        "within {seconds:N} seconds the gateway writes {value:I} to the setpoint register of "
        '"{device:Q}"'
    )
)
def writes_setpoint(ctx: Ctx, seconds: float, value: int, device: str) -> None:
    done = ctx.wait_until(lambda: value in _writes(ctx, device, ctx.since_t), seconds, 0.2)
    observed = _writes(ctx, device, ctx.since_t) or "no write"
    expect(done, f"{value} written to holding {SETPOINT_ADDRESS}", observed, device)


@then(mqtt_step('the gateway wrote {value:I} to the setpoint register of "{device:Q}"'))
def wrote_setpoint(ctx: Ctx, value: int, device: str) -> None:
    observed = _writes(ctx, device, ctx.since_t)
    expect(value in observed, f"{value} written", observed or "no write", device)


@then(
    "the gateway's attribute requests had integer ids, distinct while in flight, and the "
    "fields of the seed"
)
def attribute_request_ids(ctx: Ctx) -> None:
    transcript = ctx.bed.transcript
    bad: list[Any] = []
    clashes: list[Any] = []
    pending: dict[tuple[str, Any], float] = {}
    requests = 0
    for row in transcript.rows:
        if row["type"] != "PUBLISH":
            continue
        payload = row.get("payload")
        if row["dir"] == C2S and row["topic"] == REQUEST:
            requests += 1
            if not _good_request(payload):
                bad.append(payload)
                continue
            slot = (row["conn"], payload["id"])
            if slot in pending:
                clashes.append(payload)
            pending[slot] = row["t"]
        elif row["dir"] == S2C and row["topic"] == RESPONSE and isinstance(payload, dict):
            pending.pop((row["conn"], payload.get("id")), None)
    expect(requests, "attribute requests", "none", "the gateway's attribute requests")
    expect(not bad, "{id: int, device, client: bool, key | keys}", bad[:5], "request fields")
    expect(not clashes, "distinct ids in flight", clashes[:5], "request ids")


def _good_request(payload: Any) -> bool:
    if not isinstance(payload, dict):
        return False
    rid, keys = payload.get("id"), payload.get("keys")
    return (
        isinstance(rid, int)
        and not isinstance(rid, bool)
        and isinstance(payload.get("device"), str)
        and isinstance(payload.get("client"), bool)
        and (
            isinstance(payload.get("key"), str)
            or (isinstance(keys, list) and all(isinstance(k, str) for k in keys))
        )
    )


@then("the gateway subscribed to v1/gateway/attributes/response before its first attribute request")
def subscribed_before_request(ctx: Ctx) -> None:
    transcript = ctx.bed.transcript
    late: list[str] = []
    for conn in transcript.accepted_connections():
        granted: set[str] = set()
        asked: dict[int, list[str]] = {}
        for row in transcript.rows_of(conn):
            if row["type"] == "SUBSCRIBE":
                asked[row["packet_id"]] = [f for f, _q in row["filters"]]
            elif row["type"] == "SUBACK":
                filters = asked.pop(row["packet_id"], [])
                granted |= {f for f, c in zip(filters, row["reasons"], strict=False) if c < 0x80}
            elif row["type"] == "PUBLISH" and row["dir"] == C2S and row["topic"] == REQUEST:
                if RESPONSE not in granted and "v1/gateway/#" not in granted:
                    late.append(conn)
                break
    expect(not late, f"SUBSCRIBE {RESPONSE} first", f"requests first on {late}", "order")


# -- RPC --------------------------------------------------------------------------------------


def _gateway_rpc(ctx: Ctx, device: str, method: str, params: Any) -> None:
    bed = ctx.gateway_bed
    ctx.rpc_mark, ctx.since_t = bed.transcript.mark(), bed.now
    ctx.rpc = ctx.run(bed.platform_control().rpc(device, method, params))


@when(mqtt_step('the platform sends the write RPC with {value:N} to "{device:Q}"'))
def write_rpc(ctx: Ctx, value: float, device: str) -> None:
    _gateway_rpc(ctx, device, ctx.gateway_bed.key("rpc_write"), value)


@when(mqtt_step('the platform sends the read RPC to "{device:Q}"'))
def read_rpc(ctx: Ctx, device: str) -> None:
    _gateway_rpc(ctx, device, ctx.gateway_bed.key("rpc_read"), None)


@then(mqtt_step("the RPC succeeded within {seconds:N} seconds"))
def rpc_ok_in_time(ctx: Ctx, seconds: float) -> None:
    outcome = ctx.rpc
    observed = (
        None if outcome is None else (outcome.outcome, outcome.data, round(outcome.elapsed, 3))
    )
    data = outcome.data if outcome is not None else None
    success = not isinstance(data, dict) or data.get("success", True) is not False
    ok = outcome is not None and outcome.outcome == "ok" and success and outcome.elapsed <= seconds
    expect(ok, f"a successful answer within {seconds:g} s", observed, "the RPC")


@then(
    mqtt_step("the RPC succeeded within {seconds:N} seconds with the value {value:N} in its answer")
)
def rpc_value(ctx: Ctx, seconds: float, value: float) -> None:
    rpc_ok_in_time(ctx, seconds)
    data = ctx.rpc.data if ctx.rpc is not None else None
    values = list(data.values()) if isinstance(data, dict) else [data]
    found = any(isinstance(v, int | float) and abs(v - value) < 1e-6 for v in values)
    expect(found, value, data, "the value in the RPC's answer")


@then(mqtt_step("the RPC was answered within {seconds:N} seconds with an error"))
def rpc_error_answer(ctx: Ctx, seconds: float) -> None:
    outcome = ctx.rpc
    data = outcome.data if outcome is not None else None
    refused = isinstance(data, dict) and (data.get("success") is False or "error" in data)
    ok = outcome is not None and outcome.outcome == "ok" and refused and outcome.elapsed <= seconds
    observed = None if outcome is None else (outcome.outcome, data, round(outcome.elapsed, 3))
    expect(ok, f"an answer with an error within {seconds:g} s", observed, "the RPC")


@then("the gateway answered on v1/gateway/rpc with the request's device and id")
def rpc_reply_matches(ctx: Ctx) -> None:
    rows = ctx.bed.transcript.since(ctx.rpc_mark)
    asked = [
        (r["payload"].get("device"), r["payload"].get("data", {}).get("id"))
        for r in rows
        if r["type"] == "PUBLISH"
        and r["dir"] == S2C
        and r["topic"] == RPC
        and isinstance(r.get("payload"), dict)
    ]
    answered = [
        (r["payload"].get("device"), r["payload"].get("id"))
        for r in rows
        if r["type"] == "PUBLISH"
        and r["dir"] == C2S
        and r["topic"] == RPC
        and isinstance(r.get("payload"), dict)
    ]
    expect(asked and answered == asked, asked, answered, "(device, id) of the RPC and its reply")


# -- claim ------------------------------------------------------------------------------------


@when(
    mqtt_step('the gateway offers "{device:Q}" for claiming with the key "{key:Q}" for {ms:I} ms')
)
def gateway_claims(ctx: Ctx, device: str, key: str, ms: int) -> None:
    bed = ctx.gateway_bed
    ctx.mark = bed.transcript.mark()
    claim = getattr(bed, "claim", None)
    if claim is None:
        raise TypeError(f"{type(bed).__name__} cannot make its gateway claim a device")
    claim(device, key, ms)


@then(mqtt_step("within {seconds:N} seconds the gateway publishes on v1/gateway/claim {body:J}"))
def publishes_claim(ctx: Ctx, seconds: float, body: Any) -> None:
    def found() -> bool:
        return any(
            r.get("payload") == body for r in ctx.bed.transcript.accepted_publishes(CLAIM, ctx.mark)
        )

    done = ctx.wait_until(found, seconds, 0.2)
    got = [r.get("payload") for r in ctx.bed.transcript.publishes(CLAIM, C2S, ctx.mark)]
    expect(done, body, got or "nothing", CLAIM)


# -- outages and restarts ---------------------------------------------------------------------


def _fault(ctx: Ctx, fault: str, **args: Any) -> None:
    ctx.mark = ctx.bed.transcript.mark()
    ctx.run(ctx.bed.inject(fault, **args))


@when(mqtt_step("the platform is unreachable for {seconds:N} seconds"))
def broker_outage(ctx: Ctx, seconds: float) -> None:
    _fault(ctx, "broker_outage", seconds=seconds)


@when("the gateway restarts")
def gateway_restarts(ctx: Ctx) -> None:
    _fault(ctx, "gateway_restart")


@when("the gateway crashes and starts again")
def gateway_crashes(ctx: Ctx) -> None:
    _fault(ctx, "gateway_crash")


@when(mqtt_step("the path between the gateway and the platform is cut for {seconds:N} seconds"))
def partition(ctx: Ctx, seconds: float) -> None:
    _fault(ctx, "partition", seconds=seconds)


@then(mqtt_step("within {seconds:N} seconds the gateway is connected again"))
def connected_again(ctx: Ctx, seconds: float) -> None:
    def back() -> bool:
        return any(
            r["type"] == "CONNACK" and r["reason"] == 0 for r in ctx.bed.transcript.since(ctx.mark)
        )

    done = ctx.wait_until(back, seconds, 0.5)
    expect(done, "a new accepted connection", "none", "the gateway after the fault")


@then("the gateway subscribed again to v1/gateway/rpc and v1/gateway/attributes")
def subscribed_again(ctx: Ctx) -> None:
    transcript = ctx.bed.transcript
    wanted = {RPC, ATTRIBUTES}
    latest = transcript.accepted_connections()[-1:]

    def subscribed() -> bool:
        return bool(latest) and wanted <= set(transcript.subscriptions(latest[0]))

    done = ctx.wait_until(subscribed, 10.0, 0.2)
    observed = transcript.subscriptions(latest[0]) if latest else "no connection"
    expect(done, sorted(wanted), observed, "subscriptions of the new connection")


# -- refusals ---------------------------------------------------------------------------------


@when(mqtt_step("the platform answers the next {count:I} telemetry messages with {reason:X}"))
def refuse_next(ctx: Ctx, count: int, reason: int) -> None:
    bed = ctx.gateway_bed
    ctx.refused_at, ctx.since_t = bed.transcript.mark(), bed.now
    bed.refuse(TELEMETRY, reason, count)


@when(
    mqtt_step(
        "the platform answers the next telemetry message with {reason:X}, and every message "
        "carrying its content again"
    )
)
def refuse_content(ctx: Ctx, reason: int) -> None:
    bed = ctx.gateway_bed
    ctx.refused_at, ctx.since_t = bed.transcript.mark(), bed.now
    bed.refuse(TELEMETRY, reason, 1, sticky=True)


def _refused(ctx: Ctx) -> list[dict[str, Any]]:
    transcript = ctx.bed.transcript
    return [
        r
        for r in transcript.publishes(TELEMETRY, C2S, ctx.refused_at)
        if (transcript.ack_of(r) or {}).get("reason", 0) >= 0x80
    ]


def _carrying(ctx: Ctx, reading: tuple[str, Any], after: int) -> list[dict[str, Any]]:
    key = ctx.gateway_bed.key("ticks_key")
    return [
        r
        for r in ctx.bed.transcript.publishes(TELEMETRY, C2S, after)
        if reading in readings(r.get("payload"), key)
    ]


@then(
    mqtt_step(
        "the refused telemetry was sent again no sooner than {seconds:N} seconds after each refusal"
    )
)
def resent_later(ctx: Ctx, seconds: float) -> None:
    transcript, key = ctx.bed.transcript, ctx.gateway_bed.key("ticks_key")
    refused = _refused(ctx)
    expect(refused, "refused telemetry messages", "none refused", "the planned refusals")
    early: list[Any] = []
    for row in refused:
        ack = transcript.ack_of(row)
        assert ack is not None
        found = readings(row.get("payload"), key)
        if not found:
            continue
        resends = [r for r in _carrying(ctx, found[0], ctx.refused_at) if r["t"] > row["t"]]
        if resends and resends[0]["t"] - ack["t"] < seconds:
            early.append({"refused_at": ack["t"], "sent_again_at": resends[0]["t"]})
    expect(not early, f"at least {seconds:g} s of back-off", early, "resends after a refusal")


@then(mqtt_step("the refused message was not sent more than {count:I} times"))
def not_resent_forever(ctx: Ctx, count: int) -> None:
    key = ctx.gateway_bed.key("ticks_key")
    refused = _refused(ctx)
    expect(refused, "a refused telemetry message", "none refused", "the planned refusal")
    found = readings(refused[0].get("payload"), key)
    sends = len(_carrying(ctx, found[0], ctx.refused_at)) if found else 1
    expect(sends <= count, f"at most {count} sends", sends, "sends of the refused reading")


@then("telemetry read after the refusal was accepted for every meter")
def later_telemetry_flows(ctx: Ctx) -> None:
    bed = ctx.gateway_bed
    key = bed.key("ticks_key")
    refused = _refused(ctx)
    after_t = refused[0]["t"] if refused else ctx.since_t
    accepted = {
        (device, value)
        for row in bed.transcript.accepted_publishes(TELEMETRY, ctx.refused_at)
        for device, value in readings(row.get("payload"), key)
    }
    missing = []
    for unit, name in bed.meter_names().items():
        later = [v for t, v in bed.sniffer.ticks(unit) if t > after_t + 0.1]
        if not any((name, v) in accepted for v in later):
            missing.append(name)
    expect(not missing, "later readings accepted", f"none for {missing}", "telemetry flow")
