"""What the Device2 device-API tests share: the service with its device APIs served in a fresh
world (virtual time), its gateway events, and clients on in-world links: raw HTTP, raw paho
(through PahoLink), and the simulated devices."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from devices.cloud.device2 import GATEWAY_EVENT, STATUS_CHANGED
from devices.cloud.device2.device_apis import Device2Apis, DevicePorts, serve_device2_apis
from devices.cloud.device2.device_clients import DeviceSpec, HttpDevice, MqttDevice
from devices.cloud.device2.device_config import DeviceApiConfig
from devices.protocols import tls
from devices.protocols.http_client import HttpClient, HttpResponse
from devices.protocols.mqtt.paho_virtual import PahoLink
from sim.iplink import IpNetwork
from sim.world import World

T = TypeVar("T")
HOST = "example.m2.exosite.io"
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


class Stack:
    """Device2 with every API served in a world: ``gw`` is the domain side of ``example``."""

    def __init__(
        self,
        db: Path,
        seed: int = 1,
        settings: Mapping[str, Any] | None = None,
        config: DeviceApiConfig | None = None,
        products: tuple[str, ...] = ("example",),
    ) -> None:
        self.world = World(seed=seed)
        self.net = IpNetwork(self.world)
        self.apis: Device2Apis = self.run(
            serve_device2_apis(
                self.world,
                db,
                net=self.net,
                ports=DevicePorts.in_world(),
                products=products,
                settings=settings,
                config=config,
            )
        )
        self.service = self.apis.service
        self.gw = self.service.gateway(products[0])
        self.events: list[dict[str, Any]] = []
        self.statuses: list[tuple[str, str | None, str]] = []
        self.service.on(GATEWAY_EVENT, lambda _p, event: self.events.append(event))
        self.service.on(
            STATUS_CHANGED,
            lambda _p, identity, old, new: self.statuses.append((identity, old, new)),
        )
        self.links: list[PahoLink] = []
        self.devices: list[HttpDevice | MqttDevice] = []

    # -- time -----------------------------------------------------------------------------
    def run(self, awaitable: Awaitable[T]) -> T:
        return self.world.run(awaitable)

    def sleep(self, seconds: float) -> None:
        self.world.run_for(seconds)

    @property
    def now_us(self) -> int:
        return self.service.clock.now_us()

    # -- the service ----------------------------------------------------------------------
    def call(self, operation: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.gw.call(operation, dict(params or {}))

    def resources(self) -> None:
        """``temperature`` (number), ``config_io`` (settable string), ``switch`` (settable
        boolean) and ``data_in`` (string)."""
        self.call("addResource", {"alias": "temperature", "format": "number"})
        self.call("addResource", {"alias": "config_io", "format": "string", "settable": True})
        self.call("addResource", {"alias": "switch", "format": "boolean", "settable": True})
        self.call("addResource", {"alias": "data_in", "format": "string"})

    def events_of(self, kind: str, identity: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind and identity in (None, e["identity"])]

    def state(self, identity: str) -> dict[str, Any]:
        return self.call("getIdentityState", {"identity": identity})  # type: ignore[no-any-return]

    def status(self, identity: str) -> str:
        return self.gw.status(identity)

    # -- TLS ------------------------------------------------------------------------------
    def client_context(self, identity: str | None = None) -> ssl.SSLContext:
        assert self.apis.tls is not None
        cert = self.apis.tls.device_certificate(identity) if identity else None
        return self.apis.tls.client_context(cert)

    # -- clients --------------------------------------------------------------------------
    def http(
        self,
        ip: str = "192.0.2.50",
        host: str = HOST,
        context: ssl.SSLContext | None = None,
        server_name: str | None = None,
        connect_to: str = HOST,
    ) -> HttpClient:
        """A raw HTTP client (Host header ``host``; the connection goes to ``connect_to``)."""
        port = 443 if context is not None else 80

        async def connect(_h: str, _p: int) -> Any:
            if context is None:
                return await self.net.open_connection(connect_to, port, client_host=ip)
            return await tls.open_connection(
                self.net, connect_to, port, context, server_name or connect_to, ip
            )

        return HttpClient(f"http://{host}:{port}", connect=connect)

    def request(self, client: HttpClient, method: str, path: str, **kwargs: Any) -> HttpResponse:
        return self.run(client.request(method, path, **kwargs))

    def activate(self, identity: str, ip: str = "192.0.2.50", **form: str) -> HttpResponse:
        body = "&".join([f"id={identity}", *(f"{k}={v}" for k, v in form.items())])
        return self.request(
            self.http(ip), "POST", "/provision/activate", raw=body.encode(), headers=FORM
        )

    def token_for(self, identity: str) -> str:
        response = self.activate(identity)
        assert response.status == 200, response.text
        return response.text

    def paho(
        self,
        ip: str = "192.0.2.60",
        protocol: int = paho.MQTTv311,
        client_id: str = "",
        context: ssl.SSLContext | None = None,
        server_name: str | None = None,
    ) -> PahoClient:
        client = PahoClient(self, ip, protocol, client_id, context, server_name)
        self.links.append(client.link)
        return client

    def http_device(self, spec: DeviceSpec, **kwargs: Any) -> HttpDevice:
        device = HttpDevice(self.world, self.net, HOST, spec, **kwargs)
        self.devices.append(device)
        return device

    def mqtt_device(self, spec: DeviceSpec, **kwargs: Any) -> MqttDevice:
        device = MqttDevice(self.world, self.net, HOST, spec, **kwargs)
        self.devices.append(device)
        return device

    def close(self) -> None:
        if self.world.closed:
            return
        for link in self.links:
            link.close()
        for device in self.devices:
            if isinstance(device, MqttDevice):
                device.link.close()
        self.run(self.apis.close())
        self.world.close()


class PahoClient:
    """A paho client in the world that records what it gets: CONNACK codes, messages,
    disconnections (MQTT 5 reasons as integers)."""

    def __init__(
        self,
        stack: Stack,
        ip: str,
        protocol: int,
        client_id: str,
        context: ssl.SSLContext | None,
        server_name: str | None,
    ) -> None:
        self.stack = stack
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol
        )
        self.connacks: list[int] = []
        self.messages: list[tuple[str, bytes]] = []
        self.disconnects: list[int] = []
        self.acks: dict[int, int] = {}
        self.client.on_connect = lambda _c, _u, _f, rc, _p: self.connacks.append(int(rc.value))
        self.client.on_message = lambda _c, _u, m: self.messages.append((m.topic, m.payload))
        self.client.on_disconnect = lambda _c, _u, _f, rc, _p: self.disconnects.append(
            int(rc.value)
        )
        self.client.on_publish = lambda _c, _u, mid, rc, _p: self.acks.__setitem__(
            mid, int(rc.value)
        )
        port = 8883 if context is not None else 1883

        def dial(factory: Any) -> Any:
            if context is None:
                return stack.net.create_connection(factory, HOST, port, ip)
            return tls.dial(stack.net, factory, HOST, port, context, server_name, ip)

        self.link = PahoLink(self.client, dial, HOST, port)

    def connect(self, username: str | None = None, password: str | None = None) -> int | None:
        """Connect and wait (world time) for the CONNACK; its code, None if none came."""
        self.client.username_pw_set(username, password)
        before = len(self.connacks)
        self.stack.run(self.link.connect(60))
        self.stack.sleep(0.5)
        return self.connacks[-1] if len(self.connacks) > before else None

    def publish(self, topic: str, payload: bytes | str, qos: int = 1) -> int:
        """Publish and let the world run a moment; the message id."""
        info = self.client.publish(topic, payload, qos=qos)
        self.stack.sleep(0.5)
        return info.mid

    @property
    def connected(self) -> bool:
        return self.client.is_connected()

    def disconnect(self) -> None:
        self.client.disconnect()
        self.stack.sleep(0.5)
        self.link.close()
