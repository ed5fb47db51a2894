"""Shared fixtures of the harness's own tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from scenarios.ble_router.bed import LocalBleBed


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
