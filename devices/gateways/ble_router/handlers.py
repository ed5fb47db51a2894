"""What every route handler of the router shares: the app key that finds the router, and the
small helpers for answers, node addresses, request bodies and chip choices."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from devices.gateways.ble_router.errors import InvalidParameter
from devices.gateways.ble_router.params import parse_int, parse_mac

if TYPE_CHECKING:
    from devices.gateways.ble_router.router import BleRouter

ROUTER: web.AppKey[BleRouter] = web.AppKey("ble_router")


def ok() -> web.Response:
    return web.Response(text="OK", content_type="text/plain")


def node(request: web.Request) -> str:
    return parse_mac(request.match_info["node"])


async def body(request: web.Request) -> Any:
    if not request.body_exists:
        return None
    raw = await request.read()
    if not raw.strip():
        return None
    if request.content_type == "application/x-www-form-urlencoded":
        return dict((await request.post()).items())
    try:
        body = json.loads(raw)
    except ValueError:
        raise InvalidParameter(
            f"the request body is not JSON: {raw[:80]!r}; expected e.g. "
            '{"timeout":"10000","type":"public"}'
        ) from None
    if not isinstance(body, dict):
        raise InvalidParameter(f"the request body must be a JSON object, got {raw[:80]!r}")
    return body


def parse_chips(router: BleRouter, raw: Any, allow_all: bool) -> tuple[int, ...] | None:
    if raw is None or raw == "":
        return None
    count = router.central.chip_count
    if allow_all and str(raw).strip().lower() == "all":
        return tuple(range(count))
    accepted = ("0" if count == 1 else f"0 to {count - 1}") + (" or all" if allow_all else "")
    return (parse_int("chip", raw, 0, count - 1, accepted),)
