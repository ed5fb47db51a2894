"""The batch-connect routes (seed 002, "Batch Connect to a Target Device (v2.0 and above)"):
``POST /gap/batch-connect`` queues devices on the router's :class:`~.batch.BatchConnector`,
``DELETE /gap/batch-connect`` empties its queue.

Parameters: ``list`` (``[{"type": "public"|"random", "addr": MAC}, ...]``), ``timeout`` and
``per_dev_timeout`` (ms). Only ``timeout`` accepts 20 ms and up (the seed's range for batch
connect is 20-20000 ms, the single connect's is 200-20000 ms); ``per_dev_timeout`` defaults to
twice ``timeout``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from devices.gateways.ble_router import handlers
from devices.gateways.ble_router.batch import BatchEntry
from devices.gateways.ble_router.central import ADDRESS_TYPES
from devices.gateways.ble_router.errors import InvalidParameter
from devices.gateways.ble_router.params import parse_choice, parse_int, parse_mac, shown

DEFAULT_TIMEOUT_MS = 5000
MAX_PER_DEV_TIMEOUT_MS = 600_000


def parse_entries(raw: Any, timeout_s: float, per_dev_s: float) -> list[BatchEntry]:
    """The ``list`` parameter: a JSON array of ``{"type": "public"|"random", "addr": MAC}``."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidParameter(
            f"list={shown(raw)} is not accepted; expected a JSON array such as "
            '[{"type":"public","addr":"C0:00:5B:D1:B7:25"}]'
        )
    entries = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or "addr" not in item:
            raise InvalidParameter(
                f"list[{i}]={shown(item)} is not accepted; expected an object "
                '{"type":"public"|"random","addr":"C0:00:5B:D1:B7:25"}'
            )
        mac = parse_mac(item["addr"], f"list[{i}].addr")
        addr_type = parse_choice(f"list[{i}].type", item.get("type", "public"), ADDRESS_TYPES)
        entries.append(BatchEntry(mac, addr_type, timeout_s, per_dev_s))
    return entries


async def batch_connect(request: web.Request) -> web.Response:
    connector = request.app[handlers.ROUTER].batch
    body = await handlers.body(request)
    if body is not None and not isinstance(body, dict):
        raise InvalidParameter(
            "the batch-connect body must be a JSON object with list, timeout and per_dev_timeout"
        )
    p = body or {}
    unknown = sorted(set(p) - {"list", "timeout", "per_dev_timeout"})
    if unknown:
        raise InvalidParameter(
            f"unknown batch-connect parameter(s) {shown(', '.join(unknown))}; accepted: "
            "list, timeout, per_dev_timeout"
        )
    timeout = parse_int(
        "timeout",
        p.get("timeout", DEFAULT_TIMEOUT_MS),
        20,
        20000,
        "a timeout in ms from 20 to 20000",
    )
    per_dev = parse_int(
        "per_dev_timeout",
        p.get("per_dev_timeout", timeout * 2),
        timeout,
        MAX_PER_DEV_TIMEOUT_MS,
        f"a timeout in ms from timeout ({timeout}) to {MAX_PER_DEV_TIMEOUT_MS}",
    )
    entries = parse_entries(p.get("list"), timeout / 1000.0, per_dev / 1000.0)
    added = connector.add(entries)
    connector.router.trace(
        "batch",
        "queued",
        added=added,
        timeout_ms=timeout,
        per_dev_timeout_ms=per_dev,
        queue=len(connector.queue),
    )
    return handlers.ok()


async def batch_remove(request: web.Request) -> web.Response:
    connector = request.app[handlers.ROUTER].batch
    extra = sorted(k for k in request.query if k != "mac")
    if extra or await handlers.body(request) is not None:
        raise InvalidParameter(
            "DELETE /gap/batch-connect accepts no parameters; got "
            f"{', '.join(extra) or 'a request body'}"
        )
    dropped = connector.clear()
    connector.router.trace("batch", "cleared", dropped=dropped)
    return handlers.ok()


def register(app: web.Application) -> None:
    app.router.add_post("/gap/batch-connect", batch_connect)
    app.router.add_delete("/gap/batch-connect", batch_remove)
