"""The BLE router's world-control API: how a harness in another process places, moves and
powers the peripherals of a world it does not own (``hil serve ble-router`` exposes it beside
the router; :class:`scenarios.ble_router.bed.RemoteBleBed` is its client).

    GET    /world                               time, seed, clock, peripherals
    POST   /world/peripherals                   a peripheral spec (JSON) -> 201 {name, address}
    DELETE /world/peripherals                   remove every peripheral (powered off first)
    GET    /world/peripherals/<name>            its state: address, position, powered, writes
    POST   /world/peripherals/<name>/position   {"position": [x, y, z]}
    POST   /world/peripherals/<name>/power      {"on": true|false}
    POST   /world/peripherals/<name>/passkey    {"passkey": 123456}: typed on its keyboard
    GET    /world/trace?since=<t>               the world's timeline records since t

Errors are JSON ``{"error": "..."}`` with 400 (bad input) or 404 (unknown peripheral).
"""

from __future__ import annotations

from aiohttp import web

from devices.ble.spec import SpecError
from scenarios.bed import BedError
from scenarios.ble_router.bed import LocalBleBed, peripheral_state
from scenarios.control_http import error, json_object, trace_handler


def control_app(bed: LocalBleBed) -> web.Application:
    app = web.Application()

    async def world(_request: web.Request) -> web.Response:
        w = bed.world
        return web.json_response(
            {
                "time": w.now,
                "calendar": w.datetime().isoformat(),
                "seed": w.seed,
                "clock": w.clock_mode,
                "router": bed.router.mac,
                "peripherals": [peripheral_state(p) for p in bed.peripherals.values()],
            }
        )

    async def add(request: web.Request) -> web.Response:
        spec = await json_object(request)
        if not isinstance(spec, dict):
            return error(400, "a peripheral spec is a JSON object with name and address")
        try:
            address = await bed.place(spec)
        except (SpecError, BedError, TypeError) as exc:
            return error(400, str(exc))
        return web.json_response({"name": spec["name"], "address": address}, status=201)

    async def clear(_request: web.Request) -> web.Response:
        return web.json_response({"removed": await bed.remove_all()})

    async def state(request: web.Request) -> web.Response:
        try:
            return web.json_response(await bed.peripheral_state(request.match_info["name"]))
        except BedError as exc:
            return error(404, str(exc))

    async def position(request: web.Request) -> web.Response:
        body = await json_object(request)
        pos = body.get("position") if isinstance(body, dict) else None
        if (
            not isinstance(pos, list)
            or len(pos) not in (2, 3)
            or not all(isinstance(v, int | float) for v in pos)
        ):
            return error(400, f"position must be [x, y] or [x, y, z] in metres, got {pos!r}")
        try:
            await bed.move(request.match_info["name"], pos)
        except BedError as exc:
            return error(404, str(exc))
        return web.json_response({"position": pos})

    async def power(request: web.Request) -> web.Response:
        body = await json_object(request)
        on = body.get("on") if isinstance(body, dict) else None
        if not isinstance(on, bool):
            return error(400, f"'on' must be true or false, got {on!r}")
        try:
            await bed.set_power(request.match_info["name"], on)
        except BedError as exc:
            return error(404, str(exc))
        return web.json_response({"on": on})

    async def passkey(request: web.Request) -> web.Response:
        body = await json_object(request)
        value = body.get("passkey") if isinstance(body, dict) else None
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 999999:
            return error(400, f"passkey must be a number from 0 to 999999, got {value!r}")
        name = request.match_info["name"]
        if name not in bed.peripherals:
            return error(404, f"no peripheral named {name!r}")
        try:
            await bed.type_passkey(name, value)
        except BedError as exc:
            return error(409, str(exc))
        return web.json_response({"typed": value})

    app.router.add_get("/world", world)
    app.router.add_post("/world/peripherals", add)
    app.router.add_delete("/world/peripherals", clear)
    app.router.add_get("/world/peripherals/{name}", state)
    app.router.add_post("/world/peripherals/{name}/position", position)
    app.router.add_post("/world/peripherals/{name}/power", power)
    app.router.add_post("/world/peripherals/{name}/passkey", passkey)
    app.router.add_get("/world/trace", trace_handler(bed.world))
    return app
