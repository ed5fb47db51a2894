"""Modbus RTU frames as they cross a line: the CRC, function and exception names, and a one-line
summary of a frame for captures (``rs485-<bus>.log``).

A frame is ``address | function | fields | CRC`` (CRC-16/MODBUS, little endian). Address 0 is a
broadcast; a function code with the top bit set is an exception reply carrying one code.
"""

from __future__ import annotations

BROADCAST = 0

FUNCTIONS = {
    1: "read coils",
    2: "read discrete inputs",
    3: "read holding registers",
    4: "read input registers",
    5: "write single coil",
    6: "write single register",
    15: "write multiple coils",
    16: "write multiple registers",
}
EXCEPTIONS = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
}


def crc16(data: bytes) -> int:
    """CRC-16/MODBUS (polynomial 0xA001 reflected, initial 0xFFFF)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def summarise(data: bytes) -> str:
    """``slave 1 read holding registers addr 0 count 2, crc ok`` and the like."""
    if len(data) < 4:
        return f"runt ({len(data)} bytes)"
    body, crc = data[:-2], int.from_bytes(data[-2:], "little")
    ok = crc16(body) == crc
    address, fc = body[0], body[1]
    to = "broadcast" if address == BROADCAST else f"slave {address}"
    crc_text = "crc ok" if ok else "CRC ERROR"
    if not ok:
        return f"{to}? fc {fc}? {crc_text}"
    if fc & 0x80:
        code = body[2] if len(body) > 2 else -1
        name = FUNCTIONS.get(fc & 0x7F, f"function {fc & 0x7F}")
        return f"{to} exception to {name}: {code} ({EXCEPTIONS.get(code, 'unknown')}), {crc_text}"
    name = FUNCTIONS.get(fc, f"function {fc}")
    fields = body[2:]
    word1 = int.from_bytes(fields[:2], "big")
    word2 = int.from_bytes(fields[2:4], "big")
    if fc in (1, 2, 3, 4) and len(fields) == 4:
        detail = f"addr {word1} count {word2}"
    elif fc in (1, 2, 3, 4) and fields and fields[0] == len(fields) - 1:
        detail = f"reply {fields[0]} bytes: {fields[1:].hex(' ')}"
    elif fc in (5, 6) and len(fields) == 4:
        detail = f"addr {word1} value 0x{word2:04x}"
    elif fc in (15, 16) and len(fields) >= 4:
        detail = f"addr {word1} count {word2}"
    else:
        detail = fields.hex(" ")
    return f"{to} {name} {detail}, {crc_text}"
