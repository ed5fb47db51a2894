"""The world-control API of a served gateway world (``hil serve mqtt-gateway``): what a person or
a harness in another process may see and do around the reference gateway.

    GET  /world                               time, seed, clock, the gateway (connected, queue),
                                              its meters and BLE sensors
    POST /world/meters                        {"unit": 1-247} -> 201: a meter on the line
    POST /world/meters/<unit>/power           {"on": true|false}
    POST /world/peripherals/<name>/position   {"position": [x, y, z]}
    POST /world/peripherals/<name>/power      {"on": true|false}
    POST /world/faults                        {"fault": one of FAULTS, "seconds"?, "down_s"?}
                                              -> 202: it runs now, in the background
    GET  /world/mqtt?since=<n>                the MQTT transcript from row n (the harness
                                              platform's side; empty with --broker)
    GET  /world/modbus                        the register reads and writes heard on the line
    GET  /world/trace?since=<t>               the world's timeline records since t

    GET  /openapi.json                        this API's OpenAPI 3 description

Errors are JSON ``{"error": "..."}`` (:mod:`scenarios.control_http`) with 400 (bad input), 404
(no such meter, sensor or route), 405 (another method) or 409 (a fault is still running).
"""

from __future__ import annotations

import asyncio
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
    path_number,
    position,
    refusal,
    shown,
    trace_handler,
    whole_number,
    world_clock,
)
from scenarios.mqtt_gateway.bed import LocalGatewayBed
from scenarios.mqtt_gateway.worlds import FAULTS

MAX_FAULT_S = 3600


def world_state(bed: LocalGatewayBed) -> dict[str, Any]:
    gateway = bed.gateway
    return {
        **world_clock(bed.world),
        "gateway": {
            "name": bed.gateway_name,
            "connected": bool(gateway is not None and gateway.connected),
            "queue": gateway.stats() if gateway is not None and not gateway.closed else None,
            "restarts": max(0, bed.generations - 1),
        },
        "meters": [
            {"unit": unit, "name": bed.meter_names().get(unit), "powered": meter.powered}
            for unit, meter in sorted(bed.meters.items())
        ],
        "peripherals": [
            {"name": name, "address": p.address, "position": list(p.position), "powered": p.powered}
            for name, p in bed.peripherals.items()
        ],
    }


def control_app(bed: LocalGatewayBed) -> web.Application:
    app = control_application(bed.world)
    running: dict[str, asyncio.Task[None]] = {}

    def unit_of(request: web.Request) -> int:
        unit = path_number(request, "unit", 404)
        if unit not in bed.meters:
            units = ", ".join(map(str, sorted(bed.meters))) or "none"
            raise Refused(f"no meter at unit {unit} on the line; units: {units}", 404)
        return unit

    def peripheral(request: web.Request) -> str:
        name = request.match_info["name"]
        if name not in bed.peripherals:
            known = ", ".join(sorted(bed.peripherals)) or "none"
            raise Refused(f"no BLE sensor named {shown(name)}; the world has {known}", 404)
        return name

    async def world(_request: web.Request) -> web.Response:
        return web.json_response(world_state(bed))

    async def add_meter(request: web.Request) -> web.Response:
        unit = whole_number((await json_object(request)).get("unit"), "unit", 1, 247)
        try:
            await bed.place({"unit": unit})
        except BedError as exc:
            raise Refused(str(exc)) from None
        return web.json_response({"unit": unit}, status=201)

    async def meter_power(request: web.Request) -> web.Response:
        unit = unit_of(request)
        on = flag(await json_object(request), "on")
        await bed.set_power(str(unit), on)
        return web.json_response({"on": on})

    async def move(request: web.Request) -> web.Response:
        name = peripheral(request)
        where = position((await json_object(request)).get("position"))
        await bed.move(name, where)
        return web.json_response({"position": where})

    async def peripheral_power(request: web.Request) -> web.Response:
        name = peripheral(request)
        on = flag(await json_object(request), "on")
        await bed.set_power(name, on)
        return web.json_response({"on": on})

    async def fault(request: web.Request) -> web.Response:
        body = await json_object(request)
        name = body.get("fault")
        if name not in FAULTS:
            raise Refused(f"fault must be one of {', '.join(FAULTS)}, got {shown(name)}")
        args = {}
        for key in ("seconds", "down_s"):
            if key in body:
                args[key] = whole_number(body[key], key, 0, MAX_FAULT_S)
        if any(not t.done() for t in running.values()):
            raise Refused("a fault is still running; wait until it is over", 409)
        running[name] = asyncio.ensure_future(bed.inject(name, **args))
        return web.json_response({"fault": name, **args}, status=202)

    async def mqtt(request: web.Request) -> web.Response:
        since = whole_number(request.query.get("since", "0"), "since", 0, 10**9)
        return web.json_response(bed.transcript.since(since))

    async def modbus(_request: web.Request) -> web.Response:
        return web.json_response(bed.sniffer.rows())

    app.router.add_get("/world", world)
    app.router.add_post("/world/meters", add_meter)
    app.router.add_post("/world/meters/{unit}/power", meter_power)
    app.router.add_post("/world/peripherals/{name}/position", move)
    app.router.add_post("/world/peripherals/{name}/power", peripheral_power)
    app.router.add_post("/world/faults", fault)
    app.router.add_get("/world/mqtt", mqtt)
    app.router.add_get("/world/modbus", modbus)
    app.router.add_get("/world/trace", trace_handler(bed.world))
    publish(app, build_document)
    return app


