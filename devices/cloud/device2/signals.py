"""The data store: time series of signals, and the signal parser.

A *signal* is a series of values of one identity. Every value written to a defined resource is
a point of the resource's own signal (``resource`` = ``signal`` = the alias). With
``enable_signal_parser``, the ExoSense channel payloads are parsed as well: a ``data_in`` value
``{"001": 3.2, "002": true, "__error": {...}}`` adds a point to signal ``001``, ``002``... of
resource ``data_in`` (``__error`` is not data), and a ``config_io`` value names the channels
(``channels.<id>.display_name``), which ``latestSignalsSearch`` returns as ``signal_name``.

Each point keeps the device's time (``reported``) and the server's (``server``), both µs; numbers
(not booleans) are also kept as ``num`` for the aggregates.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from devices.cloud.device2.context import Context
from devices.cloud.device2.store import dumps

DATA_IN, CONFIG_IO = "data_in", "config_io"


def numeric(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def add_point(
    ctx: Context,
    identity: str,
    resource: str,
    signal: str,
    value: Any,
    reported: int,
    server: int,
) -> None:
    ctx.store.db.execute(
        "INSERT INTO signal_data (product, identity, resource, signal, value, num, reported, "
        "server) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (ctx.product, identity, resource, signal, dumps(value), numeric(value), reported, server),
    )


def reported_times(ctx: Context, identity: str, alias: str, start: int, end: int) -> list[int]:
    """Device times (µs) of the points of resource ``alias`` in ``start <= t < end``."""
    rows = ctx.store.query(
        "SELECT reported FROM signal_data WHERE product = ? AND identity = ? AND signal = ? "
        "AND resource = ? AND reported >= ? AND reported < ? ORDER BY reported",
        (ctx.product, identity, alias, alias, start, end),
    )
    return [row["reported"] for row in rows]


def store_values(
    ctx: Context, identity: str, values: Mapping[str, Any], reported: int, server: int
) -> None:
    """Points for fitting resource values, and parsed channels when the parser is on."""
    for alias, value in values.items():
        add_point(ctx, identity, alias, alias, value, reported, server)
        if not ctx.settings.signal_parser:
            continue
        if alias == DATA_IN:
            for channel, point in _object(value).items():
                if channel != "__error":
                    add_point(ctx, identity, DATA_IN, str(channel), point, reported, server)
        elif alias == CONFIG_IO:
            channels = _object(value).get("channels")
            if isinstance(channels, Mapping):
                for channel, spec in channels.items():
                    name = spec.get("display_name") if isinstance(spec, Mapping) else None
                    ctx.store.db.execute(
                        "INSERT INTO signal_names VALUES (?, ?, ?, ?) ON CONFLICT "
                        "(product, identity, signal) DO UPDATE SET name = excluded.name",
                        (ctx.product, identity, str(channel), str(name or channel)),
                    )


def _object(value: Any) -> Mapping[str, Any]:
    """A JSON object given as text or already parsed; {} for anything else."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return {}
    return value if isinstance(value, Mapping) else {}
