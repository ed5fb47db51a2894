"""The Secure Pairing API routes (seed 002, local form):

    POST   /management/nodes/<node>/pair        -> {pairingStatusCode, pairingStatus[, display]}
    POST   /management/nodes/<node>/pair-input  -> the same format
    DELETE /management/nodes/<node>/bond        -> "OK" (unpair)

Parameters come as a JSON (or form) body, query parameters also accepted; this module parses
them (bad input is 400) and answers with each :class:`~.pairing.PairingStep`. A pairing that
cannot start (busy, not connectable) or a ``pair-input`` with no pairing waiting is 500, like
the rest of the API (see :mod:`.api_errors`). The work is in :mod:`.pairing`.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from devices.ble.security import IO_CAPABILITY
from devices.gateways.ble_router import handlers, reports
from devices.gateways.ble_router.errors import InvalidParameter
from devices.gateways.ble_router.pairing import PairingStep, PairRequest
from devices.gateways.ble_router.params import (
    merged_params,
    parse_choice,
    parse_flag,
    parse_int,
    parse_mac,
    shown,
)

_HEX16 = re.compile(r"^(0[xX])?[0-9A-Fa-f]{32}$")


def _oob_value(name: str, raw: Any) -> bytes:
    text = str(raw).strip()
    if not isinstance(raw, str) or not _HEX16.match(text):
        raise InvalidParameter(
            f"{name}={shown(raw)} is not accepted; expected the 16-byte value the "
            "device provides, as 32 hex digits (e.g. "
            "e18df48c5ad68f0ee3d541e4d60f9ae5)"
        )
    return bytes.fromhex(text[2:] if text.lower().startswith("0x") else text)


def parse_pair_request(p: dict[str, Any]) -> PairRequest:
    """Body / query parameters of ``POST .../pair`` -> :class:`PairRequest`
    (:class:`~.errors.InvalidParameter` on bad input)."""
    io = p.get("iocapability", p.get("io-capability", "KeyboardDisplay"))
    if not isinstance(io, str) or io not in IO_CAPABILITY:
        raise InvalidParameter(
            f"iocapability={shown(io)} is not accepted; expected one of {', '.join(IO_CAPABILITY)}"
        )
    if "oob" in p:
        oob = parse_int("oob", p["oob"], 0, 2, "0 (no OOB), 1 (Legacy OOB) or 2 (Security OOB)")
    else:
        oob = 1 if parse_flag("legacy-oob", p.get("legacy-oob", 0)) else 0
    rand = confirm = None
    if oob == 2:
        missing = [k for k in ("rand", "confirm") if k not in p]
        if missing:
            raise InvalidParameter(
                f"oob=2 (Security OOB) needs {' and '.join(missing)}: the values "
                "the device provides (32 hex digits each)"
            )
        rand, confirm = _oob_value("rand", p["rand"]), _oob_value("confirm", p["confirm"])
    timeout = parse_int(
        "timeout", p.get("timeout", 5000), 200, 20000, "a timeout in ms from 200 to 20000"
    )
    addr_type = parse_choice("type", p.get("type", "public"), ("public", "random"))
    bond = parse_flag("bond", p.get("bond", 1))
    return PairRequest(io, oob, rand, confirm, timeout / 1000.0, addr_type, bond)


def parse_input(kind: str, body: dict[str, Any]) -> Any:
    """The ``pair-input`` body for the prompt of ``kind`` that waits
    (:class:`~.errors.InvalidParameter` naming what is expected)."""
    if kind == "tk":
        raw = body.get("tk")
        if raw is None:
            raise InvalidParameter(
                'this pairing waits for the legacy OOB TK: send {"tk": '
                '"0x0123456789ABCDEF0123456789ABCDEF"}'
            )
        text = str(raw).strip()
        if not isinstance(raw, str) or not _HEX16.match(text):
            raise InvalidParameter(
                f"tk={shown(raw)} is not accepted; expected 0x followed by 32 hex "
                "digits (16 bytes), e.g. 0x0123456789ABCDEF0123456789ABCDEF"
            )
        # "0x..." is the number written most-significant byte first; SMP carries TK LSB first
        return bytes.fromhex(text[2:] if text.lower().startswith("0x") else text)[::-1]
    raw = body.get("passkey")
    if kind == "compare":
        if str(raw) not in ("0", "1"):
            raise InvalidParameter(
                f"passkey={shown(raw)} is not accepted for numeric comparison; send "
                '{"passkey": "1"} (the numbers match) or {"passkey": "0"} (they '
                "do not)"
            )
        return str(raw) == "1"
    text = str(raw).strip() if raw is not None else ""
    if raw is None or not re.fullmatch(r"[0-9]{1,6}", text):
        raise InvalidParameter(
            f"passkey={shown(raw)} is not accepted; this pairing waits for the "
            'passkey the device displays: 6 digits, e.g. {"passkey": "123456"}'
        )
    return int(text)


def answer(step: PairingStep) -> web.Response:
    return web.json_response(reports.pairing_answer(step.status, step.status_name, step.display))


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
        step = await router.central.pairing.pair(mac, pair_request)
        if step.status == 1 and router.deviations.active("pairing-status-wrong"):
            step = PairingStep(0)
        return answer(step)

    async def pair_input(request: web.Request) -> web.Response:
        router = request.app[key]
        mac = parse_mac(request.match_info["node"])
        params = await params_of(request)
        if not any(k in params for k in ("passkey", "tk")):
            raise InvalidParameter(
                'pair-input needs {"passkey": "123456"} (passkey entry), '
                '{"passkey": "1"|"0"} (numeric comparison) or '
                '{"tk": "0x0123456789ABCDEF0123456789ABCDEF"} (legacy OOB)'
            )
        pairing = router.central.pairing
        value = parse_input(pairing.awaited_input(mac), params)
        return answer(await pairing.pair_input(mac, value))

    async def unpair(request: web.Request) -> web.Response:
        router = request.app[key]
        mac = parse_mac(request.match_info["node"])
        if not router.deviations.active("unbond-ignored"):
            await router.central.pairing.unbond(mac)
        return web.Response(text="OK", content_type="text/plain")

    app.router.add_post("/management/nodes/{node}/pair", pair)
    app.router.add_post("/management/nodes/{node}/pair-input", pair_input)
    app.router.add_delete("/management/nodes/{node}/bond", unpair)