ROWS = json_answer("rows", {"type": "array", "items": {"type": "object"}})
OPERATIONS: dict[Route, Operation] = {
    ("GET", "/world"): Operation(
        "time, seed, clock, the gateway, its meters and BLE sensors",
        {200: json_answer("the world", {"type": "object"})},
    ),
    ("POST", "/world/meters"): Operation(
        "place a meter (scenarios/mqtt_gateway/slaves.py meter_slave) on the line",
        {201: json_answer("placed"), 400: BAD_INPUT},
        body={
            JSON: {
                "type": "object",
                "required": ["unit"],
                "properties": {"unit": {"type": "integer", "minimum": 1, "maximum": 247}},
            }
        },
        body_required=True,
    ),
    ("POST", "/world/meters/{unit}/power"): Operation(
        "power a meter on or off",
        {200: json_answer("done"), 400: BAD_INPUT, 404: NO_SUCH},
        (Param("unit", {"type": "integer"}, "the meter's unit", where="path"),),
        body=ON_BODY,
        body_required=True,
    ),
    ("POST", "/world/peripherals/{name}/position"): Operation(
        "move a BLE sensor",
        {200: json_answer("moved"), 400: BAD_INPUT, 404: NO_SUCH},
        (Param("name", description="the sensor's name", where="path"),),
        body={
            JSON: {
                "type": "object",
                "required": ["position"],
                "properties": {"position": {"type": "array", "items": {"type": "number"}}},
            }
        },
        body_required=True,
    ),
    ("POST", "/world/peripherals/{name}/power"): Operation(
        "power a BLE sensor on or off",
        {200: json_answer("done"), 400: BAD_INPUT, 404: NO_SUCH},
        (Param("name", description="the sensor's name", where="path"),),
        body=ON_BODY,
        body_required=True,
    ),
    ("POST", "/world/faults"): Operation(
        "start a fault: " + ", ".join(FAULTS),
        {
            202: json_answer("started"),
            400: BAD_INPUT,
            409: refusal("a fault is still running"),
        },
        body={
            JSON: {
                "type": "object",
                "required": ["fault"],
                "properties": {
                    "fault": {"type": "string", "enum": list(FAULTS)},
                    "seconds": {"type": "integer", "minimum": 0, "maximum": MAX_FAULT_S},
                    "down_s": {"type": "integer", "minimum": 0, "maximum": MAX_FAULT_S},
                },
            }
        },
        body_required=True,
    ),
    ("GET", "/world/mqtt"): Operation(
        "the MQTT transcript (scenarios/mqtt_gateway/transcript.py rows) from row since",
        {200: ROWS, 400: BAD_INPUT},
        (Param("since", {"type": "integer"}, "the first row"),),
    ),
    ("GET", "/world/modbus"): Operation(
        "the register reads and writes heard on the line", {200: ROWS}
    ),
    ("GET", "/world/trace"): Operation(
        "the world's timeline since a time", {200: TRACE_ANSWER, 400: BAD_INPUT}, TRACE_PARAMS
    ),
    ("GET", OPENAPI_PATH): OPENAPI_OPERATION,
}


def build_document() -> dict[str, Any]:
    return document(
        "MQTT gateway world control",
        "1.0",
        OPERATIONS,
        "Place and power the meters and BLE sensors around a served MQTT gateway, inject "
        "faults, read the MQTT transcript.",
    )
