"""RS485 captures a person can read: one line per line frame, with its world timestamps, who
drove it, the bytes as the line carried them (hex) and a decoded summary.

    # rs485 capture: bus field-1, 9600 8N1, frame gap 4.010 ms, protocol modbus-rtu
    #      start s        end s  drivers       bytes | summary
       12.000000    12.008333  master        01 03 00 00 00 02 c4 0b | to 1 read holding ...

Written beside the scenario's trace (``rs485-<bus>.log``). The summary decoders know Modbus RTU
(address, function, fields, CRC) and OSDP (address, direction, command/reply, CRC/checksum).
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from sim.rs485 import LineFrame

MODBUS_FUNCTIONS = {
    1: "read coils",
    2: "read discrete inputs",
    3: "read holding registers",
    4: "read input registers",
    5: "write single coil",
    6: "write single register",
    15: "write multiple coils",
    16: "write multiple registers",
}
MODBUS_EXCEPTIONS = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
}
OSDP_COMMANDS = {
    0x60: "POLL",
    0x61: "ID",
    0x62: "CAP",
    0x64: "LSTAT",
    0x65: "ISTAT",
    0x66: "OSTAT",
    0x67: "RSTAT",
    0x68: "OUT",
    0x69: "LED",
    0x6A: "BUZ",
    0x6B: "TEXT",
    0x6E: "COMSET",
    0x76: "CHLNG",
    0x77: "SCRYPT",
    0x7B: "ACURXSIZE",
    0x7C: "FILETRANSFER",
    0x80: "MFG",
    0x75: "KEYSET",
}
OSDP_REPLIES = {
    0x40: "ACK",
    0x41: "NAK",
    0x45: "PDID",
    0x46: "PDCAP",
    0x48: "LSTATR",
    0x49: "ISTATR",
    0x4A: "OSTATR",
    0x4B: "RSTATR",
    0x50: "RAW",
    0x51: "FMT",
    0x53: "KEYPAD",
    0x54: "COM",
    0x76: "CCRYPT",
    0x78: "RMAC_I",
    0x79: "BUSY",
    0x7A: "FTSTAT",
    0x90: "MFGREP",
}


def crc16_modbus(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def crc16_ccitt(data: bytes) -> int:
    """OSDP's CRC-16 (CCITT, initial 0x1D0F)."""
    crc = 0x1D0F
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def summarize_modbus(data: bytes) -> str:
    if len(data) < 4:
        return f"runt ({len(data)} bytes)"
    body, crc = data[:-2], int.from_bytes(data[-2:], "little")
    ok = crc16_modbus(body) == crc
    addr, fc = body[0], body[1]
    to = "broadcast" if addr == 0 else f"slave {addr}"
    crc_text = "crc ok" if ok else "CRC ERROR"
    if not ok:
        return f"{to}? fc {fc}? {crc_text}"
    if fc & 0x80:
        code = body[2] if len(body) > 2 else -1
        name = MODBUS_FUNCTIONS.get(fc & 0x7F, f"function {fc & 0x7F}")
        return (
            f"{to} exception to {name}: {code} "
            f"({MODBUS_EXCEPTIONS.get(code, 'unknown')}), {crc_text}"
        )
    name = MODBUS_FUNCTIONS.get(fc, f"function {fc}")
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


def summarize_osdp(data: bytes) -> str:
    start = data.find(b"\x53")
    if start < 0 or len(data) - start < 7:
        return f"no OSDP packet ({len(data)} bytes)"
    pkt = data[start:]
    addr, length, ctrl = pkt[1], int.from_bytes(pkt[2:4], "little"), pkt[4]
    if length > len(pkt):
        return f"truncated OSDP packet (length {length}, have {len(pkt)})"
    pkt = pkt[:length]
    use_crc = bool(ctrl & 0x04)
    if use_crc:
        check_ok = crc16_ccitt(pkt[:-2]) == int.from_bytes(pkt[-2:], "little")
    else:
        check_ok = (-sum(pkt[:-1])) & 0xFF == pkt[-1]
    secure = bool(ctrl & 0x08)
    code_at = 5 + (pkt[5] if secure and len(pkt) > 5 else 0)
    code = pkt[code_at] if code_at < len(pkt) else -1
    reply = bool(addr & 0x80)
    names = OSDP_REPLIES if reply else OSDP_COMMANDS
    name = names.get(code, f"0x{code:02x}")
    if secure:
        name = f"{name} (secure block 0x{pkt[6]:02x})"
    who = f"{'reply from' if reply else 'to'} PD {addr & 0x7F}"
    return (
        f"{who} {name} seq {ctrl & 0x03}, {'crc' if use_crc else 'cksum'} "
        f"{'ok' if check_ok else 'ERROR'}"
    )


SUMMARIZERS = {"modbus-rtu": summarize_modbus, "osdp": summarize_osdp}


class HexCapture:
    """Appends one readable line per line frame to ``path``."""

    def __init__(self, path: Path, bus: str, settings: str, gap: float, protocol: str) -> None:
        if protocol not in SUMMARIZERS:
            raise ValueError(
                f"capture protocol {protocol!r} not accepted; accepted: {', '.join(SUMMARIZERS)}"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._summary = SUMMARIZERS[protocol]
        self._out: IO[str] | None = path.open("w", encoding="utf-8")
        self.frames = 0
        self._out.write(
            f"# rs485 capture: bus {bus}, {settings}, frame gap {gap * 1000:.3f} ms, "
            f"protocol {protocol}\n"
            f"# {'start s':>12} {'end s':>12}  {'drivers':<16} bytes | summary\n"
        )

    def write(self, frame: LineFrame) -> None:
        if self._out is None:
            return
        notes = []
        if frame.collision:
            notes.append("COLLISION")
        if frame.flipped_bits:
            notes.append(f"NOISE {frame.flipped_bits} bit(s) flipped")
        if frame.framing_errors:
            notes.append(f"{frame.framing_errors} framing error(s)")
        summary = self._summary(frame.line_bytes) if frame.line_bytes else "no characters"
        if notes:
            summary = f"{summary} [{'; '.join(notes)}]"
        self._out.write(
            f"  {frame.start:12.6f} {frame.end:12.6f}  "
            f"{','.join(frame.drivers):<16} {frame.line_bytes.hex(' ')} | {summary}\n"
        )
        self.frames += 1

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
