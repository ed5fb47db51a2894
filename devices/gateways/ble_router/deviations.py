"""The ways the reference BLE router can be told to misbehave (:mod:`devices.deviations`).

``BleRouter(..., deviations=["dead-link-slow"])`` (or ``hil serve ble-router --deviate NAME``,
or a SUT declaration's ``deviations:``) turns them on; each hook is a small branch at the
place of the behaviour it bends. ``conformance/deviations/ble-router.yaml`` names, for each,
its kind and the requirements whose scenarios must catch it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from devices.deviations import Deviations
from devices.gateways.ble_router.scan_filter import ScanFilter

SYSTEM = "ble-router"

DEVIATIONS: dict[str, str] = {
    # -- scanning -------------------------------------------------------------------------------
    "scan-address-type-wrong": "scan reports call every advertiser's address public",
    "scan-rssi-offset": "the RSSI of every advertising report reads 20 dB too strong",
    "scan-name-missing": 'scan reports name every device "(unknown)"',
    "scan-addata-truncated": "adData / scanData lose their last byte",
    "scan-always-active": "the router scans actively even when active=1 is not asked for",
    "scan-active-on-air": "the router sends scan requests on a passive scan (and hides the "
    "responses)",
    "scan-stream-stalls": "a scan stream stops reporting 5 s after it opened (it stays open)",
    "sse-content-type-wrong": "SSE streams are served as application/json",
    "scan-filter-name-prefix": "filter_name matches names by prefix (HR-1 matches HR-10)",
    "scan-filter-mac-ignored": "filter_mac is not applied",
    "scan-filter-rssi-ignored": "filter_rssi is not applied",
    "scan-filter-uuid-air-order": "filter_uuid is compared in on-air byte order",
    "scan-filter-uuid-any-bytes": "filter_uuid matches the UUID's bytes anywhere in the packet",
    "scan-response-name-ignored": "names carried only in a scan response are ignored",
    "scan-duplicates-ignored": "filter_duplicates is not applied",
    "scan-duplicates-always": "duplicates are filtered even without filter_duplicates",
    "scan-filters-not-combined": "of several filter types only the first given is applied",
    # -- connections ----------------------------------------------------------------------------
    "connect-answer-not-ok": 'a successful connect answers 200 with {"result": "ok"}, not OK',
    "connect-type-ignored": "the type parameter is ignored: every connection uses random",
    "connect-timeout-late": "a connection that times out is answered 3 s after its timeout",
    "connect-default-timeout-long": "without timeout a connection attempt lasts 10 s, not 5 s",
    "connected-list-type-wrong": "the connected-device list calls every device public",
    "disconnect-false-error": "a disconnect that worked is answered 500",
    "disconnect-event-missing": 'a requested disconnect emits no "disconnected" state event',
    "disconnect-not-sent": "a disconnect forgets the link but never ends it on the air",
    "dead-link-slow": "a lost link is noticed 10 s after the supervision timeout",
    "connected-event-duplicated": 'every "connected" state event is sent twice',
    "connection-state-field-wrong": 'connection-state events name the device "id", not "handle"',
    "auto-reconnect": "the router reconnects a lost link by itself",
    # -- GATT -----------------------------------------------------------------------------------
    "gatt-uuid-short": "services are listed with 16-bit UUIDs (180d), not the 128-bit form",
    "gatt-properties-wrong": "characteristic properties lose their notify bit",
    "gatt-service-filter-ignored": "a service's characteristic list holds every characteristic",
    "gatt-lookup-as-list": "a service or characteristic lookup by UUID answers a list",
    "gatt-cccd-missing": "a characteristic's descriptor list leaves out its CCCD (2902)",
    "gatt-read-off-by-one": "a read by handle reads the attribute after it",
    "gatt-read-stale": "a read answers what the first read of that handle got",
    "gatt-write-truncated": "a write sends only the first byte of the value",
    "gatt-write-duplicated": "every write is sent to the device twice",
    "gatt-write-no-response-dropped": "a write without response is answered OK but never sent",
    # -- notifications --------------------------------------------------------------------------
    "notifications-lost-after-reconnect": "notifications of a reconnected device are dropped "
    "for its link's first 10 s",
    "notifications-duplicated": "every notification is delivered twice",
    "notifications-reordered": "each device's notifications arrive swapped in pairs",
    "notifications-dropped": "every 20th notification of a link is dropped",
    "notification-handle-wrong": "notification events name the handle after the value's",
    "indications-dropped": "indications are confirmed but never delivered",
    "cccd-disable-ignored": 'writing "0000" to a CCCD is answered OK but never sent',
    # -- the router -----------------------------------------------------------------------------
    "info-version-missing": "/cassia/info leaves out the firmware version",
    "info-container-section": "/cassia/info carries the container section by default",
    "sse-limit-not-enforced": "the router opens every SSE stream asked for, without limit",
    "reboot-ignored": "POST /cassia/reboot answers OK and does not reboot",
    "bad-input-answered-500": "bad input is answered 500 instead of 400",
    "odd-hex-padded": "a write value with an odd number of hex digits is padded and written",
    # -- optional APIs --------------------------------------------------------------------------
    "pairing-status-wrong": "a successful pairing is answered 0 Pairing Failed",
    "pair-status-not-listed": 'the connected-device list gives pairStatus "none" to all',
    "unbond-ignored": "DELETE .../bond answers OK and keeps the bond",
    "batch-timeout-not-reported": 'batch connect never reports "connect timeout"',
    "rssi-filter-mac-ignored": "the RSSI stream ignores filter_mac",
    "advertise-stop-ignored": "GET /advertise/stop answers OK and keeps advertising",
    "login-any-password": "a login with a wrong password is accepted",
}


def ble_deviations(names: Iterable[str] | Deviations = ()) -> Deviations:
    """The router's deviations from ``names`` (DeviationError on a name not declared above)."""
    return Deviations.of(names, DEVIATIONS, SYSTEM)


