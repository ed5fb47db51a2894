"""The access controller node: routers join it over their uplinks (:mod:`.agent`,
:mod:`.uplink_api`), and its HTTP API (:mod:`.api`) serves the seed's controller-only APIs and
the router-addressed form of every router call.

Typical bed::

    world = World(); radio = Radio(world); net = IpNetwork(world)
    ac = AccessController(world, net, clients={"developer": "secret"})
    await ac.start()                                    # uplink listener at ac:5246
    served = await ac.serve()                           # the API at http://ac:80 in the world
    router = BleRouter(world, radio, mac=..., ip="10.0.1.1"); await router.serve(net, "10.0.1.1")
    AcAgent(router, net).start()                        # the router joins within a few seconds

It keeps, besides the registry: the routers' devices (who is connected where, from their
connection-state streams, refreshed from ``GET /gap/nodes?connection_state=connected``), the
combined stream's state (:mod:`.combined`), auto-selection (:mod:`.selection`), positioning
(:mod:`.positioning`) and the issued tokens (:mod:`.auth`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from devices.gateways.ble_ac.agent import UPLINK_PORT
from devices.gateways.ble_ac.api import build_app
from devices.gateways.ble_ac.auth import DEFAULT_TTL_S, TokenIssuer
from devices.gateways.ble_ac.combined import Combined
from devices.gateways.ble_ac.deviations import ac_deviations
from devices.gateways.ble_ac.events import AP_STATE, CONNECTION_STATE
from devices.gateways.ble_ac.positioning import PathLoss, Positioning
from devices.gateways.ble_ac.registry import HubRecord, Registry
from devices.gateways.ble_ac.selection import Selection
from devices.gateways.ble_ac.uplink_api import uplink_app
from devices.gateways.ble_ac.uplinks import Uplinks
from devices.protocols.http_client import HttpError
from devices.protocols.http_server import ServedApp, serve

if TYPE_CHECKING:
    from aiohttp import web

    from devices.deviations import Deviations
    from devices.gateways.ble_router.sse import SseOutbox
    from sim.iplink import IpNetwork
    from sim.world import World

FIRMWARE_VERSION = "2.1.1.2404011200"


class AccessController:
    """A BLE access controller of the world, at ``host`` on ``net``.

    ``clients`` maps developer keys to secrets (the token request's HTTP Basic credentials);
    ``token_ttl_s`` is a token's life in world seconds; routers echo every ``echo_interval_s``
    and are offline after ``dead_interval_s`` of silence; ``user`` is the account the routers
    belong to (``hubStatus``'s ``user``); the combined stream writes what arrived within
    ``batch_s`` at once (0: every message at once). ``deviations``: names of
    :mod:`.deviations` (or a value of them) it misbehaves by, for its whole life.
    """

    def __init__(
        self,
        world: World,
        net: IpNetwork,
        clients: Mapping[str, str],
        host: str = "ac",
        name: str = "ac",
        token_ttl_s: float = DEFAULT_TTL_S,
        echo_interval_s: float = 5.0,
        dead_interval_s: float = 15.0,
        user: str = "admin",
        keepalive_s: float = 30.0,
        batch_s: float = 0.005,
        window_s: float = 10.0,
        path_loss: PathLoss | None = None,
        version: str = FIRMWARE_VERSION,
        deviations: Iterable[str] | Deviations = (),
    ) -> None:
        if not clients:
            raise ValueError("an access controller needs at least one developer key and secret")
        self.world = world
        self.net = net
        self.host = host
        self.name = name
        self.user = user
        self.version = version
        self.keepalive_s = keepalive_s
        self.batch_s = batch_s
        self.deviations = bent = ac_deviations(deviations)
        self.tokens = TokenIssuer(clients, lambda: world.now, token_ttl_s, bent)
        self.registry = Registry(world, name, echo_interval_s, dead_interval_s, bent)
        self.uplinks = Uplinks(world, net, self.registry, host)
        self.combined = Combined(world, self.registry, self.uplinks, bent)
        self.selection = Selection(world, self.registry, self.uplinks, window_s, bent)
        self.positioning = Positioning(
            world, self.registry, self.uplinks, window_s, path_loss, bent
        )
        self.outboxes: set[SseOutbox] = set()
        self._served: list[ServedApp] = []
        self._uplink: ServedApp | None = None
        self._app: web.Application | None = None
        self._refresh: dict[str, asyncio.Task[None]] = {}
        self._versions: dict[str, int] = {}
        self.registry.on(AP_STATE, self._on_ap_state)
        self.uplinks.on(CONNECTION_STATE, self._on_connection_state)
        world.add_node(self)

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        """Listen for routers' uplinks at ``host:5246`` inside the world (idempotent)."""
        if self._uplink is None:
            self._uplink = await serve(
                uplink_app(self.registry), self.world, self.host, UPLINK_PORT, self.net
            )
            self.trace("world", "start", uplink=self._uplink.url)

    async def serve(
        self, net: IpNetwork | None = None, host: str | None = None, port: int = 80
    ) -> ServedApp:
        """Start and serve the API at ``host:port`` — inside ``net`` when given (``host``
        defaults to the controller's), else on a real socket."""
        await self.start()
        served = await serve(self.app, self.world, host or self.host, port, net)
        self._served.append(served)
        self.trace("http", "serving", url=served.url, in_world=net is not None)
        return served

    @property
    def app(self) -> web.Application:
        if self._app is None:
            self._app = build_app(self)
        return self._app

    async def stop(self) -> None:
        """End every stream, close the API and the uplinks."""
        for outbox in list(self.outboxes):
            outbox.close()
        self.selection.close()
        self.uplinks.close()
        self.registry.close()
        for task in self._refresh.values():
            task.cancel()
        served, self._served = self._served, []
        if self._uplink is not None:
            served.append(self._uplink)
            self._uplink = None
        for one in served:
            try:
                await one.close()
            except Exception as exc:  # already closed by its owner
                self.trace("http", "close-error", error=repr(exc))
        self.trace("world", "stopped")

    def trace(self, layer: str, event: str, **details: Any) -> None:
        self.world.trace.emit(self.name, layer, event, **details)

    # -- who is connected where ---------------------------------------------------------------
    def _on_ap_state(self, record: HubRecord) -> None:
        if record.online:
            self._schedule_refresh(record)

    def _on_connection_state(self, ap: str, device: str, state: str) -> None:
        record = self.registry.records.get(ap)
        if record is None:
            return
        self._versions[ap] = self._versions.get(ap, 0) + 1
        if state == "connected":
            record.devices.setdefault(device, {"id": device, "connectionState": "connected"})
            self._schedule_refresh(record)
        elif state == "disconnected":
            record.devices.pop(device, None)

    def _schedule_refresh(self, record: HubRecord) -> None:
        task = self._refresh.get(record.mac)
        if task is None or task.done():
            self._refresh[record.mac] = self.world.spawn(
                self._refresh_devices(record), name=f"ac/devices/{record.mac}"
            )

    async def _refresh_devices(self, record: HubRecord) -> None:
        """Take the router's connected list as the truth, unless a connection event came in
        meanwhile (then ask again)."""
        for _attempt in range(5):
            version = self._versions.get(record.mac, 0)
            try:
                answer = await self.uplinks.client(record).request(
                    "GET", "/gap/nodes", {"connection_state": "connected"}, timeout=10.0
                )
                nodes = answer.json().get("nodes", []) if answer.status == 200 else None
            except (HttpError, AttributeError):
                nodes = None
            if nodes is None or not record.online:
                return
            if version == self._versions.get(record.mac, 0):
                record.devices = {
                    str(n["id"]).upper(): n for n in nodes if isinstance(n, dict) and "id" in n
                }
                return
