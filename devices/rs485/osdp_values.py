"""OSDP values checked at every interface (CLI, SUT declarations, node specs), kept free of
libosdp so that checking them does not load it."""

from __future__ import annotations

OSDP_ADDRESSES = range(0, 0x7F)  # 0x7F is the broadcast address, never a PD's own
SCBK_BYTES = 16


def check_address(address: object) -> int:
    if not isinstance(address, int) or address not in OSDP_ADDRESSES:
        raise ValueError(f"OSDP address {address!r} not accepted; accepted: 0 to 126")
    return address


def check_key(key: object, what: str = "SCBK") -> bytes | None:
    if key is None:
        return None
    if isinstance(key, str):
        try:
            key = bytes.fromhex(key)
        except ValueError:
            raise ValueError(
                f"{what} {key!r} not accepted; accepted: 16 bytes as 32 hex digits"
            ) from None
    if not isinstance(key, bytes) or len(key) != SCBK_BYTES:
        raise ValueError(f"{what} {key!r} not accepted; accepted: 16 bytes (32 hex digits)")
    return key
