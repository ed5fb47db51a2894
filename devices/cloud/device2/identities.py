"""Identities: add, make, get, list, count, update (one or by query) and remove.

The identity object (``getIdentity``, ``listIdentities.devices[]``, ``makeIdentity``) has the
seed's fields: ``identity``, ``auth`` (``type``, ``expire``; ``key`` is always null: credentials
are kept one-way hashed and never returned), ``locked``, ``online``, ``status``, ``lastip``,
``lastseen``, ``tags`` and ``state``. Times are µs since the epoch (``auth.expire`` too, as the
Murano CLI sends it); ``lastseen`` is null until the device first connects or writes.

Readings of the seed:

* ``auth.key`` given with ``addIdentity``/``updateIdentity`` associates credentials (status
  ``provisioned``); ``auth.key`` null removes them (back to ``whitelisted``); a new ``auth.type``
  without a key drops credentials of the old type. Without ``auth.type`` a key is of the
  gateway's ``provisioning.auth_type``. Passwords need 20 bytes; a certificate's CN must be the
  identity (and, with ``pki.enabled``, a ``client_ca`` must have issued it).
* ``auth.expire`` must look like µs (10^12..10^17); a deadline already passed is accepted (the
  identity is at once ``expired`` or ``reprovision``).
* List filters and order: :mod:`.identity_filters`.
* ``updateIdentities`` answers 404 when no identity matches the query; its ``update.state``
  assigns ``set`` values as ``setIdentityState`` does.
* ``removeIdentities`` ignores identities that do not exist (400 only for an empty list).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from devices.cloud.device2 import credentials, identity_filters, metrics, resources, state, tags
from devices.cloud.device2 import params as p
from devices.cloud.device2.context import Context
from devices.cloud.device2.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    NotFound,
    one_of,
)
from devices.cloud.device2.events import DELETED, GATEWAY_EVENT, gateway_event
from devices.cloud.device2.lifecycle import (
    change_status,
    lifecycle,
    require_identity,
    shown,
    sweep,
)
from devices.cloud.device2.settings import AUTH_TYPES

EXPIRE_MIN, EXPIRE_MAX = 10**12, 10**17
_MISSING = object()


# -- auth ------------------------------------------------------------------------------------
def parse_auth(params: p.Params) -> dict[str, Any]:
    """The ``auth`` fields present: ``type``, ``key`` (may be None), ``expire`` (may be None)."""
    auth = p.opt_object(params, "auth")
    if auth is None:
        return {}
    for key in auth:
        if key not in ("type", "key", "expire"):
            raise InvalidInput(f"auth.{key}", one_of(("type", "key", "expire")))
    out: dict[str, Any] = {}
    if auth.get("type") is not None:
        out["type"] = p.opt_choice(params, "auth.type", AUTH_TYPES)
    if "key" in auth:
        out["key"] = auth["key"]
    if "expire" in auth:
        expire = auth["expire"]
        if expire is not None:
            expire = p.opt_int({"auth.expire": expire}, "auth.expire", None, EXPIRE_MIN, EXPIRE_MAX)
        out["expire"] = expire
    return out


def secret_for(ctx: Context, auth_type: str, key: Any, identity: str) -> str:
    """The one-way form of credential ``key`` of ``auth_type`` for ``identity``."""
    if auth_type == "token":
        if not isinstance(key, str) or not 1 <= len(key) <= 1024:
            raise InvalidInput("auth.key", "a token of 1 to 1024 characters")
        return credentials.token_digest(key)
    if auth_type == "password":
        return credentials.password_digest(credentials.check_password(key))
    cert = credentials.load_certificate(key)
    if credentials.common_name(cert) != identity:
        raise InvalidInput(
            "auth.key",
            f"a certificate whose subject CN is the identity {identity!r}",
            credentials.common_name(cert),
        )
    pki = ctx.settings.pki or {}
    if pki.get("enabled"):
        try:
            credentials.verify_chain(cert, pki.get("client_ca") or [], ctx.clock.world.datetime())
        except AuthenticationFailed as exc:
            raise InvalidInput("auth.key", "a certificate issued by a pki.client_ca CA") from exc
    return credentials.certificate_digest(cert)


# -- objects ---------------------------------------------------------------------------------
def objects(ctx: Context, rows: list[sqlite3.Row]) -> list[dict[str, Any]]:
    names = [r["identity"] for r in rows]
    tag_map, state_map = tags.tags_of(ctx, names), state.states_of(ctx, names)
    online = ctx.online_identities()
    return [
        {
            "identity": r["identity"],
            "auth": {"type": r["auth_type"], "key": _key_shown(ctx, r), "expire": r["expire"]},
            "locked": bool(r["locked"]),
            "online": r["identity"] in online,
            "status": shown(r["status"], bool(r["locked"])),
            "lastip": r["lastip"],
            "lastseen": r["lastseen"],
            "tags": tag_map[r["identity"]],
            "state": state_map[r["identity"]],
        }
        for r in rows
    ]


# -- adding ----------------------------------------------------------------------------------
def insert(ctx: Context, identity: str, auth: Mapping[str, Any], locked: bool) -> None:
    """Add ``identity`` (checked, not yet existing) inside the caller's transaction."""
    auth_type = auth.get("type")
    secret = None
    if auth.get("key") is not None:
        auth_type = auth_type or ctx.settings.auth_type
        secret = secret_for(ctx, auth_type, auth["key"], identity)
    now = ctx.now_us()
    expire = auth.get("expire")
    status = lifecycle(secret is not None, expire, now)
    db = ctx.store.db
    db.execute(
        "INSERT INTO identities (product, identity, auth_type, secret, expire, locked, status, "
        "created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (ctx.product, identity, auth_type, secret, expire, int(locked), status, now),
    )
    change_status(ctx, db, identity, None, status, locked, was_locked=False)
    resources.apply_initial(ctx, [identity])


