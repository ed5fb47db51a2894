"""Steps on device data (queries, aggregates, publishData, metrics), gateway events and
restores, each asked of the management API and compared with what the devices themselves
say they wrote."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from pytest_bdd import given, then, when

from features.device2.steps.support import US, Ctx, d2_step, shown
from scenarios.device2.load import Totals, paged, reported, totals_by_identity

DAY_S = 86_400
EVENT_WAIT_S = 2.0


def _written(ctx: Ctx, name: str) -> tuple[str, str, list[float]]:
    """(identity, alias, the values the device says the service acknowledged). A data check
    compares still values: the device is switched off first, and what it had on its way lands
    (or not: such a value may be found, :func:`_sent` tells)."""
    placed = ctx.bed.devices[name]
    if placed.powered:
        ctx.bed.run(ctx.bed.set_power(name, False))
        ctx.settle(1.0)
    alias = placed.placement.alias
    return str(placed.device.identity), alias, reported(placed.device, alias)


def _sent(ctx: Ctx, name: str) -> list[float]:
    placed = ctx.bed.devices[name]
    return reported(placed.device, placed.placement.alias, sent=True)


def _window(ctx: Ctx) -> dict[str, int]:
    now_s = ctx.bed.run(ctx.bed.service_now_us()) // US
    return {"start_time": now_s - 2 * DAY_S, "end_time": now_s + 60}


# -- raw queries -------------------------------------------------------------------------------
def _query(ctx: Ctx, operation: str, identity: str, alias: str, **extra: Any) -> list[Any]:
    params: dict[str, Any] = {"order": "asc", **_window(ctx), **extra}
    if operation == "queryResource":
        params.update(resource=alias, identities=identity)
    elif operation == "querySignal":
        params.update(identity=identity, signal=alias)
    elif operation == "querySignals":
        params.update(identity=identity, signals=[alias])
    else:
        raise AssertionError(f"no query step for {operation}")
    return [p["value"] for p in ctx.bed.run(paged(ctx.bed, operation, params))]


@then(d2_step('every value "{name:Q}" wrote is found by "{operation:Q}"'))
def every_value_found(ctx: Ctx, name: str, operation: str) -> None:
    identity, alias, written = _written(ctx, name)
    assert written, f"{name} wrote nothing"
    found = Counter(float(v) for v in _query(ctx, operation, identity, alias))
    missing, extra = Counter(written) - found, found - Counter(_sent(ctx, name))
    assert not missing and not extra, (
        f"{operation}: {name}'s values {sorted(missing.elements())} are missing, "
        f"{sorted(extra.elements())} were never sent"
    )


@then(d2_step('the latest value of "{name:Q}" is what "latestSignalsSearch" gives'))
def latest(ctx: Ctx, name: str) -> None:
    identity, alias, written = _written(ctx, name)
    body = ctx.call("latestSignalsSearch", {"identities": [identity]})
    rows = [r for r in ctx.must_succeed("latestSignalsSearch")["data"] if r["signal_id"] == alias]
    assert rows and float(rows[0]["last_value"]) == written[-1], (shown(body), written[-1:])


@when(
    d2_step(
        'the operator publishes for "{identity:Q}" the values {values:Nums} of "{alias:Q}", '
        "{gap:N} seconds apart, ending a minute ago"
    )
)
def publishes(ctx: Ctx, identity: str, values: list[float], alias: str, gap: float) -> None:
    end_us = ctx.bed.run(ctx.bed.service_now_us()) - 60 * US
    count = len(values)
    payload = [
        {"timestamp": end_us - int((count - 1 - k) * gap * US), "values": {alias: _plain(v)}}
        for k, v in enumerate(values)
    ]
    ctx.call("publishData", {"identity": identity, "payload": payload})


def _plain(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


@when(d2_step('the operator queries "{operation:Q}" for "{identity:Q}" in ascending order'))
def queries(ctx: Ctx, operation: str, identity: str) -> None:
    ctx.queried = _query(ctx, operation, identity, "temperature")


@when(
    d2_step(
        'the operator queries "{operation:Q}" for "{identity:Q}" in ascending order with {extra:L}'
    )
)
def queries_with(ctx: Ctx, operation: str, identity: str, extra: dict[str, Any]) -> None:
    params = {
        "order": "asc",
        "resource": "temperature",
        "identities": identity,
        **_window(ctx),
        **extra,
    }
    ctx.call(operation, params)
    ctx.queried = [p["value"] for p in ctx.must_succeed(operation)["data"]]


@then(d2_step("the queried values are {values:Nums}"))
def queried_values(ctx: Ctx, values: list[float]) -> None:
    assert [float(v) for v in ctx.queried] == values, f"queried {ctx.queried}, expected {values}"


# -- aggregates --------------------------------------------------------------------------------
@then(
    d2_step('the "{bucket:Q}" aggregates by "{operation:Q}" equal the values {names:Names} wrote')
)
def aggregates_equal(ctx: Ctx, bucket: str, operation: str, names: list[str]) -> None:
    series = {
        identity: (alias, values)
        for identity, alias, values in map(lambda n: _written(ctx, n), names)
    }
    rows: list[dict[str, Any]] = []
    base = {"bucket": bucket, **_window(ctx)}
    if operation == "aggrqueryResource":
        alias = next(iter(series.values()))[0]
        rows = ctx.bed.run(
            paged(ctx.bed, operation, {**base, "resource": alias, "identities": ",".join(series)})
        )
    else:
        for identity, (alias, _values) in series.items():
            key = {"signal": alias} if operation == "aggrquerySignal" else {"signals": [alias]}
            rows += [
                {"identity": identity, **r}
                for r in ctx.bed.run(
                    paged(ctx.bed, operation, {**base, "identity": identity, **key})
                )
            ]
    got = totals_by_identity(rows)
    for identity, (_alias, values) in series.items():
        want, have = Totals.of(values), got.get(identity, Totals())
        assert values and have.equals(want), (
            f"{operation} {bucket} for {identity}: {have} != {want}"
        )


# -- metrics -----------------------------------------------------------------------------------
@then(d2_step("the metric values add up to {n:d}"))
def metrics_sum(ctx: Ctx, n: int) -> None:
    body = ctx.must_succeed("getDeviceMetrics")
    assert sum(row["value"] for row in body) == n, shown(body)


# -- events ------------------------------------------------------------------------------------
def _events(ctx: Ctx, identity: str, kind: str | None = None) -> list[dict[str, Any]]:
    return [
        e for e in ctx.bed.events if e.get("identity") == identity and kind in (None, e.get("type"))
    ]


def _wait_for_event(ctx: Ctx, identity: str, kind: str) -> dict[str, Any]:
    waited = 0.0
    while not (found := _events(ctx, identity, kind)) and waited < EVENT_WAIT_S:
        ctx.settle(0.1)
        waited += 0.1
    assert found, f"no {kind} event for {identity}; events: {shown(ctx.bed.events[-10:])}"
    return found[-1]


@then(d2_step('a "{kind:Q}" event for "{identity:Q}" was emitted'))
@then(d2_step('an "{kind:Q}" event for "{identity:Q}" was emitted'))
def event_emitted(ctx: Ctx, kind: str, identity: str) -> None:
    _wait_for_event(ctx, identity, kind)


@then(d2_step('the events for "{identity:Q}" are {kinds:Names}'))
def events_in_order(ctx: Ctx, identity: str, kinds: list[str]) -> None:
    _wait_for_event(ctx, identity, kinds[-1])
    got = [e["type"] for e in _events(ctx, identity)]
    assert got == kinds, f"events for {identity}: {got}"


@then(d2_step('the "{kind:Q}" event for "{identity:Q}" has the fields {names:Names}'))
def event_fields(ctx: Ctx, kind: str, identity: str, names: list[str]) -> None:
    event = _wait_for_event(ctx, identity, kind)
    missing = [n for n in names if n not in event]
    assert not missing, f"the {kind} event lacks {missing}: {event}"


@then(d2_step('the "{kind:Q}" event for "{identity:Q}" has "{key:Q}" {value:J}'))
def event_field(ctx: Ctx, kind: str, identity: str, key: str, value: Any) -> None:
    event = _wait_for_event(ctx, identity, kind)
    assert event.get(key) == value, f"the {kind} event's {key} is {event.get(key)!r}: {event}"


@then(d2_step('the {kinds:Names} events for "{identity:Q}" share one connection_id'))
def one_connection(ctx: Ctx, kinds: list[str], identity: str) -> None:
    ids = {_wait_for_event(ctx, identity, k).get("connection_id") for k in kinds}
    assert len(ids) == 1 and None not in ids, ids


@then(d2_step('the "data_in" event for "{identity:Q}" carries {values:L}'))
def data_in_carries(ctx: Ctx, identity: str, values: dict[str, Any]) -> None:
    event = _wait_for_event(ctx, identity, "data_in")
    got = event["payload"][0]["values"]
    assert {k: got.get(k) for k in values} == values, f"data_in values {got}"


@then(d2_step('the "data_in" event for "{identity:Q}" has a payload timestamp in microseconds'))
def data_in_microseconds(ctx: Ctx, identity: str) -> None:
    event = _wait_for_event(ctx, identity, "data_in")
    stamp = event["payload"][0]["timestamp"]
    now_us = ctx.bed.run(ctx.bed.service_now_us())
    assert isinstance(stamp, int) and abs(stamp - now_us) < DAY_S * US, (stamp, now_us)


# -- restore -----------------------------------------------------------------------------------
def _day_start_s(day: str) -> int:
    return int(dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC).timestamp())


@given(
    d2_step(
        'an archive of "{day:Q}" holding "{alias:Q}" {first:Nums} of "{one:Q}" and {second:Nums} '
        'of "{two:Q}"'
    )
)
def archive(
    ctx: Ctx, day: str, alias: str, first: list[float], one: str, second: list[float], two: str
) -> None:
    start = _day_start_s(day)
    series = [(one, v) for v in first] + [(two, v) for v in second]
    points = [
        {
            "identity": identity,
            "resource": alias,
            "signal": alias,
            "value": _plain(v),
            "timestamp": (start + 60 * (k + 1)) * US,
        }
        for k, (identity, v) in enumerate(series)
    ]
    ctx.archive_url = ctx.bed.run(ctx.bed.archive(day, points))


@when("the operator restores that archive by URL")
def restore_url(ctx: Ctx) -> None:
    assert ctx.archive_url, "no archive was laid"
    ctx.call("restoreUrl", {"urls": [ctx.archive_url]})
    ctx.must_succeed("restoreUrl")


@then(
    d2_step(
        '"{operation:Q}" finds the values {values:Nums} of "{alias:Q}" for "{identity:Q}" '
        'on "{day:Q}"'
    )
)
def finds_on_day(
    ctx: Ctx, operation: str, values: list[float], alias: str, identity: str, day: str
) -> None:
    start = _day_start_s(day)
    rows = ctx.bed.run(
        paged(
            ctx.bed,
            operation,
            {
                "identity": identity,
                "signal": alias,
                "order": "asc",
                "start_time": start,
                "end_time": start + DAY_S,
            },
        )
    )
    assert [float(r["value"]) for r in rows] == values, shown(rows)


@then(d2_step('"{operation:Q}" finds no value of "{alias:Q}" for "{identity:Q}" on "{day:Q}"'))
def finds_nothing(ctx: Ctx, operation: str, alias: str, identity: str, day: str) -> None:
    finds_on_day(ctx, operation, [], alias, identity, day)


@when(d2_step("the operator asks {operation} about that task"))
def about_task(ctx: Ctx, operation: str) -> None:
    assert ctx.task_id, "no restore task was started"
    if operation == "getRestoreStatus":
        tasks = ctx.call(operation, {})
        ctx.must_succeed(operation)
        ctx.body = next((t for t in tasks if t["task_id"] == ctx.task_id), None)
        assert ctx.body is not None, f"task {ctx.task_id} is not listed: {shown(tasks)}"
    else:
        ctx.call(operation, {"task_id": ctx.task_id})
