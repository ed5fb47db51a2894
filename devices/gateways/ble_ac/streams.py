"""The controller's own SSE streams (``hubStatus``, the combined ``aps/events``) and the relay of
a router's stream through the controller, on the router's outbox (:class:`~devices.gateways.
ble_router.sse.SseOutbox`): lines are pushed, a burst costs one write, and the stream ends when
the client leaves, the source ends or the controller stops.

Batching: the combined stream gathers what arrives within the controller's ``batch_s`` (5 ms)
after a first message and writes it at once (:class:`Batcher`): under load one write carries many
messages, for a few milliseconds of latency.

Keep-alives: the router's outbox sends a ``:keep-alive`` comment after 30 s of silence. The
combined stream instead sends a ``keep-alive`` *message* every 30 s whatever else it carries
(the seed: "One keep-alive message will be returned every 30 seconds"; the vendor's SDK drops
messages whose data matches ``keep-alive``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from devices.gateways.ble_ac.deviations import LATE_KEEPALIVE_S
from devices.gateways.ble_router.sse import SSE_HEADERS, SseOutbox, open_stream

if TYPE_CHECKING:
    from devices.gateways.ble_ac.controller import AccessController

KEEPALIVE_S = 30.0
KEEPALIVE_MESSAGE = "keep-alive"
# what a feed does once the stream is open: subscribe the outbox, return how to unsubscribe
Subscribe = Callable[[SseOutbox], Callable[[], None]]


async def serve_feed(
    request: web.Request,
    ac: AccessController,
    kind: str,
    first: Iterable[str],
    subscribe: Subscribe,
    keepalive_message: bool = False,
    **details: Any,
) -> web.StreamResponse:
    """Serve one stream of ``kind``: the ``first`` lines, then whatever ``subscribe`` feeds it,
    until the client leaves or the controller stops. ``HEAD`` gets the headers only."""
    if request.method == "HEAD":
        return web.Response(status=200, headers=SSE_HEADERS)
    loop = asyncio.get_running_loop()
    response = await open_stream(request)
    # with keep-alive messages the outbox's own keep-alive comment never has to fire
    outbox = SseOutbox(loop, KEEPALIVE_S * 1000 if keepalive_message else ac.keepalive_s)
    for line in first:
        outbox.push(line)
    unsubscribe = subscribe(outbox)
    timer: list[asyncio.TimerHandle] = []
    every_s = KEEPALIVE_S
    if ac.deviations.active("combined-keepalive-late"):
        every_s = LATE_KEEPALIVE_S

    def beat() -> None:
        outbox.push(KEEPALIVE_MESSAGE)
        timer[:] = [loop.call_later(every_s, beat)]

    if keepalive_message:
        timer.append(loop.call_later(every_s, beat))
    ac.outboxes.add(outbox)
    ac.trace("sse", "open", stream=kind, open_streams=len(ac.outboxes), **details)
    try:
        await outbox.pump(response)
    finally:
        ac.outboxes.discard(outbox)
        for handle in timer:
            handle.cancel()
        unsubscribe()
        outbox.close()
        ac.trace("sse", "close", stream=kind, sent=outbox.sent, dropped=outbox.dropped)
    return response


class Batcher:
    """Collects lines for ``outbox`` and hands them over ``batch_s`` after the first of a batch,
    so that under load one write carries many messages, at the cost of at most ``batch_s`` of
    latency (0: every line at once)."""

    def __init__(self, outbox: SseOutbox, loop: asyncio.AbstractEventLoop, batch_s: float) -> None:
        self.outbox = outbox
        self.loop = loop
        self.batch_s = batch_s
        self.lines: list[str] = []
        self.timer: asyncio.TimerHandle | None = None

    def push(self, line: str) -> None:
        if self.batch_s <= 0:
            self.outbox.push(line)
            return
        self.lines.append(line)
        if self.timer is None:
            self.timer = self.loop.call_later(self.batch_s, self.flush)

    def flush(self) -> None:
        self.timer = None
        lines, self.lines = self.lines, []
        for line in lines:
            self.outbox.push(line)

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
