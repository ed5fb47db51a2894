"""The router's RESTful API (seed 002, local form: no ``/api`` prefix, no ``mac=``): routes,
parameter validation and error answers. This is the only layer that knows HTTP: the central
below raises domain errors (:mod:`.errors`), mapped here to a status (:mod:`.api_errors`), and
emits events, fed here into SSE streams (:mod:`.sse`, :mod:`.event_streams`).

Status choices (see :mod:`.api_errors`): 400 for malformed or out-of-range input (nothing was
attempted), 404 for a UUID the connected device does not have, 500 when the router tried and
could not — including a node that is not connected, which the seed's "200 for success, 500 for
error" convention covers — and for SSE streams past the limit. Every error body is plain text
naming the bad value and what is accepted; an unexpected exception is answered with 500 and
traced, and the router keeps serving.

Readings of the seed where it is silent:

* ``POST .../connection`` takes a ``timeout`` outside 200..20000 ms as the nearest end of the
  range (the vendor's own SDK sends 60000 on every connect; the seed gives the range but never
  says a router refuses other values); a timeout that is not a whole number is refused. The
  trace's ``connect-request`` then carries ``timeout_asked``.
* ``POST .../connection`` for a node that is already connected answers 200 ``OK`` (the state
  asked for holds); ``type`` defaults to ``public`` as the seed says, so a random-address
  device needs ``type=random`` or the attempt times out; ``auto`` is accepted and ignored
  (the seed: "disabled for firmware v1.4.3 and above").
* The scan stream uses chip 0 unless ``chip=1`` or ``chip=all`` is given; with ``chip=all``
  each report carries ``chipId``.
* ``mac=<gateway-mac>`` (the AC form) and other unknown query parameters are ignored.
* The connected list's ``name`` is the name the device advertised while the router scanned,
  else ``""`` (as in the seed's example).
* Every route also answers with a trailing slash (``.../value/0100/?noresponse=1``, as the
  vendor's SDK writes), without a redirect (see :mod:`devices.protocols.http_server`).
* ``HEAD`` on a stream answers the stream's headers and opens nothing; the routes that act
  (a write, advertising) answer ``HEAD`` with 405. Unknown routes (404), other methods (405)
  and oversized bodies (413) are answered in the same plain text as every other error.
* ``GET /openapi.json`` is not the seed's: it describes this API (:mod:`.api_spec`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiohttp import web

from devices.ble.gatt_uuids import CCCD as CCCD_UUID
from devices.gateways.ble_router import (
    advertise_api,
    api_spec,
    batch_api,
    login_api,
    pairing_api,
    reboot,
    reports,
    rssi_api,
)
from devices.gateways.ble_router.api_errors import error_response
from devices.gateways.ble_router.central import ADDRESS_TYPES, ScanSubscription
from devices.gateways.ble_router.deviations import bent_scan_filter
from devices.gateways.ble_router.errors import BleError, InvalidParameter, ProcedureFailed
from devices.gateways.ble_router.event_streams import (
    ConnectionStateFeed,
    NotificationFeed,
    ScanFeed,
)
from devices.gateways.ble_router.handlers import ROUTER, body, node, ok, parse_chips
from devices.gateways.ble_router.params import (
    merged_params,
    parse_choice,
    parse_flag,
    parse_handle,
    parse_hex,
    parse_int,
    parse_uuid,
    shown,
)
from devices.gateways.ble_router.scan_filter import parse_duplicates, parse_filter
from devices.gateways.ble_router.sse import serve_stream

if TYPE_CHECKING:
    from collections.abc import Iterable

    from devices.gateways.ble_router.gatt import GattCharacteristic
    from devices.gateways.ble_router.router import BleRouter

NOTIFY_BIT = 0x10  # GATT characteristic property Notify (deviation gatt-properties-wrong)


def build_app(router: BleRouter) -> web.Application:
    app = web.Application(
        middlewares=[_errors],
        # a client that drops its connection cancels its handler: that is how
        # SSE handlers learn that their reader left
        handler_args={"handler_cancellation": True},
    )
    app[ROUTER] = router
    r = app.router
    r.add_get("/gap/nodes", gap_nodes)
    r.add_post("/gap/nodes/{node}/connection", connect)
    r.add_delete("/gap/nodes/{node}/connection", disconnect)
    r.add_get("/gap/nodes/{node}/rssi", rssi)
    r.add_get("/management/nodes/connection-state", connection_state_stream)
    r.add_get("/gatt/nodes", gatt_nodes)
    r.add_get("/gatt/nodes/{node}/services/characteristics/descriptors", all_at_once)
    r.add_get("/gatt/nodes/{node}/services", services)
    r.add_get("/gatt/nodes/{node}/characteristics", characteristics)
    r.add_get("/gatt/nodes/{node}/services/{service}/characteristics", service_characteristics)
    r.add_get("/gatt/nodes/{node}/characteristics/{characteristic}/descriptors", descriptors)
    r.add_get("/gatt/nodes/{node}/handle/{handle}/value", read_value)
    r.add_get("/gatt/nodes/{node}/handle/{handle}/value/{value}", write_value, allow_head=False)
    r.add_get("/cassia/info", info)
    r.add_post("/cassia/reboot", reboot_request)
    batch_api.register(app)
    advertise_api.register(app)
    rssi_api.register(app)
    login_api.register(app)
    pairing_api.register(app)
    api_spec.register(app)
    return app


@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    router = request.app[ROUTER]
    try:
        response = await handler(request)
    except BleError as exc:
        response = error_response(exc)
        if isinstance(exc, InvalidParameter) and router.deviations.active("bad-input-answered-500"):
            response = web.Response(status=500, text=exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = http_error(request, exc)
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception as exc:  # never let one request take the router down
        router.trace(
            "http", "internal-error", method=request.method, path=request.path_qs, error=repr(exc)
        )
        response = web.Response(
            status=500,
            text=f"internal error while handling {request.method} {request.path}: {exc!r}",
        )
    if isinstance(response, web.Response):  # SSE streams trace their own open / close
        extra = {"error": response.text} if response.status >= 400 else {}
        router.trace(
            "http",
            "request",
            method=request.method,
            path=request.path_qs,
            status=response.status,
            **extra,
        )
    return response


def http_error(request: web.Request, exc: web.HTTPException) -> web.Response:
    """What aiohttp refuses itself (no route, another method, a body too large), in the
    router's plain text."""
    where = f"{request.method} {shown(request.path)}"
    headers = {}
    if isinstance(exc, web.HTTPNotFound):
        text = (
            f"no such API: {where}; the routes this router serves are listed at GET /openapi.json"
        )
    elif isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        headers["Allow"] = allowed
        text = f"{request.method} is not accepted on {shown(request.path)}; accepted: {allowed}"
    elif isinstance(exc, web.HTTPRequestEntityTooLarge):
        text = (
            f"the request body of {where} is too large: at most "
            f"{request.client_max_size} bytes are accepted"
        )
    else:
        text = f"{where} is refused: {exc.reason}"
    return web.Response(status=exc.status, text=text, headers=headers)


