"""Data queries over the data store (:mod:`.signals`): raw points, time-bucket aggregates and
the latest value of every signal.

Common parameters, as the seed gives them: ``start_time``/``end_time`` are Unix **seconds**
(fractions for ms/µs, 1000000000..9999999999) and select ``start_time <= reported < end_time``
(default: the 7 days up to and including now); ``epoch`` (``s``, ``ms``, ``us``; default
``us``) is the unit of the times returned; ``limit`` 1..10000 (default 1000) and ``page``
1.. (default 1) page through the results; ``sort`` ``report`` (device time, default) or
``server``; ``order`` ``desc`` (default) or ``asc``.

A point is returned as ``{"identity", "resource", "signal", "value", "reported_time",
"server_time"}``. ``queryResource`` returns the points of a resource's own signal (its stored
values), ``querySignal(s)`` those of the named signals (resource aliases, or channel ids parsed
from ``data_in``). With ``group`` the points are merged per signal:
``{"identity", "resource", "signal", "values": [{"value", "reported_time", "server_time"}]}``.

The aggregates put each point in a UTC-aligned ``bucket`` (``1m``, ``5m``, ``1h``; default
``1h``) and return per signal and bucket ``{"identity", "resource", "signal", "time"}`` with the
requested ``fields`` (default all of ``count``, ``max``, ``min``, ``sum``): ``count`` counts the
points, the others use numeric values only (null when a bucket has none). Newest bucket first;
``group`` merges them per signal (``values``). Every answer is ``{"q": <the query as
understood, with total>, "data": [...]}``; queries of unknown identities give no data.

``latestSignalsSearch`` returns, per identity and signal, the point with the latest device time:
``last_value`` (text: strings as they are, other values as JSON), ``last_update`` (device time)
and ``last_insert`` (server time) as ISO 8601 UTC text, ``signal_name`` (a ``config_io`` display
name, else the signal id); sorted by ``sort_key`` (``identity`` or ``signal``; ``reverse`` for
descending), ``page`` (default 1) of ``limit`` (1..2000, default 100), with ``total``.
"""

from __future__ import annotations

from typing import Any

from devices.cloud.device2 import params as p
from devices.cloud.device2.clock import DAY_US, US_PER_S, iso
from devices.cloud.device2.context import Context
from devices.cloud.device2.errors import InvalidInput, one_of
from devices.cloud.device2.resources import check_alias
from devices.cloud.device2.store import dumps, loads

IDENTITY_PATTERN = r"[a-zA-Z0-9_-]+"
SIGNAL_PATTERN = r"[a-zA-Z0-9_%-]+"
EPOCHS = {"s": US_PER_S, "ms": 1000, "us": 1}
BUCKETS = {"1m": 60, "5m": 300, "1h": 3600}
FIELDS = ("count", "max", "min", "sum")
TIME_MIN, TIME_MAX = 1_000_000_000, 9_999_999_999
PAGE_MAX = 999_999_999_999_999
DEFAULT_SPAN_US = 7 * DAY_US


def _common(ctx: Context, params: p.Params) -> dict[str, Any]:
    """Range, paging and time unit of a query (checked), echoed in the answer's ``q``."""
    end = p.opt_number(params, "end_time", None, TIME_MIN, TIME_MAX)
    start = p.opt_number(params, "start_time", None, TIME_MIN, TIME_MAX)
    end_us = ctx.now_us() + 1 if end is None else round(end * US_PER_S)  # default: up to now
    start_us = end_us - DEFAULT_SPAN_US if start is None else round(start * US_PER_S)
    if start_us >= end_us:
        raise InvalidInput("start_time", "a time before end_time", start)
    epoch = p.opt_choice(params, "epoch", list(EPOCHS), "us") or "us"
    return {
        "start_time": start if start is not None else start_us / US_PER_S,
        "end_time": end if end is not None else end_us / US_PER_S,
        "limit": p.opt_int(params, "limit", 1000, 1, 10000),
        "page": p.opt_int(params, "page", 1, 1, PAGE_MAX),
        "epoch": epoch,
        "group": p.opt_bool(params, "group", False),
        "_range": (start_us, end_us),
    }


def _at(us: int, epoch: str) -> int:
    return us // EPOCHS[epoch]


