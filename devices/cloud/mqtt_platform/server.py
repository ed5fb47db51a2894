"""The MQTT server: sessions on in-world IP links (virtual time) or on a real TCP port.

One :class:`asyncio.Protocol` per connection feeds the bytes to its
:class:`~devices.cloud.mqtt_platform.session.Session` and carries out what it answers. Time comes
from the loop the server runs on (the world's loop in virtual time): each connection keeps one
timer at its session's deadline (CONNECT timeout, keep alive), re-armed lazily, so an idle
world costs one timer per connection, no thread, no wall clock.

A client identifier belongs to one connection at a time: a new connection with the same id
takes it over and the old one is closed (MQTT 5: DISCONNECT 0x8E session taken over).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING

from devices.cloud.mqtt_platform.application import Application
from devices.cloud.mqtt_platform.session import (
    Action,
    Close,
    Recorder,
    Send,
    Session,
    SessionConfig,
)
from devices.protocols.mqtt.packets import Packet
from devices.protocols.mqtt.reasons import Reason

if TYPE_CHECKING:
    from sim.iplink import IpNetwork

log = logging.getLogger(__name__)


class _Connection(asyncio.Protocol):
    def __init__(self, server: MqttServer, loop: asyncio.AbstractEventLoop) -> None:
        self.server = server
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.session: Session | None = None
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        address = ":".join(str(p) for p in peer[:2]) if peer else ""
        self.session = Session(
            self.server.app,
            self.loop.time,
            self.server.config,
            peer=address,
            on_output=self._flush,
            on_connected=self.server._claim,
            on_closed=self.server._release,
            recorder=self.server._recorder_for(address),
        )
        self.server._connections.add(self)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self.session is not None:
            self._execute(self.session.feed(data))

    def eof_received(self) -> bool:
        return False  # a half-closed MQTT connection is a closed one

    def connection_lost(self, exc: Exception | None) -> None:
        self.server._connections.discard(self)
        self._cancel_timer()
        if self.session is not None:
            self.session.connection_lost(f"connection lost: {exc}" if exc else "connection closed")
        self.transport = None

    # -- carrying out the session's answers -------------------------------------------------
    def _flush(self) -> None:
        if self.session is not None:
            self._execute(self.session.drain())

    def _execute(self, actions: list[Action]) -> None:
        transport = self.transport
        for action in actions:
            if transport is None or transport.is_closing():
                break
            if isinstance(action, Send):
                transport.write(action.data)
            elif isinstance(action, Close):
                transport.close()
        self._arm()

    # -- the session's timer ----------------------------------------------------------------
    def _arm(self) -> None:
        deadline = self.session.deadline if self.session is not None else None
        if deadline is None or self.transport is None:
            self._cancel_timer()
            return
        if self._timer is not None and self._timer.when() <= deadline:
            return  # fires no later than needed; it re-arms then
        self._cancel_timer()
        self._timer = self.loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self.session is not None:
            self._execute(self.session.tick(self.loop.time()))

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class MqttServer:
    """Serves ``app`` over MQTT 3.1.1 and 5, in-world and/or on real TCP ports."""

    def __init__(
        self,
        app: Application,
        config: SessionConfig | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        self.app = app
        self.config = config or SessionConfig()
        self.recorder = recorder
        self.transcript: Callable[[str, str, Packet], None] | None = None
        """Called with (peer address, "in" | "out", packet) for every packet of every connection
        made after it is set (evidence: the harness's MQTT transcript)."""
        self.sessions: dict[str, Session] = {}
        """Connected sessions by client identifier."""
        self._connections: set[_Connection] = set()
        self._in_world: list[tuple[IpNetwork, str, int]] = []
        self._tcp: list[asyncio.Server] = []

    def session(self, client_id: str) -> Session | None:
        return self.sessions.get(client_id)

    @property
    def open_connections(self) -> int:
        return len(self._connections)

    def protocol(self, loop: asyncio.AbstractEventLoop) -> asyncio.Protocol:
        """The protocol of one new connection, for a listener opened elsewhere (e.g. behind
        TLS in the world); :meth:`close` ends such connections too, not their listener."""
        return _Connection(self, loop)

    # -- listening ---------------------------------------------------------------------------
    def listen(self, net: IpNetwork, host: str, port: int = 1883) -> None:
        """Accept connections at ``host:port`` inside ``net``'s world (its loop and clock)."""
        loop = net.world.loop
        net.listen(host, port, lambda: _Connection(self, loop))
        self._in_world.append((net, host, port))

    async def listen_tcp(
        self, host: str = "127.0.0.1", port: int = 0, ssl_context: ssl.SSLContext | None = None
    ) -> int:
        """Accept connections on a real socket (TLS with ``ssl_context``); the bound port."""
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: _Connection(self, loop), host, port, ssl=ssl_context
        )
        self._tcp.append(server)
        return int(server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop listening and end every connection (MQTT 5: DISCONNECT 0x8B)."""
        for net, host, port in self._in_world:
            net.unlisten(host, port)
        self._in_world.clear()
        for server in self._tcp:
            server.close()
        for conn in list(self._connections):
            if conn.session is not None and not conn.session.closed:
                conn.session.disconnect(Reason.SERVER_SHUTTING_DOWN, "server shutting down")
            elif conn.transport is not None:
                conn.transport.close()
        for server in self._tcp:
            await server.wait_closed()
        self._tcp.clear()

    def _recorder_for(self, peer: str) -> Recorder | None:
        recorder, transcript = self.recorder, self.transcript
        if transcript is None:
            return recorder

        def record(direction: str, packet: Packet) -> None:
            if recorder is not None:
                recorder(direction, packet)
            transcript(peer, direction, packet)

        return record

    # -- client identifiers ------------------------------------------------------------------
    def _claim(self, session: Session) -> None:
        old = self.sessions.get(session.client_id)
        self.sessions[session.client_id] = session
        if old is not None and old is not session:
            old.disconnect(Reason.SESSION_TAKEN_OVER, "client identifier taken over")

    def _release(self, session: Session) -> None:
        if self.sessions.get(session.client_id) is session:
            del self.sessions[session.client_id]
