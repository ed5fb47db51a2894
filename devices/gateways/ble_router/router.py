"""The reference BLE router node: a Cassia-style gateway (seed 002) with one or two Bumble
chips on the simulated radio (:mod:`.central`) and the RESTful API + SSE served by aiohttp
(:mod:`.api`).

Typical test bed::

    world = World(seed=1); radio = Radio(world); net = IpNetwork(world)
    router = BleRouter(world, radio, mac="CC:1B:E0:E0:00:01", position=(0, 0, 0))
    served = await router.serve(net)                      # http://router:80 inside the world
    client = HttpClient(served.url, connect=net.open_connection)
    ...
    await router.stop()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from devices.gateways.ble_router import reports
from devices.gateways.ble_router.api import build_app
from devices.gateways.ble_router.batch import BatchConnector
from devices.gateways.ble_router.central import CONN_PARAMS, Central, NodeLink
from devices.gateways.ble_router.deviations import ble_deviations
from devices.gateways.ble_router.params import parse_mac
from devices.gateways.ble_router.sse import StreamLimiter
from devices.protocols.http_server import ServedApp, serve

if TYPE_CHECKING:
    from collections.abc import Iterable

    from devices.deviations import Deviations
    from sim.iplink import IpNetwork
    from sim.radio import Radio
    from sim.world import World

FIRMWARE_VERSION = "2.2.1.2504101200"


class BleRouter:
    """A BLE router node of the world.

    ``chips`` is 1 (S-series) or 2 (X1000/E1000-like); chip *i*'s public address is the
    router's MAC with last byte ``0x1E + i``. ``max_sse_streams`` open SSE streams are served;
    one more is answered 500 (the seed's note on SSE resources). ``deviations`` names the
    ways it misbehaves on purpose (:mod:`.deviations`; none by default).
    """

    def __init__(
        self,
        world: World,
        radio: Radio,
        mac: str = "CC:1B:E0:E0:00:01",
        position: tuple[float, ...] = (0.0, 0.0, 0.0),
        chips: int = 2,
        max_connections_per_chip: int = 11,
        max_sse_streams: int = 24,
        name: str | None = None,
        model: str | None = None,
        version: str = FIRMWARE_VERSION,
        keepalive_s: float = 30.0,
        ip: str = "192.168.1.100",
        boot_s: float = 10.0,
        credentials: tuple[str, str] | None = None,
        deviations: Iterable[str] | Deviations = (),
    ) -> None:
        if chips not in (1, 2):
            raise ValueError(f"chips must be 1 or 2, got {chips}")
        if max_connections_per_chip < 1 or max_sse_streams < 1:
            raise ValueError("max_connections_per_chip and max_sse_streams must be >= 1")
        self.world = world
        self.radio = radio
        self.deviations = ble_deviations(deviations)
        self.mac = parse_mac(mac, "router mac")
        self.name = name or "router-" + self.mac.replace(":", "")[-6:].lower()
        self.position = tuple(float(v) for v in position)
        self.model = model or ("X1000" if chips == 2 else "S2000")
        self.version = version
        self.keepalive_s = keepalive_s
        self.ip = ip
        self.boot_s = boot_s  # how long a reboot keeps the API down (see .reboot)
        self.credentials = credentials  # (user, password): login required (see .login)
        if self.deviations.active("sse-limit-not-enforced"):
            max_sse_streams = 1_000_000
        self.streams = StreamLimiter(max_sse_streams)
        self.central = Central(
            world,
            radio,
            self.name,
            self.mac,
            self.position,
            chips,
            max_connections_per_chip,
            self.deviations,
        )
        self.batch = BatchConnector(self)  # the batch-connect queue (see .batch)
        self._app: web.Application | None = None
        self._served: list[ServedApp] = []
        self.started = False
        self.started_at = 0.0
        world.add_node(self)

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        """Power the chips on (idempotent)."""
        if self.started:
            return
        await self.central.power_on()
        self.started = True
        self.started_at = self.world.now
        self.trace(
            "world", "power-on", mac=self.mac, chips=len(self.central.chips), model=self.model
        )

    async def serve(
        self, net: IpNetwork | None = None, host: str = "router", port: int = 80
    ) -> ServedApp:
        """Start (if needed) and serve the API at ``host:port`` — inside ``net`` when given,
        else on a real socket (``host`` e.g. ``127.0.0.1``, ``port=0`` for any)."""
        await self.start()
        served = await serve(self.app, self.world, host, port, net)
        self._served.append(served)
        self.trace("http", "serving", url=served.url, in_world=net is not None)
        return served

    async def stop(self) -> None:
        """Close the API (ending every stream), drop every link, stop scanning."""
        await self.central.shutdown()
        await self._close_api()
        self.started = False
        self.trace("world", "stopped")

    async def power_off(self) -> list[ServedApp]:
        """The router loses power (a reboot or crash, see :mod:`.reboot`): the chips go off
        (links end with no word on the air, every stream ends), and with them the batch queue
        and the API process: nothing listens until :meth:`serve` builds a fresh one. Returns
        where the API was served, so that a boot can serve there again."""
        self.central.power_off()
        self.batch.clear()
        served = await self._close_api()
        self._app = None
        self.started = False
        return served

    async def _close_api(self) -> list[ServedApp]:
        served, self._served = self._served, []
        for one in served:
            try:
                await one.close()
            except Exception as exc:  # already closed by its owner
                self.trace("http", "close-error", error=repr(exc))
        return served

    @property
    def app(self) -> web.Application:
        if self._app is None:
            self._app = build_app(self)
        return self._app

    # -- what a test bed may read -----------------------------------------------------------
    @property
    def uptime(self) -> float:
        return self.world.now - self.started_at if self.started else 0.0

    @property
    def chip_addresses(self) -> list[str]:
        return list(self.central.chip_addresses)

    def connected_nodes(self) -> list[str]:
        """MACs of the connected devices."""
        return list(self.central.links)

    def advertising_chips(self) -> list[int]:
        """The chips advertising now (``/advertise/start``), as their controllers say."""
        return [c.index for c in self.central.chips if c.powered and c.device.is_advertising]

    def link(self, mac: str) -> NodeLink | None:
        return self.central.links.get(mac.upper())

    def is_connected(self, mac: str) -> bool:
        return mac.upper() in self.central.links

    @property
    def open_streams(self) -> int:
        return self.streams.count()

    def move(self, position: tuple[float, ...]) -> None:
        self.position = tuple(float(v) for v in position)
        self.central.position = self.position
        for chip in self.central.chips:
            self.radio.move(chip.controller, self.position)

    def trace(self, layer: str, event: str, **details: Any) -> None:
        self.world.trace.emit(self.name, layer, event, **details)

    # -- documents --------------------------------------------------------------------------
    def connected_nodes_json(self) -> list[dict]:
        type_wrong = self.deviations.active("connected-list-type-wrong")
        unpaired = self.deviations.active("pair-status-not-listed")
        return [
            reports.connected_node(
                link.mac,
                "public" if type_wrong else link.addr_type,
                link.chip.index,
                self.central.name_of(link.mac) or "",
                paired=not unpaired and self.central.pairing.is_paired(link.mac),
            )
            for link in self.central.links.values()
        ]

    def info(self) -> dict:
        info = self._info()
        if self.deviations.active("info-version-missing"):
            del info["version"]
        if self.deviations.active("info-container-section"):
            info.update(reports.container_info(self.uptime))
        return info

    def _info(self) -> dict:
        return reports.cassia_info(
            mac=self.mac,
            model=self.model,
            version=self.version,
            uptime_s=self.uptime,
            now=self.world.datetime(),
            chips=self.central.chip_info(),
            conn_params=dict(CONN_PARAMS),
            ip=self.ip,
            ble_power=20,
            scan={
                "one_scan_time": "300",
                "scan_interval": str(CONN_PARAMS["scan_intval"]),
                "scan_window": str(CONN_PARAMS["scan_window"]),
            },
        )
