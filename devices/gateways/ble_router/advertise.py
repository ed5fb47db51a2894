"""The router as an advertiser (seed 002, "Send Advertise Data"): ``GET /advertise/start`` and
``GET /advertise/stop``. The chip's Bumble ``Device`` advertises on the simulated radio, so
every scanner in the world (peripheral hosts, other routers, the router's other chip) hears it.

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
from bumble.device import AdvertisingType

from devices.gateways.ble_router import handlers
from devices.gateways.ble_router.errors import bad_request, failed
from devices.gateways.ble_router.params import parse_choice, parse_hex, parse_int, parse_mac

if TYPE_CHECKING:
    from devices.gateways.ble_router.chip import Chip
    from devices.gateways.ble_router.router import BleRouter

LEGACY_ADV_BYTES = 31
AD_TYPES = {
    0: ("ADV_IND", AdvertisingType.UNDIRECTED_CONNECTABLE_SCANNABLE),
    1: ("ADV_DIRECT_IND", AdvertisingType.DIRECTED_CONNECTABLE_LOW_DUTY),
    2: ("ADV_SCAN_IND", AdvertisingType.UNDIRECTED_SCANNABLE),
    3: ("ADV_NONCONN_IND", AdvertisingType.UNDIRECTED),
    4: ("SCAN_RSP", AdvertisingType.UNDIRECTED_SCANNABLE),
}
SCANNABLE_AD_TYPES = (0, 2, 4)


def _chip(router: BleRouter, raw: str | None) -> Chip:
    chips = handlers.parse_chips(router, raw, allow_all=False)
    index = chips[0] if chips else 0
    if index >= len(router.central.chips) or not router.central.chips[index].powered:
        raise failed(f"chip {index} is not powered on; the router cannot advertise yet")
    return router.central.chips[index]


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
        raise bad_request(
            "ad_data is missing; expected the advertising packet as hex, e.g. "
            "ad_data=0201060909526F75746572"
        )
    ad_data = parse_hex("ad_data", q["ad_data"], LEGACY_ADV_BYTES) if q["ad_data"] else b""
    resp_data = (
        parse_hex("resp_data", q["resp_data"], LEGACY_ADV_BYTES) if q.get("resp_data") else b""
    )
    if resp_data and ad_type not in SCANNABLE_AD_TYPES:
        raise bad_request(
            f"resp_data is only sent with a scannable ad_type (0, 2 or 4); "
            f"ad_type={ad_type} ({AD_TYPES[ad_type][0]}) sends no scan response"
        )
    target = None
    if ad_type == 1:
        if "peer" not in q:
            raise bad_request(
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
    chip = _chip(router, q.get("chip"))
    device = chip.device
    try:
        if device.is_advertising:
            await device.stop_advertising()
        await device.start_advertising(
            advertising_type=AD_TYPES[ad_type][1],
            target=target,
            own_address_type=hci.OwnAddressType.PUBLIC,
            auto_restart=False,
            advertising_data=ad_data,
            scan_response_data=resp_data,
            advertising_interval_min=interval,
            advertising_interval_max=interval,
        )
    except Exception as exc:  # the controller refused: say so, keep serving
        raise failed(f"chip {chip.index} could not start advertising: {exc}") from None
    router.trace(
        "hci",
        "advertise-start",
        chip=chip.index,
        ad_type=AD_TYPES[ad_type][0],
        interval_ms=interval,
        ad_data=ad_data,
        resp_data=resp_data,
    )
    return handlers.ok()


async def advertise_stop(request: web.Request) -> web.Response:
    router = request.app[handlers.ROUTER]
    chip = _chip(router, request.query.get("chip"))
    if chip.device.is_advertising:
        try:
            await chip.device.stop_advertising()
        except Exception as exc:
            raise failed(f"chip {chip.index} could not stop advertising: {exc}") from None
        router.trace("hci", "advertise-stop", chip=chip.index)
    return handlers.ok()


def register(app: web.Application) -> None:
    app.router.add_get("/advertise/start", advertise_start)
    app.router.add_get("/advertise/stop", advertise_stop)
