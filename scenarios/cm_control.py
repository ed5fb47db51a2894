"""World control for a served Connect Master world: how a harness in another process places,
powers and inspects terminals and restarts gateways (``hil serve connect-master`` serves it).

    GET    /world                              time, unix time, scale, gateways, terminals
    POST   /world/reset                        no terminals, no stored settings, gateways restarted
    POST   /world/terminals                    {deviceID, gateway, host, mode?, ssl?, rs485Slaves?}
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

from scenarios.connect_master_bed import ConnectMasterBed
from scenarios.control_http import error, json_object, trace_handler

_TERMINAL_KEYS = {"deviceID", "gateway", "host", "mode", "ssl", "rs485Slaves"}


def terminal_state(bed: ConnectMasterBed, device_id: int) -> dict[str, Any]:
    t = bed.terminals[device_id]
    return {
        **t.describe(),
        "powered": t.powered,
        "sessions": t.sessions,
        "maxSessions": t.max_sessions,
        "sessionsTotal": t.sessions_total,
    }


def _terminal_spec(bed: ConnectMasterBed, spec: dict[str, Any]) -> tuple[int, str, int, dict]:
    """Validated (device ID, gateway, host, config) or ValueError naming the bad field."""
    unknown = sorted(set(spec) - _TERMINAL_KEYS)
    if unknown:
        raise ValueError(f"unknown field(s) {unknown}; accepted: {sorted(_TERMINAL_KEYS)}")
    did, gw, host = spec.get("deviceID"), spec.get("gateway"), spec.get("host")
    if not isinstance(did, int) or isinstance(did, bool) or not 1 <= did <= 0xFFFFFFFF:
        raise ValueError(f"deviceID {did!r} not accepted; accepted: 1..4294967295")
    if did in bed.terminals:
        raise ValueError(f"deviceID {did} is already a terminal of this world")
    if gw not in bed.specs:
        raise ValueError(f"gateway {gw!r} unknown; accepted: {sorted(bed.specs)}")
    if not isinstance(host, int) or isinstance(host, bool) or not 2 <= host <= 254:
        raise ValueError(f"host {host!r} not accepted; accepted: 2..254 (the last octet)")
    config: dict[str, Any] = {}
    mode = spec.get("mode", 0)
    if mode not in (0, 1):
        raise ValueError(
            f"mode {mode!r} not accepted; accepted: 0 (SERVER_TO_DEVICE), 1 (DEVICE_TO_SERVER)"
        )
    config["mode"] = mode
    ssl = spec.get("ssl", False)
    if not isinstance(ssl, bool):
        raise ValueError(f"ssl {ssl!r} not accepted; accepted: true or false")
    config["ssl"] = ssl
    slaves = spec.get("rs485Slaves", [])
    if not isinstance(slaves, list) or not all(isinstance(s, int) and s > 0 for s in slaves):
        raise ValueError(f"rs485Slaves {slaves!r} not accepted; accepted: a list of IDs > 0")
    config["rs485_slaves"] = slaves
    return did, str(gw), host, config


def cm_control_app(
    bed: ConnectMasterBed, on_master_restart: Callable[[], Awaitable[None]] | None = None
) -> web.Application:
    """``on_master_restart`` runs after the master restarted (e.g. to re-serve its gRPC)."""
    app = web.Application()
    world = bed.world

    def device(request: web.Request) -> int:
        text = request.match_info["id"]
        if not text.isdigit() or int(text) not in bed.terminals:
            raise web.HTTPNotFound(
                text=json.dumps({"error": f"no terminal {text!r}; known: {sorted(bed.terminals)}"}),
                content_type="application/json",
            )
        return int(text)

    async def describe(_request: web.Request) -> web.Response:
        return web.json_response(
            {
                "time": world.now,
                "unix": bed.master.unix_now(),
                "seed": world.seed,
                "clock": world.clock_mode,
                "scale": world.loop.scale,
                "gateways": {
                    g: {
                        "ip": s.ip,
                        "subnet": s.subnet,
                        "tenant": s.tenant,
                        "connected": g in bed.master.links,
                    }
                    for g, s in bed.specs.items()
                },
                "terminals": sorted(bed.terminals),
            }
        )

    async def reset(_request: web.Request) -> web.Response:
        await bed.reset_bench()
        return web.json_response({"reset": True, "time": world.now})

    async def add(request: web.Request) -> web.Response:
        try:
            did, gw, host, config = _terminal_spec(bed, await json_object(request))
        except ValueError as exc:
            return error(400, str(exc))
        bed.add_terminal(did, gw, host, **config)
        return web.json_response(terminal_state(bed, did), status=201)

    async def state(request: web.Request) -> web.Response:
        return web.json_response(terminal_state(bed, device(request)))

    async def power(request: web.Request) -> web.Response:
        did = device(request)
        on = (await json_object(request)).get("on")
        if not isinstance(on, bool):
            return error(400, f"'on' must be true or false, got {on!r}")
        terminal = bed.terminals[did]
        terminal.power_on() if on else terminal.power_off()
        return web.json_response({"on": on})

    async def cable(request: web.Request) -> web.Response:
        did = device(request)
        plugged = (await json_object(request)).get("plugged")
        if not isinstance(plugged, bool):
            return error(400, f"'plugged' must be true or false, got {plugged!r}")
        bed.plug(did, plugged)
        return web.json_response({"plugged": plugged})

    async def restart_gateway(request: web.Request) -> web.Response:
        gid = request.match_info["id"]
        if gid not in bed.gateways:
            return error(404, f"no device gateway {gid!r}; known: {sorted(bed.gateways)}")
        pushes = bed.master.pushes
        bed.restart_gateway(gid)
        back = await bed.until(lambda: bed.master.pushes > pushes, 30.0)
        return web.json_response({"restarted": gid, "reconnected": back})

    async def restart_master(_request: web.Request) -> web.Response:
        bed.restart_master()
        if on_master_restart is not None:
            await on_master_restart()
        back = await bed.until(lambda: len(bed.master.links) == len(bed.gateways), 30.0)
        return web.json_response({"restarted": "master", "reconnected": back})

    app.router.add_get("/world", describe)
    app.router.add_post("/world/reset", reset)
    app.router.add_post("/world/terminals", add)
    app.router.add_get("/world/terminals/{id}", state)
    app.router.add_post("/world/terminals/{id}/power", power)
    app.router.add_post("/world/terminals/{id}/cable", cable)
    app.router.add_post("/world/gateways/{id}/restart", restart_gateway)
    app.router.add_post("/world/master/restart", restart_master)
    app.router.add_get("/world/trace", trace_handler(world))
    return app
