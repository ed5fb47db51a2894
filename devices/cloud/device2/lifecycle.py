"""An identity's status and how it moves.

The stored lifecycle status follows from two facts and the world's clock: whether credentials
are associated, and whether ``auth.expire`` (µs since the epoch) has passed::

    no credentials, window open   -> whitelisted     credentials, not expired -> provisioned
    no credentials, window passed -> expired         credentials, expired     -> reprovision

``locked`` is a flag on top: a locked identity shows status ``locked`` whatever its lifecycle,
and returns to it when unlocked. Provisioning (by a device) associates credentials; for token
and password auth it also closes the provisioning window (``auth.expire`` is cleared), for
certificates ``auth.expire`` stays the certificate's deadline. An ``expired`` identity is reset
by ``updateIdentity`` with a new ``auth.expire`` (or none).

:func:`sweep` applies passed deadlines: every operation that reads statuses runs it first, and
the service arms a timer for the next deadline so the change (its metric and
:data:`~.events.STATUS_CHANGED`) happens at that instant of virtual or real time.
"""

from __future__ import annotations

import sqlite3

from devices.cloud.device2 import metrics
from devices.cloud.device2.context import Context
from devices.cloud.device2.errors import NotFound
from devices.cloud.device2.events import STATUS_CHANGED

WHITELISTED = "whitelisted"
PROVISIONED = "provisioned"
EXPIRED = "expired"
EXPIRY_LATE_US = 60_000_000  # how late the expired-late deviation moves statuses
REPROVISION = "reprovision"
LOCKED = "locked"
STATUSES = (LOCKED, REPROVISION, PROVISIONED, WHITELISTED, EXPIRED)
FILTERS = (*STATUSES, "online", "offline")


def lifecycle(has_credentials: bool, expire: int | None, now: int) -> str:
    if expire is not None and expire <= now:
        return REPROVISION if has_credentials else EXPIRED
    return PROVISIONED if has_credentials else WHITELISTED


def shown(status: str, locked: bool) -> str:
    return LOCKED if locked else status


def sweep(ctx: Context) -> None:
    """Move every identity whose ``auth.expire`` has passed (metrics at the deadline)."""
    now = ctx.now_us()
    if ctx.deviations.active("expired-late"):
        now -= EXPIRY_LATE_US
    rows = ctx.store.query(
        "SELECT identity, status, expire, locked FROM identities WHERE product = ? "
        "AND expire IS NOT NULL AND expire <= ? AND status IN (?, ?)",
        (ctx.product, now, WHITELISTED, PROVISIONED),
    )
    if not rows:
        return
    with ctx.tx() as db:
        for row in rows:
            new = EXPIRED if row["status"] == WHITELISTED else REPROVISION
            change_status(
                ctx, db, row["identity"], row["status"], new, bool(row["locked"]), at=row["expire"]
            )


def change_status(
    ctx: Context,
    db: sqlite3.Connection,
    identity: str,
    old: str | None,
    new: str,
    locked: bool,
    at: int | None = None,
    was_locked: bool | None = None,
) -> None:
    """Store lifecycle ``new`` and the lock; record the metric of each state entered (``at``:
    when, default now) and emit the change of the status shown."""
    db.execute(
        "UPDATE identities SET status = ?, locked = ? WHERE product = ? AND identity = ?",
        (new, int(locked), ctx.product, identity),
    )
    was_locked = locked if was_locked is None else was_locked
    if new != old:
        metrics.record(ctx, new, identity, at=at)
    if locked and not was_locked:
        metrics.record(ctx, LOCKED, identity, at=at)
    before = None if old is None else shown(old, was_locked)
    after = shown(new, locked)
    if before != after:
        ctx.emit(STATUS_CHANGED, ctx.product, identity, before, after)


def require_identity(ctx: Context, identity: str, field: str = "identity") -> sqlite3.Row:
    """The identity's row (deadlines applied), or NotFound."""
    sweep(ctx)
    row = ctx.store.one(
        "SELECT * FROM identities WHERE product = ? AND identity = ?", (ctx.product, identity)
    )
    if row is None:
        raise NotFound("identity", identity, field)
    return row