def exists(ctx: Context, identity: str) -> bool:
    return (
        ctx.store.one(
            "SELECT 1 FROM identities WHERE product = ? AND identity = ?", (ctx.product, identity)
        )
        is not None
    )


def _key_shown(ctx: Context, row: sqlite3.Row) -> Any:
    """None: credentials are never returned (unless a deviation leaks the stored one)."""
    if ctx.deviations.active("credentials-returned"):
        return row["secret"]
    return None


def add_identity(ctx: Context, params: p.Params) -> None:
    given = p.get(params, "identity", None)
    if ctx.deviations.active("identity-format-unchecked") and isinstance(given, str) and given:
        identity = given
    else:
        identity = ctx.settings.identity_format.check(given)
    auth = parse_auth(params)
    locked = p.opt_bool(params, "locked", False)
    with ctx.tx():
        if exists(ctx, identity):
            if ctx.deviations.active("duplicate-add-404"):
                raise NotFound("identity", identity, "identity")
            raise Conflict(f"identity {identity!r} already exists", "identity")
        insert(ctx, identity, auth, bool(locked))
    ctx.expiry_changed()


def add_identities(ctx: Context, params: p.Params) -> None:
    """Bulk whitelisting (the vendor's ``POST .../identities`` with a CSV): identities that
    already exist are left as they are; one that does not match the format refuses all."""
    names = p.opt_str_list(params, "identities")
    if not names:
        raise InvalidInput("identities", "a non-empty list of identities", names)
    expire = p.opt_int(params, "expire", None, EXPIRE_MIN, EXPIRE_MAX)
    for i, name in enumerate(names):
        ctx.settings.identity_format.check(name, f"identities[{i}]")
    with ctx.tx():
        for name in dict.fromkeys(names):
            if not exists(ctx, name):
                insert(ctx, name, {"expire": expire}, False)
    ctx.expiry_changed()


def make_identity(ctx: Context, params: p.Params) -> dict[str, Any]:
    auth = parse_auth(params)
    locked = p.opt_bool(params, "locked", False)
    if (auth.get("type") or ctx.settings.auth_type) == "certificate":
        raise InvalidInput(
            "auth.type", "token or password: makeIdentity cannot make certificate identities"
        )
    fmt = ctx.settings.identity_format
    with ctx.tx():
        count = ctx.store.one(
            "SELECT COUNT(*) AS n FROM identities WHERE product = ?", (ctx.product,)
        )
        identity = fmt.make(ctx.clock.rng("identities"), lambda i: exists(ctx, i), count["n"])
        insert(ctx, identity, auth, bool(locked))
    ctx.expiry_changed()
    return get_identity(ctx, {"identity": identity})


# -- reading ---------------------------------------------------------------------------------
def get_identity(ctx: Context, params: p.Params) -> dict[str, Any]:
    identity = p.req_str(params, "identity")
    return objects(ctx, [require_identity(ctx, identity)])[0]


def list_identities(ctx: Context, params: p.Params) -> dict[str, Any]:
    limit = p.opt_int(params, "limit", 50, 0, 2000) or 0
    offset = p.opt_int(params, "offset", 0, 0) or 0
    sweep(ctx)
    where, args = identity_filters.where(ctx, params)
    order, order_args = identity_filters.order(params)
    rows = ctx.store.query(
        f"SELECT i.* FROM identities i WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
        [*args, *order_args, limit + 1, offset],
    )
    more = len(rows) > limit and not ctx.deviations.active("paging-mayloadmore-wrong")
    return {"devices": objects(ctx, rows[:limit]), "mayLoadMore": more}