def connect_timeout(raw: Any) -> tuple[int, bool]:
    """The connect ``timeout`` in ms, taken into 200..20000; and whether it was outside."""
    accepted = "a timeout in ms from 200 to 20000"
    timeout = parse_int("timeout", raw, 200, 20000, accepted, clamp=True)
    try:
        parse_int("timeout", raw, 200, 20000, accepted)
    except InvalidParameter:
        return timeout, True
    return timeout, False


# -- GAP ----------------------------------------------------------------------------------------
async def gap_nodes(request: web.Request) -> web.StreamResponse:
    router = request.app[ROUTER]
    q = request.query
    if "event" in q:
        if q["event"] != "1":
            raise InvalidParameter(
                f"event={q['event']!r} is not accepted; use event=1 for the scan stream"
            )
        return await scan_stream(request)
    if "connection_state" in q:
        if q["connection_state"] != "connected":
            raise InvalidParameter(
                f"connection_state={q['connection_state']!r} is not accepted; "
                "expected connection_state=connected"
            )
        return web.json_response({"nodes": router.connected_nodes_json()})
    raise InvalidParameter(
        "GET /gap/nodes needs event=1 (the scan stream) or "
        "connection_state=connected (the connected devices)"
    )


async def scan_stream(request: web.Request) -> web.StreamResponse:
    router = request.app[ROUTER]
    q = dict(request.query)
    deviations = router.deviations
    active = parse_flag("active", q.get("active", "0")) or deviations.active("scan-always-active")
    scan_filter = bent_scan_filter(deviations, parse_filter(q))
    duplicates, period = parse_duplicates(q.get("filter_duplicates"))
    if deviations.active("scan-duplicates-ignored"):
        duplicates = False
    elif deviations.active("scan-duplicates-always"):
        duplicates = True
    with_timestamp = parse_flag("timestamp", q.get("timestamp", "0"))
    chips = parse_chips(router, q.get("chip"), allow_all=True) or (0,)
    report_interval = None
    if "report_interval" in q:
        report_interval = (
            parse_int(
                "report_interval",
                q["report_interval"],
                1000,
                3_600_000,
                "an interval in ms from 1000 to 3600000",
            )
            / 1000.0
        )
    with_beacon = parse_flag("beacon", q.get("beacon", "0"))
    subscription = ScanSubscription(
        router.world,
        scan_filter,
        active=active,
        chips=chips,
        duplicates=duplicates,
        duplicates_period_s=period,
        report_interval_s=report_interval,
    )
    feed = ScanFeed(
        router.central,
        subscription,
        with_timestamp=with_timestamp,
        report_chip=len(chips) > 1,
        with_beacon=with_beacon,
        deviations=deviations,
    )
    return await serve_stream(
        request, router, "scan", feed, active=active, chips=list(chips), params=scan_filter.raw
    )


