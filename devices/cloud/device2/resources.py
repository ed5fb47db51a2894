"""Solution resources: the aliases whose published values are kept as identity state.

A definition holds the seed's fields with their defaults: ``format`` (``string``), ``settable``
(false), ``sync`` (true), ``unit`` (``""``), ``allowed`` (``[]``: any value), ``initial``
(null; only with ``settable``), ``timeout`` (null, else 30..86400 s; stored and returned, the
reference service raises no timeout event), ``retention`` (``"12"`` months; stored and
returned), ``script`` (``{"qos": 0, "enabled": false}``; the deprecated ``enable`` is read as
``enabled``), ``cloud_sync`` and ``replication`` (stored and returned).

Readings where the seed is garbled or silent: an alias is 1..128 bytes without ``.`` or ``$``
(the seed's pattern reads ``[.$]+$``, the remains of ``^[^.$]+$``) and is not ``identity`` or
``simulate`` (the parameter names of ``setIdentityState``). ``allowed`` lists the accepted values;
for ``number`` an item may also be ``[min, max]``, an inclusive range. Values are coerced to the
format: devices write text (``"3.14"``, ``"true"``), so a ``number`` takes an int, a float or a
decimal string, a ``boolean`` takes true/false or ``"true"``/``"false"``, a ``string`` takes any
text up to 64 KiB (other JSON values are stored as their JSON text).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from devices.cloud.device2 import params as p
from devices.cloud.device2.context import Context
from devices.cloud.device2.errors import Conflict, InvalidInput, NotFound, one_of
from devices.cloud.device2.store import dumps, loads

FORMATS = ("boolean", "number", "string")
RETENTIONS = ("0", "3", "6", "12", "36", "60", "120")
ALIAS_PATTERN = r"[^.$]{1,128}"
RESERVED_ALIASES = ("identity", "simulate")
MAX_STRING_BYTES = 65536
FIELDS = (
    "alias",
    "format",
    "settable",
    "sync",
    "unit",
    "allowed",
    "initial",
    "timeout",
    "retention",
    "script",
    "cloud_sync",
    "replication",
)


class Unfit(ValueError):
    """A value that does not fit a resource's format or allowed rule (the text says why)."""


def check_alias(alias: Any, field: str = "alias") -> str:
    if (
        not isinstance(alias, str)
        or not re.fullmatch(ALIAS_PATTERN, alias)
        or len(alias.encode()) > 128
        or alias in RESERVED_ALIASES
    ):
        raise InvalidInput(
            field, "1 to 128 bytes without '.' or '$', not 'identity' or 'simulate'", alias
        )
    return alias


def coerce(definition: Mapping[str, Any], value: Any) -> Any:
    """``value`` in the resource's format, or Unfit."""
    fmt = definition["format"]
    if fmt == "number":
        out = _number(value)
    elif fmt == "boolean":
        out = _boolean(value)
    else:
        out = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        if len(out.encode()) > MAX_STRING_BYTES:
            raise Unfit(f"a string of at most {MAX_STRING_BYTES} bytes")
    allowed = definition.get("allowed") or []
    if allowed and not any(_allows(rule, out) for rule in allowed):
        raise Unfit(f"one of the allowed values {json.dumps(allowed)}")
    return out


