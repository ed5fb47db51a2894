"""The in-world IP links as a sniffer on the wire would see them: every stream of an
:class:`~sim.iplink.IpNetwork` written as Ethernet/IPv4/TCP (built with scapy) to a pcapng.

Each connection gets its three-way handshake, data cut into 1460-byte segments with sequence
and acknowledgement numbers that add up, an ACK from the receiver when data or a FIN arrives,
FIN when a side closes or shuts down writing, RST when a connection is reset or refused.
Faults show as they happened:

* a SYN sent into a partition is written, and written again at each retry (Wireshark marks
  the repeats as retransmissions);
* bytes sent into a partition are written when sent (they never get an ACK) and again, with
  the same sequence numbers, when the partition heals and they go through (retransmissions);
* a reset (``IpNetwork.reset_host``, ``abort``) is one RST from the side that reset.

Hosts are in-world names ("router", "client") or addresses ("10.0.1.20"). An address is kept;
a name gets an address from 198.18.0.0/15 (the range set aside for test networks) in order of
first appearance, and the capture carries name records, so Wireshark shows the names when
it resolves network addresses. MAC addresses are derived from the IPv4 address. Sequence
numbers start from a hash of the connection's addresses and ports, never from the world's
random streams, so a capture never changes what the world does and the same seed writes the
same bytes (except TLS payloads, whose nonces are random: :mod:`devices.protocols.terminal_wire`).

TLS: with ``keylog`` set, every TLS session over this network's streams appends its secrets
to that file in the ``SSLKEYLOGFILE`` format (the transports answer ``get_extra_info
("tls_keylog")``), and Wireshark decrypts the sessions with it (Preferences > Protocols > TLS >
(Pre)-Master-Secret log filename).
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from sim.pcap import LINKTYPE_ETHERNET, PcapngWriter

if TYPE_CHECKING:
    from sim.iplink import IpNetwork, MemoryTransport

MSS = 1460
WINDOW = 65535
NAMED_HOSTS = ipaddress.IPv4Network("198.18.0.0/15")
SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10

Endpoint = tuple[str, int]


@dataclasses.dataclass
class _Half:
    """One direction of a connection, from its sender's side."""

    local: Endpoint
    remote: Endpoint
    isn: int
    sent: int = 0  # bytes (and SYN/FIN, one each) put on the wire, first transmissions only
    received: int = 0  # from the peer, arrived
    peer_isn: int = 0
    fin_sent: bool = False
    reset: bool = False
    lost: list[tuple[int, Any]] = dataclasses.field(default_factory=list)  # (seq, payload)

    @property
    def seq(self) -> int:
        return (self.isn + self.sent) & 0xFFFFFFFF

    @property
    def ack(self) -> int:
        return (self.peer_isn + self.received) & 0xFFFFFFFF