async def connect(request: web.Request) -> web.Response:
    router = request.app[ROUTER]
    mac = node(request)
    p = merged_params(request.query, await body(request))
    addr_type = parse_choice("type", p.get("type", "public"), ADDRESS_TYPES)
    if router.deviations.active("connect-type-ignored"):
        addr_type = "random"
    default_timeout = 10000 if router.deviations.active("connect-default-timeout-long") else 5000
    timeout, clamped = connect_timeout(p.get("timeout", default_timeout))
    parse_flag("auto", p.get("auto", 0))  # accepted; disabled since firmware 1.4.3
    discovergatt = parse_flag("discovergatt", p.get("discovergatt", 1))
    mtu = parse_int("mtu", p.get("mtu", 0), 0, 498, "0 (use 247) or an MTU from 23 to 498")
    if 0 < mtu < 23:
        raise InvalidParameter(
            f"mtu={mtu} is out of range; expected 0 (use 247) or an MTU from 23 to 498"
        )
    chips = parse_chips(router, p.get("chip"), allow_all=False)
    asked = {"timeout_asked": str(p["timeout"])[:24]} if clamped else {}
    router.trace(
        "http",
        "connect-request",
        peer=mac,
        type=addr_type,
        timeout_ms=timeout,
        **asked,
        chip=chips[0] if chips else None,
        mtu=mtu,
        discovergatt=discovergatt,
    )
    _link, new = await router.central.connect(
        mac, addr_type, timeout / 1000.0, chips[0] if chips else None, mtu, discovergatt
    )
    router.trace("http", "connect-ok", peer=mac, already_connected=not new)
    if router.deviations.active("connect-answer-not-ok"):
        return web.json_response({"result": "ok"})
    return ok()


async def disconnect(request: web.Request) -> web.Response:
    router = request.app[ROUTER]
    mac = node(request)
    await router.central.disconnect(mac)
    if router.deviations.active("disconnect-false-error"):
        raise ProcedureFailed(f"disconnecting {mac} failed")
    router.trace("http", "disconnect-ok", peer=mac)
    return ok()


async def rssi(request: web.Request) -> web.Response:
    router = request.app[ROUTER]
    mac = node(request)
    return web.json_response({"id": mac, "rssi": await router.central.rssi(mac)})


async def connection_state_stream(request: web.Request) -> web.StreamResponse:
    router = request.app[ROUTER]
    return await serve_stream(
        request, router, "connection-state", ConnectionStateFeed(router.central, router.deviations)
    )


# -- GATT ---------------------------------------------------------------------------------------
async def gatt_nodes(request: web.Request) -> web.StreamResponse:
    router = request.app[ROUTER]
    q = request.query
    if q.get("event") != "1":
        raise InvalidParameter(
            "GET /gatt/nodes needs event=1 (the notification and indication "
            f"stream); got event={q.get('event')!r}"
        )
    sequence = parse_int(
        "sequence", q.get("sequence", "0"), 0, 2, "0 (none), 1 (per stream) or 2 (per device)"
    )
    with_timestamp = parse_flag("timestamp", q.get("timestamp", "0"))
    feed = NotificationFeed(router.central, router.world, sequence, with_timestamp)
    return await serve_stream(
        request, router, "notification", feed, sequence=sequence, timestamp=with_timestamp
    )


