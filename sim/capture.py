"""Captures that standard tools open, stamped with the world's clock.

:class:`BtsnoopWriter` writes HCI traffic in the btsnoop format (RFC 1761 style, datalink H4),
which Wireshark and btmon read. Bumble ships a writer too, but it stamps packets with the
machine's clock; evidence must be reproducible, so this one reads the world's calendar time.

The media as a sniffer sees them are pcapng captures: :mod:`sim.air_capture` (the BLE air),
:mod:`sim.ip_capture` (in-world TCP) and :mod:`sim.rs485_pcap` (an RS485 line), all written by
:mod:`sim.pcap`.
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Callable
from typing import BinaryIO

from bumble.snoop import Snooper

_MAGIC = b"btsnoop\0"
_VERSION = 1
_DATALINK_H4 = 1002
# btsnoop timestamps count microseconds from midnight, 1 January of year 0 (AD).
_EPOCH = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
_YEAR0_TO_YEAR1_US = 366 * 24 * 3600 * 1_000_000
_HCI_COMMAND, _HCI_EVENT = 0x01, 0x04


class BtsnoopWriter(Snooper):
    def __init__(self, output: BinaryIO, clock: Callable[[], dt.datetime]) -> None:
        self.output = output
        self.clock = clock
        self.packets = 0
        output.write(_MAGIC + struct.pack(">II", _VERSION, _DATALINK_H4))

    def snoop(self, hci_packet: bytes, direction: Snooper.Direction) -> None:
        flags = int(direction)  # bit 0: received (controller -> host)
        if hci_packet[0] in (_HCI_COMMAND, _HCI_EVENT):
            flags |= 0x02  # bit 1: command/event, not data
        micros = (self.clock() - _EPOCH) // dt.timedelta(microseconds=1) + _YEAR0_TO_YEAR1_US
        self.output.write(
            struct.pack(">IIIIq", len(hci_packet), len(hci_packet), flags, 0, micros) + hci_packet
        )
        self.packets += 1


def read_btsnoop(data: bytes) -> list[tuple[int, int, bytes]]:
    """(flags, timestamp in µs, packet) for each record of a btsnoop capture."""
    if data[:8] != _MAGIC:
        raise ValueError("not a btsnoop capture (bad magic)")
    records, offset = [], 16
    while offset + 24 <= len(data):
        orig, incl, flags, _drops, micros = struct.unpack_from(">IIIIq", data, offset)
        offset += 24
        records.append((flags, micros, data[offset : offset + incl]))
        offset += incl
        if incl != orig:
            raise ValueError("truncated btsnoop record")
    return records