def _identities(params: p.Params) -> list[str] | None:
    return p.opt_str_list(params, "identities", IDENTITY_PATTERN)


def _signals(params: p.Params) -> list[str]:
    names = p.opt_str_list(params, "signals", SIGNAL_PATTERN)
    if not names:
        raise InvalidInput("signals", "a non-empty array of signal names")
    return names


def _points(
    ctx: Context, params: p.Params, where: str, args: list[Any], q: dict[str, Any]
) -> dict[str, Any]:
    q.update(_common(ctx, params))
    q["sort"] = p.opt_choice(params, "sort", ("report", "server"), "report")
    q["order"] = p.opt_choice(params, "order", ("desc", "asc"), "desc")
    start_us, end_us = q.pop("_range")
    where = f"product = ? AND {where} AND reported >= ? AND reported < ?"
    args = [ctx.product, *args, start_us, end_us]
    column = "reported" if q["sort"] == "report" else "server"
    direction = q["order"].upper()
    total = ctx.store.one(f"SELECT COUNT(*) AS n FROM signal_data WHERE {where}", args)
    rows = ctx.store.query(
        f"SELECT * FROM signal_data WHERE {where} ORDER BY {column} {direction}, "
        f"seq {direction} LIMIT ? OFFSET ?",
        [*args, q["limit"], (q["page"] - 1) * q["limit"]],
    )
    q["total"] = total["n"] if total else 0
    epoch = q["epoch"]
    data = [
        {
            "identity": r["identity"],
            "resource": r["resource"],
            "signal": r["signal"],
            "value": loads(r["value"]),
            "reported_time": _at(r["reported"], epoch),
            "server_time": _at(r["server"], epoch),
        }
        for r in rows
    ]
    return {"q": q, "data": _grouped(data) if q["group"] else data}


