"""The names of the events the router's BLE side emits (Bumble ``EventEmitter`` events), with
their arguments. The API subscribes to them to feed its SSE streams (:mod:`.event_streams`).

:class:`~.central.Central`:

* ``connection_state`` ``(mac, state, chip)`` — ``connected``, ``disconnected`` or (from batch
  connect) ``connect timeout``.
* ``notification`` ``(mac, handle, value, data_type)`` — a Handle Value Notification or
  Indication; ``data_type`` is ``notification`` or ``indication``.
* ``pairing`` ``(mac, status)`` — a pairing ended (status 0 failed, 1 successful, 2 aborted).
* ``stopped`` ``()`` — the chips powered off or the central shut down: every subscription
  ends.

:class:`~.central.ScanSubscription`: ``scan_report`` ``(ScanReport)`` for each report that
passes its filters.

:class:`~.rssi_monitor.RssiMonitor`: ``rssi`` ``(mac, rssi)`` for each reading it reports.
"""

from __future__ import annotations

CONNECTION_STATE = "connection_state"
NOTIFICATION = "notification"
PAIRING = "pairing"
STOPPED = "stopped"
SCAN_REPORT = "scan_report"
RSSI = "rssi"
