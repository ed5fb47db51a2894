"""OSDP packets as they cross a line: finding one in a line frame, its fields, a one-line
summary for captures (``rs485-<bus>.log``), and building one byte for byte.

A packet is ``SOM (0x53) | address | length (2, little endian) | control | [security block] |
code | data | check``. The address has its top bit set in a PD's reply; the control byte holds
the sequence number (bits 0-1), CRC-16 instead of a checksum (bit 2) and a security block
(bit 3). libosdp (the nodes' stack) builds and checks the packets they exchange; this module
reads them, and :func:`build` makes the ones a probe sends (any field, right or wrong).
"""

from __future__ import annotations

from dataclasses import dataclass

SOM = 0x53
REPLY_BIT = 0x80
BROADCAST = 0x7F
CONTROL_CRC = 0x04
CONTROL_SCB = 0x08
SECURE_MAC_TYPES = (0x15, 0x17)  # SCS_15 / SCS_17: MAC'd command, plain or encrypted data

COMMANDS = {
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
    0x75: "KEYSET",
    0x76: "CHLNG",
    0x77: "SCRYPT",
    0x7B: "ACURXSIZE",
    0x7C: "FILETRANSFER",
    0x80: "MFG",
}
REPLIES = {
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


def crc16(data: bytes) -> int:
    """OSDP's CRC-16 (CCITT polynomial 0x1021, initial 0x1D0F)."""
    crc = 0x1D0F
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def checksum(data: bytes) -> int:
    """OSDP's 8-bit checksum: the two's complement of the sum of the bytes."""
    return (-sum(data)) & 0xFF


def build(address: int, control: int, body: bytes) -> bytes:
    """A packet to ``address`` with ``control`` and ``body`` (security block, code, data, MAC),
    its length and its check (CRC-16 when ``control`` says so, else the checksum) made right."""
    crc = bool(control & CONTROL_CRC)
    length = 5 + len(body) + (2 if crc else 1)
    head = bytes([SOM, address, length & 0xFF, length >> 8 & 0xFF, control]) + body
    if crc:
        return head + crc16(head).to_bytes(2, "little")
    return head + bytes([checksum(head)])


@dataclass(frozen=True)
class Packet:
    """The fields of one OSDP packet: ``head`` is its first five bytes as they came (SOM,
    address, length, control), ``raw`` the packet cut at its declared length."""

    head: bytes
    raw: bytes

    @property
    def address(self) -> int:
        """The PD's address (without the reply bit)."""
        return self.head[1] & 0x7F

    @property
    def reply(self) -> bool:
        return bool(self.head[1] & REPLY_BIT)

    @property
    def control(self) -> int:
        return self.head[4]

    @property
    def sequence(self) -> int:
        return self.control & 0x03

    @property
    def uses_crc(self) -> bool:
        return bool(self.control & CONTROL_CRC)

    @property
    def secure(self) -> bool:
        """A security block follows the header."""
        return bool(self.control & CONTROL_SCB)

    @property
    def security_type(self) -> int | None:
        return self.raw[6] if self.secure and len(self.raw) > 6 else None

    @property
    def code(self) -> int:
        """The command (from a CP) or reply (from a PD) code, -1 if the packet is cut short."""
        at = 5 + (self.raw[5] if self.secure and len(self.raw) > 5 else 0)
        return self.raw[at] if at < len(self.raw) else -1

    @property
    def name(self) -> str:
        names = REPLIES if self.reply else COMMANDS
        return names.get(self.code, f"0x{self.code:02x}")

    @property
    def check_ok(self) -> bool:
        raw = self.raw
        if len(raw) < 3:
            return False
        if self.uses_crc:
            return crc16(raw[:-2]) == int.from_bytes(raw[-2:], "little")
        return checksum(raw[:-1]) == raw[-1]


def find_packet(data: bytes) -> Packet | str:
    """The first packet in a line frame (after any mark bytes), or why there is none."""
    start = data.find(SOM)
    if start < 0 or len(data) - start < 7:
        return f"no OSDP packet ({len(data)} bytes)"
    raw = data[start:]
    length = int.from_bytes(raw[2:4], "little")
    if length > len(raw):
        return f"truncated OSDP packet (length {length}, have {len(raw)})"
    return Packet(raw[:5], raw[:length])


def summarise(data: bytes) -> str:
    """``to PD 1 POLL seq 1, crc ok`` / ``reply from PD 1 PDID ...`` and the like."""
    packet = find_packet(data)
    if isinstance(packet, str):
        return packet
    name = packet.name
    if packet.secure:
        name = f"{name} (secure block 0x{packet.security_type or 0:02x})"
    who = f"{'reply from' if packet.reply else 'to'} PD {packet.address}"
    check = f"{'crc' if packet.uses_crc else 'cksum'} {'ok' if packet.check_ok else 'ERROR'}"
    return f"{who} {name} seq {packet.sequence}, {check}"
