"""The controller's API (seed 002, the "{your AC domain}/api" forms): its own routes and the
router-addressed form of every router call (:mod:`.proxy`). This is the only layer that knows
HTTP: domain errors are mapped to a status in :mod:`.api_errors`.

    POST /api/oauth2/token                          developer key:secret (Basic) -> bearer token
    GET  /api/cassia/hubs                           the online routers
    GET  /api/cassia/hubs/<mac>                     one router, online or offline form
    GET  /api/cassia/hubStatus                      SSE: routers going online / offline
    GET  /api/aps/events                            SSE: the combined stream
    POST /api/aps/scan/open|close                   {aps, chip, active, filter_*...} / {aps}
    POST /api/aps/notify/open|close                 {aps}
    POST /api/aps/connection-state/open|close       {aps}
    GET  /api/aps/ap-state/open|close               (POST too)
    POST /api/aps/ap-select-switch                  {flag, scan_params}
    POST /api/aps/connections/connect|disconnect    {aps, devices, timeout, random, rssi...}
    GET  /api/middleware/position/by-device/<mac>   and /* ; by-ap/<hub> and /*
    GET  /api/ac/ap                                 every router (the vendor SDK's gateway list)
    *    /api/<router call>?mac=<gateway-mac>       the router's call, on that router
    GET  /openapi.json                              this API's description (not the seed's)

Authentication: every ``/api`` call but the token request carries a token
(``Authorization: Bearer <token>`` or ``access_token=<token>``), else 401 naming why (missing,
unknown, expired). The token request answers as OAuth2 does (RFC 6749 §5): 200
``{"access_token", "token_type": "bearer", "expires_in"}``, or 400/401 ``{"error",
"error_description"}``.

The combined stream writes what arrives within the controller's ``batch_s`` (5 ms) at once
(:mod:`.streams`).

Readings where the seed is silent: ``aps`` may be ``"*"`` (every router, as auto-selection
takes it) for the open/close calls too; ``ap-state/open|close`` are GET in the seed and POST is
taken as well; unknown query parameters (the vendor SDK adds ``event=1`` to every stream and
``mac=`` to every call once it has picked a gateway) are ignored; ``?detail=1`` on
``by-device/<mac>`` adds the RSSI, distance and position estimate of :mod:`.positioning`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from devices.gateways.ble_ac import api_spec, proxy, reports
from devices.gateways.ble_ac.api_errors import error_response
from devices.gateways.ble_ac.auth import GRANT_TYPE, basic_credentials, bearer_token
from devices.gateways.ble_ac.errors import (
    AcError,
    InvalidClient,
    InvalidRequest,
    UnsupportedGrant,
)
from devices.gateways.ble_ac.events import AP_STATE
from devices.gateways.ble_ac.scan_params import COMBINED, SELECTION, scan_query
from devices.gateways.ble_ac.selection import parse_aps, parse_connect
from devices.gateways.ble_ac.streams import Batcher, serve_feed
from devices.gateways.ble_router.errors import BleError
from devices.gateways.ble_router.handlers import body as request_body
from devices.gateways.ble_router.params import parse_flag, parse_mac, shown

if TYPE_CHECKING:
    from devices.gateways.ble_ac.controller import AccessController
    from devices.gateways.ble_ac.registry import HubRecord
    from devices.gateways.ble_router.sse import SseOutbox

AC: web.AppKey[AccessController] = web.AppKey("ble_ac")
TOKEN_PATH = "/api/oauth2/token"
OPEN_PATHS = (TOKEN_PATH, "/openapi.json")


def build_app(ac: AccessController) -> web.Application:
    app = web.Application(middlewares=[_errors, _auth], handler_args={"handler_cancellation": True})
    app[AC] = ac
    r = app.router
    r.add_post(TOKEN_PATH, token)
    r.add_get("/api/cassia/hubs", hubs)
    r.add_get("/api/cassia/hubs/{mac}", hub)
    r.add_get("/api/cassia/hubStatus", hub_status)
    r.add_get("/api/ac/ap", all_routers)
    r.add_get("/api/aps/events", events)
    r.add_post("/api/aps/scan/open", scan_open)
    r.add_post("/api/aps/scan/close", scan_close)
    r.add_post("/api/aps/notify/open", _switch("notify", True))
    r.add_post("/api/aps/notify/close", _switch("notify", False))
    r.add_post("/api/aps/connection-state/open", _switch("connection-state", True))
    r.add_post("/api/aps/connection-state/close", _switch("connection-state", False))
    for verb in ("open", "close"):
        handler = _ap_state(verb == "open")
        r.add_get(f"/api/aps/ap-state/{verb}", handler)
        r.add_post(f"/api/aps/ap-state/{verb}", handler)
    r.add_post("/api/aps/ap-select-switch", select_switch)
    r.add_post("/api/aps/connections/connect", select_connect)
    r.add_post("/api/aps/connections/disconnect", select_disconnect)
    r.add_get("/api/middleware/position/by-device/{mac}", by_device)
    r.add_get("/api/middleware/position/by-ap/{mac}", by_ap)
    api_spec.register(app)
    r.add_route("*", "/api/{tail:.*}", router_call)
    return app


# -- middlewares ------------------------------------------------------------------------------
@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    ac = request.app[AC]
    try:
        response = await handler(request)
    except (AcError, BleError) as exc:
        response = error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = _http_error(request, exc)
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception as exc:  # never let one request take the controller down
        ac.trace(
            "http", "internal-error", method=request.method, path=request.path, error=repr(exc)
        )
        response = web.Response(
            status=500, text=f"internal error while handling {request.method} {request.path}"
        )
    if isinstance(response, web.Response):
        extra = {"error": response.text[:200]} if response.status >= 400 else {}
        ac.trace(
            "http",
            "request",
            method=request.method,
            path=_shown_target(request),
            status=response.status,
            **extra,
        )
    return response


def _shown_target(request: web.Request) -> str:
    """The request target for the trace, without the access token."""
    query = [f"{k}={v}" for k, v in request.query.items() if k != "access_token"]
    return request.path + ("?" + "&".join(query) if query else "")


@web.middleware
async def _auth(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.path.startswith("/api") and request.path not in OPEN_PATHS:
        ac = request.app[AC]
        query_token = request.query.get("access_token")
        if ac.deviations.active("access-token-param-ignored"):
            query_token = None
        ac.tokens.check(bearer_token(request.headers.get("Authorization"), query_token))
    return await handler(request)


def _http_error(request: web.Request, exc: web.HTTPException) -> web.Response:
    where = f"{request.method} {shown(request.path)}"
    if isinstance(exc, web.HTTPNotFound):
        text = f"no such API: {where}; the routes are listed at GET /openapi.json"
    elif isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        response = web.Response(
            status=405,
            text=f"{request.method} is not accepted on {shown(request.path)}; accepted: {allowed}",
        )
        response.headers["Allow"] = allowed
        return response
    else:
        text = f"{where} is refused: {exc.reason}"
    return web.Response(status=exc.status, text=text)


def ok() -> web.Response:
    return web.Response(text="OK", content_type="text/plain")


async def _object(request: web.Request) -> dict[str, Any]:
    parsed = await request_body(request)
    return parsed if isinstance(parsed, dict) else {}


# -- token ------------------------------------------------------------------------------------
async def token(request: web.Request) -> web.Response:
    ac = request.app[AC]
    try:
        client_id, secret = basic_credentials(request.headers.get("Authorization"))
        try:
            fields = await _object(request)
        except BleError as exc:
            raise UnsupportedGrant(exc.message) from None
        grant = fields.get("grant_type")
        if grant != GRANT_TYPE:
            raise UnsupportedGrant(
                f"grant_type={shown(grant)} is not accepted; only "
                f'{{"grant_type":"{GRANT_TYPE}"}} is'
            )
        issued = ac.tokens.issue(client_id, secret)
    except InvalidClient as exc:
        ac.trace("http", "token-refused", error="invalid_client")
        response = _oauth_error(401, "invalid_client", exc.message)
        response.headers["WWW-Authenticate"] = 'Basic realm="ac"'
        return response
    except UnsupportedGrant as exc:
        ac.trace("http", "token-refused", error="unsupported_grant_type")
        return _oauth_error(400, "unsupported_grant_type", exc.message)
    ac.trace("http", "token-issued", client=client_id, expires_in=ac.tokens.ttl_s)
    return web.json_response(
        {
            "access_token": issued.value,
            "token_type": "mac" if ac.deviations.active("token-type-wrong") else "bearer",
            "expires_in": int(ac.tokens.ttl_s),
        },
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def _oauth_error(status: int, error: str, description: str) -> web.Response:
    return web.json_response(
        {"error": error, "error_description": description},
        status=status,
        headers={"Cache-Control": "no-store"},
    )


# -- routers ----------------------------------------------------------------------------------
async def hubs(request: web.Request) -> web.Response:
    ac = request.app[AC]
    now = ac.world.now
    listed = ac.registry.online_records()
    if ac.deviations.active("hubs-list-offline"):
        listed = list(ac.registry.records.values())
    return web.json_response([reports.hub(r, now) for r in sorted(listed, key=lambda r: r.mac)])


async def all_routers(request: web.Request) -> web.Response:
    ac = request.app[AC]
    now = ac.world.now
    return web.json_response(
        [reports.hub(ac.registry.records[m], now) for m in sorted(ac.registry.records)]
    )


async def hub(request: web.Request) -> web.Response:
    ac = request.app[AC]
    record = ac.registry.get(parse_mac(request.match_info["mac"], "router mac"))
    return web.json_response(reports.hub(record, ac.world.now))


async def hub_status(request: web.Request) -> web.StreamResponse:
    """Each registered router's status first, then every change."""
    ac = request.app[AC]

    def line(record: HubRecord) -> str:
        return reports.hub_status(record, ac.world.now, ac.user)

    def subscribe(outbox: SseOutbox) -> Callable[[], None]:
        def changed(record: HubRecord) -> None:
            outbox.push(line(record))

        ac.registry.on(AP_STATE, changed)
        return lambda: ac.registry.remove_listener(AP_STATE, changed)

    first = [line(ac.registry.records[mac]) for mac in sorted(ac.registry.records)]
    return await serve_feed(request, ac, "hubStatus", first, subscribe)


