"""The access controller's world-control API: how a harness in another process places, moves
and powers the peripherals, and cuts, reboots and powers the routers, of a world it does not own
(``hil serve ble-ac`` exposes it beside the controller; :class:`scenarios.ble_ac.bed.
RemoteAcBed` is its client).

    GET    /world                               time, seed, clock, controller, routers, peripherals
    POST   /world/reset                         uplinks up, routers on and joined, no peripherals
    POST   /world/peripherals                   a peripheral spec (JSON) -> 201 {name, address}
    DELETE /world/peripherals                   remove every peripheral (powered off first)
    GET    /world/peripherals/<name>            its state: address, position, powered, writes
    POST   /world/peripherals/<name>/position   {"position": [x, y, z]}
    POST   /world/peripherals/<name>/power      {"on": true|false}
    GET    /world/routers                       name, mac, ip, position, powered, uplink, status,
                                                connected (links), advertising (chips)
    POST   /world/routers/<name>/uplink         {"up": true|false}: the uplink heals / partitions
    POST   /world/routers/<name>/reboot         the router crashes and restarts
    POST   /world/routers/<name>/power          {"on": true|false}
    GET    /world/trace?since=<t>               the world's timeline records since t
    GET    /openapi.json                        this API's OpenAPI 3 description

Errors are JSON ``{"error": "..."}`` (:mod:`scenarios.control_http`): 400 bad input, 404 an
unknown peripheral, router or route, 405 another method. The peripheral routes are the router's
world control's own (:func:`scenarios.ble_router.control.peripheral_routes`): a spec is checked
whole before anything is built, and a placement that fails is undone.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from devices.gateways.ble_router.reboot import is_rebooting
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
from scenarios.ble_ac.bed import AC_HOST, LocalAcBed
from scenarios.ble_router.bed import peripheral_state
from scenarios.ble_router.control import PERIPHERAL_OPERATIONS, peripheral_routes
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
    shown,
    trace_handler,
    world_clock,
)


def router_state(bed: LocalAcBed, name: str) -> dict[str, Any]:
    router = bed.router(name)
    record = bed.ac.registry.records.get(router.mac)
    return {
        "name": name,
        "mac": router.mac,
        "ip": router.ip,
        "position": list(router.position),
        "powered": router.started,
        "uplink": not bed.net.profile(router.ip, AC_HOST).partitioned,
        "status": record.status if record else "unregistered",
        "connected": router.connected_nodes(),
        "advertising": router.advertising_chips(),
    }


def control_app(bed: LocalAcBed) -> web.Application:
    app = control_application(bed.world)
    peripheral_routes(app, bed)

    def router(request: web.Request) -> str:
        name = request.match_info["name"]
        if name not in bed.routers:
            known = ", ".join(bed.routers) or "none"
            raise Refused(f"no router named {shown(name)}; the world has {known}", 404)
        return name

    async def world(_request: web.Request) -> web.Response:
        w = bed.world
        return web.json_response(
            {
                **world_clock(w),
                "controller": bed.base_url,
                "routers": [router_state(bed, n) for n in bed.routers],
                "peripherals": [peripheral_state(p) for p in bed.peripherals.values()],
            }
        )

    async def reset(_request: web.Request) -> web.Response:
        for name in bed.routers:
            await bed.inject("router_outage", target=name, up=True)
            if not bed.routers[name].started:
                await bed.inject("router_power", target=name, on=True)
        removed = await bed.remove_all()
        try:
            await bed.wait_online(list(bed.routers))
        except BedError as exc:
            raise Refused(str(exc), 409) from None
        return web.json_response({"removed": removed})

    async def routers(_request: web.Request) -> web.Response:
        return web.json_response([router_state(bed, n) for n in bed.routers])

    async def uplink(request: web.Request) -> web.Response:
        name = router(request)
        up = flag(await json_object(request), "up")
        await bed.inject("router_outage", target=name, up=up)
        return web.json_response(router_state(bed, name))

    async def reboot(request: web.Request) -> web.Response:
        name = router(request)
        await optional_object(request)
        if is_rebooting(bed.routers[name]):
            raise Refused(f"router {name} is already rebooting; it serves again once booted", 409)
        if not bed.routers[name].started:
            raise Refused(f"router {name} is powered off; power it on instead", 409)
        bed.world.spawn(bed.inject("router_reboot", target=name), name=f"control/reboot/{name}")
        return web.json_response({"rebooting": name})

    async def router_power(request: web.Request) -> web.Response:
        name = router(request)
        on = flag(await json_object(request), "on")
        await bed.inject("router_power", target=name, on=on)
        return web.json_response(router_state(bed, name))

    app.router.add_get("/world", world)
    app.router.add_post("/world/reset", reset)
    app.router.add_get("/world/routers", routers)
    app.router.add_post("/world/routers/{name}/uplink", uplink)
    app.router.add_post("/world/routers/{name}/reboot", reboot)
    app.router.add_post("/world/routers/{name}/power", router_power)
    app.router.add_get("/world/trace", trace_handler(bed.world))
    publish(app, build_document)
    return app


NAME = Param("name", {"type": "string"}, "the router's name", where="path")
STATE = json_answer("the router's state", {"type": "object"})
UP_BODY = {JSON: {"type": "object", "required": ["up"], "properties": {"up": {"type": "boolean"}}}}
OPERATIONS: dict[Route, Operation] = {
    ("GET", "/world"): Operation(
        "time, seed, clock, the controller, routers and peripherals",
        {200: json_answer("the world", {"type": "object"})},
    ),
    ("POST", "/world/reset"): Operation(
        "uplinks up, routers powered and joined, every peripheral removed",
        {200: json_answer("reset", {"type": "object"})},
    ),
    **PERIPHERAL_OPERATIONS,
    ("GET", "/world/routers"): Operation(
        "the routers: name, mac, ip, position, powered, uplink, status, connected (the addresses "
        "its radio holds links to), advertising (its chips on the air)",
        {200: json_answer("routers", {"type": "array", "items": {"type": "object"}})},
    ),
    ("POST", "/world/routers/{name}/uplink"): Operation(
        "partition (up false) or heal (up true) a router's uplink to the controller",
        {200: STATE, 400: BAD_INPUT, 404: NO_SUCH},
        (NAME,),
        body=UP_BODY,
        body_required=True,
    ),
    ("POST", "/world/routers/{name}/reboot"): Operation(
        "the router crashes and restarts",
        {
            200: json_answer("rebooting"),
            404: NO_SUCH,
            409: json_answer("the router is rebooting already, or powered off"),
        },
        (NAME,),
    ),
    ("POST", "/world/routers/{name}/power"): Operation(
        "power a router off or on",
        {200: STATE, 400: BAD_INPUT, 404: NO_SUCH},
        (NAME,),
        body=ON_BODY,
        body_required=True,
    ),
    ("GET", "/world/trace"): Operation(
        "the world's timeline since a time", {200: TRACE_ANSWER, 400: BAD_INPUT}, TRACE_PARAMS
    ),
    ("GET", OPENAPI_PATH): OPENAPI_OPERATION,
}


def build_document() -> dict[str, Any]:
    return document(
        "BLE access controller world control",
        "1.0",
        OPERATIONS,
        "Place, move and power the peripherals, and cut, reboot and power the routers, around "
        "a served access controller.",
    )
