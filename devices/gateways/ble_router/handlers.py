"""What every route handler of the router shares: the app key that finds the router, and the
small helpers for answers, node addresses, request bodies and chip choices."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from devices.gateways.ble_router.errors import InvalidParameter
from devices.gateways.ble_router.params import parse_int, parse_mac, shown
from devices.protocols.http_server import JsonBodyError, json_body

if TYPE_CHECKING:
    from devices.gateways.ble_router.router import BleRouter

ROUTER: web.AppKey[BleRouter] = web.AppKey("ble_router")
FORM_TYPE = "application/x-www-form-urlencoded"


def ok() -> web.Response:
    return web.Response(text="OK", content_type="text/plain")


def node(request: web.Request) -> str:
    return parse_mac(request.match_info["node"])


async def body(request: web.Request) -> Any:
    """The request body: a form's fields, a JSON object, or None when there is none."""
    if not request.body_exists:
        return None
    raw = await request.read()
    if not raw.strip():
        return None
    if request.content_type == FORM_TYPE:
        return await form(request)
    try:
        parsed = json_body(raw)
    except JsonBodyError as exc:
        raise InvalidParameter(
            f'{exc}; expected a JSON object such as {{"timeout":"10000","type":"public"}}'
        ) from None
    if not isinstance(parsed, dict):
        raise InvalidParameter(f"the request body must be a JSON object, got {shown(raw[:80])}")
    return parsed


async def form(request: web.Request) -> dict[str, str]:
    """A form body's fields (``application/x-www-form-urlencoded``, UTF-8)."""
    try:
        fields = await request.post()
    except UnicodeDecodeError:
        raise InvalidParameter(
            "the form body is not UTF-8; send the fields URL-encoded as UTF-8 (e.g. passkey=123456)"
        ) from None
    return {k: v for k, v in fields.items() if isinstance(v, str)}


def parse_chips(router: BleRouter, raw: Any, allow_all: bool) -> tuple[int, ...] | None:
    if raw is None or raw == "":
        return None
    count = router.central.chip_count
    if allow_all and str(raw).strip().lower() == "all":
        return tuple(range(count))
    accepted = ("0" if count == 1 else f"0 to {count - 1}") + (" or all" if allow_all else "")
    return (parse_int("chip", raw, 0, count - 1, accepted),)
