"""The Device2 management API over HTTP (aiohttp): the routes of :mod:`.routes`, JSON in and
out, and the only place domain errors become HTTP statuses.

Parameters come from the JSON body (operation calls, ``PUT``/``PATCH``), the query string
(``GET``/``DELETE``; typed by the operation table: ``limit=5`` is an integer, ``group=true`` a
boolean, repeated keys or comma-separated text give arrays) or a multipart form (``POST
.../identities``: a CSV file part ``identities``, one identity per line in the first column,
and an optional ``expire`` field). Path parameters (``product``, ``identity``) complete them.
A parameter the operation does not define is refused (400), except the resource values of
``setIdentityState``.

Success statuses are the seed's: 200 with a JSON body, 204 (and 205 for ``removeIdentity``)
without one. Errors answer ``{"status": <code>, "code": <code>, "message": "...", "field":
"..."}``: 400 :class:`~.errors.InvalidInput` (also a body that is not a JSON object, an unknown
parameter), 404 :class:`~.errors.NotFound` (unknown gateway context, identity, resource, route),
409 :class:`~.errors.Conflict`, 401/403 for the device-side errors, 405 for a method a path
does not have, 500 :class:`~.errors.StoreError` and any unexpected failure (traced; the
service keeps serving).
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import BodyPartReader, MultipartReader, web

from devices.cloud.device2 import openapi, sse
from devices.cloud.device2.errors import (
    AuthenticationFailed,
    Conflict,
    Device2Error,
    InvalidInput,
    NotFound,
    Refused,
    one_of,
)
from devices.cloud.device2.operations import OPERATIONS, Operation, Param
from devices.cloud.device2.routes import (
    EVENTS_PATH,
    HEALTH_PATH,
    OPENAPI_PATH,
    ROUTES,
    Route,
)
from devices.cloud.device2.service import Device2Service

log = logging.getLogger(__name__)
SERVICE = web.AppKey("device2_service", Device2Service)
STATUS: dict[type[Device2Error], int] = {
    InvalidInput: 400,
    AuthenticationFailed: 401,
    Refused: 403,
    NotFound: 404,
    Conflict: 409,
}
MAX_BODY = 8 * 1024 * 1024
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def status_of(error: Device2Error) -> int:
    for kind in type(error).__mro__:
        status = STATUS.get(kind)  # type: ignore[call-overload]
        if status is not None:
            return status
    return 500


def error_response(status: int, message: str, field: str | None = None) -> web.Response:
    body = {"status": status, "code": status, "message": message, "field": field}
    return web.json_response(body, status=status)


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Device2Error as exc:
        return error_response(status_of(exc), exc.message, exc.field)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, f"{request.method} {request.path}: {exc.reason}")
    except Exception:  # a bug, not bad input: answer 500 and keep serving
        log.exception("device2 API: %s %s failed", request.method, request.path)
        return error_response(500, "internal error (traced on the server)")


def build_app(service: Device2Service) -> web.Application:
    """The management API of ``service`` as an aiohttp application."""
    app = web.Application(
        middlewares=[_errors],
        client_max_size=MAX_BODY,
        handler_args={"handler_cancellation": True},  # SSE handlers learn that readers left
    )
    app[SERVICE] = service
    for route in ROUTES:
        app.router.add_route(route.method, route.path, _handler(route))
    app.router.add_get(EVENTS_PATH, _events)
    app.router.add_get(HEALTH_PATH, _health)
    app.router.add_get(OPENAPI_PATH, _openapi)
    return app


def _handler(route: Route) -> Handler:
    operation = OPERATIONS[route.operation]

    async def handle(request: web.Request) -> web.StreamResponse:
        service = request.app[SERVICE]
        gateway = service.gateway(request.match_info["product"])
        params = await _params(request, route, operation)
        result = gateway.call(operation.name, params)
        if operation.success in (204, 205):
            return web.Response(status=operation.success)
        return web.json_response(result, status=operation.success)

    handle.__name__ = f"{route.method.lower()}_{route.operation}"
    return handle


async def _params(request: web.Request, route: Route, operation: Operation) -> dict[str, Any]:
    if route.source == "body":
        params = await _json_body(request)
    elif route.source == "multipart":
        params = await _bulk(request)
    else:
        params = _query(request, operation)
    for name, value in request.match_info.items():
        if name != "product":
            params[name] = value
    if not operation.open_params:
        known = [p.name for p in operation.params]
        heads = {name.split(".")[0] for name in known}
        for key in params:
            if key not in known and key not in heads:
                raise InvalidInput(key, f"a parameter of {operation.name}: " + one_of(known))
    return params


async def _json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nested past the parser's depth
        raise InvalidInput("body", "a JSON object", raw[:80].decode(errors="replace")) from None
    if not isinstance(body, dict):
        raise InvalidInput("body", "a JSON object", body)
    return body


def _query(request: web.Request, operation: Operation) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key in request.query:
        values = request.query.getall(key)
        spec = operation.param(key)
        if spec is None:
            params[key] = values[-1]
        elif spec.type == "array" and len(values) > 1:
            params[key] = values
        else:
            params[key] = _typed(spec, values[-1])
    return params


def _typed(spec: Param, text: str) -> Any:
    """A query-string value as the parameter's type (InvalidInput naming it if it is not)."""
    try:
        if spec.type == "integer":
            return int(text)
        if spec.type == "number":
            return float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        raise InvalidInput(
            spec.name, f"{'an integer' if spec.type == 'integer' else 'a number'}", text
        ) from None
    if spec.type == "boolean":
        if text not in ("true", "false"):
            raise InvalidInput(spec.name, "true or false", text)
        return text == "true"
    if spec.type in ("object", "any"):
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            if spec.type == "object":
                raise InvalidInput(spec.name, "a JSON object", text) from None
    return text


async def _bulk(request: web.Request) -> dict[str, Any]:
    """``identities`` (CSV) and ``expire`` from a multipart form, or from a JSON body."""
    if not request.content_type.startswith("multipart/"):
        return await _json_body(request)
    try:
        return await _form(await request.multipart())
    except (ValueError, aiohttp.ClientPayloadError) as exc:
        raise InvalidInput("body", f"a multipart form with a boundary ({exc})") from None


async def _form(reader: MultipartReader) -> dict[str, Any]:
    params: dict[str, Any] = {}
    async for part in reader:
        if not isinstance(part, BodyPartReader):
            raise InvalidInput("body", "a flat multipart form (identities, expire)")
        text = (await part.read(decode=True)).decode("utf-8", errors="replace")
        if part.name == "identities":
            rows = [r[0].strip() for r in csv.reader(io.StringIO(text)) if r and r[0].strip()]
            if rows and rows[0].lower() in ("id", "identity"):
                rows = rows[1:]
            params["identities"] = rows
        elif part.name == "expire":
            try:
                params["expire"] = int(text.strip())
            except ValueError:
                raise InvalidInput("expire", "an integer (µs since the epoch)", text) from None
        else:
            raise InvalidInput(str(part.name), "identities (a CSV file) or expire")
    return params


async def _events(request: web.Request) -> web.StreamResponse:
    return await sse.stream(request, request.app[SERVICE])


async def _health(_request: web.Request) -> web.Response:
    return web.Response(text="OK")


async def _openapi(_request: web.Request) -> web.Response:
    return web.json_response(openapi.describe())
