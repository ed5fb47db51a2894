"""Parsing and validating request parameters: pure functions that return the value or raise
:class:`~devices.gateways.ble_router.errors.InvalidParameter` naming the bad value and what is
accepted."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from devices.ble.gatt_uuids import uuid128
from devices.gateways.ble_router.errors import InvalidParameter

_MAC_RE = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")
_HEX_RE = re.compile(r"^[0-9A-Fa-f]*$")
_INT_RE = re.compile(r"([+-]?)([0-9]+)")
MAX_DIGITS = 18
MAX_ATTRIBUTE_LENGTH = 512  # ATT: an attribute value is at most 512 bytes


def shown(raw: Any, limit: int = 60) -> str:
    """``raw`` as it goes into an error message: its repr, cut short when long."""
    text = repr(raw)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def parse_mac(text: str, what: str = "node") -> str:
    """``AA:BB:CC:DD:EE:FF`` (any case) -> the upper-case form."""
    if not isinstance(text, str) or not _MAC_RE.match(text):
        raise InvalidParameter(f"{what} {shown(text)} is not a MAC address like EF:F3:CF:F0:8B:81")
    return text.upper()


def parse_int(
    name: str, raw: Any, lo: int, hi: int, accepted: str | None = None, clamp: bool = False
) -> int:
    """An integer parameter (a JSON number or a decimal string of ASCII digits) within
    ``lo..hi``; with ``clamp`` an integer outside the range is taken as the nearest end."""
    accepted = accepted or f"an integer from {lo} to {hi}"
    if isinstance(raw, bool):
        raise InvalidParameter(f"{name}={raw!r} is not accepted; expected {accepted}")
    if isinstance(raw, int):
        value = raw
    else:
        match = _INT_RE.fullmatch(raw.strip()) if isinstance(raw, str) else None
        if match is None:
            raise InvalidParameter(f"{name}={shown(raw)} is not a number; expected {accepted}")
        sign, digits = match.group(1), match.group(2).lstrip("0") or "0"
        # past MAX_DIGITS a number is outside every range: no need to convert it
        magnitude = int(digits) if len(digits) <= MAX_DIGITS else 10**MAX_DIGITS
        value = -magnitude if sign == "-" else magnitude
    if clamp:
        return min(max(value, lo), hi)
    if not lo <= value <= hi:
        what = value if abs(value) < 10**MAX_DIGITS else shown(raw)
        raise InvalidParameter(f"{name}={what} is out of range; expected {accepted}")
    return value


def parse_flag(name: str, raw: Any) -> bool:
    """A ``0`` / ``1`` parameter."""
    return parse_int(name, raw, 0, 1, "0 or 1") == 1


def parse_choice(name: str, raw: Any, choices: tuple[str, ...]) -> str:
    text = raw.strip().lower() if isinstance(raw, str) else None
    if text is None or text not in choices:
        raise InvalidParameter(
            f"{name}={shown(raw)} is not accepted; expected one of {', '.join(choices)}"
        )
    return text


def parse_hex(name: str, raw: str, max_bytes: int = MAX_ATTRIBUTE_LENGTH) -> bytes:
    """An even-length hex string (e.g. ``0100``) -> bytes."""
    text = raw.strip()
    if not text or not _HEX_RE.match(text):
        raise InvalidParameter(
            f"{name} {shown(raw)} is not hex; expected hex digits such as 0100 or FF000C00"
        )
    if len(text) % 2:
        raise InvalidParameter(
            f"{name} {shown(raw)} has an odd number of hex digits ({len(text)}); "
            "expected whole bytes such as 0100"
        )
    data = bytes.fromhex(text)
    if len(data) > max_bytes:
        raise InvalidParameter(
            f"{name} is {len(data)} bytes long; at most {max_bytes} bytes are accepted"
        )
    return data


def parse_handle(raw: str) -> int:
    """An attribute handle: a decimal number 1..65535."""
    return parse_int(
        "handle",
        raw,
        1,
        0xFFFF,
        "a decimal attribute handle from 1 to 65535 (as listed by the discovery APIs)",
    )


def parse_uuid(raw: str, what: str = "uuid") -> str:
    """A 16-, 32- or 128-bit UUID (with or without dashes, any case) -> the full 128-bit
    lower-case form ``0000180d-0000-1000-8000-00805f9b34fb``."""
    full = uuid128(raw)
    if full is None:
        raise InvalidParameter(
            f"{what} {shown(raw)} is not a UUID; expected a 16-bit (180d), 32-bit or "
            "128-bit (0000180d-0000-1000-8000-00805f9b34fb) UUID"
        )
    return full


def merged_params(query: Mapping[str, str], body: Any) -> dict[str, Any]:
    """Query parameters overlaid with a JSON (or form) body's fields."""
    params: dict[str, Any] = dict(query)
    if isinstance(body, Mapping):
        params.update({str(k): v for k, v in body.items()})
    return params