def count_identities(ctx: Context, params: p.Params) -> dict[str, Any]:
    sweep(ctx)
    where, args = identity_filters.where(ctx, params)
    row = ctx.store.one(f"SELECT COUNT(*) AS n FROM identities i WHERE {where}", args)
    return {"count": row["n"] if row else 0}


# -- updating --------------------------------------------------------------------------------
def update_identity(ctx: Context, params: p.Params) -> None:
    identity = p.req_str(params, "identity")
    auth = parse_auth(params)
    locked = p.opt_bool(params, "locked")
    with ctx.tx() as db:
        row = require_identity(ctx, identity)
        auth_type, secret, expire = row["auth_type"], row["secret"], row["expire"]
        if "type" in auth and auth["type"] != auth_type:
            auth_type, secret = auth["type"], None
        if "key" in auth:
            key = auth["key"]
            auth_type = auth_type or ctx.settings.auth_type
            secret = None if key is None else secret_for(ctx, auth_type, key, identity)
        if "expire" in auth:
            expire = auth["expire"]
        new_locked = bool(row["locked"]) if locked is None else locked
        status = lifecycle(secret is not None, expire, ctx.now_us())
        db.execute(
            "UPDATE identities SET auth_type = ?, secret = ?, expire = ? "
            "WHERE product = ? AND identity = ?",
            (auth_type, secret, expire, ctx.product, identity),
        )
        change_status(
            ctx, db, identity, row["status"], status, new_locked, was_locked=bool(row["locked"])
        )
    ctx.expiry_changed()


def update_identities(ctx: Context, params: p.Params) -> None:
    add = p.opt_object(params, "add") or {}
    remove = p.opt_object(params, "remove") or {}
    update = p.opt_object(params, "update") or {}
    for name, part in (("add", add), ("remove", remove)):
        for key in part:
            if key != "tags":
                raise InvalidInput(f"{name}.{key}", "tags")
    for key in update:
        if key != "state":
            raise InvalidInput(f"update.{key}", "state")
    to_add = tags.parse_tags(add["tags"], "add.tags") if "tags" in add else []
    to_remove = (
        tags.parse_tags(remove["tags"], "remove.tags", need_value=False) if "tags" in remove else []
    )
    values = p.opt_object(params, "update.state") or {}
    if "identity" in values:
        raise InvalidInput("update.state.identity", "resource aliases other than 'identity'")
    if not (to_add or to_remove or values):
        raise InvalidInput("update", "at least one of add.tags, remove.tags or update.state")
    sweep(ctx)
    where, args = identity_filters.where(ctx, params)
    with ctx.tx():
        rows = ctx.store.query(f"SELECT i.identity FROM identities i WHERE {where}", args)
        if not rows:
            raise NotFound("identity", "", None, "no identity matches the query")
        for row in rows:
            identity = row["identity"]
            if to_add:
                tags.add_tags(ctx, identity, to_add, replace=False)
            for name, value in to_remove:
                tags.remove_tags(ctx, identity, name, None if value is None else [value])
            if values:
                state.set_values(ctx, identity, values, "update.state.")


# -- removing --------------------------------------------------------------------------------
_OWNED = ("tags", "state", "signal_data", "signal_names", "subscribers")


def delete(ctx: Context, identity: str) -> None:
    """Forget ``identity`` and everything about it (caller's transaction); emits ``deleted``."""
    db = ctx.store.db
    db.execute("DELETE FROM identities WHERE product = ? AND identity = ?", (ctx.product, identity))
    for table in _OWNED:
        db.execute(
            f"DELETE FROM {table} WHERE product = ? AND identity = ?", (ctx.product, identity)
        )
    metrics.record(ctx, "deleted", identity)
    ctx.emit(GATEWAY_EVENT, ctx.product, gateway_event(DELETED, identity, ctx.now_us()))


def remove_identity(ctx: Context, params: p.Params) -> None:
    identity = p.req_str(params, "identity")
    with ctx.tx():
        require_identity(ctx, identity)
        delete(ctx, identity)


def remove_identities(ctx: Context, params: p.Params) -> None:
    names = p.opt_str_list(params, "identities")
    if not names:
        raise InvalidInput("identities", "a comma-separated list of identities", names)
    with ctx.tx():
        for identity in dict.fromkeys(names):
            if exists(ctx, identity):
                delete(ctx, identity)
