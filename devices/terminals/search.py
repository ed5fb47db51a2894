"""Device search: a UDP-broadcast-like medium reaching every responder on the sender's subnet.

A search request is one datagram (``SEARCH_MAGIC``); each powered terminal whose address lies in
the broadcast subnet answers with a JSON datagram after the link latency plus a seeded random
back-off (0-200 ms, as devices stagger their answers). Replies arriving after the searcher's
timeout are lost, as they would be on a real network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.world import World

SEARCH_MAGIC = b"HIL-SEARCH/1"
Responder = Callable[[bytes], "bytes | None"]


class SearchMedium:
    def __init__(self, world: World, latency_s: float = 0.0005, backoff_s: float = 0.2) -> None:
        self.world = world
        self.latency_s = latency_s
        self.backoff_s = backoff_s
        self._responders: dict[str, tuple[Callable[[], str], Responder]] = {}
        world.add_medium("udp-search", self)

    def register(self, name: str, address: Callable[[], str], responder: Responder) -> None:
        self._responders[name] = (address, responder)

    def unregister(self, name: str) -> None:
        self._responders.pop(name, None)

    async def search(self, sender: str, subnet: str, timeout_s: float) -> list[dict[str, Any]]:
        """Broadcast on ``subnet``; the replies (parsed JSON) that arrive within ``timeout_s``."""
        net = ipaddress.ip_network(subnet, strict=False)
        loop = self.world.loop
        rng = self.world.rng("udp-search")
        replies: list[dict[str, Any]] = []
        deadline = loop.time() + timeout_s
        self.world.trace.emit(
            sender, "ip", "search-broadcast", subnet=str(net), timeout_s=timeout_s
        )
        for name in sorted(self._responders):
            address, responder = self._responders[name]
            if ipaddress.ip_address(address()) not in net:
                continue
            delay = 2 * self.latency_s + rng.uniform(0, self.backoff_s)

            def deliver(responder: Responder = responder) -> None:
                answer = responder(SEARCH_MAGIC)
                if answer is not None and loop.time() <= deadline:
                    replies.append(json.loads(answer))

            loop.call_at(loop.time() + delay, deliver)
        await asyncio.sleep(timeout_s)
        return replies
