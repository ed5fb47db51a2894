"""One clock for SimPy and asyncio.

The protocol stacks (Bumble, aiohttp, h11 clients, ...) run on an asyncio loop whose ``time()``
is the SimPy environment's ``now``. Two modes:

* **virtual** — when no callback is ready and no real I/O is pending, the clock jumps straight to
  the next asyncio timer or SimPy event, whichever comes first. If nothing at all is scheduled
  while the awaited work is unfinished, :class:`DeadlockError` is raised naming what every task
  waits on, instead of hanging.
* **real** — the same loop paced by the wall clock (optionally scaled), for anything outside the
  process: an external SUT on a socket, a real radio, a serial adapter.

The loop is a :class:`asyncio.SelectorEventLoop` whose selector is wrapped: asyncio computes a
select timeout from its own timers; the wrapper folds the SimPy agenda in, advances the shared
clock and steps SimPy events that fall due. SimPy callbacks therefore always run inside the
asyncio loop, in a deterministic order.
"""

from __future__ import annotations

import asyncio
import math
import selectors
import time
from collections.abc import Callable
from typing import Any

import simpy

VIRTUAL = "virtual"
REAL = "real"
CLOCK_MODES = (VIRTUAL, REAL)


class DeadlockError(RuntimeError):
    """Nothing is scheduled anywhere, yet the awaited work is not done."""


class WorldEnvironment(simpy.Environment):
    """A SimPy environment whose clock can also be moved forward by the asyncio side."""

    def advance_to(self, t: float) -> None:
        """Move ``now`` to ``t`` without skipping any SimPy event scheduled before it."""
        if t < self._now:
            return
        if self.peek() < t:
            raise RuntimeError(f"cannot advance to {t}: a SimPy event is due at {self.peek()}")
        self._now = t

    def step_due(self, t: float) -> int:
        """Step every SimPy event scheduled at or before ``t``; return how many ran."""
        n = 0
        while self.peek() <= t:
            self.step()
            n += 1
        return n


class _ClockedSelector(selectors.BaseSelector):
    """Wraps the loop's real selector; decides how far the shared clock may move."""

    def __init__(self, loop: ClockedEventLoop, inner: selectors.BaseSelector) -> None:
        self._loop = loop
        self._inner = inner

    # Registration is delegated untouched.
    def register(self, fileobj, events, data=None):  # type: ignore[no-untyped-def]
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj):  # type: ignore[no-untyped-def]
        return self._inner.unregister(fileobj)

    def modify(self, fileobj, events, data=None):  # type: ignore[no-untyped-def]
        return self._inner.modify(fileobj, events, data)

    def get_map(self):  # type: ignore[no-untyped-def]
        return self._inner.get_map()

    def close(self) -> None:
        self._inner.close()

    def select(self, timeout: float | None = None):  # type: ignore[no-untyped-def]
        return self._loop._select(self._inner, timeout)


class ClockedEventLoop(asyncio.SelectorEventLoop):
    """An asyncio loop that shares its clock with a :class:`WorldEnvironment`."""

    def __init__(self, env: WorldEnvironment, mode: str = VIRTUAL, scale: float = 1.0) -> None:
        super().__init__()
        if mode not in CLOCK_MODES or scale <= 0:
            self.close()
            if mode not in CLOCK_MODES:
                raise ValueError(f"clock mode {mode!r} is not one of {', '.join(CLOCK_MODES)}")
            raise ValueError(f"clock scale must be > 0, got {scale}")
        self.env = env
        self.mode = mode
        self.scale = scale
        self._selector = _ClockedSelector(self, self._selector)  # type: ignore[has-type]
        self._clock_resolution = 1e-9
        self._real_origin = time.monotonic()
        self._virtual_origin = env.now
        # The clock is read several times a loop turn: bound once, no mode test per read.
        self.time = self._real_now if mode == REAL else self._virtual_now  # type: ignore[method-assign]
        # Extra descriptions of what the world waits on, for deadlock reports.
        self.deadlock_describers: list[Callable[[], list[str]]] = []

    # -- the clock ---------------------------------------------------------------------------
    def time(self) -> float:
        return self._real_now() if self.mode == REAL else self.env.now

    def _virtual_now(self) -> float:
        return self.env._now

    def _real_now(self) -> float:
        return self._virtual_origin + (time.monotonic() - self._real_origin) * self.scale

    def _has_external_io(self) -> bool:
        # The loop's own self-pipe is always registered; anything more is real I/O.
        return len(self._selector.get_map()) > 1

    # -- one turn of the loop ----------------------------------------------------------------
    def _select(self, inner: selectors.BaseSelector, timeout: float | None) -> list[Any]:
        env = self.env
        if self.mode == REAL:
            return self._select_real(inner, timeout)

        # Virtual: never wait on the wall clock unless something outside the process is in play.
        external = self._has_external_io()
        if timeout == 0 and not external:
            # Callbacks are ready and only the loop's self-pipe is registered: a thread hands
            # its callback to the ready queue itself, so no poll (a system call) is needed yet.
            now = env.now
            if env.peek() <= now:
                env.step_due(now)
            return []
        events = inner.select(0)
        if events:
            return events
        now = env.now
        if env.peek() <= now:
            env.step_due(now)
            return []
        if timeout == 0:
            return []
        # asyncio's own timeout is `when - now`; use `when` itself so the jump is exact.
        async_due = self._scheduled[0]._when if self._scheduled else math.inf  # type: ignore[attr-defined]
        simpy_due = env.peek()
        if external:
            # Give outside I/O a real moment before moving virtual time.
            events = inner.select(0.001)
            if events:
                return events
        if simpy_due == math.inf and async_due == math.inf:
            if external:
                return inner.select(None)
            raise DeadlockError(self.describe_deadlock())
        if simpy_due <= async_due:
            env.step_due(simpy_due)
        else:
            env.advance_to(async_due)
        return []

    def _select_real(self, inner: selectors.BaseSelector, timeout: float | None) -> list[Any]:
        env = self.env
        simpy_due = env.peek()
        wait = None if timeout is None else timeout / self.scale
        if simpy_due != math.inf:
            until_simpy = max(0.0, (simpy_due - self._real_now()) / self.scale)
            wait = until_simpy if wait is None or until_simpy < wait else wait
        events = inner.select(wait)
        now = self._real_now()
        if env.peek() <= now:
            env.step_due(now)
        if now > env._now:  # nothing of SimPy's is due by ``now`` any more
            env._now = now
        return events

    # -- diagnostics -------------------------------------------------------------------------
    def describe_deadlock(self) -> str:
        lines = [f"deadlock at t={self.env.now:.6f}s: no timer, no SimPy event, no I/O pending"]
        for task in sorted(asyncio.all_tasks(self), key=lambda t: t.get_name()):
            if task.done():
                continue
            waiter = getattr(task, "_fut_waiter", None)
            frames = task.get_stack(limit=1)
            where = ""
            if frames:
                f = frames[-1]
                filename = f.f_code.co_filename.rsplit("/", 1)[-1]
                where = f" in {f.f_code.co_name} ({filename}:{f.f_lineno})"
            lines.append(f"  task {task.get_name()}{where} waits on {waiter!r}")
        for describe in self.deadlock_describers:
            lines.extend(f"  {line}" for line in describe())
        return "\n".join(lines)