def _grouped(data: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for item in data:
        key = (item.pop("identity"), item.pop("resource"), item.pop("signal"))
        group = groups.setdefault(
            key, {"identity": key[0], "resource": key[1], "signal": key[2], "values": []}
        )
        group["values"].append(item)
    return list(groups.values())


def _aggregate(
    ctx: Context, params: p.Params, where: str, args: list[Any], q: dict[str, Any]
) -> dict[str, Any]:
    q.update(_common(ctx, params))
    q["bucket"] = p.opt_choice(params, "bucket", list(BUCKETS), "1h")
    fields = p.opt_str_list(params, "fields") or list(FIELDS)
    for i, name in enumerate(fields):
        if name not in FIELDS:
            raise InvalidInput(f"fields[{i}]", one_of(FIELDS), name)
    q["fields"] = fields
    q["sort"], q["order"] = "report", "desc"
    start_us, end_us = q.pop("_range")
    width = BUCKETS[q["bucket"]] * US_PER_S
    where = f"product = ? AND {where} AND reported >= ? AND reported < ?"
    args = [ctx.product, *args, start_us, end_us]
    grouped = (
        f"SELECT identity, resource, signal, (reported / {width}) * {width} AS bucket, "
        "COUNT(*) AS count, MIN(num) AS min, MAX(num) AS max, SUM(num) AS sum "
        f"FROM signal_data WHERE {where} GROUP BY identity, resource, signal, bucket"
    )
    total = ctx.store.one(f"SELECT COUNT(*) AS n FROM ({grouped})", args)
    rows = ctx.store.query(
        f"{grouped} ORDER BY bucket DESC, identity, resource, signal LIMIT ? OFFSET ?",
        [*args, q["limit"], (q["page"] - 1) * q["limit"]],
    )
    q["total"] = total["n"] if total else 0
    data = []
    for r in rows:
        item = {
            "identity": r["identity"],
            "resource": r["resource"],
            "signal": r["signal"],
            "time": _at(r["bucket"], q["epoch"]),
        }
        item.update({name: _plain(r[name]) for name in fields})
        if "count" in item and ctx.deviations.active("aggregate-count-off-by-one"):
            item["count"] += 1
        data.append(item)
    return {"q": q, "data": _grouped(data) if q["group"] else data}


def _plain(value: float | int | None) -> float | int | None:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _resource_where(params: p.Params) -> tuple[str, list[Any], dict[str, Any]]:
    resource = check_alias(p.get(params, "resource", None), "resource")
    names = _identities(params)
    where, args = "resource = ? AND signal = ?", [resource, resource]
    if names is not None:
        where += " AND identity IN (SELECT value FROM json_each(?))"
        args.append(dumps(names))
    return where, args, {"resource": resource, "identities": names, "signals": [resource]}


def _signal_where(params: p.Params, many: bool) -> tuple[str, list[Any], dict[str, Any]]:
    identity = p.req_str(params, "identity", IDENTITY_PATTERN)
    names = _signals(params) if many else [p.req_str(params, "signal", SIGNAL_PATTERN)]
    where = "identity = ? AND signal IN (SELECT value FROM json_each(?))"
    return where, [identity, dumps(names)], {"identities": [identity], "signals": names}


def query_resource(ctx: Context, params: p.Params) -> dict[str, Any]:
    where, args, q = _resource_where(params)
    return _points(ctx, params, where, args, q)


def query_signal(ctx: Context, params: p.Params) -> dict[str, Any]:
    where, args, q = _signal_where(params, many=False)
    return _points(ctx, params, where, args, q)


def query_signals(ctx: Context, params: p.Params) -> dict[str, Any]:
    where, args, q = _signal_where(params, many=True)
    return _points(ctx, params, where, args, q)


def aggrquery_resource(ctx: Context, params: p.Params) -> dict[str, Any]:
    where, args, q = _resource_where(params)
    return _aggregate(ctx, params, where, args, q)


def aggrquery_signal(ctx: Context, params: p.Params) -> dict[str, Any]:
    where, args, q = _signal_where(params, many=False)
    return _aggregate(ctx, params, where, args, q)


def aggrquery_signals(ctx: Context, params: p.Params) -> dict[str, Any]:
    where, args, q = _signal_where(params, many=True)
    return _aggregate(ctx, params, where, args, q)


def latest_signals_search(ctx: Context, params: p.Params) -> dict[str, Any]:
    page = p.opt_int(params, "page", 1, 1, PAGE_MAX) or 1
    limit = p.opt_int(params, "limit", 100, 1, 2000) or 100
    reverse = bool(p.opt_bool(params, "reverse", False))
    sort_key = p.opt_choice(params, "sort_key", ("identity", "signal"), "identity") or "identity"
    names = p.opt_str_list(params, "signals")
    identities = p.opt_str_list(params, "identities")
    where, args = "d.product = ?", [ctx.product]
    if names is not None:
        where += " AND d.signal IN (SELECT value FROM json_each(?))"
        args.append(dumps(names))
    if identities is not None:
        where += " AND d.identity IN (SELECT value FROM json_each(?))"
        args.append(dumps(identities))
    latest = (
        "SELECT * FROM (SELECT d.identity, d.resource, d.signal, d.value, d.reported, d.server, "
        "ROW_NUMBER() OVER (PARTITION BY d.identity, d.resource, d.signal "
        "ORDER BY d.reported DESC, d.seq DESC) AS rn "
        f"FROM signal_data d WHERE {where}) WHERE rn = 1"
    )
    other = "signal" if sort_key == "identity" else "identity"
    direction = "DESC" if reverse else "ASC"
    total = ctx.store.one(f"SELECT COUNT(*) AS n FROM ({latest})", args)
    rows = ctx.store.query(
        f"SELECT l.*, n.name FROM ({latest}) l LEFT JOIN signal_names n ON n.product = ? "
        "AND n.identity = l.identity AND n.signal = l.signal "
        f"ORDER BY l.{sort_key} {direction}, l.{other} {direction}, l.resource {direction} "
        "LIMIT ? OFFSET ?",
        [*args, ctx.product, limit, (page - 1) * limit],
    )
    data = []
    for r in rows:
        value = loads(r["value"])
        data.append(
            {
                "identity": r["identity"],
                "resource": r["resource"],
                "signal_id": r["signal"],
                "signal_name": r["name"] or r["signal"],
                "last_value": value if isinstance(value, str) else dumps(value),
                "last_update": iso(r["reported"]),
                "last_insert": iso(r["server"]),
            }
        )
    q = {
        "page": page,
        "limit": limit,
        "reverse": reverse,
        "signals": names,
        "sort_key": sort_key,
        "identities": identities,
    }
    return {"q": q, "data": data, "total": total["n"] if total else 0}
