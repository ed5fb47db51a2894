"""Modbus RTU frames as they cross a line: the CRC, building and cutting frames, function and
exception names, and a one-line summary of a frame for captures (``rs485-<bus>.log``).

A frame is ``address | function | fields | CRC`` (CRC-16/MODBUS, little endian), 4 to 256 bytes
(Modbus over Serial Line V1.02 §2.5.1.1). Address 0 is a broadcast; a function code with the
top bit set is an exception reply carrying one code. The receiver delimits frames by the
3.5-character silence, so a frame is whatever arrived between two silences: :func:`cut` says
whether that is a request a slave may act on, or why it is discarded.
"""

from __future__ import annotations

from dataclasses import dataclass

BROADCAST = 0
MIN_FRAME = 4  # address, function, CRC
MAX_FRAME = 256
EXCEPTION_BIT = 0x80

FUNCTIONS = {
    1: "read coils",
    2: "read discrete inputs",
    3: "read holding registers",
    4: "read input registers",
    5: "write single coil",
    6: "write single register",
    15: "write multiple coils",
    16: "write multiple registers",
    17: "report server id",
    43: "encapsulated interface transport",
}
EXCEPTIONS = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
}


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc16(data: bytes) -> int:
    """CRC-16/MODBUS (polynomial 0xA001 reflected, initial 0xFFFF)."""
    crc = 0xFFFF
    table = _CRC_TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


def frame(address: int, pdu: bytes) -> bytes:
    """``address | pdu | CRC``: what goes on the line."""
    body = bytes([address]) + pdu
    return body + crc16(body).to_bytes(2, "little")


def exception_pdu(function: int, code: int) -> bytes:
    """An exception reply's PDU: the function with its top bit set, then the code. A function
    code that already has the top bit set (a request with a code reserved for exception
    replies) keeps it: the byte says "exception" either way."""
    return bytes([(function | EXCEPTION_BIT) & 0xFF, code])


@dataclass(frozen=True)
class Request:
    """One frame a slave may act on: its address, function and the fields after it."""

    address: int
    function: int
    data: bytes

    @property
    def broadcast(self) -> bool:
        return self.address == BROADCAST


def cut(data: bytes) -> Request | str:
    """The request in one line frame, or why a receiver discards it (``"runt"``,
    ``"oversize"``, ``"crc"``): a frame shorter than 4 bytes, longer than 256, or whose CRC
    fails is not acted upon (Modbus over Serial Line V1.02 §2.5.1.1, §2.6)."""
    if len(data) < MIN_FRAME:
        return "runt"
    if len(data) > MAX_FRAME:
        return "oversize"
    if crc16(data[:-2]) != int.from_bytes(data[-2:], "little"):
        return "crc"
    return Request(data[0], data[1], data[2:-2])


def summarise(data: bytes) -> str:
    """``slave 1 read holding registers addr 0 count 2, crc ok`` and the like."""
    if len(data) < MIN_FRAME:
        return f"runt ({len(data)} bytes)"
    body, crc = data[:-2], int.from_bytes(data[-2:], "little")
    ok = crc16(body) == crc
    address, fc = body[0], body[1]
    to = "broadcast" if address == BROADCAST else f"slave {address}"
    crc_text = "crc ok" if ok else "CRC ERROR"
    if not ok:
        return f"{to}? fc {fc}? {crc_text}"
    if fc & EXCEPTION_BIT:
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
