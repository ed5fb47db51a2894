"""In-order delivery on the world's clock.

asyncio's timer heap does not keep insertion order between timers due at the same instant, so
a medium that must never reorder (an LE link, a TCP stream) queues its deliveries here: each item
is due no earlier than the one before it and they run strictly first-in, first-out.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any


class OrderedDelivery:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queue: deque[tuple[float, Callable[..., Any], tuple[Any, ...]]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self.horizon = 0.0  # when the last queued item is due

    def push(self, at: float, callback: Callable[..., Any], *args: Any) -> float:
        """Queue ``callback(*args)`` for ``at`` (or later, after everything queued before it)."""
        at = max(at, self.horizon)
        self.horizon = at
        self._queue.append((at, callback, args))
        if self._timer is None:
            self._timer = self._loop.call_at(at, self._pump)
        return at

    def clear(self) -> None:
        self._queue.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def __len__(self) -> int:
        return len(self._queue)

    def _pump(self) -> None:
        self._timer = None
        now = self._loop.time()
        while self._queue and self._queue[0][0] <= now:
            _, callback, args = self._queue.popleft()
            callback(*args)
        if self._queue and self._timer is None:
            self._timer = self._loop.call_at(self._queue[0][0], self._pump)
