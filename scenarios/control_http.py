"""What every world-control API shares: its application (JSON errors for everything, routing
and method errors included), JSON bodies, the checks of the values bodies carry, the timeline
endpoint and the OpenAPI pieces every control API describes the same way.

Every error is ``{"error": "<what was wrong, with the value, and what is accepted>"}``: 400 bad
input, 404 no such node or route, 405 another method, 409 the node cannot do it now, 413 a body
over the size limit. An unexpected exception is answered 500 in the same form and traced
(``world-control internal-error``): the server keeps serving.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from devices.protocols.http_server import JsonBodyError, json_body
from devices.protocols.openapi import JSON, Answer, Param, json_answer
from sim.world import World

MAX_COORDINATE_M = 1e6
WHOLE = re.compile(r"[0-9]{1,9}")  # a whole number in a path or body: ASCII digits


class Refused(Exception):
    """Bad input to a world-control route: answered ``status`` with ``message``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def error(status: int, message: str) -> web.Response:
    """``{"error": message}`` with ``status``."""
    return web.json_response({"error": message}, status=status)


def shown(value: Any, limit: int = 60) -> str:
    """``value`` as it goes into an error message: its repr, cut short when long."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def control_application(world: World) -> web.Application:
    """An empty world-control application whose every error is a JSON ``{"error": ...}``."""

    @web.middleware
    async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return await handler(request)
        except Refused as exc:
            return error(exc.status, exc.message)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return _http_error(request, exc)
        except Exception as exc:  # one bad request never takes world control down
            world.trace.emit(
                "world-control",
                "http",
                "internal-error",
                method=request.method,
                path=request.path,
                error=repr(exc)[:300],
            )
            return error(500, f"internal error while handling {request.method} {request.path}")

    return web.Application(middlewares=[errors])


def _http_error(request: web.Request, exc: web.HTTPException) -> web.Response:
    where = f"{request.method} {shown(request.path)}"
    if isinstance(exc, web.HTTPNotFound):
        return error(404, f"no such route: {where}; the routes are listed at GET /openapi.json")
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        response = error(
            405, f"{request.method} is not accepted on {shown(request.path)}; accepted: {allowed}"
        )
        response.headers["Allow"] = allowed
        return response
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return error(
            413, f"the body is too large: at most {request.client_max_size} bytes are accepted"
        )
    if exc.content_type == "application/json":  # already one of ours
        return web.json_response(json.loads(exc.text or "{}"), status=exc.status)
    return error(exc.status, f"{where} is refused: {exc.reason}")


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object (nested at most a few levels, finite numbers only);
    :class:`Refused` saying why not."""
    try:
        body = json_body(await request.read())
    except JsonBodyError as exc:
        raise Refused(f"{exc}; the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise Refused(f"the body must be a JSON object, got {shown(body)}")
    return body


async def optional_object(request: web.Request) -> dict[str, Any]:
    """The JSON object sent, or ``{}`` when nothing was sent."""
    return await json_object(request) if request.body_exists else {}


def flag(body: dict[str, Any], key: str, default: bool | None = None) -> bool:
    """``body[key]`` as true or false (:class:`Refused` otherwise)."""
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise Refused(f"{key} must be true or false, got {shown(value)}")
    return value


def whole_number(value: Any, name: str, lo: int, hi: int) -> int:
    """A JSON integer or a string of ASCII digits, within ``lo..hi``."""
    if isinstance(value, str) and WHOLE.fullmatch(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise Refused(f"{name} must be a whole number from {lo} to {hi}, got {shown(value)}")
    return value


def path_number(request: web.Request, key: str, status: int = 400) -> int:
    """A decimal number in the path (ASCII digits, at most nine)."""
    text = request.match_info[key]
    if not WHOLE.fullmatch(text):
        raise Refused(f"{key} must be a number, got {shown(text)}", status)
    return int(text)


def position(value: Any, name: str = "position") -> list[float]:
    """``[x, y]`` or ``[x, y, z]``: finite numbers of metres within +-1e6."""
    if (
        not isinstance(value, list)
        or len(value) not in (2, 3)
        or not all(
            isinstance(v, int | float)
            and not isinstance(v, bool)
            and math.isfinite(v)
            and abs(v) <= MAX_COORDINATE_M
            for v in value
        )
    ):
        raise Refused(
            f"{name} must be [x, y] or [x, y, z] in metres (finite, within "
            f"+-{MAX_COORDINATE_M:g}), got {shown(value)}"
        )
    return [float(v) for v in value]


def world_clock(world: World) -> dict[str, Any]:
    """What every world control's ``GET /world`` starts with: the world's time (seconds since
    it began, and as a calendar date), its seed, its clock mode and pace."""
    return {
        "time": world.now,
        "calendar": world.datetime().isoformat(),
        "seed": world.seed,
        "clock": world.clock_mode,
        "scale": world.loop.scale,
    }


def trace_handler(world: World) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``GET /world/trace?since=<t>``: the world's timeline records since ``t``."""

    async def trace(request: web.Request) -> web.Response:
        text = request.query.get("since", "0")
        try:
            since = float(text)
        except ValueError:
            since = math.nan
        if not math.isfinite(since):
            return error(400, f"since must be a number of seconds, got {shown(text)}")
        return web.json_response([r for r in world.trace.records if r["t"] >= since])

    return trace


# -- OpenAPI pieces every control API shares ----------------------------------------------------
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}},
}


def refusal(description: str) -> Answer:
    return json_answer(description, ERROR_SCHEMA)


BAD_INPUT = refusal("bad input: the message names the field and what is accepted")
NO_SUCH = refusal("no such node")
TRACE_PARAMS = (Param("since", {"type": "number"}, "world seconds; records from then on"),)
TRACE_ANSWER = json_answer(
    "the world's timeline records", {"type": "array", "items": {"type": "object"}}
)
ON_BODY = {JSON: {"type": "object", "required": ["on"], "properties": {"on": {"type": "boolean"}}}}
