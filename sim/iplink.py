"""IP links inside the world: stream connections between nodes with latency, bandwidth,
partitions and resets, on the world's clock.

In virtual time the protocol stacks (aiohttp's server, the h11 client, ...) exchange their real
bytes through :class:`MemoryTransport` pairs, so no kernel socket can make the event order depend
on the machine. In real time the same servers listen on loopback sockets instead (see
``hil serve``), and clients connect with ``asyncio.open_connection``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sim.fifo import OrderedDelivery

if TYPE_CHECKING:
    from sim.world import World

ProtocolFactory = Callable[[], asyncio.Protocol]


class ConnectionRefused(ConnectionRefusedError):
    pass


@dataclasses.dataclass
class LinkProfile:
    """Properties of the path between two hosts."""

    latency_s: float = 0.0005
    bandwidth_bps: float = 100e6
    partitioned: bool = False


# A SYN lost to a partition is sent again after 1, 2, 4, 8 ... seconds (as TCP stacks do) until
# the connect timeout; if the partition heals meanwhile, the connection goes through.
SYN_RETRIES = (1.0, 2.0, 4.0, 8.0, 16.0)


class MemoryTransport(asyncio.Transport):
    """One end of an in-world stream; bytes reach the peer after latency + serialisation."""

    def __init__(
        self,
        net: IpNetwork,
        local: tuple[str, int],
        remote: tuple[str, int],
        protocol: asyncio.Protocol,
    ) -> None:
        super().__init__()
        self._net = net
        self._loop = net.world.loop
        self.local = local
        self.remote = remote
        self._protocol = protocol
        self.peer: MemoryTransport | None = None
        self._closing = False
        self._closed = False
        self._paused = False
        self._inbox: list[bytes] = []
        self._eof_pending = False
        self._wire = OrderedDelivery(self._loop)
        self._held: list[tuple[str, Any]] = []  # what waits for a partition to heal
        self.bytes_sent = 0

    # -- asyncio.Transport -------------------------------------------------------------------
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "tls_keylog":  # where TLS sessions over this stream log their secrets
            keylog = getattr(self._net.capture, "keylog", None)
            return str(keylog) if keylog is not None else default
        return {"peername": self.remote, "sockname": self.local}.get(name, default)

    def is_closing(self) -> bool:
        return self._closing

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol  # type: ignore[assignment]

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or not data:
            return
        self._send(bytes(data))

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(bytes(d) for d in list_of_data))

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self._send_control("eof")

    def get_write_buffer_size(self) -> int:
        return 0

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (0, 0)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def pause_reading(self) -> None:
        self._paused = True

    def resume_reading(self) -> None:
        if not self._paused:
            return
        self._paused = False
        inbox, self._inbox = self._inbox, []
        for chunk in inbox:
            self._protocol.data_received(chunk)
        if self._eof_pending and not self._paused:
            self._eof_pending = False
            self._on_eof()

    def is_reading(self) -> bool:
        return not self._paused

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._send_control("close")
        self._loop.call_soon(self._lost, None)

    def abort(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Both ends see the connection reset at once (RST)."""
        if self._net.capture is not None:
            self._net.capture.reset(self)
        for end in (self, self.peer):
            if end is not None and not end._closed:
                end._closing = True
                self._loop.call_soon(end._lost, ConnectionResetError("connection reset by peer"))

    # -- delivery ----------------------------------------------------------------------------
    def _send(self, data: bytes) -> None:
        self._emit("data", data)

    def _send_control(self, what: str) -> None:
        self._emit("control", what)

    def _emit(self, kind: str, payload: Any) -> None:
        """Bytes and FIN/EOF alike cross the link in order; a partition holds them all."""
        profile = self._net.profile(self.local[0], self.remote[0])
        if self._net.capture is not None:
            self._net.capture.sent(self, kind, payload, lost=profile.partitioned)
        if profile.partitioned:
            self._held.append((kind, payload))
            self._net._held.add(self)
            return
        at = self._loop.time() + profile.latency_s
        if kind == "data":
            self.bytes_sent += len(payload)
            self._wire.push(at + len(payload) * 8 / profile.bandwidth_bps, self._arrive, payload)
        else:
            self._wire.push(at, self._arrive_control, payload)

    def flush_held(self) -> None:
        held, self._held = self._held, []
        for kind, payload in held:
            self._emit(kind, payload)

    def _arrive(self, data: bytes) -> None:
        peer = self.peer
        if peer is None or peer._closed:
            return
        if self._net.capture is not None:
            self._net.capture.arrived(self, "data", data)
        if peer._paused:
            peer._inbox.append(data)
        else:
            peer._protocol.data_received(data)

    def _arrive_control(self, what: str) -> None:
        peer = self.peer
        if peer is not None and self._net.capture is not None:
            self._net.capture.arrived(self, "control", what)  # a closed end ACKs a FIN too
        if peer is None or peer._closed:
            return
        if peer._paused:
            peer._eof_pending = True
            return
        peer._on_eof()

    def _on_eof(self) -> None:
        keep_open = self._protocol.eof_received()
        if not keep_open:
            self.close()

    def _lost(self, exc: Exception | None) -> None:
        if self._closed:
            return
        self._closed = True
        self._closing = True
        self._net._forget(self)
        self._protocol.connection_lost(exc)