async def services(request: web.Request) -> web.Response:
    router = request.app[ROUTER]
    mac = node(request)
    uuid = parse_uuid(request.query["uuid"]) if "uuid" in request.query else None
    if uuid is not None:
        found = reports.service_json(await router.central.service(mac, uuid))
        return web.json_response(_looked_up(router, found))
    db = await router.central.database(mac)
    listed = [reports.service_json(s) for s in db.services]
    if router.deviations.active("gatt-uuid-short"):
        listed = [{**s, "uuid": s["uuid"][4:8]} for s in listed]
    return web.json_response(listed)


def _looked_up(router: BleRouter, found: dict[str, Any]) -> Any:
    """A lookup's answer: the one object (a one-item list under gatt-lookup-as-list)."""
    return [found] if router.deviations.active("gatt-lookup-as-list") else found


def _characteristics_json(router: BleRouter, chars: Iterable[GattCharacteristic]) -> list[dict]:
    listed = [reports.characteristic_json(c) for c in chars]
    if router.deviations.active("gatt-properties-wrong"):
        listed = [{**c, "properties": c["properties"] & ~NOTIFY_BIT} for c in listed]
    return listed


async def characteristics(request: web.Request) -> web.Response:
    router = request.app[ROUTER]
    mac = node(request)
    uuid = parse_uuid(request.query["uuid"]) if "uuid" in request.query else None
    if uuid is not None:
        char = await router.central.characteristic(mac, uuid)
        return web.json_response(_looked_up(router, _characteristics_json(router, [char])[0]))
    db = await router.central.database(mac)
    return web.json_response(_characteristics_json(router, db.characteristics()))


async def service_characteristics(request: web.Request) -> web.Response:
    router = request.app[ROUTER]
    mac = node(request)
    uuid = parse_uuid(request.match_info["service"], "service uuid")
    service = await router.central.service(mac, uuid)
    chars = service.characteristics
    if router.deviations.active("gatt-service-filter-ignored"):
        chars = (await router.central.database(mac)).characteristics()
    return web.json_response(_characteristics_json(router, chars))


async def descriptors(request: web.Request) -> web.Response:
    router = request.app[ROUTER]
    mac = node(request)
    uuid = parse_uuid(request.match_info["characteristic"], "characteristic uuid")
    char = await router.central.characteristic(mac, uuid)
    listed = reports.descriptors_json(char, with_properties=True)
    if router.deviations.active("gatt-cccd-missing"):
        listed = [d for d in listed if d["uuid"] != CCCD_UUID]
    return web.json_response(listed)


async def all_at_once(request: web.Request) -> web.Response:
    router = request.app[ROUTER]
    mac = node(request)
    db = await router.central.database(mac)
    return web.json_response(reports.database_json(db))


async def read_value(request: web.Request) -> web.Response:
    router = request.app[ROUTER]
    mac = node(request)
    handle = parse_handle(request.match_info["handle"])
    value = await router.central.read(mac, handle)
    return web.json_response({"handle": str(handle), "value": value.hex()})


async def write_value(request: web.Request) -> web.Response:
    router = request.app[ROUTER]
    mac = node(request)
    handle = parse_handle(request.match_info["handle"])
    raw = request.match_info["value"]
    if len(raw) % 2 and router.deviations.active("odd-hex-padded"):
        raw = "0" + raw
    value = parse_hex("value", raw)
    noresponse = parse_flag("noresponse", request.query.get("noresponse", "0"))
    await router.central.write(mac, handle, value, with_response=not noresponse)
    return ok()


# -- management ---------------------------------------------------------------------------------
async def info(request: web.Request) -> web.Response:
    router = request.app[ROUTER]
    fields = request.query.get("fields")
    if fields is not None:
        if fields != "container":
            raise InvalidParameter(f"fields={fields!r} is not accepted; only fields=container is")
        return web.json_response(reports.container_info(router.uptime))
    return web.json_response(router.info())


async def reboot_request(request: web.Request) -> web.Response:
    """``POST /cassia/reboot`` (see :mod:`.reboot`). The seed documents no parameters: like the
    rest of the API, unknown ones are ignored."""
    router = request.app[ROUTER]
    if not router.deviations.active("reboot-ignored"):
        reboot.schedule_reboot(router, reason="api")
    return web.Response(text="OK", content_type="text/plain")
