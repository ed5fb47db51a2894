"""Beacon decoding for ``beacon=1`` scan streams: iBeacon and the Eddystone frames the seed
lists (UID, URL, TLM, EID).

The iBeacon shape is the seed's example (``{"type":"iBeacon","UUID":"B9407F30-...","minor":10,
"major":73,"txPower":-58}``). The seed shows no Eddystone example; those field names are ours
and follow the Eddystone specification's terms.
"""

from __future__ import annotations

from typing import Any

_URL_SCHEMES = ("http://www.", "https://www.", "http://", "https://")
_URL_CODES = (
    ".com/",
    ".org/",
    ".edu/",
    ".net/",
    ".info/",
    ".biz/",
    ".gov/",
    ".com",
    ".org",
    ".edu",
    ".net",
    ".info",
    ".biz",
    ".gov",
)


def _signed(b: int) -> int:
    return b - 256 if b > 127 else b


def _structures(data: bytes) -> list[tuple[int, bytes]]:
    out = []
    i, n = 0, len(data)
    while i < n:
        length = data[i]
        if length == 0 or i + 1 + length > n:
            break
        out.append((data[i + 1], data[i + 2 : i + 1 + length]))
        i += 1 + length
    return out


def parse_beacon(data: bytes) -> dict[str, Any] | None:
    """The beacon one advertising payload carries, or None."""
    for ad_type, payload in _structures(data):
        if ad_type == 0xFF and len(payload) == 25 and payload[:4] == b"\x4c\x00\x02\x15":
            u = payload[4:20].hex().upper()
            return {
                "type": "iBeacon",
                "UUID": f"{u[0:8]}-{u[8:12]}-{u[12:16]}-{u[16:20]}-{u[20:32]}",
                "minor": int.from_bytes(payload[22:24], "big"),
                "major": int.from_bytes(payload[20:22], "big"),
                "txPower": _signed(payload[24]),
            }
        if ad_type == 0x16 and len(payload) >= 4 and payload[:2] == b"\xaa\xfe":
            frame = payload[2:]
            kind = frame[0]
            if kind == 0x00 and len(frame) >= 18:
                return {
                    "type": "Eddystone-UID",
                    "txPower": _signed(frame[1]),
                    "namespace": frame[2:12].hex().upper(),
                    "instance": frame[12:18].hex().upper(),
                }
            if kind == 0x10 and len(frame) >= 3 and frame[2] < len(_URL_SCHEMES):
                url = _URL_SCHEMES[frame[2]] + "".join(
                    _URL_CODES[b] if b < len(_URL_CODES) else chr(b) for b in frame[3:]
                )
                return {"type": "Eddystone-URL", "txPower": _signed(frame[1]), "url": url}
            if kind == 0x20 and len(frame) >= 14:
                temp = int.from_bytes(frame[4:6], "big", signed=True) / 256.0
                return {
                    "type": "Eddystone-TLM",
                    "version": frame[1],
                    "battery": int.from_bytes(frame[2:4], "big"),
                    "temperature": temp,
                    "advCount": int.from_bytes(frame[6:10], "big"),
                    "secCount": int.from_bytes(frame[10:14], "big"),
                }
            if kind == 0x30 and len(frame) >= 10:
                return {
                    "type": "Eddystone-EID",
                    "txPower": _signed(frame[1]),
                    "eid": frame[2:10].hex().upper(),
                }
    return None
