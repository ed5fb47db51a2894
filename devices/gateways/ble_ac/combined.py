"""The combined stream's state and fan-in (the seed's SSE Combination API).

What is open is the controller's, not one stream's: ``scan/open`` starts a scan with its
filters on each router named (a ``scan/combined`` stream to that router, see :mod:`.uplinks`),
``scan/close`` stops it; notifications, connection states and router states are open by default
("open (default configuration)") and ``notify``, ``connection-state`` and ``ap-state``
``open``/``close`` switch them per router (router state: for all routers at once). A wish for a
router that is offline holds, and takes effect when it comes back.

Every message for the combined stream is built once and handed to each open combined stream
(:meth:`subscribe`); with no stream open nothing is built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from devices.deviations import NO_DEVIATIONS, Deviations
from devices.gateways.ble_ac import reports
from devices.gateways.ble_ac.deviations import without_rssi_filter
from devices.gateways.ble_ac.events import AP_STATE, CONNECTION_STATE, NOTIFICATION

if TYPE_CHECKING:
    from devices.gateways.ble_ac.registry import HubRecord, Registry
    from devices.gateways.ble_ac.uplinks import Uplinks
    from sim.world import World

COMBINED_SCAN = "combined"
Sink = Callable[[str], None]


class Combined:
    """What the combined stream carries, and to whom."""

    def __init__(
        self,
        world: World,
        registry: Registry,
        uplinks: Uplinks,
        deviations: Deviations = NO_DEVIATIONS,
    ) -> None:
        self.world = world
        self.deviations = deviations
        self.registry = registry
        self.uplinks = uplinks
        self.scans: dict[str, dict[str, str]] = {}  # router -> its combined scan's query
        self.notify_closed: set[str] = set()
        self.state_closed: set[str] = set()
        self.ap_state_open = True
        self._sinks: list[Sink] = []
        self.sent = 0
        uplinks.on_scan(self._on_scan)
        uplinks.on(NOTIFICATION, self._on_notification)
        uplinks.on(CONNECTION_STATE, self._on_connection_state)
        registry.on(AP_STATE, self._on_ap_state)

    # -- streams -----------------------------------------------------------------------------
    def subscribe(self, sink: Sink) -> None:
        self._sinks.append(sink)

    def unsubscribe(self, sink: Sink) -> None:
        if sink in self._sinks:
            self._sinks.remove(sink)

    @property
    def subscribers(self) -> int:
        return len(self._sinks)

    def _send(self, line: str) -> None:
        self.sent += len(self._sinks)
        for sink in self._sinks:
            sink(line)

    def state_line(self) -> str:
        """The ``state`` message a combined stream starts with."""
        records = [self.registry.records[mac] for mac in sorted(self.registry.records)]
        everyone = set(self.registry.records)
        return reports.state(
            records, self.world.now, everyone - self.notify_closed, everyone - self.state_closed
        )

    # -- what clients switch -----------------------------------------------------------------
    def open_scan(self, aps: Iterable[str], query: dict[str, str]) -> None:
        if self.deviations.active("combined-filter-rssi-ignored"):
            query = without_rssi_filter(query)
        for mac in aps:
            self.scans[mac] = dict(query)
            self.uplinks.want_scan(mac, COMBINED_SCAN, query)
        self._trace("combined-scan-open", aps=sorted(aps), params=query)

    def close_scan(self, aps: Iterable[str]) -> None:
        for mac in aps:
            self.scans.pop(mac, None)
            self.uplinks.drop(mac, f"scan/{COMBINED_SCAN}")
        self._trace("combined-scan-close", aps=sorted(aps))

    def set_notify(self, aps: Iterable[str], on: bool) -> None:
        _switch(self.notify_closed, aps, on)
        self._trace("combined-notify", aps=sorted(aps), open=on)

    def set_connection_state(self, aps: Iterable[str], on: bool) -> None:
        _switch(self.state_closed, aps, on)
        self._trace("combined-connection-state", aps=sorted(aps), open=on)

    def set_ap_state(self, on: bool) -> None:
        self.ap_state_open = on
        self._trace("combined-ap-state", open=on)

    # -- what the routers say ----------------------------------------------------------------
    def _on_scan(self, ap: str, report: dict[str, Any], purpose: str) -> None:
        if purpose == COMBINED_SCAN and self._sinks:
            self._send(reports.combined_scan(ap, report))

    def _on_notification(self, ap: str, event: dict[str, Any]) -> None:
        if self._sinks and ap not in self.notify_closed:
            hidden = self.deviations.active("combined-notification-ap-missing")
            self._send(reports.combined_notification(ap, event, with_ap=not hidden))

    def _on_connection_state(self, ap: str, device: str, state: str) -> None:
        if self._sinks and ap not in self.state_closed:
            self._send(reports.combined_connection_state(ap, device, state))

    def _on_ap_state(self, record: HubRecord) -> None:
        if self._sinks and self.ap_state_open:
            at = record.online_at_ms if record.online else record.offline_at_ms
            self._send(reports.ap_state(record, at))

    def _trace(self, event: str, **details: Any) -> None:
        self.world.trace.emit(self.registry.name, "ac", event, **details)


def _switch(closed: set[str], aps: Iterable[str], on: bool) -> None:
    for mac in aps:
        if on:
            closed.discard(mac)
        else:
            closed.add(mac)
