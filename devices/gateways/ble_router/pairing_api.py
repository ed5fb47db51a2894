"""The Secure Pairing API routes (seed 002, local form):

    POST   /management/nodes/<node>/pair        -> {pairingStatusCode, pairingStatus[, display]}
    POST   /management/nodes/<node>/pair-input  -> the same format
    DELETE /management/nodes/<node>/bond        -> "OK" (unpair)

Parameters come as a JSON (or form) body, query parameters also accepted. Bad input is 400;
a pairing that cannot start (busy, not connectable) or a ``pair-input`` with no pairing
waiting is 500, like the rest of the API (see :mod:`.errors`). The work is in :mod:`.pairing`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from devices.gateways.ble_router import handlers
from devices.gateways.ble_router.errors import bad_request
from devices.gateways.ble_router.pairing import parse_pair_request
from devices.gateways.ble_router.params import merged_params, parse_mac


def register(app: web.Application) -> None:
    """Add the pairing routes to the router's app."""
    key = handlers.ROUTER

    async def params_of(request: web.Request) -> dict[str, Any]:
        return merged_params(request.query, await handlers.body(request))

    async def pair(request: web.Request) -> web.Response:
        router = request.app[key]
        mac = parse_mac(request.match_info["node"])
        params = await params_of(request)
        pair_request = parse_pair_request(params)
        return web.json_response(await router.central.pairing.pair(mac, pair_request))

    async def pair_input(request: web.Request) -> web.Response:
        router = request.app[key]
        mac = parse_mac(request.match_info["node"])
        params = await params_of(request)
        if not any(k in params for k in ("passkey", "tk")):
            raise bad_request(
                'pair-input needs {"passkey": "123456"} (passkey entry), '
                '{"passkey": "1"|"0"} (numeric comparison) or '
                '{"tk": "0x0123456789ABCDEF0123456789ABCDEF"} (legacy OOB)'
            )
        return web.json_response(await router.central.pairing.pair_input(mac, params))

    async def unpair(request: web.Request) -> web.Response:
        router = request.app[key]
        mac = parse_mac(request.match_info["node"])
        await router.central.pairing.unbond(mac)
        return web.Response(text="OK", content_type="text/plain")

    app.router.add_post("/management/nodes/{node}/pair", pair)
    app.router.add_post("/management/nodes/{node}/pair-input", pair_input)
    app.router.add_delete("/management/nodes/{node}/bond", unpair)
