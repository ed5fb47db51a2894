"""A BLE observer node: a Bumble host scanning on the simulated radio and keeping what it hears.

It is any other scanner in the world (a phone, another gateway): it proves that what a node
advertises really crosses the air. It keeps the host's raw LE Advertising Reports (one per
PDU, with its evtType) rather than Bumble's ``Device`` advertisements, which merge an active
scan's advertising PDU with its scan response.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bumble import hci
from bumble.device import Device

from devices.ble.host import new_device
from sim.radio import RadioController

if TYPE_CHECKING:
    from sim.radio import Radio
    from sim.world import World


@dataclass(frozen=True)
class Heard:
    """One advertising report as the observer's host parsed it."""

    t: float
    address: str  # AA:BB:CC:DD:EE:FF, no type suffix
    evt_type: int  # 0 ADV_IND .. 3 ADV_NONCONN_IND, 4 SCAN_RSP
    data: bytes
    rssi: int

    @property
    def scan_response(self) -> bool:
        return self.evt_type == 4

    @property
    def connectable(self) -> bool:
        return self.evt_type in (0, 1)

    @property
    def scannable(self) -> bool:
        return self.evt_type in (0, 2)

    @property
    def directed(self) -> bool:
        return self.evt_type == 1


@dataclass
class BleObserver:
    """Create, ``await start()``, read ``heard`` (or ``from_address``), ``await stop()``."""

    world: World
    radio: Radio
    name: str = "observer"
    position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    address: str = "C0:0B:5E:00:00:01"  # random static
    heard: list[Heard] = field(default_factory=list)
    device: Device | None = None

    async def start(self, active: bool = True) -> None:
        controller = RadioController(self.name, self.radio, self.position)
        device = new_device(self.name, hci.Address(self.address), controller, controller)
        device.host.on("advertising_report", self._on_report)
        await device.power_on()
        await device.start_scanning(active=active, filter_duplicates=False)
        self.device = device
        self.world.trace.emit(self.name, "hci", "observer-scanning", active=active)

    def _on_report(self, report: Any) -> None:
        self.heard.append(
            Heard(
                self.world.now,
                report.address.to_string(False),
                int(report.event_type),
                bytes(report.data),
                int(report.rssi),
            )
        )

    def from_address(self, address: str, since: float = 0.0) -> list[Heard]:
        wanted = address.upper()
        return [h for h in self.heard if h.address.upper() == wanted and h.t >= since]

    async def stop(self) -> None:
        if self.device is not None and self.device.is_scanning:
            await self.device.stop_scanning()
