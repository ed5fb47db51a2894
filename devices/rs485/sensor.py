"""Sensor models: how a slave's measured values change over world time.

Each model runs as a SimPy process per point, writing the new value into the slave's live
datastore every ``period`` seconds. Random models draw from the world's seeded streams.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy

if TYPE_CHECKING:
    from devices.rs485.modbus_slave import ModbusSlave, Point


@dataclass
class SensorModel:
    period: float = 1.0

    def value(self, t: float, previous: Any, slave: ModbusSlave, point: Point) -> Any:
        raise NotImplementedError

    def run(self, slave: ModbusSlave, point: Point) -> Generator[Any, Any, None]:
        world = slave.world
        born = world.now
        current = point.value
        try:
            while True:
                yield world.timeout(self.period)
                current = self.value(world.now - born, current, slave, point)
                slave.set_point(point.name, current)
        except simpy.Interrupt:
            return


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

    def __init__(self, start: int, step: int, low: int, high: int, period: float = 1.0) -> None:
        self.start, self.step, self.low, self.high, self.period = start, step, low, high, period

    def value(self, t: float, previous: Any, slave: ModbusSlave, point: Point) -> int:
        rng = slave.world.rng(f"sensor/{slave.name}/{point.name}")
        return max(self.low, min(self.high, int(previous) + rng.randint(-self.step, self.step)))
