"""The Device2 world-control API: how a harness in another process places and powers the
simulated devices of a served Device2 world, resets it between scenarios, restarts the service
and lays archive files (``hil serve device2`` exposes it; :class:`RemoteDevice2Bed` is its
client).

    GET    /world                          time, seed, clock, product, URLs, devices
    POST   /world/reset                    no devices; the service on a fresh database
    POST   /world/devices                  a device spec (scenarios.device2.placement) -> 201
    DELETE /world/devices                  switch every device off and remove it
    GET    /world/devices/<name>           its own account: identity, powered, applied, log
    POST   /world/devices/<name>/power     {"on": true|false}
    POST   /world/faults/<fault>           the fault's arguments (JSON): service_restart
    POST   /world/archive                  {"day": "YYYY-MM-DD", "points": [...]} -> {"url"}
    GET    /world/trace?since=<t>          the world's timeline records since t
    GET    /openapi.json                   this API's OpenAPI 3 description

Errors are JSON ``{"error": "..."}`` (:mod:`scenarios.control_http`): 400 bad input, 404 no such
device or route, 409 a fault this world cannot do (a partition needs in-world links).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from devices.protocols.openapi import (
    JSON,
    OPENAPI_OPERATION,
    OPENAPI_PATH,
    Operation,
    Param,
    Route,
    document,
    json_answer,
    publish,
)
from scenarios.bed import BedError
from scenarios.control_http import (
    BAD_INPUT,
    NO_SUCH,
    ON_BODY,
    TRACE_ANSWER,
    TRACE_PARAMS,
    Refused,
    control_application,
    flag,
    json_object,
    optional_object,
    refusal,
    shown,
    trace_handler,
    world_clock,
)
from scenarios.device2.bed import LocalDevice2Bed
from scenarios.device2.placement import Placement, PlacementError

SERVED_FAULTS = ("service_restart",)


def world_state(bed: LocalDevice2Bed) -> dict[str, Any]:
    w = bed.world
    return {
        **world_clock(w),
        "product": bed.product,
        "urls": {kind: bed.url(kind) for kind in bed.apis.ports} if bed.apis else {},
        "devices": [
            {k: v for k, v in p.report().items() if k != "log"} for p in bed.devices.values()
        ],
    }


def control_app(bed: LocalDevice2Bed) -> web.Application:
    app = control_application(bed.world)

    def known(request: web.Request) -> str:
        name = request.match_info["name"]
        if name not in bed.devices:
            placed = ", ".join(sorted(bed.devices)) or "none"
            raise Refused(f"no device named {shown(name)}; the world has {placed}", 404)
        return name

    async def world(_request: web.Request) -> web.Response:
        return web.json_response(world_state(bed))

    async def reset(_request: web.Request) -> web.Response:
        await bed.reset()
        return web.json_response({"reset": True})

    async def add(request: web.Request) -> web.Response:
        spec = await json_object(request)
        try:
            Placement.from_dict(spec)
            identity = await bed.place(spec)
        except (PlacementError, BedError) as exc:
            raise Refused(f"device refused: {exc}") from None
        return web.json_response({"name": spec["name"], "identity": identity}, status=201)

    async def clear(_request: web.Request) -> web.Response:
        return web.json_response({"removed": await bed.remove_devices()})

    async def state(request: web.Request) -> web.Response:
        return web.json_response(await bed.device_report(known(request)))

    async def power(request: web.Request) -> web.Response:
        name = known(request)
        on = flag(await json_object(request), "on")
        await bed.set_power(name, on)
        return web.json_response({"on": on})

    async def fault(request: web.Request) -> web.Response:
        name = request.match_info["fault"]
        if name not in SERVED_FAULTS:
            raise Refused(
                f"fault {shown(name)} is not one a served world does; accepted: "
                + ", ".join(SERVED_FAULTS),
                409 if name in bed.faults else 404,
            )
        args = await optional_object(request)
        try:
            await bed.inject(name, **{str(k): v for k, v in args.items()})
        except BedError as exc:
            raise Refused(str(exc), 409) from None
        return web.json_response({"fault": name})

    async def archive(request: web.Request) -> web.Response:
        body = await json_object(request)
        day, points = body.get("day"), body.get("points")
        try:
            dt.date.fromisoformat(str(day))
        except ValueError:
            raise Refused(f"day must be a date YYYY-MM-DD, got {shown(day)}") from None
        if not isinstance(points, list) or not all(isinstance(p, dict) for p in points):
            raise Refused(f"points must be a list of archive points, got {shown(points)}")
        return web.json_response({"url": await bed.archive(str(day), points)}, status=201)

    app.router.add_get("/world", world)
    app.router.add_post("/world/reset", reset)
    app.router.add_post("/world/devices", add)
    app.router.add_delete("/world/devices", clear)
    app.router.add_get("/world/devices/{name}", state)
    app.router.add_post("/world/devices/{name}/power", power)
    app.router.add_post("/world/faults/{fault}", fault)
    app.router.add_post("/world/archive", archive)
    app.router.add_get("/world/trace", trace_handler(bed.world))
    publish(app, build_document)
    return app


NAME = Param("name", {"type": "string"}, "the device's name", where="path")
FAULT = Param("fault", {"type": "string", "enum": list(SERVED_FAULTS)}, "the fault", where="path")
OBJECT = json_answer("done", {"type": "object"})
OPERATIONS: dict[Route, Operation] = {
    ("GET", "/world"): Operation("time, seed, clock, product, URLs and devices", {200: OBJECT}),
    ("POST", "/world/reset"): Operation(
        "no devices, and the service on a fresh database", {200: OBJECT}
    ),
    ("POST", "/world/devices"): Operation(
        "place a simulated device (scenarios.device2.placement spec), powered on unless "
        "powered is false",
        {201: json_answer("placed", {"type": "object"}), 400: BAD_INPUT},
        body={JSON: {"type": "object", "required": ["name"]}},
        body_required=True,
    ),
    ("DELETE", "/world/devices"): Operation("switch every device off and remove it", {200: OBJECT}),
    ("GET", "/world/devices/{name}"): Operation(
        "a device's own account: identity, powered, applied sets, log",
        {200: OBJECT, 404: NO_SUCH},
        (NAME,),
    ),
    ("POST", "/world/devices/{name}/power"): Operation(
        "switch a device on or off",
        {200: OBJECT, 400: BAD_INPUT, 404: NO_SUCH},
        (NAME,),
        body=ON_BODY,
        body_required=True,
    ),
    ("POST", "/world/faults/{fault}"): Operation(
        "inject a fault (service_restart: down_s optional)",
        {200: OBJECT, 404: NO_SUCH, 409: refusal("this world cannot do that fault")},
        (FAULT,),
        body={JSON: {"type": "object"}},
    ),
    ("POST", "/world/archive"): Operation(
        "lay a daily archive file where restoreTime reads it; its file:// URL",
        {201: json_answer("laid", {"type": "object"}), 400: BAD_INPUT},
        body={
            JSON: {
                "type": "object",
                "required": ["day", "points"],
                "properties": {
                    "day": {"type": "string", "format": "date"},
                    "points": {"type": "array", "items": {"type": "object"}},
                },
            }
        },
        body_required=True,
    ),
    ("GET", "/world/trace"): Operation(
        "the world's timeline since a time", {200: TRACE_ANSWER, 400: BAD_INPUT}, TRACE_PARAMS
    ),
    ("GET", OPENAPI_PATH): OPENAPI_OPERATION,
}


def build_document() -> dict[str, Any]:
    return document(
        "Device2 world control",
        "1.0",
        OPERATIONS,
        "Place and power the simulated devices of a served Device2 service, reset it, restart "
        "it and lay its archive files.",
    )
