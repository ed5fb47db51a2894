"""run_eagerly: a coroutine runs in the caller's turn; if it suspends, a task carries it on."""

from __future__ import annotations

import asyncio

import pytest

from sim.eager import run_eagerly
from sim.world import World


def test_a_coroutine_that_never_suspends_runs_to_the_end_at_once() -> None:
    done: list[str] = []

    async def quick() -> None:
        done.append("ran")

    with World() as world:
        assert run_eagerly(quick(), world.loop) is None
        assert done == ["ran"]


def test_a_suspending_coroutine_is_carried_on_with_results_and_errors() -> None:
    steps: list[object] = []

    async def slow(fut: asyncio.Future[int]) -> int:
        steps.append("before")
        value = await fut
        steps.append(value)
        await asyncio.sleep(1.0)
        try:
            await asyncio.sleep(10.0)
        except asyncio.CancelledError:
            steps.append("cancelled")
            raise
        return value

    async def main(world: World) -> None:
        fut: asyncio.Future[int] = world.loop.create_future()
        task = run_eagerly(slow(fut), world.loop)
        assert task is not None and steps == ["before"]
        fut.set_result(7)
        await asyncio.sleep(2.0)
        assert steps == ["before", 7]
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert steps == ["before", 7, "cancelled"]

    with World() as world:
        world.run(main(world))


def test_an_error_before_the_first_suspension_reaches_the_caller() -> None:
    async def broken() -> None:
        raise ValueError("bad frame")

    with World() as world, pytest.raises(ValueError, match="bad frame"):
        run_eagerly(broken(), world.loop)
