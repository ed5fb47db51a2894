"""The whole Device2 service as devices and operators reach it: the HTTP and MQTT device APIs
(plain and over TLS) and the management API, in the world or on real sockets.

::

    apis = await serve_device2_apis(world, "d2.db", net=net)          # in the world
    apis.url("http")       # http://example.m2.exosite.io:80 (devices connect to the fqdn)
    apis = await serve_device2_apis(world, "d2.db", ports=DevicePorts(https=0, mqtts=0))
    apis.port("mqtts")     # real sockets on ``host`` (0: a free port)
    await apis.close()

In the world (``net`` given) the device APIs listen at every product's ``fqdn`` (created
before serving; a product added later is not listened for) and the management API at
``management_host``; :meth:`DevicePorts.in_world` gives the usual ports (80, 443, 1883, 8883).
On real sockets everything binds ``host``. TLS listeners need :class:`~.device_tls.DeviceTls`
material: given, or generated for the products' fqdns (:attr:`Device2Apis.tls` then holds its
authorities, e.g. to write them for outside clients).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devices.cloud.device2.api import build_app
from devices.cloud.device2.device_config import DeviceApiConfig
from devices.cloud.device2.device_hosts import DEVMODE_FROM, DEVMODE_TO
from devices.cloud.device2.device_http import DeviceHttp
from devices.cloud.device2.device_mqtt import DeviceMqtt
from devices.cloud.device2.device_tls import DeviceTls
from devices.cloud.device2.service import Device2Service
from devices.cloud.device2.serving import DEFAULT_PRODUCT
from devices.cloud.device2.set_waiters import SetWaiters
from devices.protocols.http_server import ServedApp, serve

if TYPE_CHECKING:
    from sim.iplink import IpNetwork
    from sim.world import World


@dataclass(frozen=True)
class DevicePorts:
    """The port of each API (None: not served; 0 on real sockets: a free one)."""

    management: int | None = 0
    http: int | None = 0
    https: int | None = None
    mqtt: int | None = None
    mqtts: int | None = None

    @classmethod
    def in_world(cls) -> DevicePorts:
        return cls(management=80, http=80, https=443, mqtt=1883, mqtts=8883)

    def get(self, kind: str) -> int | None:
        return getattr(self, kind)  # type: ignore[no-any-return]


@dataclass
class Device2Apis:
    """The served service: its domain object, the device APIs, where each listens."""

    service: Device2Service
    config: DeviceApiConfig
    http: DeviceHttp
    mqtt: DeviceMqtt
    tls: DeviceTls | None
    device_host: str
    """Where devices connect: the first product's fqdn in the world, else the bound host."""
    management_host: str
    ports: dict[str, int] = field(default_factory=dict)
    served: list[ServedApp] = field(default_factory=list)

    def port(self, kind: str) -> int:
        """The bound port of ``kind`` (``management``, ``http``, ``https``, ``mqtt``, ``mqtts``)."""
        if kind not in self.ports:
            raise KeyError(f"{kind!r} is not served; served: {', '.join(self.ports)}")
        return self.ports[kind]

    def url(self, kind: str) -> str:
        host = self.management_host if kind == "management" else self.device_host
        return f"{kind if kind != 'management' else 'http'}://{host}:{self.port(kind)}"

    async def close(self) -> None:
        # wake the long polls first: a handler still waiting on a set would hold its server
        self.http.waiters.close()
        await self.mqtt.close()
        for served in self.served:
            await served.close()
        self.service.close()


def device_names(service: Device2Service, devmode: bool = True) -> list[str]:
    """Every product's fqdn (and its dev-mode twin): the device hosts' names."""
    names: list[str] = []
    for product in service.products:
        fqdn = str(service.gateway(product).settings.raw.get("fqdn") or "").lower()
        if fqdn:
            names.append(fqdn)
            if devmode and DEVMODE_FROM in f".{fqdn}":
                names.append(f".{fqdn}".replace(DEVMODE_FROM, DEVMODE_TO, 1)[1:])
    return list(dict.fromkeys(names))


async def serve_device2_apis(
    world: World,
    db_path: str | Path,
    *,
    net: IpNetwork | None = None,
    host: str = "127.0.0.1",
    ports: DevicePorts | None = None,
    products: Iterable[str] = (DEFAULT_PRODUCT,),
    settings: Mapping[str, Any] | None = None,
    archive_dir: str | Path | None = None,
    config: DeviceApiConfig | None = None,
    tls: DeviceTls | None = None,
    management_host: str = "device2",
) -> Device2Apis:
    """The service on ``db_path`` with its APIs served (see the module doc)."""
    ports = ports or (DevicePorts.in_world() if net is not None else DevicePorts())
    config = config or DeviceApiConfig()
    service = Device2Service(world, db_path, archive_dir)
    for product in products:
        service.ensure_gateway(product, settings)
    names = device_names(service, config.devmode)
    if tls is None and (ports.https is not None or ports.mqtts is not None):
        tls = DeviceTls.generate(names)
    waiters = SetWaiters(service)
    http = DeviceHttp(service, config, tls, waiters)
    mqtt = DeviceMqtt(service, config, tls)
    hosts = names if net is not None else [host]
    apis = Device2Apis(
        service,
        config,
        http,
        mqtt,
        tls,
        hosts[0] if hosts else host,
        management_host if net is not None else host,
    )
    try:
        await _serve_all(apis, world, net, host, hosts, ports)
    except BaseException:
        await apis.close()
        raise
    return apis


async def _serve_all(
    apis: Device2Apis,
    world: World,
    net: IpNetwork | None,
    host: str,
    hosts: list[str],
    ports: DevicePorts,
) -> None:
    if ports.management is not None:
        served = await serve(
            build_app(apis.service), world, apis.management_host, ports.management, net
        )
        apis.served.append(served)
        apis.ports["management"] = served.port
    for kind in ("http", "https"):
        port = ports.get(kind)
        if port is None:
            continue
        context = apis.http.tls_context() if kind == "https" else None
        for name in hosts:
            served = await serve(apis.http.app(), world, name, port, net, ssl_context=context)
            apis.served.append(served)
            apis.ports[kind] = served.port
    for kind in ("mqtt", "mqtts"):
        port = ports.get(kind)
        if port is None:
            continue
        secure = kind == "mqtts"
        if net is not None:
            for name in hosts:
                apis.mqtt.listen(net, name, port, secure)
            apis.ports[kind] = port
        else:
            apis.ports[kind] = await apis.mqtt.listen_tcp(host, port, secure)
