"""The JSON shapes of the router's answers and events, as the seed's examples show them.

Key order follows the seed's examples (clients should not care, people reading traces do).
One deliberate reading: the seed's descriptor lists (the all-at-once discovery example) start
with the characteristic's value attribute itself (``{"handle": 3, "uuid": "...2a00..."}``),
which is what an ATT Find Information from the value handle returns; we do the same. The
per-characteristic descriptor API's example also carries ``properties`` on that first entry,
so that API adds it there.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from devices.gateways.ble_router.gatt import GattCharacteristic, GattDatabase, GattService

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def timestamp(when: dt.datetime) -> str:
    """``2021-03-08 10:07:17.723 UTC`` (the seed's format; the router keeps UTC)."""
    return f"{when:%Y-%m-%d %H:%M:%S}.{when.microsecond // 1000:03d} UTC"


# -- scanning -----------------------------------------------------------------------------------
def scan_report(
    name: str | None,
    evt_type: int,
    rssi: int,
    data: bytes,
    mac: str,
    addr_type: str,
    stamp: str | None = None,
    chip: int | None = None,
    beacon: dict | None = None,
) -> str:
    """One scan SSE event's JSON: adData, or scanData for a scan response (evtType 4)."""
    report: dict[str, Any] = {"name": name if name is not None else "(unknown)"}
    if beacon is not None:
        report["beacon"] = beacon
    if stamp is not None:
        report["timestamp"] = stamp
    report["evtType"] = evt_type
    report["rssi"] = rssi
    report["scanData" if evt_type == 4 else "adData"] = data.hex().upper()
    report["bdaddrs"] = [{"bdaddr": mac, "bdaddrType": addr_type}]
    if chip is not None:
        report["chipId"] = chip
    return _dumps(report)


# -- connections --------------------------------------------------------------------------------
def connected_node(mac: str, addr_type: str, chip: int, name: str, paired: bool) -> dict:
    return {
        "type": addr_type,
        "bdaddrs": {"bdaddr": mac, "bdaddrType": addr_type},
        "chipId": chip,
        "handle": "",
        "name": name,
        "connectionState": "connected",
        "id": mac,
        "pairStatus": "paired" if paired else "none",
    }


def connection_state(mac: str, state: str, chip: int) -> str:
    return _dumps({"handle": mac, "connectionState": state, "chipId": chip})


def rssi_report(mac: str, rssi: int) -> str:
    """One RSSI stream event."""
    return _dumps({"id": mac, "rssi": rssi})


# -- pairing ------------------------------------------------------------------------------------
def pairing_answer(status: int, status_name: str, display: str | None) -> dict[str, Any]:
    """A pairing step's answer: ``{pairingStatusCode, pairingStatus[, display]}``."""
    body: dict[str, Any] = {"pairingStatusCode": status, "pairingStatus": status_name}
    if display is not None:
        body["display"] = display
    return body


# -- notifications ------------------------------------------------------------------------------
def notification(
    value: bytes,
    mac: str,
    handle: int,
    data_type: str,
    seq: int | None = None,
    stamp: str | None = None,
) -> str:
    event: dict[str, Any] = {}
    if seq is not None:
        event["seqNum"] = seq
    event["value"] = value.hex().upper()
    event["id"] = mac
    if stamp is not None:
        event["timestamp"] = stamp
    event["handle"] = handle
    event["dataType"] = data_type
    return _dumps(event)


# -- GATT ---------------------------------------------------------------------------------------
def service_json(s: GattService) -> dict:
    return {"uuid": s.uuid, "primary": s.primary, "handle": s.handle}


def characteristic_json(c: GattCharacteristic) -> dict:
    return {"handle": c.handle, "properties": c.properties, "uuid": c.uuid}


def descriptors_json(c: GattCharacteristic, with_properties: bool = False) -> list[dict]:
    first: dict[str, Any] = {"handle": c.handle}
    if with_properties:
        first["properties"] = c.properties
    first["uuid"] = c.uuid
    return [first] + [{"handle": h, "uuid": u} for h, u in c.descriptors]


def database_json(db: GattDatabase) -> list[dict]:
    return [
        {
            "uuid": s.uuid,
            "primary": s.primary,
            "characteristics": [
                {
                    "descriptors": descriptors_json(c),
                    "handle": c.handle,
                    "properties": c.properties,
                    "uuid": c.uuid,
                }
                for c in s.characteristics
            ],
            "handle": s.handle,
        }
        for s in db.services
    ]


# -- the router itself --------------------------------------------------------------------------
def cassia_info(
    *,
    mac: str,
    model: str,
    version: str,
    uptime_s: float,
    now: dt.datetime,
    chips: list[dict],
    conn_params: dict,
    ip: str,
    ble_power: int,
    scan: dict,
) -> dict:
    """``GET /cassia/info`` — the fields of the seed's example that mean something here."""
    mac_bytes = bytes.fromhex(mac.replace(":", ""))
    wlan_mac = ":".join(f"{b:02X}" for b in mac_bytes[:5] + bytes([(mac_bytes[5] + 1) & 0xFF]))
    return {
        "mac": mac,
        "model": model,
        "version": version,
        "uptime": int(uptime_s),
        "name": "CassiaRouter",
        "capwap-uplinkmac": mac,
        "capwapuplink": "wired",
        "capwap-state": "0",
        "cpu": {"used": 120, "total": 2184},
        "mem": {"used": 103508, "total": 225716},
        "timeconf": {
            "now": f"{now:%Y-%m-%d %H:%M:%S}",
            "ntp1": "time.nist.gov",
            "ntp2": "stdtime.gov.hk",
            "auto": True,
        },
        "timezone": "UTC",
        "chipinfo": {str(c["id"]): c for c in chips},
        "conn_params": conn_params,
        "mqtt_stat": {"e": [0] * 16, "d": 0, "s": 0, "f": 0},
        "sqs_stat": {"e": [0] * 6, "d": 0, "s": 0, "f": 0},
        "wired": {
            "duplex": "full",
            "proto": "static",
            "speed": {"rx": 0, "tx": 0},
            "iface": {
                "mac": mac,
                "mtu": "1500",
                "netmask": "255.255.255.0",
                "ip": ip,
                "name": "eth0",
                "metric": "1",
            },
            "trans_speed": "100",
        },
        "wireless": {
            "proto": "static",
            "mode": "ap",
            "ssid": f"cassia-{mac[-8:].replace(':', '')}",
            "country": "US",
            "iface": {"mac": wlan_mac, "mtu": "1500", "name": "wlan0"},
        },
        "ac": {
            "address": "",
            "port": "5246,5247",
            "control_port": "5246",
            "data_port": "5247",
            "user": "",
            "force_network": "1",
        },
        "sshlogin": "1",
        "ble_power": ble_power,
        "fat": "0",
        "https": "0",
        "scan": scan,
        "chip-params": "1",
    }


def container_info(uptime_s: float) -> dict:
    """``GET /cassia/info?fields=container`` — the container section (no container runs)."""
    return {
        "container": {
            "status": "stopped",
            "status_code": 0,
            "disk": {"used": "0G", "total": "2.3G"},
            "kernel": "",
            "iface": {"mac": "", "mtu": "1500", "name": "", "metric": "0", "tx": "0", "rx": "0"},
            "cpu": {"used": 0, "total": 2204},
            "mem": {"used": 0, "total": 134217728},
            "speed": {"rx": 0, "tx": 0},
            "process": "",
            "apps": {},
            "uptime": int(uptime_s),
        }
    }
