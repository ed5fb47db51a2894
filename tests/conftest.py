"""Shared fixtures of the harness's own tests."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from devices.gateways.ble_router.router import BleRouter
from devices.protocols.http_client import HttpClient
from sim.iplink import IpNetwork
from sim.radio import Radio
from sim.world import World


@pytest.fixture
def make_bed():
    """Build worlds holding a reference router served in-world, with a client bound to it."""
    worlds: list[World] = []

    def make(seed: int = 5, **router_kwargs: Any) -> SimpleNamespace:
        world = World(seed=seed)
        worlds.append(world)
        radio = Radio(world)
        net = IpNetwork(world)
        router = BleRouter(world, radio, **router_kwargs)
        served = world.run(router.serve(net))
        client = HttpClient(served.url, connect=net.open_connection)
        return SimpleNamespace(world=world, radio=radio, net=net, router=router, client=client)

    yield make
    for world in worlds:
        world.close()
