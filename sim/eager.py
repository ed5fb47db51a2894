"""Start a coroutine right away, in the caller's turn of the loop, instead of one hop later.

``loop.create_task(coro)`` only schedules the coroutine's first step; Python 3.12's eager task
factory runs it at once. On 3.11 :func:`run_eagerly` does the same for one coroutine: it runs
it up to its first suspension in the caller's turn, and only if it does suspend does a task
carry it on from exactly that point (:class:`_Resume` forwards results and exceptions). A
coroutine that finishes without suspending (a Modbus slave answering from its datastore)
therefore costs no task and no extra pass through the loop. Everything stays on the loop's
thread and in a deterministic order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any

__all__ = ["run_eagerly"]


def run_eagerly(
    coro: Coroutine[Any, Any, Any], loop: asyncio.AbstractEventLoop
) -> asyncio.Task[Any] | None:
    """Run ``coro`` now; return the task carrying it on if it suspended, else ``None``.
    An exception raised before the first suspension propagates to the caller."""
    try:
        pending = coro.send(None)
    except StopIteration:
        return None
    return loop.create_task(_carry_on(coro, pending))


class _Resume:
    """Awaiting this hands ``pending`` (what ``coro`` suspended on) to the awaiting task, then
    keeps driving ``coro`` with whatever the task sends or throws in, until it returns."""

    def __init__(self, coro: Coroutine[Any, Any, Any], pending: Any) -> None:
        self._coro = coro
        self._pending = pending

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, pending = self._coro, self._pending
        while True:
            try:
                value = yield pending
            except BaseException as exc:  # cancellation or an error thrown in by the task
                step: Any = coro.throw
                arg: Any = exc
            else:
                step, arg = coro.send, value
            try:
                pending = step(arg)
            except StopIteration as stop:
                return stop.value


async def _carry_on(coro: Coroutine[Any, Any, Any], pending: Any) -> Any:
    return await _Resume(coro, pending)