class IpNetwork:
    """Hosts, listeners and the links between them."""

    def __init__(self, world: World, default: LinkProfile | None = None, name: str = "ip"):
        self.world = world
        self.default = default or LinkProfile()
        self._profiles: dict[frozenset[str], LinkProfile] = {}
        self._listeners: dict[tuple[str, int], ProtocolFactory] = {}
        self._transports: list[MemoryTransport] = []
        self._held: set[MemoryTransport] = set()
        self._ephemeral = 40000
        # An IP capture (sim.ip_capture.IpCapture) is told what crosses the links.
        self.capture: Any = None
        world.add_medium(name, self)

    # -- topology ----------------------------------------------------------------------------
    def profile(self, a: str, b: str) -> LinkProfile:
        return self._profiles.get(frozenset((a, b)), self.default)

    def set_link(self, a: str, b: str, **changes: Any) -> LinkProfile:
        current = dataclasses.replace(self.profile(a, b), **changes)
        self._profiles[frozenset((a, b))] = current
        if not current.partitioned:
            for t in list(self._held):
                if {t.local[0], t.remote[0]} == {a, b}:
                    self._held.discard(t)
                    t.flush_held()
        self.world.trace.emit(a, "ip", "link", peer=b, **dataclasses.asdict(current))
        return current

    def partition(self, a: str, b: str, partitioned: bool = True) -> None:
        self.set_link(a, b, partitioned=partitioned)

    def reset_host(self, host: str) -> int:
        """Reset every connection touching ``host`` (a crash, a cable pulled and replugged)."""
        victims = [t for t in self._transports if host in (t.local[0], t.remote[0])]
        for t in victims:
            t.reset()
        self.world.trace.emit(host, "ip", "reset", connections=len(victims))
        return len(victims)

    # -- servers and clients -----------------------------------------------------------------
    def listen(self, host: str, port: int, factory: ProtocolFactory) -> None:
        if (host, port) in self._listeners:
            raise OSError(f"{host}:{port} is already in use in this world")
        self._listeners[(host, port)] = factory

    def unlisten(self, host: str, port: int) -> None:
        self._listeners.pop((host, port), None)

    async def create_connection(
        self, factory: ProtocolFactory, host: str, port: int, client_host: str = "client"
    ) -> tuple[MemoryTransport, Any]:
        server_factory = self._listeners.get((host, port))
        attempt = ((client_host, self._ephemeral + 1), (host, port))  # as the capture shows it
        if server_factory is None:
            if self.capture is not None:
                self.capture.syn(*attempt)
            await asyncio.sleep(self.profile(client_host, host).latency_s * 2)
            if self.capture is not None:
                self.capture.refused(*attempt)
            raise ConnectionRefused(f"connection to {host}:{port} refused: nothing listens there")
        waited = 0.0
        for backoff in SYN_RETRIES:
            if not self.profile(client_host, host).partitioned:
                break
            if self.capture is not None:
                self.capture.syn(*attempt, lost=True)
            await asyncio.sleep(backoff)
            waited += backoff
        else:
            raise TimeoutError(
                errno.ETIMEDOUT,
                f"connection to {host}:{port} timed out after "
                f"{waited:g} s: the path from {client_host} is partitioned",
            )
        self._ephemeral += 1
        local = (client_host, self._ephemeral)
        client_proto = factory()
        server_proto = server_factory()
        client = MemoryTransport(self, local, (host, port), client_proto)
        server = MemoryTransport(self, (host, port), local, server_proto)
        client.peer, server.peer = server, client
        self._transports += [client, server]
        if self.capture is not None:
            self.capture.syn(local, (host, port))
        # The handshake costs one round trip before either side may talk.
        await asyncio.sleep(self.profile(client_host, host).latency_s * 2)
        if self.capture is not None:
            self.capture.established(client, server)
        server_proto.connection_made(server)
        client_proto.connection_made(client)
        return client, client_proto

    async def open_connection(
        self, host: str, port: int, client_host: str = "client", limit: int = 2**16
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        loop = self.world.loop
        reader = asyncio.StreamReader(limit=limit, loop=loop)
        transport, protocol = await self.create_connection(
            lambda: asyncio.StreamReaderProtocol(reader, loop=loop), host, port, client_host
        )
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        return reader, writer

    def _forget(self, transport: MemoryTransport) -> None:
        if transport in self._transports:
            self._transports.remove(transport)
        if not transport._held:  # what a closed end sent still waits for the heal
            self._held.discard(transport)

    @property
    def open_connections(self) -> int:
        return len(self._transports) // 2
