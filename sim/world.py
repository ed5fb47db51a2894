"""The world: a SimPy environment, the asyncio loop on the same clock, seeded randomness,
nodes, media and the trace."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Awaitable, Coroutine, Generator
from pathlib import Path
from typing import Any, Protocol, TypeVar

import simpy

from sim.clock import REAL, VIRTUAL, ClockedEventLoop, DeadlockError, WorldEnvironment
from sim.trace import Trace

T = TypeVar("T")

DEFAULT_EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

__all__ = ["World", "Node", "DeadlockError", "VIRTUAL", "REAL"]


class Node(Protocol):
    name: str


class World:
    """Everything that exists in one simulated run.

    Every random choice anywhere in the world comes from :meth:`rng`, seeded from ``seed`` and
    a stable stream name, so that the same seed and inputs give the same trace byte for byte.
    """

    def __init__(
        self,
        seed: int = 1,
        clock: str = VIRTUAL,
        scale: float = 1.0,
        trace_path: Path | None = None,
        epoch: dt.datetime = DEFAULT_EPOCH,
        keep_trace: bool = True,
    ) -> None:
        self.seed = seed
        self.env = WorldEnvironment()
        self.loop = ClockedEventLoop(self.env, clock, scale)
        self.clock_mode = clock
        self.epoch = epoch
        self.trace = Trace(self.loop.time, trace_path, keep=keep_trace)
        self.nodes: dict[str, Any] = {}
        self.media: dict[str, Any] = {}
        self._streams: dict[str, random.Random] = {}
        self._processes: list[tuple[str, simpy.Process]] = []
        self.loop.deadlock_describers.append(self._describe_processes)
        self._closed = False

    # -- time --------------------------------------------------------------------------------
    @property
    def now(self) -> float:
        """Seconds since the world began (virtual or paced)."""
        return self.loop.time()

    def datetime(self) -> dt.datetime:
        """The world's calendar time: its epoch plus :attr:`now`."""
        return self.epoch + dt.timedelta(seconds=self.now)

    # -- randomness --------------------------------------------------------------------------
    def rng(self, stream: str) -> random.Random:
        """A random source of its own for ``stream`` (e.g. ``"radio"``), derived from the seed.

        Separate streams keep one subsystem's draws from shifting another's when a scenario
        changes.
        """
        r = self._streams.get(stream)
        if r is None:
            r = self._streams[stream] = random.Random(f"{self.seed}/{stream}")
        return r

    # -- registry ----------------------------------------------------------------------------
    def add_node(self, node: Any) -> Any:
        if node.name in self.nodes:
            raise ValueError(f"a node named {node.name!r} already exists in this world")
        self.nodes[node.name] = node
        self.trace.emit(node.name, "world", "node-added", kind=type(node).__name__)
        return node

    def remove_node(self, name: str) -> None:
        self.nodes.pop(name, None)
        self.trace.emit(name, "world", "node-removed")

    def add_medium(self, name: str, medium: Any) -> Any:
        self.media[name] = medium
        return medium

    # -- running -----------------------------------------------------------------------------
    def run(self, awaitable: Awaitable[T]) -> T:
        """Run the loop until ``awaitable`` completes; return its result."""
        asyncio.set_event_loop(self.loop)
        return self.loop.run_until_complete(awaitable)

    def run_for(self, seconds: float) -> None:
        """Let the world live for ``seconds`` of its time."""
        self.run(asyncio.sleep(seconds))

    def run_until(self, t: float) -> None:
        self.run_for(max(0.0, t - self.now))

    def spawn(self, coro: Coroutine[Any, Any, T], name: str | None = None) -> asyncio.Task[T]:
        """Start ``coro`` as a task on the world's loop (it runs while the world runs)."""
        return self.loop.create_task(coro, name=name)

    # -- SimPy side --------------------------------------------------------------------------
    def process(self, generator: Generator[Any, Any, Any], name: str) -> simpy.Process:
        """Start a SimPy process; its name shows in deadlock reports."""
        proc = self.env.process(generator)
        self._processes.append((name, proc))
        return proc

    def timeout(self, delay: float, value: Any = None) -> simpy.Timeout:
        return self.env.timeout(delay, value)

    def at(self, delay: float, callback: Any, *args: Any) -> simpy.Timeout:
        """Call ``callback(*args)`` ``delay`` seconds from now, as a SimPy event."""
        ev = self.env.timeout(delay)
        ev.callbacks.append(lambda _ev: callback(*args))
        return ev

    # -- bridges between the two worlds ------------------------------------------------------
    async def wait(self, event: simpy.Event) -> Any:
        """From a coroutine: wait for a SimPy event and return its value."""
        fut: asyncio.Future[Any] = self.loop.create_future()

        def done(ev: simpy.Event) -> None:
            if fut.done():
                return
            if ev.ok:
                fut.set_result(ev.value)
            else:
                ev.defused = True
                fut.set_exception(ev.value)

        if event.callbacks is None:  # already processed
            done(event)
        else:
            event.callbacks.append(done)
        return await fut

    def completion(self, coro: Coroutine[Any, Any, T]) -> simpy.Event:
        """From a SimPy process: ``yield world.completion(coro)`` waits for the coroutine."""
        event = self.env.event()
        task = self.loop.create_task(coro)

        def done(t: asyncio.Task[Any]) -> None:
            if t.cancelled():
                event.fail(asyncio.CancelledError())
            elif t.exception() is not None:
                event.fail(t.exception())  # type: ignore[arg-type]
            else:
                event.succeed(t.result())

        task.add_done_callback(done)
        return event

    def _describe_processes(self) -> list[str]:
        alive = [(n, p) for n, p in self._processes if p.is_alive]
        self._processes = alive
        return [f"process {n} waits on {p.target!r}" for n, p in alive]

    # -- teardown ----------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran: the loop is gone and nothing more can run."""
        return self._closed

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        loop = self.loop
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in pending:
            t.cancel()
        if pending:
            try:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            except DeadlockError:
                pass
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        self.trace.close()
        asyncio.set_event_loop(None)

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
