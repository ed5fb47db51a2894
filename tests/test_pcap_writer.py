"""The pcapng writer every capture uses: world timestamps, interfaces with their link types,
comments, host names, a reader that goes away, and stdout left open."""

from __future__ import annotations

import datetime as dt
import io
import struct

from scapy.layers.l2 import Ether
from scapy.utils import rdpcap

from sim.pcap import (
    LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR,
    LINKTYPE_ETHERNET,
    PcapngWriter,
    open_capture,
)
from sim.world import World

EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _blocks(data: bytes) -> list[tuple[int, bytes]]:
    """(type, body) of each pcapng block."""
    blocks, offset = [], 0
    while offset < len(data):
        kind, length = struct.unpack_from("<II", data, offset)
        blocks.append((kind, data[offset + 8 : offset + length - 4]))
        offset += length
    return blocks


def test_packets_carry_world_time_their_interface_and_comment(tmp_path) -> None:
    now = [12.5]
    path = tmp_path / "x.pcapng"
    writer = PcapngWriter(path.open("wb"), EPOCH, lambda: now[0])
    air = writer.interface("air", LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR, "the air")
    wire = writer.interface("ip", LINKTYPE_ETHERNET)
    assert writer.interface("air", LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR) == air  # added once
    frame = bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02"))
    writer.write(wire, frame, comment="first")
    writer.write(wire, frame, t=20.000001)
    writer.close()
    packets = rdpcap(str(path))
    assert [p.sniffed_on for p in packets] == ["ip", "ip"]
    assert [float(p.time) for p in packets] == [
        EPOCH.timestamp() + 12.5,
        EPOCH.timestamp() + 20.000001,
    ]
    assert packets[0].comments == [b"first"] and not packets[1].comments
    assert packets[0][Ether].src == "02:00:00:00:00:01"


def test_host_names_are_written_once_per_address() -> None:
    out = io.BytesIO()
    writer = PcapngWriter(out, EPOCH, lambda: 0.0, close_output=False)
    writer.name_hosts({"198.18.0.1": "router"})
    writer.name_hosts({"198.18.0.1": "router", "198.18.0.2": "client"})
    records = [body for kind, body in _blocks(out.getvalue()) if kind == 4]
    assert len(records) == 2
    assert b"router\0" in records[0] and b"client\0" in records[1]
    assert b"router" not in records[1]


class _GoneReader(io.BytesIO):
    def write(self, data: bytes) -> int:  # type: ignore[override]
        raise BrokenPipeError("the reader went away")


def test_a_reader_that_goes_away_ends_the_capture_quietly() -> None:
    writer = PcapngWriter(_GoneReader(), EPOCH, lambda: 0.0)
    assert writer.closed
    writer.write(writer.interface("ip", LINKTYPE_ETHERNET), b"\0" * 14)  # no exception
    writer.close()


def test_dash_is_standard_output_flushed_and_never_closed(monkeypatch) -> None:
    class Stdout:
        buffer = io.BytesIO()

    monkeypatch.setattr("sys.stdout", Stdout)
    with World(seed=1) as world:
        writer = open_capture("-", world)
        writer.write(writer.interface("ip", LINKTYPE_ETHERNET), b"\0" * 14)
        writer.close()
    assert not Stdout.buffer.closed
    assert _blocks(Stdout.buffer.getvalue())[0][0] == 0x0A0D0D0A


def test_a_capture_past_its_limit_counts_what_it_left_out(tmp_path) -> None:
    path = tmp_path / "x.pcapng"
    writer = PcapngWriter(path.open("wb"), EPOCH, lambda: 1.0, max_bytes=1000)
    ip = writer.interface("ip", LINKTYPE_ETHERNET)
    for _ in range(20):
        writer.write(ip, bytes(Ether()) + b"\0" * 50)
    kept, dropped = writer.packets, writer.dropped[ip]
    writer.close()
    assert path.stat().st_size <= 1000 + 200 and kept + dropped == 20 and dropped > 0
    assert len(rdpcap(str(path))) == kept
    (stats,) = [body for kind, body in _blocks(path.read_bytes()) if kind == 5]
    assert struct.pack("<HHQ", 5, 8, dropped) in stats and b"later packets dropped" in stats
