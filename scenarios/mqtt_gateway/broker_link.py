"""The network path between an outside gateway and the platform, on loopback, with faults.

An outside gateway is told the link's address as its broker; every connection it opens is
relayed to the platform's MQTT port. Faults, as they look from the gateway's side:

* :meth:`BrokerLink.blackhole` — a partition: the connection stays open, but nothing crosses
  it either way (bytes are dropped, as a network that eats packets; TCP on either end does not
  notice). A client keeps publishing into it and waits for PUBACKs that never come;
* :meth:`BrokerLink.reset` — every relayed connection is aborted (RST) on both sides, as when
  a broker restarts or a NAT forgets the flow;
* :meth:`BrokerLink.refuse` — new connections are refused (the broker is down);
* :meth:`BrokerLink.heal` — back to normal: accepting and relaying.

A broker outage as the gateway lives it is ``blackhole()``, a few seconds, ``reset()`` with
``refuse()``, a few seconds, ``heal()``. Every fault and connection lands in :attr:`events`
(``(t, event, details)`` with the loop's time) and in the world's trace when a world is given.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.world import World

LAYER = "broker-link"


class _Side(asyncio.Protocol):
    """One end of a relayed connection."""

    def __init__(self, pair: _Pair, outside: bool) -> None:
        self.pair = pair
        self.outside = outside
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if self.outside:
            self.pair.opened(self)

    def data_received(self, data: bytes) -> None:
        self.pair.carry(data, from_outside=self.outside)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.pair.lost(self)


class _Pair:
    """A gateway's connection and the link's own connection to the platform."""

    def __init__(self, link: BrokerLink, number: int) -> None:
        self.link = link
        self.number = number
        self.outside = _Side(self, outside=True)
        self.inside: _Side | None = None
        self._early: list[bytes] = []  # from the gateway before the platform answered the dial
        self.closed = False

    def opened(self, side: _Side) -> None:
        self.link._pairs.add(self)
        self.link._dial(self)

    def dialled(self, inside: _Side) -> None:
        self.inside = inside
        if self.closed:
            self.abort()
            return
        for data in self._early:
            self.carry(data, from_outside=True)
        self._early.clear()

    def carry(self, data: bytes, from_outside: bool) -> None:
        link = self.link
        if link.blackholed:
            link.dropped[0 if from_outside else 1] += len(data)
            return
        target = self.inside if from_outside else self.outside
        if target is None or target.transport is None:
            if from_outside and not self.closed:
                self._early.append(data)
            return
        target.transport.write(data)
        link.carried[0 if from_outside else 1] += len(data)

    def lost(self, side: _Side) -> None:
        """One end closed: close the other (an orderly close travels, as TCP's would)."""
        if self.closed:
            return
        self.closed = True
        other = self.inside if side is self.outside else self.outside
        if other is not None and other.transport is not None:
            other.transport.close()
        self.link._pairs.discard(self)
        self.link._note("link-closed", conn=self.number)

    def abort(self) -> None:
        self.closed = True
        for side in (self.outside, self.inside):
            if side is not None and side.transport is not None:
                side.transport.abort()
        self.link._pairs.discard(self)


class BrokerLink:
    """Relays ``host:port`` (from :meth:`listen`) to the platform at ``target``."""

    def __init__(self, target_host: str, target_port: int, world: World | None = None) -> None:
        self.target = (target_host, target_port)
        self.world = world
        self.address: tuple[str, int] | None = None
        self.blackholed = False
        self.refusing = False
        self.carried = [0, 0]
        """Bytes relayed: [gateway to platform, platform to gateway]."""
        self.dropped = [0, 0]
        """Bytes a blackhole ate: [gateway to platform, platform to gateway]."""
        self.accepted = 0
        self.events: list[tuple[float, str, dict[str, Any]]] = []
        self._pairs: set[_Pair] = set()
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        if self.address is None:
            raise RuntimeError("the broker link is not listening yet")
        return self.address[1]

    async def listen(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """Accept gateways at ``host:port`` (0: a free port); the address taken."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._accept, host, port)
        sock = self._server.sockets[0].getsockname()
        self.address = (str(sock[0]), int(sock[1]))
        self._note("link-listening", port=self.address[1])
        return self.address

    @property
    def connections(self) -> int:
        return len(self._pairs)

    # -- faults ------------------------------------------------------------------------------
    def blackhole(self) -> None:
        """Nothing crosses any more, either way; connections stay open."""
        self.blackholed = True
        self._note("link-blackhole", open=len(self._pairs))

    def reset(self) -> None:
        """Abort every relayed connection, both sides."""
        count = len(self._pairs)
        for pair in list(self._pairs):
            pair.abort()
        self._note("link-reset", aborted=count)

    async def refuse(self) -> None:
        """Stop accepting: new connections are refused until :meth:`heal`."""
        if self._server is not None and not self.refusing:
            self.refusing = True
            self._server.close()
            await self._server.wait_closed()
            self._server = None
            self._note("link-refusing")

    async def heal(self) -> None:
        """Relay again, and accept again on the same address."""
        self.blackholed = False
        if self.refusing and self.address is not None:
            loop = asyncio.get_running_loop()
            self._server = await loop.create_server(self._accept, *self.address)
            self.refusing = False
        self._note("link-healed")

    async def close(self) -> None:
        for pair in list(self._pairs):
            pair.abort()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    # -- internals ---------------------------------------------------------------------------
    def _accept(self) -> _Side:
        self.accepted += 1
        pair = _Pair(self, self.accepted)
        self._note("link-accepted", conn=pair.number)
        return pair.outside

    def _dial(self, pair: _Pair) -> None:
        loop = asyncio.get_running_loop()

        async def dial() -> None:
            try:
                _transport, inside = await loop.create_connection(
                    lambda: _Side(pair, outside=False), *self.target
                )
            except OSError as exc:
                self._note("link-dial-failed", conn=pair.number, error=str(exc))
                pair.abort()
                return
            pair.dialled(inside)

        loop.create_task(dial())

    def _note(self, event: str, **details: Any) -> None:
        t = asyncio.get_running_loop().time()
        self.events.append((t, event, details))
        if self.world is not None:
            self.world.trace.emit("broker-link", LAYER, event, **details)
