"""Identity state: per defined resource, the device's ``reported`` value and the cloud's
``set`` value, with the time of the last change (µs).

* A device write assigns both ``reported`` and ``set`` (a pending ``set`` the device had not
  yet acknowledged is thereby discarded, as the seed says) — :func:`apply_report`. A write
  with an older timestamp than the stored one (a historical record) leaves the state alone.
* ``setIdentityState`` on a resource with ``sync`` true assigns only ``set`` and marks it
  pending until the device writes (its acknowledgement is writing the value back); with
  ``sync`` false it assigns both at once. Only ``settable`` resources may be set (else
  Conflict, 409); an alias with no resource is invalid input (400). ``simulate`` makes the call
  act as a device write instead (a ``data_in`` event, state and data stored).
* A device reading a settable resource gets its ``set`` value (:func:`read_for_device`).
* A resource's ``initial`` value is the ``set`` value of every identity that has none yet,
  written when the resource or the identity is created.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from devices.cloud.device2 import params as p
from devices.cloud.device2 import resources
from devices.cloud.device2.context import Context
from devices.cloud.device2.errors import Conflict, InvalidInput
from devices.cloud.device2.events import STATE_SET
from devices.cloud.device2.lifecycle import require_identity
from devices.cloud.device2.store import dumps, loads

RESERVED = ("identity", "simulate")


def states_of(ctx: Context, identities: list[str]) -> dict[str, dict[str, Any]]:
    """``{identity: {alias: {"timestamp", "set", "reported"}}}`` for defined resources."""
    out: dict[str, dict[str, Any]] = {i: {} for i in identities}
    rows = ctx.store.query(
        "SELECT s.identity, s.alias, s.reported, s.set_value, s.timestamp FROM state s "
        "JOIN resources r ON r.product = s.product AND r.alias = s.alias "
        "WHERE s.product = ? AND s.identity IN (SELECT value FROM json_each(?)) "
        "ORDER BY s.alias",
        (ctx.product, dumps(identities)),
    )
    for row in rows:
        out[row["identity"]][row["alias"]] = {
            "timestamp": row["timestamp"],
            "set": loads(row["set_value"]),
            "reported": loads(row["reported"]),
        }
    return out


def get_identity_state(ctx: Context, params: p.Params) -> dict[str, Any]:
    identity = p.req_str(params, "identity")
    require_identity(ctx, identity)
    return states_of(ctx, [identity])[identity]


def set_values(ctx: Context, identity: str, values: Mapping[str, Any], field: str = "") -> None:
    """Assign cloud ``set`` values (inside the caller's transaction); see the module doc."""
    now = ctx.now_us()
    defined = resources.all_resources(ctx)
    pending: dict[str, Any] = {}
    rows = []
    for alias, value in values.items():
        where = f"{field}{alias}"
        definition = defined.get(alias)
        if definition is None:
            raise InvalidInput(where, "an alias of a defined resource", alias)
        if not definition["settable"]:
            raise Conflict(f"resource {alias!r} is not settable", where)
        if value is None or isinstance(value, dict | list):
            raise InvalidInput(where, f"a {definition['format']} value", value)
        try:
            value = resources.coerce(definition, value)
        except resources.Unfit as exc:
            raise InvalidInput(where, str(exc), value) from None
        if definition["sync"] and not ctx.deviations.active("set-applied-without-ack"):
            rows.append((alias, None, value))
            pending[alias] = value
        else:
            rows.append((alias, value, value))
    db = ctx.store.db
    for alias, reported, value in rows:
        if reported is None:  # keep the reported value, assign only "set"
            db.execute(
                "INSERT INTO state VALUES (?, ?, ?, NULL, ?, ?, 1) "
                "ON CONFLICT (product, identity, alias) DO UPDATE SET "
                "set_value = excluded.set_value, timestamp = excluded.timestamp, pending = 1",
                (ctx.product, identity, alias, dumps(value), now),
            )
        else:
            _store(ctx, identity, alias, value, now)
    if pending:
        ctx.emit(STATE_SET, ctx.product, identity, pending, now)


def _store(ctx: Context, identity: str, alias: str, value: Any, timestamp: int) -> None:
    ctx.store.db.execute(
        "INSERT INTO state VALUES (?, ?, ?, ?, ?, ?, 0) "
        "ON CONFLICT (product, identity, alias) DO UPDATE SET reported = excluded.reported, "
        "set_value = excluded.set_value, timestamp = excluded.timestamp, pending = 0",
        (ctx.product, identity, alias, dumps(value), dumps(value), timestamp),
    )


def apply_report(
    ctx: Context, identity: str, values: Mapping[str, Any], timestamp: int
) -> tuple[list[str], dict[str, Any]]:
    """A device wrote ``values`` at ``timestamp``: store those that fit a defined resource.

    Returns the aliases stored as state and every fitting value coerced to its format (for
    the data store), inside the caller's transaction.
    """
    defined = resources.all_resources(ctx)
    updated: list[str] = []
    fitting: dict[str, Any] = {}
    for alias, raw in values.items():
        definition = defined.get(alias)
        if definition is None:
            continue
        try:
            value = resources.coerce(definition, raw)
        except resources.Unfit:
            continue
        fitting[alias] = value
        row = ctx.store.one(
            "SELECT timestamp FROM state WHERE product = ? AND identity = ? AND alias = ?",
            (ctx.product, identity, alias),
        )
        if row is None or row["timestamp"] <= timestamp:
            _store(ctx, identity, alias, value, timestamp)
            updated.append(alias)
    return updated, fitting


def set_identity_state(ctx: Context, params: p.Params) -> None:
    from devices.cloud.device2 import data_in  # the device-write path; imports state itself

    identity = p.req_str(params, "identity")
    simulate = p.opt_bool(params, "simulate", False)
    values = {k: v for k, v in params.items() if k not in RESERVED}
    if not values:
        raise InvalidInput("state", "at least one alias with a value to set")
    if simulate:
        data_in.write(ctx, identity, [(None, values)], protocol="simulate")
        return
    with ctx.tx():
        require_identity(ctx, identity)
        set_values(ctx, identity, values)


def read_for_device(ctx: Context, identity: str, aliases: Iterable[str]) -> dict[str, Any]:
    """What a device reading ``aliases`` gets: ``set`` for settable resources, else
    ``reported``; aliases with no value are left out."""
    defined = resources.all_resources(ctx)
    state = states_of(ctx, [identity])[identity]
    out = {}
    for alias in aliases:
        entry, definition = state.get(alias), defined.get(alias)
        if entry is None or definition is None:
            continue
        value = entry["set"] if definition["settable"] else entry["reported"]
        if value is not None:
            out[alias] = value
    return out


def pending_sets(ctx: Context, identity: str) -> dict[str, tuple[Any, int]]:
    """``{alias: (set value, timestamp)}`` still waiting for the device's acknowledgement."""
    rows = ctx.store.query(
        "SELECT alias, set_value, timestamp FROM state WHERE product = ? AND identity = ? "
        "AND pending = 1 ORDER BY alias",
        (ctx.product, identity),
    )
    return {row["alias"]: (loads(row["set_value"]), row["timestamp"]) for row in rows}
