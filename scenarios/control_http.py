"""What every world-control API shares: JSON errors, JSON bodies, and the timeline endpoint."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from sim.world import World


def error(status: int, message: str) -> web.Response:
    """``{"error": message}`` with ``status``."""
    return web.json_response({"error": message}, status=status)


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 saying it must be one."""
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "the body must be a JSON object"}),
            content_type="application/json",
        )
    return body


def trace_handler(world: World) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``GET /world/trace?since=<t>``: the world's timeline records since ``t``."""

    async def trace(request: web.Request) -> web.Response:
        try:
            since = float(request.query.get("since", "0"))
        except ValueError:
            return error(
                400, f"since must be a number of seconds, got {request.query.get('since')!r}"
            )
        return web.json_response([r for r in world.trace.records if r["t"] >= since])

    return trace
