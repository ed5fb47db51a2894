"""Starting a platform with its MQTT listener and its control API in one call: on real sockets
for ``hil serve mqtt-platform`` (a world on the real clock), or inside a world's network.

    served = await start_platform(world, host="127.0.0.1", mqtt_port=0, control_port=0,
                                  db="platform.db", gateways=[("gw-1", "default")])
    served.mqtt_port, served.control.url, served.admin_key, served.tokens
    ...
    await served.close()

The admin key (from ``secrets`` unless given) guards the control API; the serve command prints
it, with the tokens of the gateways created at start (a gateway that already exists in the
database keeps its token, which is not known any more, so it is not listed).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from ssl import SSLContext
from typing import TYPE_CHECKING

from devices.cloud.mqtt_platform.config import PlatformConfig
from devices.cloud.mqtt_platform.control_api import control_app
from devices.cloud.mqtt_platform.errors import NameTaken
from devices.cloud.mqtt_platform.platform import Platform
from devices.protocols.http_server import ServedApp, serve

if TYPE_CHECKING:
    from sim.iplink import IpNetwork
    from sim.world import World


@dataclass
class ServedPlatform:
    platform: Platform
    mqtt_host: str
    mqtt_port: int
    control: ServedApp
    admin_key: str
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)
    """(tenant, gateway) -> access token, for the gateways created at start."""

    @property
    def mqtt_address(self) -> str:
        return f"{self.mqtt_host}:{self.mqtt_port}"

    async def close(self) -> None:
        await self.control.close()
        await self.platform.close()


def new_admin_key() -> str:
    return secrets.token_urlsafe(24)


async def start_platform(
    world: World,
    host: str = "127.0.0.1",
    mqtt_port: int = 1883,
    control_port: int = 8080,
    db: str | Path = ":memory:",
    config: PlatformConfig | None = None,
    admin_key: str | None = None,
    ssl_context: SSLContext | None = None,
    gateways: Iterable[tuple[str, str]] = (),
    net: IpNetwork | None = None,
) -> ServedPlatform:
    """A platform serving MQTT on ``mqtt_port`` and its control API on ``control_port`` (0: a
    free port; the ports taken are in the result), on real sockets unless ``net`` is given.
    ``gateways`` are (name, tenant) pairs created if they do not exist yet."""
    platform = Platform(world, db, config)
    tokens: dict[tuple[str, str], str] = {}
    for name, tenant in gateways:
        try:
            tokens[(tenant, name)] = platform.add_gateway(name, tenant)
        except NameTaken:
            pass
    key = admin_key or new_admin_key()
    if net is not None:
        platform.listen(net, host, mqtt_port)
        port = mqtt_port
    else:
        port = await platform.listen_tcp(host, mqtt_port, ssl_context)
    control = await serve(control_app(platform, key), world, host, control_port, net=net)
    return ServedPlatform(platform, host, port, control, key, tokens)