async def router_call(request: web.Request) -> web.StreamResponse:
    ac = request.app[AC]
    own = _own_route(request)
    if own is not None:
        raise web.HTTPMethodNotAllowed(request.method, own)
    return await proxy.forward(request, ac)


def _own_route(request: web.Request) -> list[str] | None:
    """The methods of the controller's own route at this path, if it has one (a router call
    never shadows it)."""
    methods = [
        route.method
        for resource in request.app.router.resources()
        if resource.canonical != "/api/{tail}"
        for route in resource
        if resource.get_info().get("path") == request.path
    ]
    return methods or None


# -- the combined stream ----------------------------------------------------------------------
async def events(request: web.Request) -> web.StreamResponse:
    ac = request.app[AC]

    def subscribe(outbox: SseOutbox) -> Callable[[], None]:
        batcher = Batcher(outbox, asyncio.get_running_loop(), ac.batch_s)
        ac.combined.subscribe(batcher.push)

        def stop() -> None:
            ac.combined.unsubscribe(batcher.push)
            batcher.close()

        return stop

    return await serve_feed(
        request, ac, "combined", [ac.combined.state_line()], subscribe, keepalive_message=True
    )


def _aps(ac: AccessController, fields: dict[str, Any], required: bool = True) -> list[str]:
    """The ``aps`` of a body: registered routers (``*``: all of them)."""
    if "aps" not in fields:
        if required:
            raise InvalidRequest(
                'the body needs "aps": a list of router MACs (or "*" for every router)'
            )
        return sorted(ac.registry.records)
    aps = parse_aps(fields["aps"])
    if aps is None:
        return sorted(ac.registry.records)
    return [ac.registry.get(mac).mac for mac in aps]


