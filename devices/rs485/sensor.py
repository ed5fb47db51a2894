"""Sensor models: how a slave's measured values change over world time.

A model's value steps every ``period`` seconds from the slave's power-on, as a sampled sensor
does. It is followed lazily (:class:`SensorTrack`): nothing runs while nobody looks; when a
request reaches the slave's datastore the point is brought up to date first, stepping through
every period boundary passed since the last look (each boundary is ``previous + period``, the
same float sequence a per-period timer would produce, and stateful models such as
:class:`RandomWalk` draw once per boundary from their own seeded stream). So the registers a
master reads are the values a process ticking every period would have written, without one
timer per point per period (512 slaves with 3 sensors at 1 Hz would otherwise cost 1,536
events per simulated second).
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devices.rs485.modbus_slave import ModbusSlave, Point


@dataclass
class SensorModel(abc.ABC):
    """How a point's value evolves: one value per ``period``, computed when it is read."""

    period: float = 1.0
    # True when value() ignores ``previous``: catching up then needs only the last boundary.
    memoryless = True

    @abc.abstractmethod
    def value(self, t: float, previous: Any, slave: ModbusSlave, point: Point) -> Any:
        """The value at time ``t`` (``previous``: the value one period earlier)."""


class SensorTrack:
    """One point's sensor since power-on at ``born``; :meth:`catch_up` gives its value now."""

    __slots__ = ("model", "slave", "point", "born", "due", "current")

    def __init__(self, model: SensorModel, slave: ModbusSlave, point: Point, born: float) -> None:
        if not model.period > 0:
            raise ValueError(
                f"point {point.name!r}: sensor period {model.period!r} s not "
                "accepted; accepted: a number of seconds > 0"
            )
        self.model, self.slave, self.point = model, slave, point
        self.born = born
        self.due = born + model.period
        self.current = point.value

    def catch_up(self, now: float) -> Any | None:
        """The value at ``now`` if it changed since the last call (else ``None``)."""
        due = self.due
        if now < due:
            return None
        model, period = self.model, self.model.period
        if model.memoryless:
            last = due
            while due <= now:
                last, due = due, due + period
            self.current = model.value(last - self.born, self.current, self.slave, self.point)
        else:
            while due <= now:
                self.current = model.value(due - self.born, self.current, self.slave, self.point)
                due += period
        self.due = due
        return self.current


class Sine(SensorModel):
    """``mean + amplitude * sin(2πt / cycle)``, e.g. a temperature over a day."""

    def __init__(self, mean: float, amplitude: float, cycle: float, period: float = 1.0) -> None:
        self.mean, self.amplitude, self.cycle, self.period = mean, amplitude, cycle, period

    def value(self, t: float, previous: Any, slave: ModbusSlave, point: Point) -> float:
        return self.mean + self.amplitude * math.sin(2 * math.pi * t / self.cycle)


class Ramp(SensorModel):
    """A counter growing by ``rate`` per second (an energy meter)."""

    def __init__(self, start: int, rate: float, period: float = 1.0) -> None:
        self.start, self.rate, self.period = start, rate, period

    def value(self, t: float, previous: Any, slave: ModbusSlave, point: Point) -> int:
        return int(self.start + self.rate * t)


class RandomWalk(SensorModel):
    """An integer stepping by up to ``step`` each period, kept within [low, high]."""

    memoryless = False

    def __init__(self, start: int, step: int, low: int, high: int, period: float = 1.0) -> None:
        self.start, self.step, self.low, self.high, self.period = start, step, low, high, period

    def value(self, t: float, previous: Any, slave: ModbusSlave, point: Point) -> int:
        rng = slave.world.rng(f"sensor/{slave.name}/{point.name}")
        return max(self.low, min(self.high, int(previous) + rng.randint(-self.step, self.step)))
