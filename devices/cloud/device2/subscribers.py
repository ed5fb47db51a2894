"""Signal subscribers: sessions that follow a signal's data (``querySignalSubscribers``,
``querySignalsSubscribers``).

The seed names three session types — ``sync_to_cloud``, ``script_async``, ``mqtt_qos1`` — and the
fields ``session_id``, ``status``, ``offset`` (last sync time) and ``last_update``. Sessions are
registered by whoever follows the data (the MQTT device API registers ``mqtt_qos1`` sessions for
the resources it pushes to a device) through :func:`register` / :func:`unregister`; times are
returned as ISO 8601 UTC text (the seed types them as strings). Like the data queries, an
identity with no sessions (or none at all) gives an empty ``data``.
"""

from __future__ import annotations

from typing import Any

from devices.cloud.device2 import params as p
from devices.cloud.device2.clock import iso
from devices.cloud.device2.context import Context
from devices.cloud.device2.errors import InvalidInput, one_of
from devices.cloud.device2.lifecycle import require_identity
from devices.cloud.device2.store import dumps

SESSION_TYPES = ("sync_to_cloud", "script_async", "mqtt_qos1")
IDENTITY_PATTERN = r"[a-zA-Z0-9_-]+"
SIGNAL_PATTERN = r"[a-zA-Z0-9_%-]+"


def register(
    ctx: Context,
    identity: str,
    signal: str,
    session_id: str,
    session_type: str,
    status: str = "ok",
    offset: int | None = None,
) -> None:
    if session_type not in SESSION_TYPES:
        raise InvalidInput("session_type", one_of(SESSION_TYPES), session_type)
    with ctx.tx() as db:
        require_identity(ctx, identity)
        db.execute(
            "INSERT INTO subscribers VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT "
            "(product, identity, signal, session_id) DO UPDATE SET status = excluded.status, "
            "offset_us = excluded.offset_us, last_update = excluded.last_update",
            (ctx.product, identity, signal, session_id, session_type, status, offset, ctx.now_us()),
        )


def unregister(ctx: Context, identity: str, session_id: str) -> None:
    with ctx.tx() as db:
        db.execute(
            "DELETE FROM subscribers WHERE product = ? AND identity = ? AND session_id = ?",
            (ctx.product, identity, session_id),
        )


def _query(ctx: Context, identity: str, names: list[str]) -> dict[str, Any]:
    rows = ctx.store.query(
        "SELECT * FROM subscribers WHERE product = ? AND identity = ? AND signal IN "
        "(SELECT value FROM json_each(?)) ORDER BY signal, session_id",
        (ctx.product, identity, dumps(names)),
    )
    data = [
        {
            "offset": None if r["offset_us"] is None else iso(r["offset_us"]),
            "status": r["status"],
            "identity": r["identity"],
            "session_id": r["session_id"],
            "last_update": iso(r["last_update"]),
            "signal_name": r["signal"],
            "session_type": r["session_type"],
        }
        for r in rows
    ]
    return {"q": {"signals": names, "identity": identity}, "data": data}


def query_signal_subscribers(ctx: Context, params: p.Params) -> dict[str, Any]:
    identity = p.req_str(params, "identity", IDENTITY_PATTERN)
    signal = p.req_str(params, "signal", SIGNAL_PATTERN)
    return _query(ctx, identity, [signal])


def query_signals_subscribers(ctx: Context, params: p.Params) -> dict[str, Any]:
    identity = p.req_str(params, "identity", IDENTITY_PATTERN)
    names = p.opt_str_list(params, "signals")
    if not names:
        raise InvalidInput("signals", "a non-empty array of signal or resource names")
    return _query(ctx, identity, names)
