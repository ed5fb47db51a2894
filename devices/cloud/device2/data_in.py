"""Data from devices: device writes (``data_in``) and ``publishData``.

:func:`write` is what every device write comes to (HTTP ``/onep:v1/stack/alias`` and
``/record``, MQTT ``$resource/...`` and ``$resource.batch``, ``setIdentityState`` with
``simulate``): one or more batches ``(timestamp µs or None for now, {alias: value})``. It
stores the values that fit a defined resource as state and data points, updates ``lastseen``
(and ``lastip``), records the publish metrics and emits one ``data_in`` event with every alias
written, defined or not (``updated_resources`` lists those stored as state).

``publishData`` puts values straight into the data store (no state, no event): each
``payload[].values`` alias must be a defined resource and each value fit it; ``timestamp`` is µs
within 1 day ahead and 10 years back of the world's time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from devices.cloud.device2 import metrics, resources, signals, state
from devices.cloud.device2 import params as p
from devices.cloud.device2.clock import DAY_US
from devices.cloud.device2.context import Context
from devices.cloud.device2.errors import InvalidInput, NotFound
from devices.cloud.device2.events import DATA_IN, GATEWAY_EVENT, gateway_event
from devices.cloud.device2.lifecycle import require_identity

Batch = tuple[int | None, Mapping[str, Any]]
TEN_YEARS_US = 3653 * DAY_US


def write(
    ctx: Context,
    identity: str,
    batches: Sequence[Batch],
    ip: str | None = None,
    protocol: str | None = None,
    connection_id: str | None = None,
) -> list[str]:
    """Record a device write; returns the aliases stored as identity state."""
    now = ctx.now_us()
    payload, updated, size, count = [], [], 0, 0
    with ctx.tx() as db:
        require_identity(ctx, identity)
        for when, values in batches:
            timestamp = now if when is None else when
            stored, fitting = state.apply_report(ctx, identity, values, timestamp)
            signals.store_values(ctx, identity, fitting, timestamp, now)
            updated += [a for a in stored if a not in updated]
            payload.append({"timestamp": timestamp, "values": dict(values)})
            size += len(json.dumps(values, separators=(",", ":"), default=str).encode())
            count += len(values)
        db.execute(
            "UPDATE identities SET lastseen = ?, lastip = COALESCE(?, lastip) "
            "WHERE product = ? AND identity = ?",
            (now, ip, ctx.product, identity),
        )
        metrics.record(ctx, "publish_count", identity)
        metrics.record(ctx, "publish_size", identity, size)
        metrics.record(ctx, "publish_resource_count", identity, count)
        event = gateway_event(
            DATA_IN,
            identity,
            now,
            ip,
            protocol,
            connection_id,
            payload=payload,
            updated_resources=updated,
        )
        ctx.emit(GATEWAY_EVENT, ctx.product, event)
    return updated


def publish_data(ctx: Context, params: p.Params) -> None:
    identity = p.req_str(params, "identity")
    payload = p.get(params, "payload", None)
    if not isinstance(payload, list) or not payload:
        raise InvalidInput("payload", "a non-empty array of {timestamp, values}", payload)
    now = ctx.now_us()
    defined = resources.all_resources(ctx)
    batches: list[tuple[int, dict[str, Any]]] = []
    for i, item in enumerate(payload):
        where = f"payload[{i}]"
        if not isinstance(item, Mapping):
            raise InvalidInput(where, "an object with timestamp and values", item)
        timestamp = p.opt_int(
            p.item_params(item, where), f"{where}.timestamp", None, now - TEN_YEARS_US, now + DAY_US
        )
        if timestamp is None:
            raise InvalidInput(f"{where}.timestamp", "a timestamp in µs", None)
        values = item.get("values")
        if not isinstance(values, Mapping) or not values:
            raise InvalidInput(f"{where}.values", "an object of resource values", values)
        fitting = {}
        for alias, value in values.items():
            definition = defined.get(alias)
            if definition is None:
                raise InvalidInput(f"{where}.values.{alias}", "an alias of a defined resource")
            try:
                fitting[alias] = resources.coerce(definition, value)
            except resources.Unfit as exc:
                raise InvalidInput(f"{where}.values.{alias}", str(exc), value) from None
        batches.append((timestamp, fitting))
    with ctx.tx():
        try:
            require_identity(ctx, identity)
        except NotFound as exc:  # the seed lists only 400 for publishData
            raise InvalidInput("identity", "an existing identity", identity) from exc
        for timestamp, fitting in batches:
            signals.store_values(ctx, identity, fitting, timestamp, now)
