"""Server-Sent Events for the router: the one stream lifecycle every stream follows
(:func:`serve_stream`), the per-stream outbox and the router-wide stream limit.

A stream's :class:`Feed` (:mod:`.event_streams`) listens to domain events and calls
:meth:`SseOutbox.push` with one ready JSON line; that only appends and wakes the writer, so a
burst of reports costs one write. :meth:`SseOutbox.pump` writes ``data: {json}\\n\\n`` lines,
sends a ``:keep-alive`` comment when idle, and returns when the client goes away
(``ConnectionResetError`` on write, or the handler being cancelled by aiohttp's
``handler_cancellation`` when the connection drops) or when the central stops (a reboot, the
router stopping): then the stream ends.

The seed: "SSE streams are limited to about 20-30 per gateway. If too many SSE streams are
opened at a given time, you may receive a 500 error". :class:`StreamLimiter` counts every open
stream (scan, notification, connection-state, RSSI) and refuses past its maximum
(:class:`~.errors.StreamLimit`, answered 500).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from devices.gateways.ble_router.errors import StreamLimit
from devices.gateways.ble_router.events import STOPPED

if TYPE_CHECKING:
    from devices.gateways.ble_router.router import BleRouter

SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "Connection": "keep-alive",
    "X-Accel-Buffering": "no",
}


class StreamLimiter:
    """How many SSE streams are open, of which kind; refuses past ``maximum``."""

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum
        self.open: dict[int, str] = {}
        self._next = 0
        self.refused = 0

    def acquire(self, kind: str) -> int:
        if len(self.open) >= self.maximum:
            self.refused += 1
            raise StreamLimit(
                len(self.open),
                self.maximum,
                f"too many SSE streams: {len(self.open)} of at most {self.maximum} are "
                "open; close a stream (scan, notification or connection-state) and "
                "retry",
            )
        self._next += 1
        self.open[self._next] = kind
        return self._next

    def release(self, token: int) -> None:
        self.open.pop(token, None)

    def count(self, kind: str | None = None) -> int:
        return len(self.open) if kind is None else sum(1 for k in self.open.values() if k == kind)


class SseOutbox:
    """Lines waiting to be written to one SSE response."""

    __slots__ = (
        "_lines",
        "_waiter",
        "_loop",
        "keepalive_s",
        "max_lines",
        "dropped",
        "sent",
        "closed",
    )

    def __init__(
        self, loop: asyncio.AbstractEventLoop, keepalive_s: float = 30.0, max_lines: int = 20000
    ) -> None:
        self._lines: list[str] = []
        self._waiter: asyncio.Future[None] | None = None
        self._loop = loop
        self.keepalive_s = keepalive_s
        self.max_lines = max_lines
        self.dropped = 0
        self.sent = 0
        self.closed = False

    def push(self, line: str) -> None:
        if self.closed:
            return
        lines = self._lines
        if len(lines) >= self.max_lines:  # a stalled reader: keep the newest
            del lines[0]
            self.dropped += 1
        lines.append(line)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        self.closed = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def pump(self, response: web.StreamResponse) -> None:
        """Write until the client leaves or :meth:`close` is called."""
        loop = self._loop
        try:
            while not self.closed:
                if not self._lines:
                    waiter = self._waiter = loop.create_future()
                    timer = loop.call_later(self.keepalive_s, _wake, waiter)
                    try:
                        await waiter
                    finally:
                        timer.cancel()
                        self._waiter = None
                    if self.closed:
                        break
                    if not self._lines:
                        await response.write(b":keep-alive\n\n")
                        continue
                lines, self._lines = self._lines, []
                self.sent += len(lines)
                await response.write("".join(f"data: {line}\n\n" for line in lines).encode())
        except (ConnectionResetError, ConnectionError):
            pass
        finally:
            self.closed = True


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def open_stream(request: web.Request, content_type: str | None = None) -> web.StreamResponse:
    """Send the SSE response headers (``content_type`` replaces text/event-stream: only the
    deviation ``sse-content-type-wrong`` does that)."""
    headers = SSE_HEADERS if content_type is None else {**SSE_HEADERS, "Content-Type": content_type}
    response = web.StreamResponse(status=200, headers=headers)
    response.enable_chunked_encoding()
    await response.prepare(request)
    return response


class Feed(Protocol):
    """What one stream carries: it starts pushing lines into the outbox once the response is
    open, and stops when the stream ends (returning what the close trace adds)."""

    async def start(self, outbox: SseOutbox) -> None: ...

    def stop(self) -> dict[str, Any]: ...


async def serve_stream(
    request: web.Request, router: BleRouter, kind: str, feed: Feed, **details: Any
) -> web.StreamResponse:
    """Serve one SSE stream of ``kind`` from ``feed``: take a place under the stream limit,
    send the headers, pump lines and keep-alives until the client leaves or the central stops,
    then release everything. ``details`` go into the open trace. ``HEAD`` gets the headers a
    stream would have and opens nothing."""
    if request.method == "HEAD":
        return web.Response(status=200, headers=SSE_HEADERS)
    streams = router.streams
    token = streams.acquire(kind)
    try:
        wrong_type = router.deviations.active("sse-content-type-wrong")
        response = await open_stream(request, "application/json" if wrong_type else None)
        outbox = SseOutbox(asyncio.get_running_loop(), router.keepalive_s)
        router.trace(
            "sse", "open", stream=kind, token=token, **details, open_streams=streams.count()
        )
        central = router.central
        central.on(STOPPED, outbox.close)
        try:
            await feed.start(outbox)
            await outbox.pump(response)
        finally:
            central.remove_listener(STOPPED, outbox.close)
            closing = feed.stop()
            outbox.close()
            router.trace("sse", "close", stream=kind, token=token, sent=outbox.sent, **closing)
    finally:
        streams.release(token)
    return response
