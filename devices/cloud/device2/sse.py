"""Gateway events as Server-Sent Events: ``GET /api:1/service/<product>/device2/events``.

Each gateway event of the product (:data:`~.events.GATEWAY_EVENT`) is one SSE message:
``id: <n>`` (counting from 1 per stream), ``event: <type>`` and ``data: <the event object as
JSON>``. ``?types=data_in,connect`` keeps only those types. The stream opens with a
``: connected`` comment and sends ``: keep-alive`` after :data:`KEEPALIVE_S` idle seconds (of
the world's clock). A reader that falls :data:`MAX_QUEUED` events behind loses the newest ones
(counted in the ``: dropped <n>`` comment that follows). There is no webhook: subscribers in
the same process use ``service.on(GATEWAY_EVENT, ...)``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from devices.cloud.device2 import params as p
from devices.cloud.device2.errors import InvalidInput, one_of
from devices.cloud.device2.events import GATEWAY_EVENT, TYPES
from devices.cloud.device2.service import Device2Service

KEEPALIVE_S = 15.0
MAX_QUEUED = 10_000
HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}


def message(seq: int, event: dict[str, Any]) -> bytes:
    data = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    return f"id: {seq}\nevent: {event['type']}\ndata: {data}\n\n".encode()


async def stream(request: web.Request, service: Device2Service) -> web.StreamResponse:
    product = request.match_info["product"]
    service.gateway(product)  # NotFound before the stream starts
    types = p.opt_str_list(dict(request.query), "types")
    for kind in types or []:
        if kind not in TYPES:
            raise InvalidInput("types", "a comma-separated list of " + one_of(TYPES), kind)
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(MAX_QUEUED)
    dropped = 0

    def on_event(event_product: str, event: dict[str, Any]) -> None:
        nonlocal dropped
        if event_product != product or (types and event["type"] not in types):
            return
        try:
            queue.put_nowait(event)
        except asyncio.QueueFull:
            dropped += 1

    service.on(GATEWAY_EVENT, on_event)
    response = web.StreamResponse(headers=HEADERS)
    try:
        await response.prepare(request)
        await response.write(b": connected\n\n")
        seq = 0
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            seq += 1
            await response.write(message(seq, event))
            if dropped:
                await response.write(f": dropped {dropped}\n\n".encode())
                dropped = 0
    except (ConnectionResetError, ConnectionError):
        pass
    finally:
        service.remove_listener(GATEWAY_EVENT, on_event)
    return response
