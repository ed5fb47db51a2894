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
    GET    /openapi.json                       this API's OpenAPI 3 description

Errors are JSON ``{"error": "..."}`` (:mod:`scenarios.control_http`) with 400 (bad input), 404
(unknown terminal, gateway or route) or 405 (another method).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
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
from scenarios.connect_master.bed import LocalCmBed, terminal_name
from scenarios.control_http import (
    BAD_INPUT,
    NO_SUCH,
    ON_BODY,
    TRACE_ANSWER,
    TRACE_PARAMS,
    WHOLE,
    Refused,
    control_application,
    json_object,
    shown,
    trace_handler,
)


def _flag(body: dict[str, Any], key: str) -> bool:
    value = body.get(key)
    if not isinstance(value, bool):
        raise Refused(f"{key!r} must be true or false, got {shown(value)}")
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
    app = control_application(bed.world)
    cm = bed.cm_world

    def device(request: web.Request) -> int:
        text = request.match_info["id"]
        did = int(text) if WHOLE.fullmatch(text) else None
        if did is None or did not in cm.terminals:
            raise Refused(f"no terminal {shown(text)}; known: {sorted(cm.terminals)}", 404)
        return did

    async def describe(_request: web.Request) -> web.Response:
        return web.json_response(cm.describe())

    async def reset(_request: web.Request) -> web.Response:
        await cm.reset_bench()
        return web.json_response({"reset": True, "time": bed.now})

    def address_free(spec: dict[str, Any]) -> None:
        """A terminal's address is its gateway's subnet and ``host``: refuse one in use, so
        that a placement never fails half-way (the terminal registered, its port taken)."""
        gateway, host = cm.specs.get(str(spec.get("gateway"))), spec.get("host")
        if gateway is None or not isinstance(host, int) or isinstance(host, bool):
            return  # placement names what is wrong with these
        ip = gateway.host_ip(host)
        for did, terminal in cm.terminals.items():
            if terminal.cfg.ip == ip:
                raise Refused(f"host {host} ({ip}) is taken by terminal {did}; choose another")

    async def add(request: web.Request) -> web.Response:
        spec = await json_object(request)
        address_free(spec)
        try:
            device_id = await bed.place(spec)
        except BedError as exc:
            raise Refused(str(exc)) from None
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
            raise Refused(f"no device gateway {shown(gid)}; known: {sorted(cm.gateways)}", 404)
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
    publish(app, lambda: build_document(sorted(cm.gateways)))
    return app


TERMINAL = Param("id", {"type": "integer", "minimum": 1}, "the terminal's deviceID", where="path")
GATEWAY = Param("id", {"type": "string"}, "the device gateway's ID", where="path")
STATE = json_answer("the terminal's config and session counters", {"type": "object"})
RESTARTED = json_answer(
    "restarted; reconnected says whether every gateway linked to the master again",
    {"type": "object"},
)
OPERATIONS: dict[Route, Operation] = {
    ("GET", "/world"): Operation(
        "time, unix time, scale, gateways, terminals", {200: json_answer("the world")}
    ),
    ("POST", "/world/reset"): Operation(
        "no terminals, no stored settings, gateways restarted", {200: json_answer("reset")}
    ),
    ("POST", "/world/terminals"): Operation(
        "place a terminal (scenarios.connect_master.placement TerminalSpec)",
        {201: STATE, 400: BAD_INPUT},
        body={
            JSON: {
                "type": "object",
                "required": ["deviceID", "gateway", "host"],
                "properties": {
                    "deviceID": {"type": "integer", "minimum": 1},
                    "gateway": {"type": "string", "description": "a device gateway's ID"},
                    "host": {"type": "integer", "minimum": 2, "maximum": 254},
                    "mode": {"type": "integer", "enum": [0, 1]},
                    "ssl": {"type": "boolean"},
                    "rs485Slaves": {"type": "array", "items": {"type": "integer", "minimum": 1}},
                    "slaveReaders": {"type": "object"},
                },
            }
        },
        body_required=True,
    ),
    ("GET", "/world/terminals/{id}"): Operation(
        "a terminal's config and session counters", {200: STATE, 404: NO_SUCH}, (TERMINAL,)
    ),
    ("POST", "/world/terminals/{id}/power"): Operation(
        "power a terminal on or off",
        {200: json_answer("done"), 400: BAD_INPUT, 404: NO_SUCH},
        (TERMINAL,),
        body=ON_BODY,
        body_required=True,
    ),
    ("POST", "/world/terminals/{id}/cable"): Operation(
        "unplug (silent link loss) or replug a terminal's cable",
        {200: json_answer("done"), 400: BAD_INPUT, 404: NO_SUCH},
        (TERMINAL,),
        body={
            JSON: {
                "type": "object",
                "required": ["plugged"],
                "properties": {"plugged": {"type": "boolean"}},
            }
        },
        body_required=True,
    ),
    ("POST", "/world/gateways/{id}/restart"): Operation(
        "restart a device gateway process", {200: RESTARTED, 404: NO_SUCH}, (GATEWAY,)
    ),
    ("POST", "/world/master/restart"): Operation(
        "restart the master (its database stays)", {200: RESTARTED}
    ),
    ("GET", "/world/trace"): Operation(
        "the world's timeline since a time", {200: TRACE_ANSWER, 400: BAD_INPUT}, TRACE_PARAMS
    ),
    ("GET", OPENAPI_PATH): OPENAPI_OPERATION,
}


def build_document(gateways: list[str] | None = None) -> dict[str, Any]:
    """The description; with ``gateways`` (a served world's), the IDs a terminal may name."""
    operations = dict(OPERATIONS)
    if gateways:
        add = operations[("POST", "/world/terminals")]
        assert add.body is not None
        schema = dict(add.body[JSON])
        schema["properties"] = {
            **schema["properties"],
            "gateway": {"type": "string", "enum": list(gateways)},
        }
        operations[("POST", "/world/terminals")] = replace(add, body={JSON: schema})
    return document(
        "Connect Master world control",
        "1.0",
        operations,
        "Place, power and unplug terminals and restart the gateways of a served Connect Master "
        "world.",
    )
