"""Server-side RPC bookkeeping: request ids per device, counting from 0 (as the real platform's
device actor does; they restart with the platform), and the requests awaiting a reply."""

from __future__ import annotations

import asyncio
from typing import Any


class RpcBook:
    def __init__(self) -> None:
        self._next: dict[int, int] = {}
        self._pending: dict[tuple[int, int], asyncio.Future[Any]] = {}

    def next_id(self, device_id: int) -> int:
        request_id = self._next.get(device_id, 0)
        self._next[device_id] = request_id + 1
        return request_id

    def expect(self, device_id: int, request_id: int) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[(device_id, request_id)] = future
        return future

    def resolve(self, device_id: int, request_id: int, data: Any) -> bool:
        """Hand ``data`` to the request waiting for it; False if none waits (late, unknown)."""
        future = self._pending.pop((device_id, request_id), None)
        if future is None or future.done():
            return False
        future.set_result(data)
        return True

    def forget(self, device_id: int, request_id: int) -> None:
        self._pending.pop((device_id, request_id), None)

    def cancel_all(self) -> None:
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
