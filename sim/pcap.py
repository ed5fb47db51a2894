"""A pcapng writer stamped with the world's clock: the file format every capture of the world
(:mod:`sim.air_capture`, :mod:`sim.ip_capture`, :mod:`sim.rs485_pcap`) writes.

pcapng rather than classic pcap because one file then carries what a sniffer's view needs: one
interface per medium with its own link type (a live ``hil serve ... --capture -`` stream holds
the air and the IP links at once), a comment per packet (who heard it, what went wrong on the
line), the packet's direction and error flags, and the names of in-world hosts. Wireshark,
tshark and scapy (``rdpcap``) read it.

Timestamps are the world's calendar time (its epoch plus world seconds) in microseconds, so a
capture of a virtual-time run is byte-identical for the same seed. Packets are written as they
happen; ``flush=True`` pushes each one out at once (a pipe to a live Wireshark). A reader that
goes away (a closed pipe) ends the capture quietly: the world goes on.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import struct
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from sim.world import World

LINKTYPE_ETHERNET = 1
LINKTYPE_WIRESHARK_UPPER_PDU = 252  # "exported PDU": tags name the dissector to call
LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR = 256

# EPB flags (pcapng "epb_flags" option): direction and link-layer errors.
INBOUND, OUTBOUND = 0x1, 0x2
FLAG_CRC_ERROR = 1 << 24
FLAG_SYMBOL_ERROR = 1 << 31

_UNIX_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_SHB, _IDB, _EPB, _NRB, _ISB = 0x0A0D0D0A, 0x00000001, 0x00000006, 0x00000004, 0x00000005
_BYTE_ORDER_MAGIC = 0x1A2B3C4D
_SNAPLEN = 262144
_OPT_END, _OPT_COMMENT = 0, 1
_SHB_USERAPPL, _IF_NAME, _IF_DESCRIPTION, _EPB_FLAGS = 4, 2, 3, 2
_NRB_IPV4, _NRB_END = 1, 0
_ISB_IFRECV, _ISB_IFDROP = 4, 5


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + _pad(value)


def _options(options: list[bytes]) -> bytes:
    return b"".join(options) + struct.pack("<HH", _OPT_END, 0) if options else b""


def _block(kind: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("<II", kind, length) + body + struct.pack("<I", length)


class PcapngWriter:
    """One pcapng section on ``output``; interfaces are added as sources join.

    ``clock`` gives the world's seconds (``world.loop.time``), ``epoch`` the calendar time of
    second 0 (``world.epoch``): a packet written without ``t`` is stamped now.
    """

    def __init__(
        self,
        output: BinaryIO,
        epoch: dt.datetime,
        clock: Callable[[], float],
        *,
        flush: bool = False,
        close_output: bool = True,
        max_bytes: int | None = None,
        application: str = "gateway-hil",
    ) -> None:
        self.output: BinaryIO | None = output
        self._close_output = close_output
        self.max_bytes = max_bytes
        self.written = 0  # bytes
        self.dropped: dict[int, int] = {}  # interface -> packets left out past max_bytes
        self._seen: dict[int, int] = {}  # interface -> packets offered
        self._epoch_us = (epoch - _UNIX_EPOCH) // dt.timedelta(microseconds=1)
        self._clock = clock
        self._flush = flush
        self.interfaces: dict[str, int] = {}
        self.packets = 0
        self._named: set[str] = set()
        body = struct.pack("<IHHq", _BYTE_ORDER_MAGIC, 1, 0, -1)
        self._emit(_block(_SHB, body + _options([_option(_SHB_USERAPPL, application.encode())])))

    @property
    def closed(self) -> bool:
        return self.output is None

    def interface(self, name: str, linktype: int, description: str = "") -> int:
        """The id of interface ``name`` (added, with its link type, the first time)."""
        found = self.interfaces.get(name)
        if found is not None:
            return found
        number = self.interfaces[name] = len(self.interfaces)
        options = [_option(_IF_NAME, name.encode())]
        if description:
            options.append(_option(_IF_DESCRIPTION, description.encode()))
        body = struct.pack("<HHI", linktype, 0, _SNAPLEN) + _options(options)
        self._emit(_block(_IDB, body))
        return number

    def name_hosts(self, names: Mapping[str, str]) -> None:
        """IPv4 address -> host name records (Wireshark shows the names when it resolves
        network addresses); each address once."""
        records = []
        for address, name in names.items():
            if address in self._named:
                continue
            self._named.add(address)
            value = ipaddress.IPv4Address(address).packed + name.encode() + b"\0"
            records.append(_option(_NRB_IPV4, value))
        if records:
            self._emit(_block(_NRB, b"".join(records) + struct.pack("<HH", _NRB_END, 0)))

    def timestamp_us(self, t: float | None = None) -> int:
        """Microseconds since 1970 of world second ``t`` (now when None)."""
        return self._epoch_us + round((self._clock() if t is None else t) * 1_000_000)

    def write(
        self,
        interface: int,
        data: bytes,
        *,
        t: float | None = None,
        comment: str | None = None,
        flags: int = 0,
    ) -> None:
        """One packet on ``interface`` at world second ``t`` (now when None). Past
        ``max_bytes`` packets are counted, not written (see :meth:`close`)."""
        if self.output is None:
            return
        if self.full(len(data)):
            self.drop(interface)
            return
        self._seen[interface] = self._seen.get(interface, 0) + 1
        stamp = self.timestamp_us(t)
        body = struct.pack(
            "<IIIII", interface, stamp >> 32, stamp & 0xFFFFFFFF, len(data), len(data)
        )
        options = []
        if comment:
            options.append(_option(_OPT_COMMENT, comment.encode()))
        if flags:
            options.append(_option(_EPB_FLAGS, struct.pack("<I", flags)))
        self._emit(_block(_EPB, body + _pad(data) + _options(options)))
        self.packets += 1

    def full(self, size: int) -> bool:
        """Whether a packet of ``size`` bytes would pass ``max_bytes``: a caller that asks
        first need not build what would be dropped (then it calls :meth:`drop`)."""
        return self.max_bytes is not None and self.written + size + 64 > self.max_bytes

    def drop(self, interface: int) -> None:
        """Count one packet on ``interface`` as seen and dropped for lack of room."""
        if self.output is None:
            return
        self._seen[interface] = self._seen.get(interface, 0) + 1
        self.dropped[interface] = self.dropped.get(interface, 0) + 1

    def _emit(self, block: bytes) -> None:
        if self.output is None:
            return
        try:
            self.output.write(block)
            self.written += len(block)
            if self._flush:
                self.output.flush()
        except (BrokenPipeError, ValueError, OSError):
            self.output = None  # the reader went away: the capture ends, the world goes on

    def close(self) -> None:
        """Flush the output, and close it unless told not to (stdout). A capture that reached
        ``max_bytes`` ends with interface statistics: packets seen and dropped per interface
        (Wireshark: Statistics > Capture File Properties), and a comment saying why."""
        if self.dropped:
            stamp = self.timestamp_us()
            why = f"capture limited to {self.max_bytes} bytes: later packets dropped"
            for interface, seen in self._seen.items():
                options = [
                    _option(_ISB_IFRECV, struct.pack("<Q", seen)),
                    _option(_ISB_IFDROP, struct.pack("<Q", self.dropped.get(interface, 0))),
                    _option(_OPT_COMMENT, why.encode()),
                ]
                body = struct.pack("<III", interface, stamp >> 32, stamp & 0xFFFFFFFF)
                self._emit(_block(_ISB, body + _options(options)))
        output, self.output = self.output, None
        if output is None:
            return
        try:
            output.flush()
            if self._close_output:
                output.close()
        except (BrokenPipeError, ValueError, OSError):
            pass


def open_capture(
    target: str | Path, world: World, flush: bool | None = None, max_bytes: int | None = None
) -> PcapngWriter:
    """A writer on ``target``: a file path, or ``"-"`` for standard output (each packet
    flushed, for ``wireshark -k -i -``), stamped with ``world``'s clock."""
    if str(target) == "-":
        output: BinaryIO = sys.stdout.buffer
        return PcapngWriter(output, world.epoch, world.loop.time, flush=True, close_output=False)
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    return PcapngWriter(
        path.open("wb"), world.epoch, world.loop.time, flush=bool(flush), max_bytes=max_bytes
    )
