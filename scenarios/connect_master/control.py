"""World control for a served Connect Master world: how a harness in another process places,
powers and inspects terminals and restarts gateways (``hil serve connect-master`` serves it).
Each route is a verb of the :class:`~scenarios.connect_master.bed.LocalCmBed` it serves, so a
:class:`~scenarios.connect_master.bed.RemoteCmBed` gets the same behaviour across the wire.

    GET    /world                              time, unix time, scale, gateways, terminals
    POST   /world/reset                        no terminals, no stored settings, gateways restarted
    POST   /world/terminals                    {deviceID, gateway, host, mode?, ssl?, rs485Slaves?,
                                                slaveReaders?} (scenarios.connect_master.placement)
    GET    /world/terminals/<id>               its config and session counters
    POST   /world/terminals/<id>/power         {"on": true|false}
    POST   /world/terminals/<id>/cable         {"plugged": true|false}: silent link loss
    POST   /world/gateways/<id>/restart        the device gateway process restarts
    POST   /world/master/restart               the master restarts (its database stays)
    GET    /world/trace?since=<t>              the world's timeline records since t

Errors are JSON ``{"error": "..."}`` with 400 (bad input) or 404 (unknown terminal/gateway).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from scenarios.bed import BedError
from scenarios.connect_master.bed import LocalCmBed, terminal_name
from scenarios.control_http import error, json_object, trace_handler


def _refuse(status: type[web.HTTPException], message: str) -> web.HTTPException:
    return status(text=json.dumps({"error": message}), content_type="application/json")


def _flag(body: dict[str, Any], key: str) -> bool:
    value = body.get(key)
    if not isinstance(value, bool):
        raise _refuse(web.HTTPBadRequest, f"{key!r} must be true or false, got {value!r}")
    return value


async def _linked_again(fault: Awaitable[None]) -> bool:
    """Whether a restart fault ended with every gateway linked to the master again."""
    try:
        await fault
    except BedError:
        return False
    return True


def control_app(
    bed: LocalCmBed, on_master_restart: Callable[[], Awaitable[None]] | None = None
) -> web.Application:
    """``on_master_restart`` runs after the master restarted (e.g. to re-serve its gRPC)."""
    app = web.Application()
    cm = bed.cm_world

    def device(request: web.Request) -> int:
        text = request.match_info["id"]
        if not text.isdigit() or int(text) not in cm.terminals:
            raise _refuse(web.HTTPNotFound, f"no terminal {text!r}; known: {sorted(cm.terminals)}")
        return int(text)

    async def describe(_request: web.Request) -> web.Response:
        return web.json_response(cm.describe())

    async def reset(_request: web.Request) -> web.Response:
        await cm.reset_bench()
        return web.json_response({"reset": True, "time": bed.now})

    async def add(request: web.Request) -> web.Response:
        try:
            device_id = await bed.place(await json_object(request))
        except BedError as exc:
            return error(400, str(exc))
        return web.json_response(await bed.terminal_state(device_id), status=201)

    async def state(request: web.Request) -> web.Response:
        return web.json_response(await bed.terminal_state(device(request)))

    async def power(request: web.Request) -> web.Response:
        did = device(request)
        on = _flag(await json_object(request), "on")
        await bed.set_power(terminal_name(did), on)
        return web.json_response({"on": on})

    async def cable(request: web.Request) -> web.Response:
        did = device(request)
        plugged = _flag(await json_object(request), "plugged")
        await bed.inject("replug" if plugged else "unplug", target=terminal_name(did))
        return web.json_response({"plugged": plugged})

    async def restart_gateway(request: web.Request) -> web.Response:
        gid = request.match_info["id"]
        if gid not in cm.gateways:
            return error(404, f"no device gateway {gid!r}; known: {sorted(cm.gateways)}")
        back = await _linked_again(bed.inject("gateway_restart", target=gid))
        return web.json_response({"restarted": gid, "reconnected": back})

    async def restart_master(_request: web.Request) -> web.Response:
        back = await _linked_again(bed.inject("master_restart"))
        if on_master_restart is not None:
            await on_master_restart()
        return web.json_response({"restarted": "master", "reconnected": back})

    app.router.add_get("/world", describe)
    app.router.add_post("/world/reset", reset)
    app.router.add_post("/world/terminals", add)
    app.router.add_get("/world/terminals/{id}", state)
    app.router.add_post("/world/terminals/{id}/power", power)
    app.router.add_post("/world/terminals/{id}/cable", cable)
    app.router.add_post("/world/gateways/{id}/restart", restart_gateway)
    app.router.add_post("/world/master/restart", restart_master)
    app.router.add_get("/world/trace", trace_handler(bed.world))
    return app
