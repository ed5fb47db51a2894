"""Building the service with its HTTP API, in the world or on a real socket.

``await serve_device2(world, db_path, host, port, net=net)`` serves inside the world's IP
network ``net`` (virtual time; clients use ``HttpClient(url, connect=net.open_connection)``);
without ``net`` it listens on a real socket (``port`` 0 takes a free port, see
:attr:`Device2Server.url`). ``products`` are created if the database does not have them yet,
with ``settings`` (a partial settings object) applied to new ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devices.cloud.device2.api import build_app
from devices.cloud.device2.service import Device2Service
from devices.protocols.http_server import ServedApp, serve

if TYPE_CHECKING:
    from sim.iplink import IpNetwork
    from sim.world import World

DEFAULT_PRODUCT = "example"


@dataclass
class Device2Server:
    service: Device2Service
    served: ServedApp

    @property
    def url(self) -> str:
        return self.served.url

    async def close(self) -> None:
        await self.served.close()
        self.service.close()


async def serve_device2(
    world: World,
    db_path: str | Path,
    host: str = "127.0.0.1",
    port: int = 0,
    net: IpNetwork | None = None,
    products: Iterable[str] = (DEFAULT_PRODUCT,),
    settings: Mapping[str, Any] | None = None,
    archive_dir: str | Path | None = None,
) -> Device2Server:
    """The service on ``db_path`` with its management API served at ``host:port``."""
    service = Device2Service(world, db_path, archive_dir)
    for product in products:
        service.ensure_gateway(product, settings)
    served = await serve(build_app(service), world, host, port, net)
    return Device2Server(service, served)
