"""The service's time: the world's clock only, as µs since the Unix epoch.

The service never reads the machine's clock. ``world.datetime()`` gives the calendar time (the
world's epoch plus its virtual or paced seconds); timestamps the seed gives in µs (state,
``data_in`` payloads, events, ``auth.expire``, ``lastseen``) are integers from :meth:`now_us`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Callable
from typing import Protocol

UNIX_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_US = dt.timedelta(microseconds=1)
US_PER_S = 1_000_000
DAY_US = 86_400 * US_PER_S


class WorldClock(Protocol):
    """What the service needs of :class:`sim.world.World`."""

    loop: asyncio.AbstractEventLoop

    @property
    def now(self) -> float: ...

    def datetime(self) -> dt.datetime: ...

    def rng(self, stream: str) -> random.Random: ...


def to_us(when: dt.datetime) -> int:
    """A timezone-aware datetime as exact µs since the Unix epoch."""
    return (when - UNIX_EPOCH) // _US


def from_us(us: int) -> dt.datetime:
    return UNIX_EPOCH + dt.timedelta(microseconds=us)


def iso(us: int) -> str:
    """``2024-07-29T07:40:00.000000Z`` (the seed's metric time format)."""
    return from_us(us).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Clock:
    """The world's time and randomness, as the service uses them."""

    def __init__(self, world: WorldClock) -> None:
        self.world = world

    def now_us(self) -> int:
        return to_us(self.world.datetime())

    def rng(self, stream: str) -> random.Random:
        """Simulation randomness (generated identities); secrets come from :mod:`secrets`."""
        return self.world.rng(f"device2/{stream}")

    def call_at_us(
        self, when_us: int, callback: Callable[[], object]
    ) -> asyncio.TimerHandle | None:
        """Call ``callback()`` when the world's calendar reaches ``when_us`` (None: no loop)."""
        loop = self.world.loop
        if loop.is_closed():
            return None
        delay = max(0.0, (when_us - self.now_us()) / US_PER_S)
        return loop.call_later(delay, callback)
