"""MQTT's Variable Byte Integer (MQTT 3.1.1 2.2.3, MQTT 5.0 1.5.5).

Seven bits per byte, least significant group first, the top bit saying "more follows"; at most
four bytes, so values run 0..268 435 455. The spec says a fifth continuation byte is a Malformed
Packet, and that the encoding MUST use the fewest bytes: we reject both (a last byte of 0x00
after a continuation byte is a longer-than-needed encoding). Encoding always uses the fewest.
"""

from __future__ import annotations

from devices.protocols.mqtt.errors import MalformedPacket

VARINT_MAX = 268_435_455
_MAX_BYTES = 4


def encode_varint(value: int) -> bytes:
    if not 0 <= value <= VARINT_MAX:
        raise ValueError(f"variable byte integer {value} is outside 0..{VARINT_MAX}")
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_varint(data: bytes | bytearray | memoryview, pos: int = 0) -> tuple[int, int] | None:
    """``(value, position after it)``, or None if ``data`` ends before the integer does."""
    value = 0
    for i in range(_MAX_BYTES):
        if pos + i >= len(data):
            return None
        byte = data[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if byte == 0 and i > 0:
                raise MalformedPacket(
                    "variable byte integer uses more bytes than needed (ends in 0x00)"
                )
            return value, pos + i + 1
    raise MalformedPacket("variable byte integer longer than 4 bytes")
