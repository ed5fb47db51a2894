"""One Bluetooth chip of the router: a :class:`~sim.radio.RadioController` on the radio and a
Bumble host + ``Device`` above it, with a lean path for advertising reports.

Why a lean path: with 1,000 advertisers the router's host handles tens of thousands of
advertising reports per simulated minute. Bumble's generic path costs, per report: building
and serialising an ``HCI_LE_Advertising_Report_Event`` object in the controller, parsing it
back in the host, formatting the whole packet into a debug string that nobody reads
(``logger.debug(f"... {packet}")`` is evaluated eagerly), and building an ``Advertisement``
(with full AD parsing) in the ``Device``. Here the chip's controller writes the very same HCI
event bytes directly, the host recognises a one-report LE Advertising Report by its header
and hands ``(evtType, address type, address, data, rssi)`` straight to the router, and the
``Device``'s advertisement accumulator is unhooked. Every other packet takes Bumble's normal
path (minus the eager debug strings). A snooper set on the host still sees every packet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bumble import hci
from bumble.device import Device
from bumble.snoop import Snooper

from devices.ble.host import QuietHost
from sim.radio import Radio, RadioController

if TYPE_CHECKING:
    from sim.radio import Position

# (chip id, evtType, address type (0 public, 1 random), address bytes LSB first, data, rssi)
AdvSink = Callable[[int, int, int, bytes, bytes, int], None]

_HCI_EVENT = 0x04
_LE_META = 0x3E
_LE_ADVERTISING_REPORT = 0x02


def advertising_report_bytes(
    event_type: int, address_type: int, address: bytes, data: bytes, rssi: int
) -> bytes:
    """The HCI LE Advertising Report event (one report) exactly as Bumble serialises it."""
    body = (
        bytes((_LE_ADVERTISING_REPORT, 1, event_type, address_type))
        + address
        + bytes((len(data),))
        + data
        + bytes((rssi & 0xFF,))
    )
    return bytes((_HCI_EVENT, _LE_META, len(body))) + body


class ChipController(RadioController):
    """The chip's link layer: a RadioController that emits advertising reports cheaply."""

    def _report(self, event_type: int, address: hci.Address, data: bytes, rssi: int) -> None:
        host = self.host
        if host is not None:
            packet = advertising_report_bytes(
                event_type, int(address.address_type), address.address_bytes, data, rssi
            )
            asyncio.get_running_loop().call_soon(host.on_packet, packet)


class RouterHost(QuietHost):
    """A Bumble host with a direct path for single advertising reports."""

    adv_sink: Callable[[int, int, bytes, bytes, int], None] | None = None

    def on_packet(self, packet: bytes) -> None:
        sink = self.adv_sink
        # 04 3E len | 02 (subevent) 01 (one report) | evtType addrType addr[6] len data rssi
        if (
            sink is not None
            and len(packet) >= 15
            and packet[0] == _HCI_EVENT
            and packet[1] == _LE_META
            and packet[3] == _LE_ADVERTISING_REPORT
            and packet[4] == 1
            and self.ready
        ):
            data_len = packet[13]
            if len(packet) == 15 + data_len:
                if self.snooper:
                    self.snooper.snoop(packet, Snooper.Direction.CONTROLLER_TO_HOST)
                rssi = packet[14 + data_len]
                sink(
                    packet[5],
                    packet[6],
                    packet[7:13],
                    packet[14 : 14 + data_len],
                    rssi - 256 if rssi > 127 else rssi,
                )
                return
        super().on_packet(packet)


def chip_address(router_mac: str, index: int) -> str:
    """Chip ``index``'s public address: the router's MAC with last byte 0x1E + index."""
    return f"{router_mac[:-2]}{0x1E + index:02X}"


class Chip:
    """One chip: controller, host, Device, and what the router asked of it."""

    def __init__(
        self,
        index: int,
        router_name: str,
        router_mac: str,
        radio: Radio,
        position: Position,
        adv_sink: AdvSink,
    ) -> None:
        self.index = index
        self.address = chip_address(router_mac, index)
        self.radio = radio
        self.controller = ChipController(
            f"{router_name}/chip{index}", radio, position, public_address=self.address
        )
        self.host = RouterHost(controller_source=self.controller, controller_sink=self.controller)
        # A static random address of its own (unused: the router connects with its public one).
        raw = bytes.fromhex(self.address.replace(":", ""))
        random_address = hci.Address(
            ":".join(f"{b:02X}" for b in bytes((raw[0] | 0xC0,)) + raw[1:])
        )
        self.device = Device(
            name=f"{router_name}-chip{index}", address=random_address, host=self.host
        )
        self.host.remove_listener("advertising_report", self.device.on_advertising_report)
        self.host.on("advertising_report", self._on_bumble_report)
        self._adv_sink = adv_sink
        self.host.adv_sink = self._on_fast_report
        self.scanning = False
        self.scan_active = False
        self.powered = False
        self.connections = 0  # established links on this chip
        self.connecting = False

    def _on_fast_report(
        self, evt_type: int, addr_type: int, addr: bytes, data: bytes, rssi: int
    ) -> None:
        self._adv_sink(self.index, evt_type, addr_type, addr, data, rssi)

    def _on_bumble_report(self, report: Any) -> None:
        # Multi-report events (not produced by the simulated radio) come this way.
        address = report.address
        self._adv_sink(
            self.index,
            int(report.event_type),
            0 if address.is_public else 1,
            address.address_bytes,
            bytes(report.data),
            int(report.rssi),
        )

    async def power_on(self) -> None:
        await self.device.power_on()
        self.powered = True

    async def set_scanning(self, enabled: bool, active: bool) -> None:
        """Bring the chip's scanning to (enabled, active); restart to change the scan type."""
        if self.scanning and (not enabled or active != self.scan_active):
            await self.device.stop_scanning()
            self.scanning = False
        if enabled and not self.scanning:
            await self.device.start_scanning(
                active=active,
                filter_duplicates=False,
                scan_interval=60,
                scan_window=30,
                own_address_type=hci.OwnAddressType.PUBLIC,
            )
            self.scanning = True
            self.scan_active = active
