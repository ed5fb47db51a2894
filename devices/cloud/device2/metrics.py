"""Device metrics (``getDeviceMetrics``): samples recorded as things happen, aggregated per
window on request.

Every sample is ``(metric, identity, value, time)``; what records them:

* ``connection`` / ``disconnection`` — 1 per device connect / disconnect.
* ``connection_error`` — 1 per refused connection or provisioning attempt; its ``detail`` is
  the reason (``locked``, ``expired``, ``bad_credentials``, ``ip_not_allowed``,
  ``provisioning_disabled``, ``unknown_identity``...), returned as ``connection_error`` and
  grouped on.
* ``connected`` — a gauge: at every connect and disconnect, the number of connected devices of
  the gateway after the change.
* ``whitelisted``, ``provisioned``, ``expired``, ``reprovision``, ``locked``, ``deleted`` — 1 per
  identity entering that state (``expired``/``reprovision`` at the instant ``auth.expire``
  passed).
* ``publish_count`` (1), ``publish_size`` (bytes of the values as JSON),
  ``publish_resource_count`` (aliases written) — per device write.

``aggregate_fn`` applies to the samples of each ``aggregate_window`` bucket (UTC-aligned);
buckets with no sample are left out; rows come in time order. ``distinct`` groups by device id
too (each row then names its ``identity``). ``start_time``/``end_time`` are Unix seconds;
samples at ``start_time`` <= t < ``end_time`` count.
"""

from __future__ import annotations

from typing import Any

from devices.cloud.device2 import params as p
from devices.cloud.device2.clock import US_PER_S, iso
from devices.cloud.device2.context import Context
from devices.cloud.device2.errors import InvalidInput

METRICS = (
    "connected",
    "connection",
    "disconnection",
    "deleted",
    "whitelisted",
    "provisioned",
    "expired",
    "locked",
    "reprovision",
    "publish_count",
    "publish_size",
    "publish_resource_count",
    "connection_error",
)
WINDOWS = {"1m": 60, "5m": 300, "1h": 3600}
FUNCTIONS = {
    "count": "COUNT(value)",
    "max": "MAX(value)",
    "min": "MIN(value)",
    "sum": "SUM(value)",
    "avg": "AVG(value)",
}
TIME_MIN, TIME_MAX = 1_000_000_000, 9_999_999_999


def record(
    ctx: Context,
    metric: str,
    identity: str | None,
    value: float = 1.0,
    at: int | None = None,
    detail: str | None = None,
) -> None:
    assert metric in METRICS, metric
    ctx.store.db.execute(
        "INSERT INTO metric_samples VALUES (?, ?, ?, ?, ?, ?)",
        (ctx.product, metric, identity, value, ctx.now_us() if at is None else at, detail),
    )


def get_device_metrics(ctx: Context, params: p.Params) -> list[dict[str, Any]]:
    window = WINDOWS[p.opt_choice(params, "aggregate_window", list(WINDOWS), "1h") or "1h"]
    fn = p.opt_choice(params, "aggregate_fn", list(FUNCTIONS), "count") or "count"
    metric = p.opt_choice(params, "metric_name", METRICS, "connected") or "connected"
    if ctx.deviations.active("metrics-empty"):
        return []
    now_s = ctx.now_us() // US_PER_S
    end = p.opt_int(params, "end_time", None, TIME_MIN, TIME_MAX)
    end = now_s + 1 if end is None else end  # default: up to and including this second
    start = p.opt_int(params, "start_time", None, TIME_MIN, TIME_MAX)
    start = end - 3600 if start is None else start
    if start >= end:
        raise InvalidInput("start_time", f"a time before end_time {end}", start)
    limit = p.opt_int(params, "limit", 200, 1, 2000)
    offset = p.opt_int(params, "offset", 0, 0)
    distinct = p.opt_bool(params, "distinct", False)
    width = window * US_PER_S
    groups = ["bucket"]
    if distinct:
        groups.append("identity")
    if metric == "connection_error":
        groups.append("detail")
    rows = ctx.store.query(
        f"SELECT (at / ?) * ? AS bucket, identity, detail, {FUNCTIONS[fn]} AS value "
        "FROM metric_samples WHERE product = ? AND metric = ? AND at >= ? AND at < ? "
        f"GROUP BY {', '.join(groups)} ORDER BY {', '.join(groups)} LIMIT ? OFFSET ?",
        (width, width, ctx.product, metric, start * US_PER_S, end * US_PER_S, limit, offset),
    )
    out = []
    for row in rows:
        item: dict[str, Any] = {"time": iso(row["bucket"]), "value": _number(row["value"])}
        if distinct:
            item["identity"] = row["identity"]
        if metric == "connection_error":
            item["connection_error"] = row["detail"]
        out.append(item)
    return out


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value
