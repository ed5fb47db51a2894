"""The Bed: one protocol every system's test bed follows, so a step, a benchmark or a test that
knows one bed knows them all.

As labgrid separates a Target from its Drivers, each system (``scenarios/<system>/bed.py``)
offers two drivers of the same protocol:

* a **Local** driver: the reference implementation and everything around it in one world,
  virtual time by default;
* a **Remote** driver: the SUT is outside (a URL, a gRPC target, a serial line); the harness's
  own world runs in real time, and the SUT's world (its devices) is reached through its
  world-control API when it has one.

The verbs are the same everywhere:

========================  ========================================================================
``start()``               bring the world up (power the reference SUT on and serve it, or reach
                          the remote one and reset its world)
``client(name=None)``     a client of the SUT (HTTP client, gRPC client, bus master...)
``place(spec)``           put a node (peripheral, terminal, slave...) in the world, powered on;
                          returns its identity (address, device id, unit id)
``move(name, position)``  move a node (a system without positions raises :class:`BedError`)
``set_power(name, on)``   power a node on or off
``inject(fault, **args)`` a named fault of that system (partition, reboot, noise...)
``write_evidence(dir)``   write the scenario's evidence there; returns ``{file name: kind}``
``close()``               stop everything and release the world
========================  ========================================================================

plus ``run(awaitable)``, ``now`` and ``sleep(s)`` from :class:`WorldBed`. A bed raises
:class:`BedError` (a domain error naming what was asked and what exists) for what it cannot do;
steps let it reach the report as the scenario's error.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Iterable
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from sim.world import World

T = TypeVar("T")


class BedError(RuntimeError):
    """A bed could not do what was asked (unknown node, unsupported verb, far side refused)."""


@runtime_checkable
class Bed(Protocol):
    """What every system's test bed offers (see the module docstring)."""

    world: World

    def run(self, awaitable: Awaitable[T]) -> T: ...

    @property
    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...

    async def start(self) -> Any: ...

    def client(self, name: str | None = None) -> Any: ...

    async def place(self, spec: dict[str, Any]) -> Any: ...

    async def move(self, name: str, position: list[float]) -> None: ...

    async def set_power(self, name: str, on: bool) -> None: ...

    async def inject(self, fault: str, **args: Any) -> None: ...

    def write_evidence(self, folder: Path) -> dict[str, str]: ...

    def close(self) -> None: ...


class WorldBed:
    """The verbs every bed implements the same way, on top of its :class:`World`.

    Subclasses set ``self.world`` and implement the rest of :class:`Bed`; ``close()`` here runs
    the bed's :meth:`stop` and releases the world, once.
    """

    world: World
    faults: tuple[str, ...] = ()

    def run(self, awaitable: Awaitable[T]) -> T:
        return self.world.run(awaitable)

    @property
    def now(self) -> float:
        return self.world.now

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def move(self, name: str, position: list[float]) -> None:
        raise BedError(
            f"{type(self).__name__}: nodes of this system have no position (cannot move {name!r})"
        )

    async def inject(self, fault: str, **args: Any) -> None:
        raise BedError(
            f"{type(self).__name__}: unknown fault {fault!r}; this bed injects "
            f"{', '.join(self.faults) or 'no faults'}"
        )

    def write_evidence(self, folder: Path) -> dict[str, str]:
        """The world's timeline; beds add their own files (transcripts, captures)."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "trace.jsonl").write_text(self.world.trace.dump(), encoding="utf-8")
        return {"trace.jsonl": "timeline"}

    @property
    def closed(self) -> bool:
        return self.world.closed

    async def stop(self) -> None:
        """Stop what the bed runs in its world (nothing here); :meth:`close` does it first."""

    def close(self) -> None:
        """Stop the bed's nodes, then release the world, once."""
        if not self.world.closed:
            try:
                self.run(self.stop())
            except Exception:  # closing must not mask the scenario's own outcome
                pass
            self.world.close()


class HttpTranscript:
    """A bed whose ``transcript`` holds its exchanges with an HTTP API, as
    :class:`devices.protocols.http_client.HttpClient` records them."""

    transcript: list[dict[str, Any]]

    def response_times_ms(self) -> list[float]:
        """How long each answered request (streams aside) took, in milliseconds."""
        return [
            round(e["elapsed"] * 1000.0, 3)
            for e in self.transcript
            if e.get("status") and not e.get("stream")
        ]


def write_json_lines(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Evidence rows as JSON lines with sorted keys (stable for diffs)."""
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, sort_keys=True, default=str) + "\n")
