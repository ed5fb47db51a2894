"""Scan filters of ``GET /gap/nodes?event=1``: parsing (from query parameters) and matching,
as pure functions.

What the seed says, and how we read it:

* ``filter_name`` — a comma-separated list; an entry is an exact name, ``Cassia*`` (prefix),
  ``*Cassia`` (suffix) or ``*`` alone (any device that has a name). ``*abc*`` (contains) is an
  extension of ours. The name is the one in this packet, or else the one this device showed in
  its other packet (advertising data or scan response) — the seed filters names "in either
  ad_data or scan_data".
* ``filter_mac`` — a list of exact MACs or prefixes ``CC:DD:EE*`` (case-insensitive).
* ``filter_rssi`` — report only packets whose RSSI is >= the value (-127..20 dBm).
* ``filter_uuid`` — a list of hex strings without ``-``; a packet matches when one of the
  UUIDs it carries in EIR types 0x02-0x07 contains the filter text. A UUID is written
  big-endian, as the seed's example shows: air bytes ``F0 FF`` are UUID ``FFF0``. Matching is
  per packet: the UUIDs of this packet only.
* ``filter_value`` — a JSON object ``{"offset":"7","data":"0302E9"}`` or a list of them; with
  an offset the packet's bytes at that offset must equal ``data``, without one ``data`` may
  appear anywhere in the packet (adData, or scanData for scan responses).
* ``connectable=1`` — only evtType 0 (ADV_IND) or 4 (SCAN_RSP), as the seed defines it.

Several values within one filter type match if any matches; several filter types must all
match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from devices.gateways.ble_router.errors import InvalidParameter
from devices.gateways.ble_router.params import parse_int, shown
from devices.protocols.http_server import JsonBodyError, json_body

_MAC_PREFIX_RE = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){0,5}:?$")
_MAC_RE = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){5}$")
_HEX_RE = re.compile(r"^[0-9A-F]+$")

EIR_UUID_TYPES = {0x02: 2, 0x03: 2, 0x04: 4, 0x05: 4, 0x06: 16, 0x07: 16}
EIR_NAME_SHORT = 0x08
EIR_NAME_COMPLETE = 0x09


# -- advertising data ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AdInfo:
    """What the filters need from one advertising-data or scan-response payload."""

    name: str | None = None
    uuids: tuple[str, ...] = ()  # big-endian upper-case hex, e.g. "180D"


EMPTY_AD = AdInfo()


def parse_ad(data: bytes) -> AdInfo:
    """Walk the ``[length][type][payload]`` structures; tolerate truncated or malformed data."""
    if not data:
        return EMPTY_AD
    name: str | None = None
    short_name: str | None = None
    uuids: list[str] = []
    i, n = 0, len(data)
    while i < n:
        length = data[i]
        if length == 0 or i + 1 + length > n:
            break
        ad_type = data[i + 1]
        payload = data[i + 2 : i + 1 + length]
        size = EIR_UUID_TYPES.get(ad_type)
        if size is not None:
            for j in range(0, len(payload) - size + 1, size):
                uuids.append(payload[j : j + size][::-1].hex().upper())
        elif ad_type == EIR_NAME_COMPLETE:
            name = payload.decode("utf-8", errors="replace")
        elif ad_type == EIR_NAME_SHORT:
            short_name = payload.decode("utf-8", errors="replace")
        i += 1 + length
    if name is None:
        name = short_name
    if name is None and not uuids:
        return EMPTY_AD
    return AdInfo(name, tuple(uuids))


# -- the filter ---------------------------------------------------------------------------------
@dataclass
class ScanFilter:
    """A compiled filter: match() is called once per received packet, so it stays lean."""

    names_exact: frozenset[str] = frozenset()
    names_prefix: tuple[str, ...] = ()
    names_suffix: tuple[str, ...] = ()
    names_contain: tuple[str, ...] = ()
    name_any: bool = False
    macs_exact: frozenset[str] = frozenset()
    macs_prefix: tuple[str, ...] = ()
    rssi: int | None = None
    uuids: tuple[str, ...] = ()
    values: tuple[tuple[int | None, bytes], ...] = ()
    connectable: bool = False
    has_name_filter: bool = False
    has_mac_filter: bool = False
    raw: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (
            self.has_name_filter
            or self.has_mac_filter
            or self.rssi is not None
            or self.uuids
            or self.values
            or self.connectable
        )

    def match(
        self,
        evt_type: int,
        mac: str,
        name: str | None,
        data: bytes,
        rssi: int,
        uuids: tuple[str, ...],
    ) -> bool:
        """Whether one packet passes: every filter type given, any value within each."""
        if self.rssi is not None and rssi < self.rssi:
            return False
        if self.connectable and evt_type != 0 and evt_type != 4:
            return False
        if self.has_mac_filter and not self.match_mac(mac):
            return False
        if self.has_name_filter and not self.match_name(name):
            return False
        if self.uuids and not self.match_uuids(uuids):
            return False
        if self.values and not self.match_value(data):
            return False
        return True

    def match_name(self, name: str | None) -> bool:
        if name is None:
            return False
        if self.name_any or name in self.names_exact:
            return True
        if self.names_prefix and name.startswith(self.names_prefix):
            return True
        if self.names_suffix and name.endswith(self.names_suffix):
            return True
        return any(part in name for part in self.names_contain)

    def match_mac(self, mac: str) -> bool:
        return mac in self.macs_exact or bool(self.macs_prefix and mac.startswith(self.macs_prefix))

    def match_uuids(self, uuids: tuple[str, ...]) -> bool:
        for wanted in self.uuids:
            for uuid in uuids:
                if wanted in uuid:
                    return True
        return False

    def match_value(self, data: bytes) -> bool:
        for offset, wanted in self.values:
            if offset is None:
                if wanted in data:
                    return True
            elif data[offset : offset + len(wanted)] == wanted:
                return True
        return False


def _items(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


def parse_names(raw: str) -> dict[str, Any]:
    exact, prefix, suffix, contain = set(), [], [], []
    name_any = False
    items = _items(raw)
    if not items:
        raise InvalidParameter(
            f"filter_name={raw!r} is empty; expected names separated by commas "
            "(exact, Prefix*, *Suffix or * for any named device)"
        )
    for item in items:
        if item == "*":
            name_any = True
        elif len(item) > 2 and item.startswith("*") and item.endswith("*"):
            contain.append(item[1:-1])
        elif item.endswith("*"):
            prefix.append(item[:-1])
        elif item.startswith("*"):
            suffix.append(item[1:])
        else:
            exact.add(item)
    return {
        "names_exact": frozenset(exact),
        "names_prefix": tuple(prefix),
        "names_suffix": tuple(suffix),
        "names_contain": tuple(contain),
        "name_any": name_any,
        "has_name_filter": True,
    }


def parse_macs(raw: str) -> dict[str, Any]:
    exact, prefix = set(), []
    items = _items(raw)
    if not items:
        raise InvalidParameter(f"filter_mac={raw!r} is empty; expected MACs separated by commas")
    for item in items:
        up = item.upper()
        if up.endswith("*") and _MAC_PREFIX_RE.match(up[:-1]):
            prefix.append(up[:-1])
        elif _MAC_RE.match(up):
            exact.add(up)
        else:
            raise InvalidParameter(
                f"filter_mac entry {item!r} is not a MAC (CC:1B:E0:E8:0B:4B) or a "
                "MAC prefix ending in * (CC:DD:EE*)"
            )
    return {"macs_exact": frozenset(exact), "macs_prefix": tuple(prefix), "has_mac_filter": True}


def parse_uuids(raw: str) -> tuple[str, ...]:
    items = _items(raw)
    if not items:
        raise InvalidParameter(
            f"filter_uuid={raw!r} is empty; expected hex UUIDs separated by commas"
        )
    out = []
    for item in items:
        up = item.upper()
        if "-" in up:
            raise InvalidParameter(
                f"filter_uuid entry {item!r} contains '-'; write the UUID (or part "
                "of it) as hex digits only, e.g. FFF0"
            )
        if not _HEX_RE.match(up):
            raise InvalidParameter(f"filter_uuid entry {item!r} is not hex; expected e.g. FFF0")
        out.append(up)
    return tuple(out)


def parse_rssi(raw: str) -> int:
    return parse_int("filter_rssi", raw, -127, 20, "dBm from -127 to 20")


def parse_values(raw: str) -> tuple[tuple[int | None, bytes], ...]:
    hint = (
        'expected {"offset":"7","data":"0302E9"}, {"data":"0302E9"} or a JSON list of such objects'
    )
    try:
        parsed = json_body(raw.encode())
    except JsonBodyError as exc:
        raise InvalidParameter(
            f"filter_value={shown(raw)} is not accepted ({exc}); {hint}"
        ) from None
    entries = parsed if isinstance(parsed, list) else [parsed]
    if not entries:
        raise InvalidParameter(f"filter_value={shown(raw)} is an empty list; {hint}")
    out: list[tuple[int | None, bytes]] = []
    for entry in entries:
        if not isinstance(entry, dict) or "data" not in entry:
            raise InvalidParameter(f'filter_value entry {shown(entry)} has no "data"; {hint}')
        data = entry["data"].strip().upper() if isinstance(entry["data"], str) else ""
        if not data or not _HEX_RE.match(data) or len(data) % 2:
            raise InvalidParameter(
                f"filter_value data {shown(entry['data'])} is not whole hex bytes; {hint}"
            )
        offset: int | None = None
        if entry.get("offset") not in (None, ""):
            offset = parse_int(
                "filter_value offset", entry["offset"], 0, 30, f"a byte offset from 0 to 30; {hint}"
            )
        out.append((offset, bytes.fromhex(data)))
    return tuple(out)


def parse_filter(params: dict[str, str]) -> ScanFilter:
    """Build a filter from the query parameters (unknown parameters are ignored)."""
    kwargs: dict[str, Any] = {}
    if "filter_name" in params:
        kwargs.update(parse_names(params["filter_name"]))
    if "filter_mac" in params:
        kwargs.update(parse_macs(params["filter_mac"]))
    if "filter_rssi" in params:
        kwargs["rssi"] = parse_rssi(params["filter_rssi"])
    if "filter_uuid" in params:
        kwargs["uuids"] = parse_uuids(params["filter_uuid"])
    if "filter_value" in params:
        kwargs["values"] = parse_values(params["filter_value"])
    if "connectable" in params:
        text = str(params["connectable"]).strip()
        if text not in ("0", "1"):
            raise InvalidParameter(
                f"connectable={params['connectable']!r} is not accepted; expected 0 or 1"
            )
        kwargs["connectable"] = text == "1"
    kwargs["raw"] = {
        k: v for k, v in params.items() if k.startswith("filter_") or k == "connectable"
    }
    return ScanFilter(**kwargs)


def parse_duplicates(raw: str | None) -> tuple[bool, float | None]:
    """``filter_duplicates``: 0 (off), 1 (on) or >1000 ms (on, restarted every so often).
    Returns (on, restart period in seconds or None)."""
    if raw is None:
        return False, None
    value = parse_int(
        "filter_duplicates",
        raw,
        0,
        2**31,
        "0, 1, or a restart period in ms greater than 1000 (at most 2147483648)",
    )
    if value == 0:
        return False, None
    if value == 1:
        return True, None
    if value <= 1000:
        raise InvalidParameter(
            f"filter_duplicates={value} is out of range; "
            "expected 0, 1, or a restart period in ms greater than 1000"
        )
    return True, value / 1000.0
