"""What the measurement series scenarios record mean, and which requirements they measure.

Steps add series to their scenario record (`record["measurements"][name] = [numbers]`); a name
may carry a parameter in brackets (`rssi_dbm[HR-1]`) or a suffix (`status_changes_gw-a`). Times
are on the run's clock: simulated seconds in virtual mode, wall seconds in real mode.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from conformance.verdicts import record_requirements

# base name (before any `[...]`) -> what one value is
_EXPLAINED: dict[str, str] = {
    "http_response_ms": "time from sending an HTTP request to the router until its status line "
    "arrived, one value per request of the scenario (event streams excluded), in ms",
    "request_s": "duration of the HTTP request a step timed (e.g. a connect attempt that must "
    "give up), in s",
    "connection_state_wait_s": "time until the connection-state stream reported the state in "
    "brackets, in s",
    "notification_wait_s": "time until the expected notifications arrived on the notification "
    "stream, in s",
    "notify_latency_ms": "per notification, time from the peripheral sending it to its event on "
    "the router's notification stream, in ms",
    "reboot_downtime_s": "time from the reboot request until the router answered "
    "GET /cassia/info with 200 again, in s",
    "connect_timeout_s": "time from the batch request until the connection-state stream reported "
    "'connect timeout' for the device, in s",
    "scan_reports": "scan reports of the device in brackets during the step's window, a count",
    "crowd_scan_reports": "reports each filtered scan stream delivered among the crowd of "
    "advertisers, a count per stream",
    "rssi_dbm": "RSSI the scan stream reported for the device in brackets, one value per report, "
    "in dBm",
    "rssi_reports": "reports of one device on the RSSI stream during the step's window, a count",
    "adv_heard": "advertising PDUs of the router a scanner heard during the step's window, a count",
    "reconnect_s": "per terminal, time from the device gateway's restart until its status stream "
    "showed TCP_CONNECTED again, in s",
    "reconnect_max_s": "the slowest terminal's reconnect_s, in s",
    "status_changes": "status changes of the gateway's terminals the tenant's SubscribeStatus "
    "stream delivered, a count",
    "dead_link_detect_s": "time from a terminal's cable being pulled until the status stream "
    "showed it DISCONNECTED, in s",
}
# names whose suffix after `_` names a thing (a gateway): `status_changes_gw-a`
_PREFIXED = ("status_changes_",)


def base_name(name: str) -> str:
    """`rssi_dbm[HR-1]` -> `rssi_dbm`; `status_changes_gw-a` -> `status_changes`."""
    base = name.split("[", 1)[0]
    for prefix in _PREFIXED:
        if base.startswith(prefix):
            return prefix.rstrip("_")
    return base


def explain(name: str) -> str | None:
    """What one value of the series means, or None for a series nobody described."""
    return _EXPLAINED.get(base_name(name))


def measured_requirements(records: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Series name -> the sorted requirement IDs of the scenarios that recorded it."""
    found: dict[str, set[str]] = {}
    for record in records:
        measurements = record.get("measurements")
        if not isinstance(measurements, Mapping):
            continue
        ids = record_requirements(record)
        for name in measurements:
            found.setdefault(str(name), set()).update(ids)
    return {name: sorted(ids) for name, ids in found.items()}
