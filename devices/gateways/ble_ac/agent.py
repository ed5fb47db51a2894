"""The router's side of its uplink to the controller: the agent a managed router runs (its
``ac`` settings in ``/cassia/info`` name the controller's address and control port 5246).

Real routers speak CAPWAP over UDP; in the world the agent speaks a small JSON-over-HTTP
rendering of the same two messages over the router's IP link to the controller
(:mod:`.uplink_api`): **join** (the router's identity, boot marker, uptime and capacity) when it
boots or after it lost the controller, then **echo** every ``echo_interval_s``. The agent lives
and dies with the router's process: while the router is down (reboot, power loss) nothing is
sent, and the first message after a boot is a join with a new boot marker. A partition of the
link makes echoes time out; the controller declares the router offline after its dead interval,
and the agent joins again once the link heals.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from devices.protocols.http_client import HttpClient, HttpError

if TYPE_CHECKING:
    from devices.gateways.ble_router.router import BleRouter
    from sim.iplink import IpNetwork

UPLINK_PORT = 5246  # the seed's "ac": {"control_port": "5246"}


class AcAgent:
    """Joins ``router`` to the controller at ``ac_host:ac_port`` and keeps it there."""

    def __init__(
        self,
        router: BleRouter,
        net: IpNetwork,
        ac_host: str = "ac",
        ac_port: int = UPLINK_PORT,
        echo_interval_s: float = 5.0,
        timeout_s: float = 3.0,
    ) -> None:
        self.router = router
        self.net = net
        self.echo_interval_s = echo_interval_s
        self.client = HttpClient(
            f"http://{ac_host}:{ac_port}", connect=self._connect, default_timeout=timeout_s
        )
        self.joined_boot: float | None = None
        self.joins = 0
        self.echoes = 0
        self._task: asyncio.Task[None] | None = None

    async def _connect(self, host: str, port: int) -> tuple[Any, Any]:
        return await self.net.open_connection(host, port, client_host=self.router.ip)

    def start(self) -> None:
        if self._task is None:
            self._task = self.router.world.spawn(self._run(), name=f"{self.router.name}/ac-agent")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def identity(self) -> dict[str, Any]:
        """What a join tells the controller."""
        router = self.router
        central = router.central
        return {
            "mac": router.mac,
            "name": router.name,
            "model": router.model,
            "version": router.version,
            "ip": router.ip,
            "localip": router.ip,
            "uptime": round(router.uptime, 3),
            "boot": router.started_at,
            "chips": central.chip_count,
            "capacity": central.chip_count * central.max_connections_per_chip,
        }

    async def _run(self) -> None:
        while True:
            if self.router.started:
                await self._tell()
            await asyncio.sleep(self.echo_interval_s)

    async def _tell(self) -> None:
        router = self.router
        try:
            if self.joined_boot != router.started_at:
                response = await self.client.request(
                    "POST", "/uplink/join", json_body=self.identity()
                )
                if response.status == 200:
                    self.joined_boot = router.started_at
                    self.joins += 1
                    router.trace("uplink", "joined", ac=self.client.base_url)
                return
            response = await self.client.request(
                "POST",
                "/uplink/echo",
                json_body={
                    "mac": router.mac,
                    "uptime": round(router.uptime, 3),
                    "boot": router.started_at,
                },
            )
            if response.status == 200:
                self.echoes += 1
            else:  # the controller forgot us (it declared us offline): join again
                self.joined_boot = None
        except HttpError as exc:
            self.joined_boot = None  # whatever happened meanwhile, start over with a join
            router.trace("uplink", "unanswered", error=str(exc)[:200])
