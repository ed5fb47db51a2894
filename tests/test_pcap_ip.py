"""The IP capture (``ip.pcapng``) read back with scapy: handshakes, segments whose sequence and
acknowledgement numbers add up to what each side sent and received, a partition's lost bytes
retransmitted after the heal, SYN retries, FIN, RST and a refused connection."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path
from typing import Any

from scapy.layers.inet import IP, TCP
from scapy.utils import rdpcap

from sim.ip_capture import MSS, NAMED_HOSTS, IpCapture
from sim.iplink import ConnectionRefused, IpNetwork
from sim.pcap import open_capture
from sim.world import World

SYN, FIN, RST, ACK = 0x02, 0x01, 0x04, 0x10


class Echo(asyncio.Protocol):
    """Answers every chunk with ``ok:<length>``; closes when the peer does."""

    received: list[bytes]

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.received = []

    def data_received(self, data: bytes) -> None:
        self.received.append(data)
        self.transport.write(b"ok:%d" % len(data))

    def eof_received(self) -> bool:
        return False


def _world(tmp_path: Path) -> tuple[World, IpNetwork, Any, Path]:
    world = World(seed=3)
    net = IpNetwork(world)
    path = tmp_path / "ip.pcapng"
    writer = open_capture(path, world)
    IpCapture(net, writer)
    return world, net, writer, path


def _flags(p: Any) -> int:
    return int(p[TCP].flags)


def _streams(packets: list[Any]) -> dict[tuple[Any, ...], list[Any]]:
    by: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
    for p in packets:
        key = (p[IP].src, p[TCP].sport, p[IP].dst, p[TCP].dport)
        by[key].append(p)
    return by


def _payload(packets: list[Any], isn: int) -> bytes:
    """The bytes of one direction, placed by sequence number (a retransmission must agree)."""
    data = bytearray()
    for p in packets:
        chunk = bytes(p[TCP].payload)
        if not chunk:
            continue
        offset = (p[TCP].seq - isn - 1) % 2**32
        if offset < len(data):
            assert bytes(data[offset : offset + len(chunk)]) == chunk[: len(data) - offset]
        data[offset : offset + len(chunk)] = chunk
    return bytes(data)


def test_streams_partitions_fin_rst_and_refusals_add_up(tmp_path) -> None:
    world, net, writer, path = _world(tmp_path)
    servers: list[Echo] = []

    def factory() -> Echo:
        servers.append(Echo())
        return servers[-1]

    net.listen("server", 7, factory)
    big = bytes(range(256)) * 12  # 3072 bytes: three segments

    async def scenario() -> None:
        reader, writer_ = await net.open_connection("server", 7)
        writer_.write(big)
        await reader.readexactly(len(b"ok:3072"))
        net.partition("client", "server")
        writer_.write(b"sent into the partition")
        await asyncio.sleep(1.0)
        net.partition("client", "server", False)
        await reader.readexactly(len(b"ok:23"))
        writer_.close()
        await asyncio.sleep(0.1)
        # a second connection, reset by a crash of the server's host
        _r2, w2 = await net.open_connection("server", 7)
        w2.write(b"hello")
        await asyncio.sleep(0.1)
        net.reset_host("server")
        await asyncio.sleep(0.1)
        # nothing listens on port 9
        try:
            await net.open_connection("server", 9)
        except ConnectionRefused:
            pass
        # a connection attempt into a partition, healed after 2 s: the SYN is sent again
        net.partition("client", "server")
        world.loop.call_later(2.0, net.partition, "client", "server", False)
        _r3, w3 = await net.open_connection("server", 7)
        w3.close()
        await asyncio.sleep(0.1)

    world.run(scenario())
    writer.close()
    world.close()
    packets = [p for p in rdpcap(str(path)) if TCP in p]
    client_ip, server_ip = str(NAMED_HOSTS[1]), str(NAMED_HOSTS[2])
    assert {p[IP].src for p in packets} == {client_ip, server_ip}
    streams = _streams(packets)
    ports = sorted({p[TCP].sport for p in packets if p[IP].src == client_ip})
    first = ports[0]
    up = streams[(client_ip, first, server_ip, 7)]
    down = streams[(server_ip, 7, client_ip, first)]
    # the handshake
    syn, syn_ack = up[0], down[0]
    assert _flags(syn) == SYN and _flags(syn_ack) == SYN | ACK
    assert syn_ack[TCP].ack == syn[TCP].seq + 1
    assert _flags(up[1]) == ACK and up[1][TCP].ack == syn_ack[TCP].seq + 1
    c_isn, s_isn = syn[TCP].seq, syn_ack[TCP].seq
    # what each side sent, reassembled from the segments, is what the application wrote
    assert _payload(up, c_isn) == big + b"sent into the partition"
    assert _payload(down, s_isn) == b"ok:3072ok:23"
    assert max(len(bytes(p[TCP].payload)) for p in up) == MSS
    # the bytes sent into the partition: written when sent (lost), again after the heal
    lost = [p for p in up if p.comments and b"lost" in p.comments[0]]
    assert len(lost) == 1
    again = [
        p
        for p in up
        if p[TCP].seq == lost[0][TCP].seq and p is not lost[0] and bytes(p[TCP].payload)
    ]
    assert len(again) == 1 and bytes(again[0][TCP].payload) == bytes(lost[0][TCP].payload)
    assert float(again[0].time) - float(lost[0].time) >= 1.0
    # every acknowledgement the server sends covers exactly what had arrived
    acks = [p[TCP].ack for p in down if _flags(p) & ACK]
    assert acks == sorted(acks)
    fin_up = next(p for p in up if _flags(p) & FIN)
    assert fin_up[TCP].seq == c_isn + 1 + len(big) + 23
    assert down[-1][TCP].ack == fin_up[TCP].seq + 1  # the FIN is acknowledged
    assert any(_flags(p) & FIN for p in down)  # the server closes too
    # the reset connection: one RST, from the side that reset, nothing after it
    second = ports[1]
    both = streams[(client_ip, second, server_ip, 7)] + streams[(server_ip, 7, client_ip, second)]
    resets = [p for p in both if _flags(p) & RST]
    assert len(resets) == 1
    # the refused connection: SYN answered with RST/ACK
    refused = [p for p in packets if p[TCP].sport == 9 or p[TCP].dport == 9]
    assert [_flags(p) for p in refused] == [SYN, RST | ACK]
    assert refused[1][TCP].ack == refused[0][TCP].seq + 1
    # the partitioned connect: the same SYN again until the heal, then the handshake
    last = ports[-1]
    syns = [p for p in streams[(client_ip, last, server_ip, 7)] if _flags(p) == SYN]
    assert len(syns) >= 2 and len({p[TCP].seq for p in syns}) == 1
    assert syns[0].comments and not syns[-1].comments
    assert any(_flags(p) == SYN | ACK for p in streams[(server_ip, 7, client_ip, last)])


def test_named_hosts_get_addresses_and_literal_ones_are_kept(tmp_path) -> None:
    world, net, writer, path = _world(tmp_path)
    net.listen("10.0.0.5", 80, Echo)

    async def scenario() -> None:
        _r, w = await net.open_connection("10.0.0.5", 80, client_host="harness")
        w.write(b"x")
        await asyncio.sleep(0.1)

    world.run(scenario())
    writer.close()
    world.close()
    packets = [p for p in rdpcap(str(path)) if TCP in p]
    assert {p[IP].src for p in packets} == {"10.0.0.5", str(NAMED_HOSTS[1])}
    assert b"harness\0" in path.read_bytes()  # the name record
