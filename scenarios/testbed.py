"""Test beds: the world a scenario runs in, seen through one interface.

* :class:`LocalTestbed` — everything in one process and one world: the radio, the peripherals,
  the reference router served inside the world's IP network; virtual time by default.
* :class:`RemoteTestbed` — the router is a SUT at a URL. The harness's own world runs in real
  time; the peripherals belong to the far side and are driven through its world-control API
  (``hil serve`` offers one, see :mod:`scenarios.control`).

Scenario steps only use the methods both share, so the same Gherkin runs against either.
"""

from __future__ import annotations

import abc
import asyncio
import math
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

from devices.ble.peripheral import BlePeripheral
from devices.ble.spec import PeripheralSpec
from devices.gateways.ble_router.router import BleRouter
from devices.protocols.http_client import HttpClient, HttpResponse
from sim.capture import BtsnoopWriter
from sim.clock import REAL, VIRTUAL
from sim.iplink import IpNetwork
from sim.radio import Radio, RadioConfig
from sim.world import World

T = TypeVar("T")

ROUTER_HOST = "router"
ROUTER_PORT = 80


class TestbedError(RuntimeError):
    """The test bed could not do what a step asked (unknown peripheral, control API error)."""


class Testbed(abc.ABC):
    """What both kinds of test bed offer."""

    world: World
    transcript: list[dict[str, Any]]
    # Scenarios give their devices addresses inside this block (see allocate). A fresh
    # reference router per scenario needs nothing more than block 0; a long-lived external
    # router remembers names, GATT databases and bonds per address, so each remote test bed
    # takes a block no earlier scenario (or earlier run) used.
    device_block: int = 0

    def run(self, awaitable: Awaitable[T]) -> T:
        return self.world.run(awaitable)

    @property
    def now(self) -> float:
        return self.world.now

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    @abc.abstractmethod
    def client(self) -> HttpClient: ...

    @abc.abstractmethod
    async def add_peripheral(self, spec: dict[str, Any]) -> str:
        """Put a peripheral in the world and power it on; return its address."""
        ...

    @abc.abstractmethod
    async def move(self, name: str, position: list[float]) -> None: ...

    @abc.abstractmethod
    async def set_power(self, name: str, on: bool) -> None: ...

    @abc.abstractmethod
    async def peripheral_state(self, name: str) -> dict[str, Any]: ...

    @abc.abstractmethod
    def address_of(self, name: str) -> str: ...

    @abc.abstractmethod
    async def type_passkey(self, name: str, passkey: int) -> None:
        """Someone types ``passkey`` on the peripheral's keyboard (passkey-entry pairing)."""
        ...

    def close(self) -> None:
        self.world.close()


def peripheral_state(p: BlePeripheral) -> dict[str, Any]:
    return {
        "name": p.name,
        "address": p.address,
        "position": list(p.position),
        "powered": p.powered,
        "notifications_sent": p.notifications_sent,
        "security": p.security.state(),
        "writes": [{"t": round(t, 6), "uuid": u, "value": v.hex().upper()} for t, u, v in p.writes],
    }


class LocalTestbed(Testbed):
    """One world with the reference router and the peripherals the scenario places."""

    def __init__(
        self,
        seed: int = 1,
        clock: str = VIRTUAL,
        scale: float = 1.0,
        trace_path: Path | None = None,
        radio: RadioConfig | None = None,
        router: dict[str, Any] | None = None,
        keep_trace: bool = True,
        capture_dir: Path | None = None,
    ) -> None:
        self.capture_dir = capture_dir
        self._captures: list[Any] = []
        self.world = World(
            seed=seed, clock=clock, scale=scale, trace_path=trace_path, keep_trace=keep_trace
        )
        self.radio = Radio(self.world, radio)
        self.net = IpNetwork(self.world)
        self.router = BleRouter(self.world, self.radio, **(router or {}))
        self.peripherals: dict[str, BlePeripheral] = {}
        self.transcript = []
        self._served: Any = None

    async def start(
        self, host: str = ROUTER_HOST, port: int = ROUTER_PORT, real_socket: bool = False
    ) -> str:
        """Power the router on and serve its API (inside the world, or on a real socket)."""
        await self.router.start()
        if self.capture_dir is not None:
            self._capture_router_hci(self.capture_dir)
        self._served = await self.router.serve(
            net=None if real_socket else self.net, host=host, port=port
        )
        return str(self._served.url)

    def _capture_router_hci(self, folder: Path) -> None:
        """Record every HCI packet of each router chip as a btsnoop file."""
        folder.mkdir(parents=True, exist_ok=True)
        for chip in self.router.central.chips:
            output = (folder / f"hci-chip{chip.index}.btsnoop").open("wb")
            self._captures.append(output)
            chip.host.snooper = BtsnoopWriter(output, self.world.datetime)

    @property
    def captures(self) -> list[Path]:
        return [Path(f.name) for f in self._captures]

    @property
    def base_url(self) -> str:
        if self._served is None:
            raise TestbedError("the router is not serving yet: call start() first")
        return str(self._served.url)

    def client(self) -> HttpClient:
        connect = (
            None if self._served is None or self._served.net is None else self.net.open_connection
        )
        return HttpClient(self.base_url, connect=connect, recorder=self.transcript.append)

    async def add_peripheral(self, spec: dict[str, Any]) -> str:
        parsed = PeripheralSpec.from_dict(spec)
        if parsed.name in self.peripherals:
            raise TestbedError(f"a peripheral named {parsed.name!r} already exists")
        p = BlePeripheral(self.world, self.radio, parsed)
        self.peripherals[p.name] = p
        await p.power_on()
        return p.address

    def _get(self, name: str) -> BlePeripheral:
        try:
            return self.peripherals[name]
        except KeyError:
            raise TestbedError(
                f"no peripheral named {name!r}; the world has "
                f"{', '.join(sorted(self.peripherals)) or 'none'}"
            ) from None

    async def move(self, name: str, position: list[float]) -> None:
        self._get(name).move(tuple(position))

    async def set_power(self, name: str, on: bool) -> None:
        p = self._get(name)
        await (p.power_on() if on else p.power_off())

    async def peripheral_state(self, name: str) -> dict[str, Any]:
        return peripheral_state(self._get(name))

    def address_of(self, name: str) -> str:
        return self._get(name).address

    async def type_passkey(self, name: str, passkey: int) -> None:
        try:
            self._get(name).security.type_passkey(passkey)
        except ValueError as exc:
            raise TestbedError(str(exc)) from None

    def distance(self, name: str) -> float:
        return math.dist(self._get(name).position, self.router.position)

    async def stop(self) -> None:
        if self._served is not None:
            await self._served.close()
            self._served = None
        await self.router.stop()
        for output in self._captures:
            output.close()

    def close(self) -> None:
        if not self.world._closed:
            try:
                self.world.run(self.stop())
            except Exception:  # closing must not mask the scenario's own outcome
                pass
        super().close()