async def scan_open(request: web.Request) -> web.Response:
    ac = request.app[AC]
    fields = await _object(request)
    aps = _aps(ac, fields)
    chips = min((ac.registry.records[m].chips for m in aps), default=2)
    ac.combined.open_scan(aps, scan_query(fields, COMBINED, chips))
    return ok()


async def scan_close(request: web.Request) -> web.Response:
    ac = request.app[AC]
    ac.combined.close_scan(_aps(ac, await _object(request)))
    return ok()


def _switch(what: str, on: bool) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.Response:
        ac = request.app[AC]
        aps = _aps(ac, await _object(request))
        if what == "notify":
            ac.combined.set_notify(aps, on)
        else:
            ac.combined.set_connection_state(aps, on)
        return ok()

    return handler


def _ap_state(on: bool) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.Response:
        request.app[AC].combined.set_ap_state(on)
        return ok()

    return handler


# -- auto-selection ---------------------------------------------------------------------------
async def select_switch(request: web.Request) -> web.Response:
    ac = request.app[AC]
    fields = await _object(request)
    if "flag" not in fields:
        raise InvalidRequest('the body needs "flag": 1 (switch auto-selection on) or 0 (off)')
    on = parse_flag("flag", fields["flag"])
    params = fields.get("scan_params", {})
    if not isinstance(params, dict):
        raise InvalidRequest(
            f"scan_params={shown(params)} is not accepted; expected an object such as "
            '{"filter_mac":["C7:ED:44:24:3E:55"],"filter_rssi":"-70"}'
        )
    query = scan_query(params, SELECTION) if on else {}
    ac.selection.switch(on, query)
    return web.json_response({"status": "success", "flag": int(on)})


async def select_connect(request: web.Request) -> web.Response:
    ac = request.app[AC]
    await ac.selection.connect(parse_connect(await _object(request)))
    return ok()


async def select_disconnect(request: web.Request) -> web.Response:
    ac = request.app[AC]
    devices = (await _object(request)).get("devices")
    if not isinstance(devices, list) or len(devices) != 1:
        raise InvalidRequest(
            f"devices={shown(devices)} is not accepted; expected a list of exactly one device MAC"
        )
    await ac.selection.disconnect(parse_mac(devices[0], "device"))
    return ok()


# -- positioning ------------------------------------------------------------------------------
async def by_device(request: web.Request) -> web.Response:
    ac = request.app[AC]
    raw = request.match_info["mac"]
    if raw == "*":
        return web.json_response(
            {device: {"hubMac": hub} for device, hub in ac.positioning.by_device_all().items()}
        )
    mac = parse_mac(raw, "device")
    if parse_flag("detail", request.query.get("detail", "0")):
        return web.json_response(ac.positioning.detail(mac))
    return web.json_response({"hubMac": ac.positioning.by_device(mac)})


async def by_ap(request: web.Request) -> web.Response:
    ac = request.app[AC]
    raw = request.match_info["mac"]
    if raw == "*":
        return web.json_response(ac.positioning.by_ap_all())
    return web.json_response(ac.positioning.by_ap(parse_mac(raw, "router mac")))
