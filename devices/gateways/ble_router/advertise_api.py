"""The advertising routes (seed 002, "Send Advertise Data"): ``GET /advertise/start`` and
``GET /advertise/stop``; the advertising itself is :mod:`.advertising`.

Parameters and readings of the seed where it is silent or contradicts itself:

* ``interval`` 20-10000 ms; the seed calls it mandatory *and* gives a default, so it is
  optional with the default 500.
* ``ad_type`` 0-4 (default 3), the seed's table: 0 ADV_IND, 1 ADV_DIRECT_IND, 2 ADV_SCAN_IND,
  3 ADV_NONCONN_IND, 4 SCAN_RSP. A scan response is not an advertising event of its own: with
  ``ad_type=4`` the router advertises scannable (ADV_SCAN_IND) so that scanners that ask get
  ``resp_data`` as the SCAN_RSP. Directed advertising (1) needs the peer it is directed to;
  the seed names no parameter for it, so ours is ``peer=<MAC>`` (``peer_type`` public|random,
  default public), and ``ad_type=1`` without it is refused.
* ``ad_data`` (mandatory) and ``resp_data`` (the seed says mandatory; an empty scan response is
  accepted when omitted) are hex strings of at most 31 bytes each (legacy advertising). The
  seed's "send resp_data with ad_type=0" holds: resp_data goes out with scannable types only
  (0, 2, 4); given with another type it is refused rather than silently dropped.
* ``chip`` selects the advertising chip (default 0). A new start replaces the running
  advertisement; stop when nothing advertises answers OK too (the state asked for holds).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from bumble import hci

from devices.gateways.ble_router import handlers
from devices.gateways.ble_router.advertising import (
    AD_TYPES,
    LEGACY_ADV_BYTES,
    SCANNABLE_AD_TYPES,
    Advertisement,
    start_advertising,
    stop_advertising,
)
from devices.gateways.ble_router.errors import InvalidParameter
from devices.gateways.ble_router.params import parse_choice, parse_hex, parse_int, parse_mac

if TYPE_CHECKING:
    from devices.gateways.ble_router.router import BleRouter


def _chip(router: BleRouter, raw: str | None) -> int:
    chips = handlers.parse_chips(router, raw, allow_all=False)
    return chips[0] if chips else 0


async def advertise_start(request: web.Request) -> web.Response:
    router = request.app[handlers.ROUTER]
    q = request.query
    interval = parse_int(
        "interval",
        q.get("interval", "500"),
        20,
        10000,
        "an advertising interval in ms from 20 to 10000",
    )
    ad_type = parse_int(
        "ad_type",
        q.get("ad_type", "3"),
        0,
        4,
        "0 ADV_IND, 1 ADV_DIRECT_IND, 2 ADV_SCAN_IND, 3 ADV_NONCONN_IND or 4 SCAN_RSP",
    )
    if "ad_data" not in q:
        raise InvalidParameter(
            "ad_data is missing; expected the advertising packet as hex, e.g. "
            "ad_data=0201060909526F75746572"
        )
    ad_data = parse_hex("ad_data", q["ad_data"], LEGACY_ADV_BYTES) if q["ad_data"] else b""
    resp_data = (
        parse_hex("resp_data", q["resp_data"], LEGACY_ADV_BYTES) if q.get("resp_data") else b""
    )
    if resp_data and ad_type not in SCANNABLE_AD_TYPES:
        raise InvalidParameter(
            f"resp_data is only sent with a scannable ad_type (0, 2 or 4); "
            f"ad_type={ad_type} ({AD_TYPES[ad_type][0]}) sends no scan response"
        )
    target = None
    if ad_type == 1:
        if "peer" not in q:
            raise InvalidParameter(
                "ad_type=1 (ADV_DIRECT_IND) is directed: give peer=<MAC> (and "
                "peer_type=public|random) of the device it is directed to"
            )
        peer_type = parse_choice("peer_type", q.get("peer_type", "public"), ("public", "random"))
        target = hci.Address(
            parse_mac(q["peer"], "peer"),
            hci.Address.PUBLIC_DEVICE_ADDRESS
            if peer_type == "public"
            else hci.Address.RANDOM_DEVICE_ADDRESS,
        )
    adv = Advertisement(ad_type, interval, ad_data, resp_data, target)
    await start_advertising(router.central, _chip(router, q.get("chip")), adv)
    return handlers.ok()


async def advertise_stop(request: web.Request) -> web.Response:
    router = request.app[handlers.ROUTER]
    chip = _chip(router, request.query.get("chip"))
    if not router.deviations.active("advertise-stop-ignored"):
        await stop_advertising(router.central, chip)
    return handlers.ok()


def register(app: web.Application) -> None:
    app.router.add_get("/advertise/start", advertise_start, allow_head=False)
    app.router.add_get("/advertise/stop", advertise_stop, allow_head=False)
