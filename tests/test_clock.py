"""The shared clock: virtual jumps, SimPy <-> asyncio bridges, deadlock reports, real pacing."""

from __future__ import annotations

import asyncio
import time

import pytest

from sim.clock import DeadlockError
from sim.world import World


@pytest.fixture
def world():
    w = World(seed=1)
    yield w
    w.close()


def test_an_hour_of_virtual_time_costs_almost_nothing(world):
    started = time.perf_counter()
    world.run(asyncio.sleep(3600))
    assert world.now == pytest.approx(3600)
    assert time.perf_counter() - started < 1.0


def test_asyncio_timers_and_simpy_events_interleave_in_time_order(world):
    order = []

    def process():
        for t in (1.5, 1.0, 1.0):
            yield world.timeout(t)
            order.append(("simpy", world.now))

    async def coro():
        for _ in range(3):
            await asyncio.sleep(1.2)
            order.append(("asyncio", world.now))

    world.process(process(), "ticker")
    world.run(coro())
    times = [t for _, t in order]
    assert times == sorted(times)
    assert ("simpy", 1.5) in order and ("asyncio", pytest.approx(3.6)) in order


def test_coroutine_waits_for_a_simpy_event_and_gets_its_value(world):
    async def coro():
        return await world.wait(world.timeout(2.0, value="ready"))

    assert world.run(coro()) == "ready"
    assert world.now == pytest.approx(2.0)


def test_simpy_process_waits_for_a_coroutine(world):
    seen = {}

    async def work():
        await asyncio.sleep(3)
        return 42

    def process():
        seen["value"] = yield world.completion(work())
        seen["t"] = world.now

    world.process(process(), "waiter")
    world.run_for(5)
    assert seen == {"value": 42, "t": pytest.approx(3.0)}


def test_failed_coroutine_fails_the_simpy_event(world):
    async def broken():
        await asyncio.sleep(1)
        raise ValueError("boom")

    caught = {}

    def process():
        try:
            yield world.completion(broken())
        except ValueError as exc:
            caught["error"] = str(exc)

    world.process(process(), "catcher")
    world.run_for(2)
    assert caught == {"error": "boom"}


def test_deadlock_is_reported_with_what_each_task_waits_on(world):
    async def stuck_forever():
        await asyncio.Event().wait()

    def idle_process():
        yield world.env.event()  # never triggered

    world.process(idle_process(), "idle-process")
    with pytest.raises(DeadlockError) as info:
        world.run(stuck_forever())
    message = str(info.value)
    assert "stuck_forever" in message
    assert "idle-process" in message


def test_real_clock_follows_the_wall_clock_scaled():
    w = World(seed=1, clock="real", scale=50.0)
    try:
        started = time.perf_counter()
        w.run(asyncio.sleep(5.0))  # 5 world seconds at 50x = 0.1 wall seconds
        wall = time.perf_counter() - started
        assert w.now >= 5.0
        assert 0.08 <= wall < 2.0
    finally:
        w.close()


def test_bad_clock_arguments_are_refused():
    with pytest.raises(ValueError, match="clock mode"):
        World(clock="sideways")
    with pytest.raises(ValueError, match="scale"):
        World(clock="real", scale=0)


def test_random_streams_are_seeded_and_independent():
    a, b = World(seed=5), World(seed=5)
    try:
        assert [a.rng("radio").random() for _ in range(3)] == [
            b.rng("radio").random() for _ in range(3)
        ]
        # Drawing from one stream does not shift another.
        a.rng("placement").random()
        assert a.rng("noise").random() == b.rng("noise").random()
        assert World(seed=6).rng("radio").random() != World(seed=5).rng("radio").random()
    finally:
        a.close()
        b.close()
