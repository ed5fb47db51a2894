"""Content (files) devices upload and download — the store behind the device API's
``/provision/download`` and the ``content_in`` gateway event.

The seed names only the ``content_in`` event (``payload`` ``{"id", "length", "tags",
"type"}``); the listing, info and download forms follow the facts sheet (section 1, Content).
Items must be under 64 MB.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from devices.cloud.device2.context import Context, Session
from devices.cloud.device2.errors import InvalidInput, NotFound
from devices.cloud.device2.events import CONTENT_IN, GATEWAY_EVENT, gateway_event
from devices.cloud.device2.lifecycle import require_identity
from devices.cloud.device2.store import dumps, loads

MAX_BYTES = 64 * 1024 * 1024


def _put(
    ctx: Context,
    content_id: str,
    data: bytes,
    content_type: str,
    tags: Mapping[str, Any],
    description: str,
) -> None:
    if not content_id or "/" in content_id or len(content_id) > 256:
        raise InvalidInput("id", "1 to 256 characters without '/'", content_id)
    if len(data) >= MAX_BYTES:
        raise InvalidInput("data", "less than 64 MB", f"{len(data)} bytes")
    ctx.store.db.execute(
        "INSERT INTO contents VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (product, id) DO UPDATE "
        "SET type = excluded.type, data = excluded.data, tags = excluded.tags, "
        "description = excluded.description, updated = excluded.updated",
        (ctx.product, content_id, content_type, data, dumps(dict(tags)), description, ctx.now_us()),
    )


def upload(
    ctx: Context,
    identity: str,
    content_id: str,
    data: bytes,
    content_type: str,
    tags: Mapping[str, Any] | None,
    session: Session | None,
) -> None:
    """A device uploaded a file: stored, and the ``content_in`` event."""
    with ctx.tx():
        require_identity(ctx, identity)
        _put(ctx, content_id, data, content_type, tags or {}, "")
        payload = {
            "id": content_id,
            "length": len(data),
            "tags": dict(tags or {}),
            "type": content_type,
        }
        ctx.emit(
            GATEWAY_EVENT,
            ctx.product,
            gateway_event(
                CONTENT_IN,
                identity,
                ctx.now_us(),
                session.ip if session else None,
                session.protocol if session else None,
                session.connection_id if session else None,
                payload=payload,
            ),
        )


class ContentStore:
    """The gateway's content items, for the device API's download forms."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def put(
        self,
        content_id: str,
        data: bytes,
        content_type: str = "application/octet-stream",
        tags: Mapping[str, Any] | None = None,
        description: str = "",
    ) -> None:
        with self.ctx.tx():
            _put(self.ctx, content_id, data, content_type, tags or {}, description)

    def ids(self) -> list[str]:
        rows = self.ctx.store.query(
            "SELECT id FROM contents WHERE product = ? ORDER BY id", (self.ctx.product,)
        )
        return [r["id"] for r in rows]

    def info(self, content_id: str) -> dict[str, Any]:
        row = self.ctx.store.one(
            "SELECT id, type, length(data) AS length, tags, description, updated FROM contents "
            "WHERE product = ? AND id = ?",
            (self.ctx.product, content_id),
        )
        if row is None:
            raise NotFound("content", content_id, "id")
        return {
            "id": row["id"],
            "type": row["type"],
            "length": row["length"],
            "tags": loads(row["tags"]),
            "description": row["description"],
            "updated": row["updated"],
        }

    def data(self, content_id: str) -> bytes:
        row = self.ctx.store.one(
            "SELECT data FROM contents WHERE product = ? AND id = ?",
            (self.ctx.product, content_id),
        )
        if row is None:
            raise NotFound("content", content_id, "id")
        return bytes(row["data"])
