"""The access controller's bed (:class:`scenarios.bed.Bed`): the world an AC scenario runs in.

* :class:`LocalAcBed`: one world with the reference controller
  (:mod:`devices.gateways.ble_ac`), its routers (each a :class:`BleRouter` with one or two
  chips on the shared radio, at its own position and IP address, joined to the controller by
  its :class:`AcAgent` over the world's IP links) and the peripherals the scenario places;
  virtual time by default.
* :class:`RemoteAcBed`: the controller is a SUT at a URL, reached with a developer key and
  secret. The harness's own world runs in real time; the routers and peripherals belong to the
  far side and are driven through its world-control API (``hil serve ble-ac`` offers one, see
  :mod:`scenarios.ble_ac.control`).

Both follow the shared verbs (``start``, ``client``, ``place``, ``move``, ``set_power``,
``inject``, ``write_evidence``, ``close``) and add the controller's: ``token()`` (a fresh
access token), ``router_names()``, ``router_mac(name)``, ``router_position(name)``,
``address_of(name)``. ``client()`` carries the bed's token; ``client("anonymous")`` none.

Faults (:meth:`AcBed.inject`, each traced in layer ``fault`` on its target):

==================  ==========================================================================
``router_outage``   ``target``: a router; its uplink to the controller is partitioned
                    (``up: true`` heals it)
``router_reboot``   ``target``: a router crashes and restarts (down for its ``boot_s``)
``router_power``    ``target``: a router, ``on``: false cuts its power, true boots it again
``power_cycle``     ``target``: a peripheral, ``off_s`` (default 1 s) off, then on again
==================  ==========================================================================
"""

from __future__ import annotations

import abc
import asyncio
import base64
import itertools
import math
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from devices.ble.peripheral import BlePeripheral
from devices.gateways.ble_ac import AcAgent, AccessController
from devices.gateways.ble_router.reboot import reboot
from devices.gateways.ble_router.router import BleRouter
from devices.protocols.http_client import HttpClient, HttpResponse
from devices.protocols.http_server import ServedApp
from scenarios.bed import BedError, HttpTranscript, WorldBed, write_json_lines
from scenarios.ble_router.bed import LocalPeripherals, RemotePeripherals
from scenarios.captures import AIR, IP, EvidenceCaptures
from sim.clock import REAL, VIRTUAL
from sim.iplink import IpNetwork
from sim.radio import Radio, RadioConfig
from sim.world import World

AC_HOST = "ac"
AC_PORT = 80
DEFAULT_CLIENT_ID = "hil-developer"
ANONYMOUS = "anonymous"
ROUTER_FAULTS = ("router_outage", "router_reboot", "router_power")
# device-address blocks for remote beds: a long-lived controller remembers what it heard of an
# address, so each remote scenario's peripherals take a block no earlier scenario (or run) used
_BLOCKS = itertools.count(int(time.time() * 10) % 0xFF00 + 1)
_TOKEN_TEXT = re.compile(r'("access_token"\s*:\s*")[^"]*(")|(access_token=)[^&\s"]*')