def _number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise Unfit("a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if math.isfinite(number):
            return number
    raise Unfit("a number")


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise Unfit("true or false")


def _allows(rule: Any, value: Any) -> bool:
    if isinstance(rule, list) and len(rule) == 2 and isinstance(value, int | float):
        return rule[0] <= value <= rule[1]
    return rule == value and isinstance(rule, bool) == isinstance(value, bool)


def defaults() -> dict[str, Any]:
    return {
        "format": "string",
        "settable": False,
        "sync": True,
        "unit": "",
        "allowed": [],
        "initial": None,
        "timeout": None,
        "retention": "12",
        "script": {"qos": 0, "enabled": False},
        "cloud_sync": {"enable": False},
        "replication": {"enabled": False},
    }


def _definition(base: dict[str, Any], params: p.Params) -> dict[str, Any]:
    """``base`` updated with the definition fields of ``params``, checked whole."""
    for key in params:
        if key not in FIELDS:
            raise InvalidInput(key, "a resource field, " + one_of(FIELDS))
    d = dict(base)
    if p.has(params, "format"):
        d["format"] = p.opt_choice(params, "format", FORMATS)
    for flag in ("settable", "sync"):
        if p.has(params, flag):
            d[flag] = p.opt_bool(params, flag)
    if p.has(params, "unit"):
        unit = params["unit"]
        if not isinstance(unit, str) or len(unit.encode()) > 128:
            raise InvalidInput("unit", "a string of at most 128 bytes", unit)
        d["unit"] = unit
    if "timeout" in params:
        d["timeout"] = p.opt_int(params, "timeout", None, 30, 86400)
    if p.has(params, "retention"):
        retention = params["retention"]
        if isinstance(retention, int) and not isinstance(retention, bool):
            retention = str(retention)
        d["retention"] = p.opt_choice({"retention": retention}, "retention", RETENTIONS)
    if p.has(params, "allowed"):
        allowed = params["allowed"]
        if not isinstance(allowed, list):
            raise InvalidInput("allowed", "an array of values (or [min, max] ranges)", allowed)
        d["allowed"] = allowed
    if p.has(params, "script"):
        p.opt_object(params, "script")
        qos = p.opt_int(params, "script.qos", d["script"].get("qos", 0), 0, 2)
        enabled = p.opt_bool(params, "script.enabled", None)
        if enabled is None:
            enabled = p.opt_bool(params, "script.enable", d["script"].get("enabled", False))
        d["script"] = {"qos": qos, "enabled": enabled}
    if p.has(params, "cloud_sync"):
        d["cloud_sync"] = {"enable": p.opt_bool(params, "cloud_sync.enable", False)}
    if p.has(params, "replication"):
        d["replication"] = {"enabled": p.opt_bool(params, "replication.enabled", False)}
    if "initial" in params:
        d["initial"] = params["initial"]
    if d["allowed"]:
        for i, rule in enumerate(d["allowed"]):
            if isinstance(rule, list) and (d["format"] != "number" or len(rule) != 2):
                raise InvalidInput(f"allowed[{i}]", "a value, or [min, max] for a number", rule)
    if d["initial"] is not None:
        if not d["settable"]:
            raise InvalidInput("initial", "an initial value only when settable is true")
        try:
            d["initial"] = coerce(d, d["initial"])
        except Unfit as exc:
            raise InvalidInput("initial", str(exc), d["initial"]) from None
    return d


def add_resource(ctx: Context, params: p.Params) -> None:
    alias = check_alias(p.get(params, "alias", None))
    definition = _definition(defaults(), params)
    with ctx.tx() as db:
        if find(ctx, alias) is not None:
            raise Conflict(f"resource {alias!r} already exists", "alias")
        db.execute(
            "INSERT INTO resources VALUES (?, ?, ?)", (ctx.product, alias, dumps(definition))
        )
        apply_initial(ctx, None, [alias])


def update_resource(ctx: Context, params: p.Params) -> None:
    alias = check_alias(p.get(params, "alias", None))
    with ctx.tx() as db:
        current = find(ctx, alias)
        if current is None:
            raise NotFound("resource", alias, "alias")
        definition = _definition(current, params)
        if ctx.deviations.active("resource-update-ignored"):
            definition = current
        db.execute(
            "UPDATE resources SET definition = ? WHERE product = ? AND alias = ?",
            (dumps(definition), ctx.product, alias),
        )
        apply_initial(ctx, None, [alias])


def get_gateway_resource(ctx: Context, params: p.Params) -> dict[str, Any]:
    alias = check_alias(p.get(params, "alias", None))
    definition = find(ctx, alias)
    if definition is None:
        raise NotFound("resource", alias, "alias")
    return definition


def get_gateway_resource_list(ctx: Context, _params: p.Params) -> dict[str, Any]:
    return all_resources(ctx)


def apply_initial(
    ctx: Context, identities: Iterable[str] | None = None, aliases: Iterable[str] | None = None
) -> None:
    """Give ``identities`` (default: all) with no value yet the ``initial`` set value of each
    resource (or of ``aliases``), inside the caller's transaction."""
    defined = all_resources(ctx)
    now = ctx.now_us()
    wanted = defined.keys() if aliases is None else aliases
    values = {a: defined[a]["initial"] for a in wanted if defined[a].get("initial") is not None}
    if not values:
        return
    if identities is None:
        rows = ctx.store.query("SELECT identity FROM identities WHERE product = ?", (ctx.product,))
        identities = [row["identity"] for row in rows]
    for identity in identities:
        for alias, value in values.items():
            ctx.store.db.execute(
                "INSERT OR IGNORE INTO state VALUES (?, ?, ?, NULL, ?, ?, ?)",
                (ctx.product, identity, alias, dumps(value), now, int(defined[alias]["sync"])),
            )


def find(ctx: Context, alias: str) -> dict[str, Any] | None:
    row = ctx.store.one(
        "SELECT definition FROM resources WHERE product = ? AND alias = ?", (ctx.product, alias)
    )
    return None if row is None else loads(row["definition"])


def all_resources(ctx: Context) -> dict[str, dict[str, Any]]:
    rows = ctx.store.query(
        "SELECT alias, definition FROM resources WHERE product = ? ORDER BY alias", (ctx.product,)
    )
    return {row["alias"]: loads(row["definition"]) for row in rows}