def _checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071): the one's-complement sum of 16-bit words is the
    number the bytes spell modulo 0xFFFF, since 2**16 = 1 (mod 0xFFFF)."""
    if len(data) % 2:
        data += b"\0"
    remainder = int.from_bytes(data, "big") % 0xFFFF
    return 0xFFFF - remainder if remainder else 0


def _isn(local: Endpoint, remote: Endpoint) -> int:
    digest = hashlib.sha256(f"{local[0]}:{local[1]}>{remote[0]}:{remote[1]}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


class IpCapture:
    """Writes every stream of ``net`` to ``writer`` (interface ``ip``); see the module doc."""

    def __init__(
        self,
        net: IpNetwork,
        writer: PcapngWriter,
        interface: str = "ip",
        keylog: Path | None = None,
    ) -> None:
        self.net = net
        self.writer = writer
        self.interface = writer.interface(
            interface, LINKTYPE_ETHERNET, "in-world IP links (TCP streams between world nodes)"
        )
        self.keylog = keylog
        self._addresses: dict[str, str] = {}
        self._templates: dict[tuple[Endpoint, Endpoint], bytes] = {}
        self._halves: weakref.WeakKeyDictionary[MemoryTransport, _Half] = (
            weakref.WeakKeyDictionary()
        )
        net.capture = self

    def close(self) -> None:
        if self.net.capture is self:
            self.net.capture = None

    # -- addresses -------------------------------------------------------------------------------
    def address(self, host: str) -> str:
        """The IPv4 address ``host`` has in the capture."""
        found = self._addresses.get(host)
        if found is not None:
            return found
        try:
            found = str(ipaddress.IPv4Address(host))
        except ValueError:
            taken = sum(1 for h, a in self._addresses.items() if h != a)
            found = str(NAMED_HOSTS[taken + 1])
            self.writer.name_hosts({found: host})
        self._addresses[host] = found
        return found

    def _mac(self, address: str) -> str:
        return "02:00:" + ":".join(f"{b:02x}" for b in ipaddress.IPv4Address(address).packed)

    def _template(self, local: Endpoint, remote: Endpoint) -> bytes:
        """Ethernet/IPv4/TCP headers of one direction, built by scapy once per connection;
        each segment patches lengths, numbers, flags and checksums into a copy."""
        key = (local, remote)
        found = self._templates.get(key)
        if found is None:
            src, dst = self.address(local[0]), self.address(remote[0])
            packet = (
                Ether(src=self._mac(src), dst=self._mac(dst))
                / IP(src=src, dst=dst, ttl=64, id=0, flags="DF")
                / TCP(sport=local[1], dport=remote[1], seq=0, ack=0, flags=0, window=WINDOW)
            )
            if len(self._templates) > 10_000:  # a long serve: old connections' go
                self._templates.clear()
            found = self._templates[key] = bytes(packet)
        return found

    def _write(
        self,
        local: Endpoint,
        remote: Endpoint,
        flags: int,
        seq: int,
        ack: int,
        payload: bytes = b"",
        t: float | None = None,
        comment: str | None = None,
    ) -> None:
        if self.writer.full(54 + len(payload)):
            self.writer.drop(self.interface)
            return
        template = self._template(local, remote)
        ip = bytearray(template[14:34])
        ip[2:4] = (40 + len(payload)).to_bytes(2, "big")
        ip[10:12] = b"\0\0"
        ip[10:12] = _checksum(bytes(ip)).to_bytes(2, "big")
        tcp = bytearray(template[34:54])
        tcp[4:8] = (seq & 0xFFFFFFFF).to_bytes(4, "big")
        tcp[8:12] = (ack & 0xFFFFFFFF if flags & ACK else 0).to_bytes(4, "big")
        tcp[13] = flags
        tcp[16:18] = b"\0\0"
        pseudo = bytes(ip[12:20]) + b"\0\x06" + (20 + len(payload)).to_bytes(2, "big")
        tcp[16:18] = _checksum(pseudo + bytes(tcp) + payload).to_bytes(2, "big")
        frame = template[:14] + bytes(ip) + bytes(tcp) + payload
        self.writer.write(self.interface, frame, t=t, comment=comment)

    # -- connecting ------------------------------------------------------------------------------
    def syn(self, local: Endpoint, remote: Endpoint, lost: bool = False) -> None:
        """A SYN from ``local`` (again, at each retry while a partition swallows it)."""
        comment = "lost: the path is partitioned" if lost else None
        self._write(local, remote, SYN, _isn(local, remote), 0, comment=comment)

    def refused(self, local: Endpoint, remote: Endpoint) -> None:
        """Nothing listens at ``remote``: its host answers the SYN with RST."""
        self._write(remote, local, RST | ACK, 0, _isn(local, remote) + 1)

    def established(self, client: MemoryTransport, server: MemoryTransport) -> None:
        """The handshake completed (the SYN was written by :meth:`syn`): SYN/ACK and ACK,
        both stamped now (the capture stays in time order)."""
        c_isn, s_isn = _isn(client.local, client.remote), _isn(server.local, server.remote)
        c = _Half(client.local, client.remote, c_isn, sent=1, received=1, peer_isn=s_isn)
        s = _Half(server.local, server.remote, s_isn, sent=1, received=1, peer_isn=c_isn)
        self._halves[client], self._halves[server] = c, s
        self._write(s.local, s.remote, SYN | ACK, s_isn, c_isn + 1)
        self._write(c.local, c.remote, ACK, c.seq, c.ack)

    # -- traffic ---------------------------------------------------------------------------------
    def sent(self, transport: MemoryTransport, kind: str, payload: Any, lost: bool) -> None:
        """``transport`` put data (``kind`` "data") or a FIN ("control") on the wire; ``lost``:
        into a partition."""
        half = self._halves.get(transport)
        if half is None or half.reset:
            return
        retransmission = half.lost and half.lost[0][1] is payload and not lost
        if retransmission:
            seq = half.lost.pop(0)[0]
        elif kind == "control" and half.fin_sent:
            return  # shutdown then close: one FIN
        else:
            seq = half.seq
            half.sent += len(payload) if kind == "data" else 1
            if kind == "control":
                half.fin_sent = True
            if lost:
                half.lost.append((seq, payload))
        comment = "lost: the path is partitioned" if lost else None
        if kind == "data":
            data = bytes(payload)
            for offset in range(0, len(data), MSS):
                chunk = data[offset : offset + MSS]
                last = offset + MSS >= len(data)
                flags = ACK | (PSH if last else 0)
                self._write(
                    half.local, half.remote, flags, seq + offset, half.ack, chunk, comment=comment
                )
        else:
            self._write(half.local, half.remote, FIN | ACK, seq, half.ack, comment=comment)

    def arrived(self, sender: MemoryTransport, kind: str, payload: Any) -> None:
        """What ``sender`` sent reached its peer: the peer acknowledges it."""
        peer = sender.peer
        half = self._halves.get(peer) if peer is not None else None
        if half is None or half.reset:
            return
        half.received += len(payload) if kind == "data" else 1
        self._write(half.local, half.remote, ACK, half.seq, half.ack)

    def reset(self, transport: MemoryTransport) -> None:
        """``transport`` resets its connection: one RST (both ends are gone at once)."""
        half = self._halves.get(transport)
        if half is None or half.reset:
            return
        half.reset = True
        peer = self._halves.get(transport.peer) if transport.peer is not None else None
        if peer is not None:
            peer.reset = True
        self._write(half.local, half.remote, RST | ACK, half.seq, half.ack)
