"""What the platform tests share: a world with the platform in it and paho gateways on in-world
links (virtual time), driven through :class:`~devices.protocols.mqtt.paho_virtual.PahoLink`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from devices.cloud.mqtt_platform import Platform, PlatformConfig
from devices.protocols.mqtt.paho_virtual import PahoLink
from sim.iplink import IpNetwork
from sim.world import World
from tests.mqtt_support import PahoEvents

V311, V5 = mqtt.MQTTv311, mqtt.MQTTv5
GATEWAY_TOPICS = (
    "v1/gateway/attributes",
    "v1/gateway/attributes/response",
    "v1/gateway/rpc",
    "v1/devices/me/attributes",
    "v1/devices/me/attributes/response/+",
    "v1/devices/me/rpc/request/+",
    "v1/devices/me/rpc/response/+",
)
STEP = 0.05  # virtual seconds: many in-world round trips


class Gateway:
    """One paho client logged in with a gateway's token."""

    def __init__(self, bed: PlatformBed, token: str, protocol: int, client_id: str, host: str):
        self.bed = bed
        self.token = token
        self.protocol = protocol
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol
        )
        self.client.username_pw_set(token)
        self.events = PahoEvents(self.client, clock=lambda: round(bed.world.now, 6))
        self.link = PahoLink.in_world(self.client, bed.net, "platform", 1883, client_host=host)
        self.on_rpc: Callable[[dict[str, Any]], Any] | None = None
        record = self.client.on_message

        def on_message(client: Any, userdata: Any, msg: Any) -> None:
            record(client, userdata, msg)
            if msg.topic == "v1/gateway/rpc" and self.on_rpc is not None:
                request = json.loads(msg.payload)
                answer = self.on_rpc(request)
                if answer is not None:
                    self.publish("v1/gateway/rpc", answer)

        self.client.on_message = on_message

    @property
    def v5(self) -> bool:
        return self.protocol == V5

    async def connect(self, subscribe: tuple[str, ...] = GATEWAY_TOPICS) -> int:
        """Connect and subscribe; the CONNACK reason."""
        await self.link.connect(keepalive=60)
        await asyncio.sleep(STEP)
        connack = self.events.of_kind("connack")
        if connack and connack[-1][1] == 0 and subscribe:
            self.client.subscribe([(t, 1) for t in subscribe])
            await asyncio.sleep(STEP)
        return connack[-1][1] if connack else -1

    def publish(self, topic: str, body: Any, qos: int = 1) -> int:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.client.publish(topic, payload, qos=qos).mid

    async def send(self, topic: str, body: Any, qos: int = 1) -> int | None:
        """Publish and wait a moment; the PUBACK reason (None if none came)."""
        mid = self.publish(topic, body, qos)
        await asyncio.sleep(STEP)
        return self.acks().get(mid)

    def acks(self) -> dict[int, int]:
        return {e[1]: e[2] for e in self.events.of_kind("puback")}

    def received(self, topic: str | None = None) -> list[Any]:
        return [
            json.loads(e[2])
            for e in self.events.of_kind("message")
            if topic is None or e[1] == topic
        ]

    @property
    def connected(self) -> bool:
        """Connected since the last CONNACK accepted (paho's own flag lags behind a server
        DISCONNECT)."""
        kinds = [e[0] for e in self.events.events if e[0] in ("connack", "disconnect")]
        return bool(kinds) and kinds[-1] == "connack" and self.events.of_kind("connack")[-1][1] == 0

    async def disconnect(self) -> None:
        self.client.disconnect()
        await asyncio.sleep(STEP)


class PlatformBed:
    def __init__(
        self, seed: int = 1, db: str | Path = ":memory:", config: PlatformConfig | None = None
    ) -> None:
        self.world = World(seed=seed)
        self.net = IpNetwork(self.world)
        self.platform = Platform(self.world, db, config)
        self.platform.listen(self.net, "platform", 1883)
        self.gateways: list[Gateway] = []

    def gateway(
        self,
        name: str = "gw-1",
        tenant: str = "default",
        protocol: int = V5,
        token: str | None = None,
        client_id: str | None = None,
    ) -> Gateway:
        """A paho client for gateway ``name`` (created in ``tenant`` unless ``token`` given)."""
        token = token if token is not None else self.platform.add_gateway(name, tenant)
        index = len(self.gateways)
        gw = Gateway(self, token, protocol, client_id or f"{name}-{index}", f"gw{index}")
        self.gateways.append(gw)
        return gw

    def run(self, coro: Any) -> Any:
        return self.world.run(coro)

    def restart(self, db: str | Path) -> None:
        """A new platform on ``db`` in place of the old one (same address)."""
        self.run(self.platform.close())
        self.platform = Platform(self.world, db, self.platform.config)
        self.platform.listen(self.net, "platform", 1883)

    def close(self) -> None:
        for gw in self.gateways:
            gw.link.close()
        if not self.world.closed:
            self.world.run(self.platform.close())
            self.world.close()
