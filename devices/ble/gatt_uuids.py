"""GATT UUIDs the harness names (the CCCD, the stock sensor's services and characteristics),
their spellings, and finding a handle by UUID in a GATT discovery answer.

UUIDs are written in their full 128-bit lower-case form
(``00002902-0000-1000-8000-00805f9b34fb``), as the router's discovery APIs answer them;
:func:`uuid128` turns any 16-, 32- or 128-bit spelling into that form.

Discovery answers are the JSON shapes of seed 002: a characteristic's descriptor list
``[{"handle": 17, "uuid": "...2902..."}, ...]`` and the all-at-once tree
``[{"uuid": ..., "characteristics": [{"uuid": ..., "descriptors": [...]}, ...]}, ...]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

BLUETOOTH_BASE_TAIL = "00001000800000805f9b34fb"  # the Bluetooth base UUID after its first 32 bits
_HEX = re.compile(r"^[0-9a-f]+$")


def dashed(hex32: str) -> str:
    """32 hex digits -> ``xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`` (lower case)."""
    h = hex32.lower()
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def uuid128(text: str) -> str | None:
    """A 16-bit (``2902``, ``0x2902``), 32-bit or 128-bit UUID (with or without dashes, any
    case) -> its full 128-bit lower-case form; None if ``text`` is not a UUID."""
    if not isinstance(text, str):
        return None
    spelled = text.strip().lower().removeprefix("0x")
    compact = spelled.replace("-", "")
    if (
        not _HEX.match(compact)
        or len(compact) not in (4, 8, 32)
        or ("-" in spelled and len(compact) != 32)
    ):
        return None
    if len(compact) < 32:
        compact = compact.rjust(8, "0") + BLUETOOTH_BASE_TAIL
    return dashed(compact)


def _any_spelling(value: Any) -> str | None:
    text = str(value).strip()
    if text.upper().startswith("UUID-") and ":" in text:  # Bumble's UUID-16:2902 (name)
        text = text.split(":", 1)[1].split(" ", 1)[0]
    return uuid128(text)


def same_uuid(a: Any, b: Any) -> bool:
    """Whether two spellings (any :func:`uuid128` accepts, or Bumble's ``UUID-16:2902``) name
    the same UUID."""
    full = _any_spelling(a)
    return full is not None and full == _any_spelling(b)


def _sig(short: str) -> str:
    full = uuid128(short)
    assert full is not None
    return full


CCCD = _sig("2902")  # Client Characteristic Configuration descriptor
HEART_RATE_SERVICE = _sig("180d")
HEART_RATE_MEASUREMENT = _sig("2a37")
HEART_RATE_CONTROL_POINT = _sig("2a39")
BATTERY_SERVICE = _sig("180f")
BATTERY_LEVEL = _sig("2a19")


def _handle(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.strip().isdigit():
        return int(raw)
    return None


def descriptor_handle(descriptors: Iterable[Any], uuid: str = CCCD) -> int | None:
    """The handle of the descriptor ``uuid`` (the CCCD unless told) in a descriptor list."""
    for desc in descriptors:
        if isinstance(desc, Mapping) and same_uuid(desc.get("uuid"), uuid):
            handle = _handle(desc.get("handle"))
            if handle is not None:
                return handle
    return None


def characteristic_descriptors(database: Iterable[Any], characteristic: str) -> list[Any]:
    """Every descriptor listed under characteristic ``characteristic`` in an all-at-once
    discovery tree (of every characteristic with that UUID, in order)."""
    found: list[Any] = []
    for service in database:
        if not isinstance(service, Mapping):
            continue
        for char in service.get("characteristics") or []:
            if isinstance(char, Mapping) and same_uuid(char.get("uuid"), characteristic):
                found.extend(char.get("descriptors") or [])
    return found


def cccd_handle(database: Iterable[Any], characteristic: str) -> int | None:
    """The CCCD handle of ``characteristic`` in an all-at-once discovery tree; None if the
    tree shows none."""
    return descriptor_handle(characteristic_descriptors(database, characteristic))
