"""Shared fixtures of the harness's own tests."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from scenarios.ble_router.bed import LocalBleBed

# The suite starts hundreds of Python processes (xdist workers, served worlds, conformance runs
# and their pytest). With bytecode caching switched off in the environment
# (PYTHONDONTWRITEBYTECODE) each of them compiles every module it imports again, a second or
# more apiece; the suite turns caching back on for itself and its children (__pycache__ is
# ignored by git).
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-fuzz",
        action="store_true",
        help="also run the full fuzz campaigns (tests marked fuzz; -m fuzz runs only them)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Full fuzz campaigns (``@pytest.mark.fuzz``) run only when asked for: ``-m fuzz`` (or any
    -m naming fuzz) or ``--run-fuzz``; otherwise they are skipped, saying how to run them."""
    if config.getoption("--run-fuzz") or "fuzz" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="a full fuzz campaign: run it with -m fuzz or --run-fuzz")
    for item in items:
        if item.get_closest_marker("fuzz") is not None:
            item.add_marker(skip)


@pytest.fixture
def make_bed() -> Iterator[Callable[..., LocalBleBed]]:
    """Started BLE router beds: the reference router served in-world (``bed.client()`` talks to
    it); keyword arguments go to the router (chips, boot_s, credentials...)."""
    beds: list[LocalBleBed] = []

    def make(seed: int = 5, **router_kwargs: Any) -> LocalBleBed:
        bed = LocalBleBed(seed=seed, router=router_kwargs)
        beds.append(bed)
        bed.run(bed.start())
        return bed

    yield make
    for bed in beds:
        bed.close()
