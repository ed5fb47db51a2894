"""Identity tags: name/value pairs; one name may hold several values.

``addIdentityTag`` adds pairs (a pair already present is kept once); with ``replace`` the given
names first lose every value they had. ``removeIdentityTag`` removes a name, or only the values
listed in ``value`` (comma-separated). ``getIdentityTag`` lists the values of a name (``[]`` when
the identity has none), ``listTagNames`` every name in use in the gateway, sorted.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from devices.cloud.device2 import params as p
from devices.cloud.device2.context import Context
from devices.cloud.device2.errors import InvalidInput
from devices.cloud.device2.lifecycle import require_identity
from devices.cloud.device2.store import dumps

NAME_MAX, VALUE_MAX = 128, 4096


def parse_tags(
    value: Any, field: str = "tags", need_value: bool = True
) -> list[tuple[str, str | None]]:
    """``[{"name", "value"}]`` as pairs (value None when optional and absent)."""
    if not isinstance(value, list):
        raise InvalidInput(field, "an array of {name, value} objects", value)
    pairs = []
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(item, dict):
            raise InvalidInput(where, "an object with name and value", item)
        name = item.get("name")
        if not isinstance(name, str) or not name or len(name.encode()) > NAME_MAX:
            raise InvalidInput(f"{where}.name", f"a tag name of 1 to {NAME_MAX} bytes", name)
        tag_value = item.get("value")
        if tag_value is None and not need_value:
            pairs.append((name, None))
            continue
        if not isinstance(tag_value, str) or len(tag_value.encode()) > VALUE_MAX:
            raise InvalidInput(
                f"{where}.value", f"a string of at most {VALUE_MAX} bytes", tag_value
            )
        pairs.append((name, tag_value))
    return pairs


def add_tags(
    ctx: Context, identity: str, pairs: Iterable[tuple[str, str | None]], replace: bool
) -> None:
    db = ctx.store.db
    pairs = list(pairs)
    if replace:
        for name in {n for n, _ in pairs}:
            db.execute(
                "DELETE FROM tags WHERE product = ? AND identity = ? AND name = ?",
                (ctx.product, identity, name),
            )
    db.executemany(
        "INSERT OR IGNORE INTO tags VALUES (?, ?, ?, ?)",
        [(ctx.product, identity, n, v) for n, v in pairs],
    )


def remove_tags(ctx: Context, identity: str, name: str, values: list[str] | None) -> None:
    db = ctx.store.db
    if values is None:
        db.execute(
            "DELETE FROM tags WHERE product = ? AND identity = ? AND name = ?",
            (ctx.product, identity, name),
        )
        return
    db.executemany(
        "DELETE FROM tags WHERE product = ? AND identity = ? AND name = ? AND value = ?",
        [(ctx.product, identity, name, v) for v in values],
    )


def tags_of(ctx: Context, identities: list[str]) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {i: [] for i in identities}
    rows = ctx.store.query(
        "SELECT identity, name, value FROM tags WHERE product = ? AND identity IN "
        "(SELECT value FROM json_each(?)) ORDER BY rowid",
        (ctx.product, dumps(identities)),
    )
    for row in rows:
        out[row["identity"]].append({"name": row["name"], "value": row["value"]})
    return out


def add_identity_tag(ctx: Context, params: p.Params) -> None:
    identity = p.req_str(params, "identity")
    replace = p.opt_bool(params, "replace", False)
    pairs = parse_tags(p.get(params, "tags", None))
    if not pairs:
        raise InvalidInput("tags", "at least one {name, value} pair", [])
    with ctx.tx():
        require_identity(ctx, identity)
        add_tags(ctx, identity, pairs, bool(replace))


def get_identity_tag(ctx: Context, params: p.Params) -> list[str]:
    identity = p.req_str(params, "identity")
    name = p.req_str(params, "name", max_len=NAME_MAX)
    require_identity(ctx, identity)
    rows = ctx.store.query(
        "SELECT value FROM tags WHERE product = ? AND identity = ? AND name = ? ORDER BY rowid",
        (ctx.product, identity, name),
    )
    return [row["value"] for row in rows]


def list_tag_names(ctx: Context, _params: p.Params) -> list[str]:
    rows = ctx.store.query(
        "SELECT DISTINCT name FROM tags WHERE product = ? ORDER BY name", (ctx.product,)
    )
    return [row["name"] for row in rows]


def remove_identity_tag(ctx: Context, params: p.Params) -> None:
    identity = p.req_str(params, "identity")
    name = p.req_str(params, "name", max_len=NAME_MAX)
    values = p.opt_str_list(params, "value", max_len=VALUE_MAX)
    if ctx.deviations.active("tag-remove-drops-all-values"):
        values = None
    with ctx.tx():
        require_identity(ctx, identity)
        remove_tags(ctx, identity, name, values)
