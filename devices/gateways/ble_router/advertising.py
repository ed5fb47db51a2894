"""The router as an advertiser: one of its chips' Bumble ``Device`` advertises on the simulated
radio, so every scanner in the world (peripheral hosts, other routers, the router's other chip)
hears it. The HTTP side (``/advertise/start``, ``/advertise/stop``) is :mod:`.advertise_api`.

``ad_type`` numbers are the seed's: 0 ADV_IND, 1 ADV_DIRECT_IND, 2 ADV_SCAN_IND,
3 ADV_NONCONN_IND, 4 SCAN_RSP. A scan response is not an advertising event of its own: type 4
advertises scannable (ADV_SCAN_IND) so that scanners that ask get the scan response data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bumble import hci
from bumble.device import AdvertisingType

from devices.gateways.ble_router.errors import ChipOff, ProcedureFailed

if TYPE_CHECKING:
    from devices.gateways.ble_router.central import Central
    from devices.gateways.ble_router.chip import Chip

LEGACY_ADV_BYTES = 31
AD_TYPES = {
    0: ("ADV_IND", AdvertisingType.UNDIRECTED_CONNECTABLE_SCANNABLE),
    1: ("ADV_DIRECT_IND", AdvertisingType.DIRECTED_CONNECTABLE_LOW_DUTY),
    2: ("ADV_SCAN_IND", AdvertisingType.UNDIRECTED_SCANNABLE),
    3: ("ADV_NONCONN_IND", AdvertisingType.UNDIRECTED),
    4: ("SCAN_RSP", AdvertisingType.UNDIRECTED_SCANNABLE),
}
SCANNABLE_AD_TYPES = (0, 2, 4)


@dataclass(frozen=True)
class Advertisement:
    """What to advertise: the seed's ``ad_type``, the interval, the packets (legacy: at most
    31 bytes each) and, for directed advertising, the peer it is directed to."""

    ad_type: int
    interval_ms: int
    ad_data: bytes
    resp_data: bytes = b""
    target: hci.Address | None = None


def advertising_chip(central: Central, index: int) -> Chip:
    """Chip ``index`` if it is powered on."""
    if index >= len(central.chips) or not central.chips[index].powered:
        raise ChipOff(f"chip {index} is not powered on; the router cannot advertise yet")
    return central.chips[index]


async def start_advertising(central: Central, index: int, adv: Advertisement) -> None:
    """Advertise ``adv`` on chip ``index``, replacing what it advertised."""
    chip = advertising_chip(central, index)
    device = chip.device
    try:
        if device.is_advertising:
            await device.stop_advertising()
        await device.start_advertising(
            advertising_type=AD_TYPES[adv.ad_type][1],
            target=adv.target,
            own_address_type=hci.OwnAddressType.PUBLIC,
            auto_restart=False,
            advertising_data=adv.ad_data,
            scan_response_data=adv.resp_data,
            advertising_interval_min=adv.interval_ms,
            advertising_interval_max=adv.interval_ms,
        )
    except Exception as exc:  # the controller refused: say so, keep serving
        raise ProcedureFailed(f"chip {chip.index} could not start advertising: {exc}") from None
    central.world.trace.emit(
        central.name,
        "hci",
        "advertise-start",
        chip=chip.index,
        ad_type=AD_TYPES[adv.ad_type][0],
        interval_ms=adv.interval_ms,
        ad_data=adv.ad_data,
        resp_data=adv.resp_data,
    )


async def stop_advertising(central: Central, index: int) -> None:
    """Stop chip ``index``'s advertising (nothing to do when it does not advertise)."""
    chip = advertising_chip(central, index)
    if chip.device.is_advertising:
        try:
            await chip.device.stop_advertising()
        except Exception as exc:
            raise ProcedureFailed(f"chip {chip.index} could not stop advertising: {exc}") from None
        central.world.trace.emit(central.name, "hci", "advertise-stop", chip=chip.index)
