"""The platform's control API over HTTP (aiohttp), described at ``GET /openapi.json``
(:mod:`.openapi`). Serve it with :func:`devices.protocols.http_server.serve`, in-world or on a
socket.

    GET  /api/gateways?tenant=                        gateways
    POST /api/gateways                                {"name", "tenant"?} -> 201 with the token
    GET  /api/gateways/{gateway}/devices?tenant=      devices it last connected
    GET  /api/devices/{device}?tenant=                one device
    GET  /api/devices/{device}/telemetry?tenant=&key=&since=
    GET  /api/devices/{device}/attributes?tenant=&scope=client|shared
    POST /api/devices/{device}/attributes/shared?tenant=   {key: value, ...}
    POST /api/devices/{device}/rpc?tenant=            {"method", "params"?, "timeout"? (ms <= 60 s)}

Device names are unique per tenant, so the tenant is a query parameter of every device route
(default ``default``). Every ``/api`` route needs ``Authorization: Bearer <admin key>``.
Errors are ``{"error": "..."}``: 400 bad input (naming the field), 401 no or wrong key, 404
unknown gateway/device, 409 name taken or no active connection, 504 RPC timeout. Only this
module knows HTTP: the platform raises domain errors (:mod:`.errors`), mapped here.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from devices.cloud.mqtt_platform import openapi
from devices.cloud.mqtt_platform.errors import (
    InvalidRequest,
    NameTaken,
    NoActiveConnection,
    PlatformError,
    RpcTimeout,
    UnknownDevice,
    UnknownGateway,
)
from devices.cloud.mqtt_platform.platform import DEFAULT_TENANT, Platform

log = logging.getLogger(__name__)

PLATFORM = web.AppKey("platform", Platform)
MAX_RPC_TIMEOUT_MS = 60_000  # an HTTP caller waits at most this long for a device's reply
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_STATUS: tuple[tuple[type[PlatformError], int], ...] = (
    (InvalidRequest, 400),
    (UnknownGateway, 404),
    (UnknownDevice, 404),
    (NameTaken, 409),
    (NoActiveConnection, 409),
    (RpcTimeout, 504),
)


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def status_of(exc: PlatformError) -> int:
    return next((status for kind, status in _STATUS if isinstance(exc, kind)), 400)


def _guard(admin_key: str) -> Any:
    expected = f"Bearer {admin_key}".encode()

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/api/"):
            given = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return error(401, "Authorization: Bearer <admin key> is missing or wrong")
        try:
            return await handler(request)
        except PlatformError as exc:
            return error(status_of(exc), exc.message)

    return guard


def control_app(platform: Platform, admin_key: str) -> web.Application:
    """The control API of ``platform``, guarded by ``admin_key``."""
    app = web.Application(middlewares=[_guard(admin_key)])
    app[PLATFORM] = platform
    r = app.router
    r.add_get("/openapi.json", describe)
    r.add_get("/api/gateways", list_gateways)
    r.add_post("/api/gateways", add_gateway)
    r.add_get("/api/gateways/{gateway}/devices", gateway_devices)
    r.add_get("/api/devices/{device}", device)
    r.add_get("/api/devices/{device}/telemetry", telemetry)
    r.add_get("/api/devices/{device}/attributes", attributes)
    r.add_post("/api/devices/{device}/attributes/shared", set_shared)
    r.add_post("/api/devices/{device}/rpc", rpc)
    return app


# -- input -----------------------------------------------------------------------------------
def _tenant(request: web.Request) -> str:
    tenant = request.query.get("tenant", DEFAULT_TENANT)
    if not tenant:
        raise InvalidRequest("tenant", "tenant must not be empty")
    return tenant


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, RecursionError):  # not JSON, or nested past what the parser follows
        body = None
    if not isinstance(body, dict):
        raise InvalidRequest("body", "the body must be a JSON object")
    return body


def _int_query(request: web.Request, name: str) -> int | None:
    text = request.query.get(name)
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidRequest(name, f"{name} must be an integer, got {text!r}") from None


# -- handlers --------------------------------------------------------------------------------
async def describe(_request: web.Request) -> web.Response:
    return web.json_response(openapi.document())


async def list_gateways(request: web.Request) -> web.Response:
    tenant = request.query.get("tenant") or None
    return web.json_response([g.as_json() for g in request.app[PLATFORM].gateways(tenant)])


async def add_gateway(request: web.Request) -> web.Response:
    body = await _json_object(request)
    name, tenant = body.get("name"), body.get("tenant", DEFAULT_TENANT)
    token = request.app[PLATFORM].add_gateway(name, tenant)  # type: ignore[arg-type]
    return web.json_response({"name": name, "tenant": tenant, "token": token}, status=201)


async def gateway_devices(request: web.Request) -> web.Response:
    found = request.app[PLATFORM].devices(request.match_info["gateway"], _tenant(request))
    return web.json_response([d.as_json() for d in found])


async def device(request: web.Request) -> web.Response:
    info = request.app[PLATFORM].device(request.match_info["device"], _tenant(request))
    return web.json_response(info.as_json())


async def telemetry(request: web.Request) -> web.Response:
    points = request.app[PLATFORM].telemetry(
        request.match_info["device"],
        key=request.query.get("key") or None,
        since=_int_query(request, "since"),
        tenant=_tenant(request),
    )
    return web.json_response([{"ts": p.ts, "key": p.key, "value": p.value} for p in points])


async def attributes(request: web.Request) -> web.Response:
    scope = request.query.get("scope", "client")
    found = request.app[PLATFORM].attributes(request.match_info["device"], scope, _tenant(request))
    return web.json_response(found)


async def set_shared(request: web.Request) -> web.Response:
    body = await _json_object(request)
    pushed = request.app[PLATFORM].set_shared_attributes(
        request.match_info["device"], body, _tenant(request)
    )
    return web.json_response({"keys": sorted(body), "pushed": pushed})


async def rpc(request: web.Request) -> web.Response:
    body = await _json_object(request)
    timeout_ms = body.get("timeout")
    if timeout_ms is not None and (
        isinstance(timeout_ms, bool)
        or not isinstance(timeout_ms, int | float)
        or not 0 < timeout_ms <= MAX_RPC_TIMEOUT_MS
    ):
        raise InvalidRequest(
            "timeout",
            f"timeout must be a positive number of ms, at most {MAX_RPC_TIMEOUT_MS}, "
            f"got {str(timeout_ms)[:40]}",
        )
    result = await request.app[PLATFORM].rpc(
        request.match_info["device"],
        body.get("method"),  # type: ignore[arg-type]
        body.get("params"),
        None if timeout_ms is None else timeout_ms / 1000,
        _tenant(request),
    )
    return web.json_response(result)
