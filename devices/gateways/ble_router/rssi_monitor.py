"""Periodic RSSI readings of the router's connections (what the RSSI stream reports).

Every ``interval_s`` the monitor reads the RSSI of each connection (``HCI_Read_RSSI`` on its
chip) and emits ``rssi`` ``(mac, rssi)`` for readings *lower than* ``threshold``, of the
devices ``macs`` matches (every device when None). A reading the controller marks unavailable
(127: the peer is out of reach but the link is not yet timed out) is not reported; a link that
drops between listing and reading (:class:`~.errors.NotConnected`,
:class:`~.errors.ProcedureFailed`) is skipped.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from bumble.utils import EventEmitter

from devices.gateways.ble_router.errors import NotConnected, ProcedureFailed
from devices.gateways.ble_router.events import RSSI

if TYPE_CHECKING:
    from devices.gateways.ble_router.central import Central
    from devices.gateways.ble_router.scan_filter import ScanFilter

RSSI_UNAVAILABLE = 127


class RssiMonitor(EventEmitter):
    """Reads every connection's RSSI each ``interval_s`` while started."""

    def __init__(
        self, central: Central, threshold: int, interval_s: float, macs: ScanFilter | None
    ) -> None:
        super().__init__()
        self.central = central
        self.threshold = threshold
        self.interval_s = interval_s
        self.macs = macs
        self._task: asyncio.Task[Any] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = self.central.world.spawn(
                self._sample(), name=f"{self.central.name}/rssi-monitor"
            )

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _sample(self) -> None:
        central, macs = self.central, self.macs
        while True:
            await asyncio.sleep(self.interval_s)
            for mac in list(central.links):
                if macs is not None and not macs.match_mac(mac):
                    continue
                try:
                    rssi = await central.rssi(mac)
                except (NotConnected, ProcedureFailed):
                    continue  # the link went away meanwhile
                if rssi != RSSI_UNAVAILABLE and rssi < self.threshold:
                    self.emit(RSSI, mac, rssi)
