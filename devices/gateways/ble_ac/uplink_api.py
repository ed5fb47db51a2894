"""The controller's uplink listener (port 5246 inside the world): the agents' join and echo
(:mod:`.agent`), answered as JSON.

    POST /uplink/join  {mac, name, model, version, ip, localip, uptime, boot, chips, capacity}
                       -> 200 {"echo_interval_s": ..., "dead_interval_s": ...}
    POST /uplink/echo  {mac, uptime, boot} -> 200 {}, or 409 when the router must join first

This is not the seed's API (the seed says nothing of how routers reach their controller); it is
served only inside the world, where the routers are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from devices.gateways.ble_router.params import parse_mac
from devices.protocols.http_server import JsonBodyError, json_body

if TYPE_CHECKING:
    from devices.gateways.ble_ac.registry import Registry

_TEXTS = ("name", "model", "version", "ip", "localip")
_NUMBERS = ("uptime", "boot")
_COUNTS = ("chips", "capacity")


def uplink_app(registry: Registry) -> web.Application:
    async def join(request: web.Request) -> web.Response:
        info = await _message(request, _TEXTS, _NUMBERS, _COUNTS)
        registry.join(info)
        return web.json_response(
            {
                "echo_interval_s": registry.echo_interval_s,
                "dead_interval_s": registry.dead_interval_s,
            }
        )

    async def echo(request: web.Request) -> web.Response:
        info = await _message(request, (), _NUMBERS, ())
        if not registry.echo(info["mac"], float(info["uptime"]), float(info["boot"])):
            return web.json_response({"error": f"{info['mac']} must join first"}, status=409)
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/uplink/join", join)
    app.router.add_post("/uplink/echo", echo)
    return app


async def _message(
    request: web.Request, texts: tuple[str, ...], numbers: tuple[str, ...], counts: tuple[str, ...]
) -> dict[str, Any]:
    try:
        body = json_body(await request.read())
    except JsonBodyError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="an uplink message is a JSON object")
    try:
        out: dict[str, Any] = {"mac": parse_mac(body.get("mac"), "router mac")}
    except Exception as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    for key in texts:
        if not isinstance(body.get(key), str):
            raise web.HTTPBadRequest(text=f"{key} must be a string")
        out[key] = body[key]
    for key in numbers:
        value = body.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise web.HTTPBadRequest(text=f"{key} must be a number")
        out[key] = float(value)
    for key in counts:
        value = body.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise web.HTTPBadRequest(text=f"{key} must be a whole number >= 1")
        out[key] = value
    return out
