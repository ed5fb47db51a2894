"""The feeds of the router's SSE streams: each listens to domain events (:mod:`.events`) and
pushes the seed's JSON lines (:mod:`.reports`) into its stream's outbox. The stream lifecycle
around them is :func:`.sse.serve_stream`.

* :class:`ScanFeed` — a :class:`~.central.ScanSubscription`'s ``scan_report`` events, with the
  stream's presentation options (``timestamp``, ``chipId`` for ``chip=all``, ``beacon``).
* :class:`NotificationFeed` — the central's ``notification`` events, numbered per
  ``sequence`` (0 none, 1 per stream, 2 per device).
* :class:`ConnectionStateFeed` — the central's ``connection_state`` events.
* :class:`RssiFeed` — an :class:`~.rssi_monitor.RssiMonitor`'s ``rssi`` events.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from devices.deviations import NO_DEVIATIONS, Deviations
from devices.gateways.ble_router import reports
from devices.gateways.ble_router.beacons import parse_beacon
from devices.gateways.ble_router.events import CONNECTION_STATE, NOTIFICATION, RSSI, SCAN_REPORT
from devices.gateways.ble_router.rssi_monitor import RssiMonitor

# deviation scan-stream-stalls: reports stop this long after the stream opened
STALL_AFTER_S = 5.0

if TYPE_CHECKING:
    from devices.gateways.ble_router.central import Central, ScanReport, ScanSubscription
    from devices.gateways.ble_router.sse import SseOutbox
    from sim.world import World


class ScanFeed:
    outbox: SseOutbox

    def __init__(
        self,
        central: Central,
        subscription: ScanSubscription,
        *,
        with_timestamp: bool = False,
        report_chip: bool = False,
        with_beacon: bool = False,
        deviations: Deviations = NO_DEVIATIONS,
    ) -> None:
        self.central = central
        self.subscription = subscription
        self.deviations = deviations
        self.with_timestamp = with_timestamp
        self.report_chip = report_chip
        self.with_beacon = with_beacon
        self._epoch = central.world.epoch
        self.opened_at = central.world.now

    async def start(self, outbox: SseOutbox) -> None:
        self.outbox = outbox
        self.opened_at = self.central.world.now
        self.subscription.on(SCAN_REPORT, self._on_report)
        await self.central.subscribe_scan(self.subscription)

    def _on_report(self, r: ScanReport) -> None:
        name, data = r.name, r.data
        deviations = self.deviations
        if deviations:
            if deviations.active("scan-stream-stalls") and r.at - self.opened_at > STALL_AFTER_S:
                return
            if deviations.active("scan-name-missing"):
                name = None
            if deviations.active("scan-addata-truncated"):
                data = data[:-1]
        self.outbox.push(
            reports.scan_report(
                name,
                r.evt_type,
                r.rssi,
                data,
                r.mac,
                r.addr_type,
                reports.timestamp(self._epoch + dt.timedelta(seconds=r.at))
                if self.with_timestamp
                else None,
                r.chip if self.report_chip else None,
                parse_beacon(r.data) if self.with_beacon else None,
            )
        )

    def stop(self) -> dict[str, Any]:
        self.central.unsubscribe_scan(self.subscription)
        self.subscription.remove_listener(SCAN_REPORT, self._on_report)
        return {"matched": self.subscription.matched, "dropped": self.outbox.dropped}


class NotificationFeed:
    outbox: SseOutbox

    def __init__(
        self, central: Central, world: World, sequence: int = 0, with_timestamp: bool = False
    ) -> None:
        self.central = central
        self.world = world
        self.sequence = sequence
        self.with_timestamp = with_timestamp
        self._count = 0
        self._per_device: dict[str, int] = {}

    async def start(self, outbox: SseOutbox) -> None:
        self.outbox = outbox
        self.central.on(NOTIFICATION, self._on_notification)

    def _on_notification(self, mac: str, handle: int, value: bytes, data_type: str) -> None:
        seq: int | None = None
        if self.sequence == 1:
            self._count += 1
            seq = self._count
        elif self.sequence == 2:
            seq = self._per_device.get(mac, 0) + 1
            self._per_device[mac] = seq
        stamp = reports.timestamp(self.world.datetime()) if self.with_timestamp else None
        self.outbox.push(reports.notification(value, mac, handle, data_type, seq, stamp))

    def stop(self) -> dict[str, Any]:
        self.central.remove_listener(NOTIFICATION, self._on_notification)
        return {}


class ConnectionStateFeed:
    outbox: SseOutbox

    def __init__(self, central: Central, deviations: Deviations = NO_DEVIATIONS) -> None:
        self.central = central
        self.deviations = deviations

    async def start(self, outbox: SseOutbox) -> None:
        self.outbox = outbox
        self.central.on(CONNECTION_STATE, self._on_state)

    def _on_state(self, mac: str, state: str, chip: int) -> None:
        line = reports.connection_state(mac, state, chip)
        if self.deviations.active("connection-state-field-wrong"):
            line = line.replace('"handle"', '"id"', 1)
        self.outbox.push(line)

    def stop(self) -> dict[str, Any]:
        self.central.remove_listener(CONNECTION_STATE, self._on_state)
        return {}


class RssiFeed:
    outbox: SseOutbox

    def __init__(self, monitor: RssiMonitor) -> None:
        self.monitor = monitor

    async def start(self, outbox: SseOutbox) -> None:
        self.outbox = outbox
        self.monitor.on(RSSI, self._on_rssi)
        self.monitor.start()

    def _on_rssi(self, mac: str, rssi: int) -> None:
        self.outbox.push(reports.rssi_report(mac, rssi))

    def stop(self) -> dict[str, Any]:
        self.monitor.stop()
        self.monitor.remove_listener(RSSI, self._on_rssi)
        return {}