_last_block = 0


def _fresh_block() -> int:
    """A device-address block (1-65535) unused by this process and, with high likelihood, by
    recent runs: real-time runs need no reproducible addresses, only fresh ones."""
    global _last_block
    if _last_block == 0:
        _last_block = int(time.time() * 10) % 0xFF00
    _last_block = _last_block % 0xFFFF + 1
    return _last_block


class RemoteTestbed(Testbed):
    """A router at a URL; peripherals driven through the far side's world-control API.

    ``scale`` is the far side's world seconds per wall second: 1 for a physical router; a
    simulated one (``hil serve --scale 4``) may run faster, and the harness's clock must then
    run at the same pace so that every wait and timeout means the same on both sides.
    """

    def __init__(
        self,
        base_url: str,
        control_url: str | None,
        seed: int = 1,
        trace_path: Path | None = None,
        scale: float = 1.0,
    ) -> None:
        self.world = World(seed=seed, clock=REAL, scale=scale, trace_path=trace_path)
        self.device_block = _fresh_block()
        self.base_url = base_url
        self.control_url = control_url
        self.transcript = []
        self._addresses: dict[str, str] = {}

    def client(self) -> HttpClient:
        return HttpClient(self.base_url, recorder=self.transcript.append)

    def _control(self) -> HttpClient:
        if not self.control_url:
            raise TestbedError(
                "this SUT declares no world_control endpoint, so the harness "
                "cannot place, move or power peripherals"
            )
        return HttpClient(self.control_url)

    async def _call(self, method: str, path: str, body: Any = None) -> HttpResponse:
        response = await self._control().request(method, path, json_body=body)
        if response.status >= 400:
            raise TestbedError(
                f"world control {method} {path} -> {response.status}: {response.text}"
            )
        return response

    async def add_peripheral(self, spec: dict[str, Any]) -> str:
        response = await self._call("POST", "/world/peripherals", spec)
        address = str(response.json()["address"])
        self._addresses[str(spec["name"])] = address
        return address

    async def move(self, name: str, position: list[float]) -> None:
        await self._call("POST", f"/world/peripherals/{name}/position", {"position": position})

    async def set_power(self, name: str, on: bool) -> None:
        await self._call("POST", f"/world/peripherals/{name}/power", {"on": on})

    async def peripheral_state(self, name: str) -> dict[str, Any]:
        return dict((await self._call("GET", f"/world/peripherals/{name}")).json())

    async def type_passkey(self, name: str, passkey: int) -> None:
        await self._call("POST", f"/world/peripherals/{name}/passkey", {"passkey": passkey})

    def address_of(self, name: str) -> str:
        try:
            return self._addresses[name]
        except KeyError:
            raise TestbedError(
                f"no peripheral named {name!r} was placed by this scenario"
            ) from None

    async def disconnect_all(self, patience_s: float = 5.0) -> None:
        """Leave the router with no connection and no bond with this scenario's peripherals
        (the next scenario may place a peripheral at the same address), through its own API.
        Housekeeping between scenarios, not part of one: not in the transcript."""
        router = HttpClient(self.base_url)
        for address in self._addresses.values():
            await router.request("DELETE", f"/management/nodes/{address}/bond", timeout=5)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + patience_s
        while True:
            listing = await router.request(
                "GET", "/gap/nodes", {"connection_state": "connected"}, timeout=5
            )
            nodes = listing.json().get("nodes", []) if listing.status == 200 else []
            if not nodes:
                return
            if loop.time() >= deadline:
                raise TestbedError(
                    f"the router still lists {len(nodes)} connected nodes "
                    f"after {patience_s:g} s of disconnecting them"
                )
            for node in nodes:
                await router.request("DELETE", f"/gap/nodes/{node['id']}/connection", timeout=5)
            await asyncio.sleep(0.2)

    async def reset(self) -> None:
        """Start the next scenario from the same place: the router holds no links and the far
        side no peripherals. Links are closed through the router's API first, since a
        powered-off peripheral's link only ends at the supervision timeout."""
        await self.disconnect_all()
        if self.control_url:
            await self._call("DELETE", "/world/peripherals")