# The filter types in the order the seed lists them (scan-filters-not-combined keeps the first).
_FILTER_TYPES = ("filter_name", "filter_mac", "filter_rssi", "filter_uuid", "filter_value")
_CLEARED = {
    "filter_name": {"has_name_filter": False},
    "filter_mac": {"has_mac_filter": False},
    "filter_rssi": {"rssi": None},
    "filter_uuid": {"uuids": ()},
    "filter_value": {"values": ()},
}


def bent_scan_filter(deviations: Deviations, f: ScanFilter) -> ScanFilter:
    """A scan stream's compiled filter as the scan filter deviations apply it."""
    if not deviations:
        return f
    if deviations.active("scan-filters-not-combined"):
        given = [t for t in _FILTER_TYPES if t in f.raw]
        for ignored in given[1:]:
            f = replace(f, **_CLEARED[ignored])
    if deviations.active("scan-filter-name-prefix"):
        f = replace(f, names_prefix=(*f.names_prefix, *f.names_exact), names_exact=frozenset())
    if deviations.active("scan-filter-mac-ignored"):
        f = replace(f, **_CLEARED["filter_mac"])
    if deviations.active("scan-filter-rssi-ignored"):
        f = replace(f, **_CLEARED["filter_rssi"])
    if deviations.active("scan-filter-uuid-air-order"):
        f = replace(f, uuids=tuple(_air_order(u).hex().upper() for u in f.uuids))
    if deviations.active("scan-filter-uuid-any-bytes") and f.uuids:
        on_air = tuple((None, _air_order(u)) for u in f.uuids)
        f = replace(f, uuids=(), values=(*f.values, *on_air))
    return f


def _air_order(uuid: str) -> bytes:
    """A UUID (or part of one) as written -> its bytes as they go on air (reversed)."""
    return bytes.fromhex(uuid if len(uuid) % 2 == 0 else "0" + uuid)[::-1]