def router_grid(count: int, spacing_m: float = 30.0) -> list[dict[str, Any]]:
    """``count`` routers named A, B, C... (then R27...), on a grid ``spacing_m`` apart, row by
    row (A at the origin, B east of it)."""
    side = max(1, math.ceil(math.sqrt(count)))
    routers = []
    for i in range(count):
        name = chr(ord("A") + i) if i < 26 else f"R{i + 1}"
        routers.append(
            {
                "name": name,
                "mac": f"CC:1B:E0:E0:{(i + 1) >> 8:02X}:{(i + 1) & 0xFF:02X}",
                "position": [(i % side) * spacing_m, (i // side) * spacing_m, 0.0],
            }
        )
    return routers


def masked(entry: dict[str, Any]) -> dict[str, Any]:
    """A transcript entry without access-token values (targets and bodies)."""
    out = dict(entry)
    for key in ("target", "body", "response"):
        value = out.get(key)
        if isinstance(value, str) and "access_token" in value:
            out[key] = _TOKEN_TEXT.sub(
                lambda m: (m[1] + "********" + m[2]) if m[1] else m[3] + "********", value
            )
    return out


class AcBed(HttpTranscript, WorldBed, abc.ABC):
    """What both controller beds offer (see the module docstring)."""

    faults: tuple[str, ...] = ("power_cycle", *ROUTER_FAULTS)
    transcript: list[dict[str, Any]]
    base_url: str
    client_id: str
    secret: str
    device_block: int = 0
    _token: str | None = None

    @abc.abstractmethod
    async def start(self) -> Any: ...

    @abc.abstractmethod
    def router_names(self) -> list[str]: ...

    @abc.abstractmethod
    def router_mac(self, name: str) -> str: ...

    @abc.abstractmethod
    def router_position(self, name: str) -> tuple[float, float, float] | None:
        """Where router ``name`` stands (None when the far side does not say)."""

    def radio_model(self) -> RadioConfig:
        """The propagation model the world's radio follows (a far side's is taken to be the
        default one: world control does not say)."""
        return RadioConfig()

    @abc.abstractmethod
    async def router_links(self, name: str) -> list[str]:
        """The addresses router ``name`` holds links to, as the world sees them (its radio),
        not as any API reports them: the truth a scenario checks the controller's answers
        against. Needs world control on a remote bed."""

    @abc.abstractmethod
    async def router_advertising(self, name: str) -> list[int]:
        """The chips of router ``name`` advertising now, as the world sees them (see
        :meth:`router_links`)."""

    @abc.abstractmethod
    async def place(self, spec: dict[str, Any]) -> str: ...

    @abc.abstractmethod
    async def set_power(self, name: str, on: bool) -> None: ...

    @abc.abstractmethod
    def address_of(self, name: str) -> str: ...

    @abc.abstractmethod
    async def _router_fault(self, fault: str, name: str, args: dict[str, Any]) -> None: ...

    def _connector(self) -> Any:
        return None

    def client(self, name: str | None = None) -> HttpClient:
        """A client of the controller's API carrying the bed's token (``"anonymous"``: none)."""
        if name not in (None, ANONYMOUS):
            raise BedError(f"client({name!r}): accepted: None (with the token) or {ANONYMOUS!r}")
        headers = {}
        if name is None and self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return HttpClient(
            self.base_url, connect=self._connector(), recorder=self._record, headers=headers
        )

    def _record(self, entry: dict[str, Any]) -> None:
        self.transcript.append(masked(entry))

    async def token(self, client_id: str | None = None, secret: str | None = None) -> HttpResponse:
        """``POST /api/oauth2/token`` with the developer credentials (the bed's by default);
        a 200 answer's token becomes the bed's."""
        pair = f"{client_id or self.client_id}:{self.secret if secret is None else secret}"
        answer = await self.client(ANONYMOUS).request(
            "POST",
            "/api/oauth2/token",
            json_body={"grant_type": "client_credentials"},
            headers={"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()},
        )
        if answer.status == 200 and client_id is None and secret is None:
            self._token = str(answer.json()["access_token"])
        return answer

    async def inject(self, fault: str, **args: Any) -> None:
        if fault not in self.faults:
            return await super().inject(fault, **args)
        target = args.get("target")
        if not target:
            raise BedError(f"fault {fault!r} needs a target (a router's or peripheral's name)")
        details = {k: v for k, v in args.items() if k != "target"}
        self.world.trace.emit(str(target), "fault", fault, **details)
        if fault in ROUTER_FAULTS:
            self.router_mac(str(target))  # BedError naming the routers
            await self._router_fault(fault, str(target), args)
        else:
            await self.set_power(str(target), False)
            await asyncio.sleep(float(args.get("off_s", 1.0)))
            await self.set_power(str(target), True)

    pcaps: EvidenceCaptures | None = None

    def write_evidence(self, folder: Path) -> dict[str, str]:
        """The timeline, ``http.jsonl`` (every exchange with the controller, tokens masked) and,
        for a local bed given a capture folder, the air and the in-world TCP as pcapng."""
        files = super().write_evidence(folder)
        write_json_lines(folder / "http.jsonl", self.transcript)
        files["http.jsonl"] = "transcript"
        if self.pcaps is not None:
            files.update(self.pcaps.write_evidence(folder))
        return files


class LocalAcBed(LocalPeripherals, AcBed):
    """One world with the reference controller, its routers and the scenario's peripherals.

    ``routers``: router descriptions (``name``, ``mac``, ``position``, and any
    :class:`BleRouter` keyword: ``chips``, ``max_connections_per_chip``, ``boot_s``...;
    default: three routers 30 m apart, :func:`router_grid`); ``ac``: keyword arguments of
    :class:`AccessController` (``token_ttl_s``, ``echo_interval_s``, ``dead_interval_s``...);
    ``deviations``: names of :mod:`devices.gateways.ble_ac.deviations` the controller misbehaves
    by (``hil selfcheck``, ``hil serve ble-ac --deviate``).
    """

    def __init__(
        self,
        seed: int = 1,
        clock: str = VIRTUAL,
        scale: float = 1.0,
        trace_path: Path | None = None,
        radio: RadioConfig | None = None,
        routers: list[dict[str, Any]] | None = None,
        ac: dict[str, Any] | None = None,
        keep_trace: bool = True,
        client_id: str = DEFAULT_CLIENT_ID,
        secret: str = "hil-secret",
        capture_dir: Path | None = None,
        deviations: Iterable[str] = (),
    ) -> None:
        self.world = World(
            seed=seed, clock=clock, scale=scale, trace_path=trace_path, keep_trace=keep_trace
        )
        self.radio = Radio(self.world, radio)
        self.net = IpNetwork(self.world)
        self.pcaps = EvidenceCaptures(self.world, capture_dir)
        air, ip = self.pcaps.open("air.pcapng", AIR), self.pcaps.open("ip.pcapng", IP)
        if air is not None and ip is not None:
            from sim.air_capture import AirCapture  # scapy loads only when capturing
            from sim.ip_capture import IpCapture

            AirCapture(self.radio, air)
            IpCapture(self.net, ip)
        self.client_id, self.secret = client_id, secret
        settings = dict(ac or {})
        if deviations:
            settings["deviations"] = deviations
        self.ac = AccessController(self.world, self.net, {client_id: secret}, AC_HOST, **settings)
        self.routers: dict[str, BleRouter] = {}
        self.agents: dict[str, AcAgent] = {}
        self._served_routers: dict[str, list[ServedApp]] = {}
        self.peripherals: dict[str, BlePeripheral] = {}
        self.transcript = []
        self._served: ServedApp | None = None
        self._descriptions = router_grid(3) if routers is None else [dict(r) for r in routers]

    # -- start -------------------------------------------------------------------------------
    async def start(
        self, host: str = AC_HOST, port: int = AC_PORT, real_socket: bool = False
    ) -> str:
        """Start the controller and serve its API (inside the world, or on a real socket with
        ``port=0`` for a free one), bring the routers up and wait until they joined; get a
        token. Returns the API's URL."""
        await self.ac.start()
        self._served = await self.ac.serve(
            net=None if real_socket else self.net, host=host if real_socket else None, port=port
        )
        for description in self._descriptions:
            await self.add_router(description)
        await self.wait_online(self.router_names())
        answer = await self.token()
        if answer.status != 200:
            raise BedError(f"the controller refused the bed's token request: {answer.text}")
        return self._served.url

    async def add_router(self, description: dict[str, Any]) -> BleRouter:
        """A router of the world, serving its local API at its own IP and joined to the
        controller by its agent."""
        spec = dict(description)
        name = str(spec.pop("name"))
        if name in self.routers:
            raise BedError(f"a router named {name!r} already exists")
        index = len(self.routers) + 1
        spec.setdefault("ip", f"10.0.1.{index}")
        spec.setdefault("name", f"router-{name}")
        router = BleRouter(self.world, self.radio, **spec)
        self.routers[name] = router
        self._served_routers[name] = [await router.serve(self.net, host=router.ip)]
        agent = self.agents[name] = AcAgent(
            router, self.net, AC_HOST, echo_interval_s=self.ac.registry.echo_interval_s
        )
        agent.start()
        self.ac.positioning.place_router(router.mac, router.position)
        return router

    async def wait_online(self, names: list[str], within_s: float = 30.0) -> None:
        macs = [self.router_mac(n) for n in names]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while not all(
            m in self.ac.registry.records and self.ac.registry.records[m].online for m in macs
        ):
            if loop.time() > deadline:
                raise BedError(f"routers {', '.join(names)} did not join within {within_s:g} s")
            await asyncio.sleep(0.1)

    @property
    def served(self) -> ServedApp:
        if self._served is None:
            raise BedError("the controller is not serving yet: call start() first")
        return self._served

    @property
    def base_url(self) -> str:  # type: ignore[override]
        return self.served.url

    def _connector(self) -> Any:
        return self.net.open_connection if self.served.net is not None else None

    # -- routers -----------------------------------------------------------------------------
    def router_names(self) -> list[str]:
        return list(self.routers) or [str(d["name"]) for d in self._descriptions]

    def router(self, name: str) -> BleRouter:
        try:
            return self.routers[name]
        except KeyError:
            raise BedError(
                f"no router named {name!r}; the world has {', '.join(self.routers) or 'none'}"
            ) from None

    def router_mac(self, name: str) -> str:
        if name in self.routers:
            return self.routers[name].mac
        for d in self._descriptions:
            if d["name"] == name:
                return str(d["mac"]).upper()
        return self.router(name).mac  # BedError naming the routers

    def router_position(self, name: str) -> tuple[float, float, float]:
        p = [float(v) for v in self.router(name).position] + [0.0, 0.0]
        return (p[0], p[1], p[2])

    def radio_model(self) -> RadioConfig:
        return self.radio.config

    async def router_links(self, name: str) -> list[str]:
        return self.router(name).connected_nodes()

    async def router_advertising(self, name: str) -> list[int]:
        return self.router(name).advertising_chips()

    async def _router_fault(self, fault: str, name: str, args: dict[str, Any]) -> None:
        router = self.router(name)
        if fault == "router_outage":
            self.net.partition(router.ip, AC_HOST, not bool(args.get("up", False)))
        elif fault == "router_reboot":
            await reboot(router, reason="fault")
        elif bool(args.get("on", False)):
            if not router.started:
                await router.start()
                served = self._served_routers.get(name) or []
                self._served_routers[name] = [
                    await router.serve(s.net, s.host, s.port) for s in served
                ]
        elif router.started:
            self._served_routers[name] = await router.power_off()

    # -- peripherals -------------------------------------------------------------------------
    def address_of(self, name: str) -> str:
        return self._get(name).address

    def holder(self, name: str) -> str | None:
        """The router (by name) holding a link to peripheral ``name``, if any."""
        address = self.address_of(name).upper()
        for router_name, router in self.routers.items():
            if router.is_connected(address):
                return router_name
        return None

    # -- the end -----------------------------------------------------------------------------
    async def stop(self) -> None:
        for agent in self.agents.values():
            agent.stop()
        await self.ac.stop()
        for router in self.routers.values():
            if router.started:
                await router.stop()


class RemoteAcBed(RemotePeripherals, AcBed):
    """A controller at a URL; routers and peripherals driven through the far side's
    world-control API (when it has one).

    Without world control the routers are the controller's registered ones, named A, B, C...
    in MAC order, and their positions are unknown; ``scale`` is the far side's world seconds per
    wall second.
    """

    def __init__(
        self,
        base_url: str,
        client_id: str,
        secret: str,
        control_url: str | None = None,
        seed: int = 1,
        trace_path: Path | None = None,
        scale: float = 1.0,
    ) -> None:
        self.world = World(seed=seed, clock=REAL, scale=scale, trace_path=trace_path)
        self.device_block = next(_BLOCKS) % 0xFFFF + 1
        self.base_url = base_url.rstrip("/")
        self.client_id, self.secret = client_id, secret
        self.control_url = control_url
        self.transcript = []
        self._routers: dict[str, dict[str, Any]] = {}
        self._addresses: dict[str, str] = {}

    async def start(self) -> None:
        """Get a token, learn the routers, and leave the far side clean (see :meth:`reset`)."""
        answer = await self.token()
        if answer.status != 200:
            raise BedError(
                f"the controller at {self.base_url} refused the developer credentials: "
                f"{answer.status} {answer.text[:200]}"
            )
        await self.reset()
        await self._learn_routers()
        self.transcript.clear()

    async def _learn_routers(self) -> None:
        if self.control_url:
            world = (await self._call("GET", "/world")).json()
            self._routers = {str(r["name"]): r for r in world.get("routers", [])}
            return
        answer = await self.client().request("GET", "/api/cassia/hubs")
        hubs = answer.json() if answer.status == 200 else []
        for i, mac in enumerate(sorted(str(h["mac"]).upper() for h in hubs)):
            name = chr(ord("A") + i) if i < 26 else f"R{i + 1}"
            self._routers[name] = {"name": name, "mac": mac, "position": None}

    def router_names(self) -> list[str]:
        return list(self._routers)

    def router_mac(self, name: str) -> str:
        try:
            return str(self._routers[name]["mac"]).upper()
        except KeyError:
            raise BedError(
                f"no router named {name!r}; the SUT has {', '.join(self._routers) or 'none'}"
            ) from None

    async def _world_router(self, name: str) -> dict[str, Any]:
        """Router ``name`` as the far side's world control tells it (``GET /world/routers``)."""
        self.router_mac(name)  # BedError naming the routers
        for entry in (await self._call("GET", "/world/routers")).json():
            if entry.get("name") == name:
                return dict(entry)
        raise BedError(f"the far side's world control does not list router {name!r}")

    async def router_links(self, name: str) -> list[str]:
        return [str(mac) for mac in (await self._world_router(name)).get("connected", [])]

    async def router_advertising(self, name: str) -> list[int]:
        return [int(chip) for chip in (await self._world_router(name)).get("advertising", [])]

    def router_position(self, name: str) -> tuple[float, float, float] | None:
        self.router_mac(name)
        position = self._routers[name].get("position")
        if not position:
            return None
        p = [float(v) for v in position] + [0.0, 0.0]
        return (p[0], p[1], p[2])

    async def _router_fault(self, fault: str, name: str, args: dict[str, Any]) -> None:
        path = f"/world/routers/{name}"
        if fault == "router_outage":
            await self._call("POST", f"{path}/uplink", {"up": bool(args.get("up", False))})
        elif fault == "router_reboot":
            await self._call("POST", f"{path}/reboot", {})
        else:
            await self._call("POST", f"{path}/power", {"on": bool(args.get("on", False))})

    async def reset(self) -> None:
        """Start the next scenario from the same place: the far side's world reset (uplinks
        up, routers on, no peripherals), then the controller's switches back to their defaults
        (no scans, auto-selection off, every report open) and no device connected."""
        if self.control_url:
            await self._call("POST", "/world/reset", {})
        client = HttpClient(self.base_url, headers={"Authorization": f"Bearer {self._token}"})
        for path in (
            "/api/aps/scan/close",
            "/api/aps/notify/open",
            "/api/aps/connection-state/open",
        ):
            await client.request("POST", path, json_body={"aps": "*"}, timeout=10)
        await client.request("GET", "/api/aps/ap-state/open", timeout=10)
        await client.request("POST", "/api/aps/ap-select-switch", json_body={"flag": 0}, timeout=10)
        hubs = await client.request("GET", "/api/cassia/hubs", timeout=10)
        for hub in hubs.json() if hubs.status == 200 else []:
            mac = hub["mac"]
            listing = await client.request(
                "GET", "/api/gap/nodes", {"connection_state": "connected", "mac": mac}, timeout=10
            )
            nodes = listing.json().get("nodes", []) if listing.status == 200 else []
            for node in nodes:
                await client.request(
                    "DELETE", f"/api/gap/nodes/{node['id']}/connection", {"mac": mac}, timeout=10
                )

    def close(self) -> None:
        if not self.world.closed:
            try:
                self.run(self.reset())
            except Exception:  # a controller that cannot be reset failed already
                pass
        super().close()
