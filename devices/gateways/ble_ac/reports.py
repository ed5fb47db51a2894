"""The JSON shapes of the controller's answers and stream messages, as the seed's examples show
them (key order follows the examples).

Readings where the examples are odd:

* The combined stream's scan example names the address ``"bdad"`` in ``bdaddrs`` and the PDU
  type ``"evt_type"``; every other scan report of the seed says ``"bdaddr"``. We send the
  router's ``bdaddrs`` entries with both ``bdaddr`` and ``bdad``, and ``evt_type``.
* The ``state`` example lists a connected device beside the routers, under the device's own
  MAC; we list each router's connected devices in its own entry, under ``devices``.
* ``ap_state`` carries ``offline_time`` (milliseconds, as its example) when a router goes
  offline and ``online_time`` (milliseconds) when it comes online.
"""

from __future__ import annotations

import json
from typing import Any

from devices.gateways.ble_ac.registry import HubRecord

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def hub(record: HubRecord, now: float) -> dict[str, Any]:
    """``GET /api/cassia/hubs[/<mac>]``: the online or the offline form."""
    online = record.online
    body: dict[str, Any] = {
        "_id": record.record_id,
        "id": record.mac,
        "mac": record.mac,
        "name": record.name,
        "group": record.group,
        "status": record.status,
        "model": record.model,
        "version": record.version,
        "position": record.position,
        "time": record.registered_ms,
        "ip": record.ip,
        "localip": record.localip,
        "uptime": record.uptime(now),
        "offline_time": record.offline_time,
        "online_time": record.online_time,
        "update_status": "update_ok",
        "update_reason": "",
        "update_version": record.version if online else "",
        "update_progress": 100 if online else 0,
    }
    if online:
        body["groupcolor"] = "undefined"
    return body


def hub_status(record: HubRecord, now: float, user: str) -> str:
    """One ``hubStatus`` stream message."""
    if not record.online:
        return _dumps({"mac": record.mac, "status": "offline"})
    return _dumps(
        {
            "model": record.model,
            "ip": record.ip,
            "mac": record.mac,
            "version": record.version,
            "uptime": record.uptime(now),
            "user": user,
            "localip": record.localip,
            "whitelist": True,
            "status": "online",
        }
    )


def ap_state(record: HubRecord, at_ms: int) -> str:
    body: dict[str, Any] = {
        "dataType": "ap_state",
        "ap": record.mac,
        "mac": record.mac,
        "status": record.status,
    }
    body["online_time" if record.online else "offline_time"] = at_ms
    return _dumps(body)


def state(
    records: list[HubRecord], now: float, notify: set[str], connection_state: set[str]
) -> str:
    """The first message of the combined stream: every router, its flags and devices."""
    aps = {}
    for record in records:
        entry = hub(record, now)
        entry["notify"] = record.mac in notify
        entry["connectionstate"] = record.mac in connection_state
        entry["devices"] = {mac: dict(node) for mac, node in sorted(record.devices.items())}
        aps[record.mac] = entry
    return _dumps({"dataType": "state", "aps": aps})


def combined_scan(ap: str, report: dict[str, Any]) -> str:
    """A router's scan report as a combined ``scan`` message."""
    out: dict[str, Any] = {"dataType": "scan", "ap": ap}
    bdaddrs = report.get("bdaddrs")
    if isinstance(bdaddrs, list):
        out["bdaddrs"] = [
            {"bdaddr": b.get("bdaddr"), "bdad": b.get("bdaddr"), "bdaddrType": b.get("bdaddrType")}
            if isinstance(b, dict)
            else b
            for b in bdaddrs
        ]
    for key, value in report.items():
        if key == "evtType":
            out["evt_type"] = value
        elif key != "bdaddrs":
            out[key] = value
    return _dumps(out)


def combined_notification(ap: str, event: dict[str, Any], with_ap: bool = True) -> str:
    out: dict[str, Any] = {
        "dataType": "notification",
        "ap": ap,
        "value": event.get("value"),
        "device": event.get("id"),
        "handle": event.get("handle"),
    }
    kind = event.get("dataType")
    if kind not in (None, "notification"):
        out["type"] = kind  # an indication
    if not with_ap:
        del out["ap"]
    return _dumps(out)


def combined_connection_state(ap: str, device: str, state_: str) -> str:
    return _dumps(
        {"handle": device, "connectionState": state_, "dataType": "connection_state", "ap": ap}
    )


def dumps(value: Any) -> str:
    return _dumps(value)
