"""What the MQTT gateway tests share: :class:`RecordingPlatform`, a minimal platform side
(an ``Application`` for ``MqttServer``) that records what the gateway sends, answers the PUBACK
reasons a test chooses, answers getSessionLimits and attribute requests, and sends shared
attributes and RPCs; and :class:`GatewayBed`, a world with that platform, an IP network, a
radio and an RS485 bus."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devices.cloud.mqtt_platform import (
    Application,
    ClientHandle,
    ConnectRequest,
    Message,
    MqttServer,
)
from devices.gateways.mqtt_gateway import MqttGateway, parse_config
from devices.protocols.mqtt import Reason, Subscription
from sim.iplink import IpNetwork
from sim.radio import Radio
from sim.rs485 import Rs485Bus
from sim.world import World

TOKEN = "gw-secret-token-1"


class RecordingPlatform(Application):
    def __init__(self, world: World, token: str = TOKEN) -> None:
        self.world = world
        self.token = token
        self.client: ClientHandle | None = None
        self.connects = 0
        self.subscriptions: list[tuple[float, str]] = []
        self.published: list[tuple[float, str, Any, bool]] = []  # (t, topic, json, accepted)
        self.telemetry: list[tuple[str, int, str, Any]] = []  # (device, ts, key, value)
        self.shared: dict[str, dict[str, Any]] = {}
        self.client_attributes: dict[str, dict[str, Any]] = {}
        self.limits: dict[str, Any] | None = None  # answer to getSessionLimits; None: silent
        self.decide: Callable[[str, Any], int] = lambda topic, body: Reason.SUCCESS
        self.rpc_replies: dict[tuple[str, int], asyncio.Future[Any]] = {}
        self._rpc_ids: dict[str, int] = {}

    # -- MQTT ---------------------------------------------------------------------------------
    def authenticate(self, request: ConnectRequest) -> int:
        return 0 if request.username == self.token else Reason.BAD_USER_NAME_OR_PASSWORD

    def on_connect(self, client: ClientHandle) -> None:
        self.client = client
        self.connects += 1

    def on_subscribe(self, client: ClientHandle, subscription: Subscription) -> int:
        self.subscriptions.append((self.world.now, subscription.topic_filter))
        return subscription.qos

    def on_disconnect(self, client: ClientHandle, reason: int, detail: str) -> None:
        if self.client is client:
            self.client = None

    def on_publish(self, client: ClientHandle, message: Message) -> int:
        try:
            body = json.loads(message.payload)
        except ValueError:
            body = None
        reason = self.decide(message.topic, body)
        accepted = reason < 0x80
        self.published.append((self.world.now, message.topic, body, accepted))
        if not accepted:
            return reason
        topic = message.topic
        if topic == "v1/gateway/telemetry":
            for device, entries in body.items():
                for entry in entries:
                    for key, value in entry["values"].items():
                        self.telemetry.append((device, entry["ts"], key, value))
        elif topic == "v1/gateway/attributes":
            for device, values in body.items():
                self.client_attributes.setdefault(device, {}).update(values)
        elif topic == "v1/gateway/attributes/request":
            self._answer_attributes(client, body)
        elif topic == "v1/gateway/rpc":
            future = self.rpc_replies.get((body["device"], body["id"]))
            if future is not None and not future.done():
                future.set_result(body["data"])
        elif topic.startswith("v1/devices/me/rpc/request/"):
            n = topic.rsplit("/", 1)[1]
            if body.get("method") == "getSessionLimits" and self.limits is not None:
                client.publish(
                    f"v1/devices/me/rpc/response/{n}", json.dumps(self.limits).encode(), 1
                )
        return reason

    def _answer_attributes(self, client: ClientHandle, body: dict[str, Any]) -> None:
        store = (self.client_attributes if body["client"] else self.shared).get(body["device"], {})
        answer: dict[str, Any] = {"id": body["id"], "device": body["device"]}
        if "key" in body:
            if body["key"] in store:
                answer["value"] = store[body["key"]]
        else:
            answer["values"] = {k: store[k] for k in body["keys"] if k in store}
        client.publish("v1/gateway/attributes/response", json.dumps(answer).encode(), 1)

    # -- what a test does to the gateway ------------------------------------------------------
    def push_shared(self, device: str, data: dict[str, Any]) -> None:
        self.shared.setdefault(device, {}).update(data)
        if self.client is not None:
            payload = json.dumps({"device": device, "data": data}).encode()
            self.client.publish("v1/gateway/attributes", payload, 1)

    async def rpc(self, device: str, method: str, params: Any = None, timeout: float = 10.0) -> Any:
        assert self.client is not None, "the gateway is not connected"
        request_id = self._rpc_ids.get(device, 0)
        self._rpc_ids[device] = request_id + 1
        future = self.rpc_replies[(device, request_id)] = asyncio.get_running_loop().create_future()
        request = {"device": device, "data": {"id": request_id, "method": method, "params": params}}
        self.client.publish("v1/gateway/rpc", json.dumps(request).encode(), 1)
        return await asyncio.wait_for(future, timeout)

    # -- reading the record -------------------------------------------------------------------
    def topics(self, accepted_only: bool = True) -> list[str]:
        return [t for _at, t, _b, ok in self.published if ok or not accepted_only]

    def bodies(self, topic: str) -> list[Any]:
        return [b for _at, t, b, ok in self.published if t == topic and ok]

    def values(self, device: str, key: str) -> list[Any]:
        return [v for d, _ts, k, v in self.telemetry if d == device and k == key]


async def until(condition: Callable[[], bool], limit: float = 600.0, step: float = 0.25) -> None:
    """Wait (world time) until ``condition`` holds; fail after ``limit`` seconds."""
    waited = 0.0
    while not condition():
        await asyncio.sleep(step)
        waited += step
        assert waited < limit, "condition not met in time"


class GatewayBed:
    """A world with a recording platform at ``platform:1883``, a radio and a bus ``line``."""

    def __init__(self, tmp_path: Path, seed: int = 1) -> None:
        self.world = World(seed=seed)
        self.net = IpNetwork(self.world)
        self.radio = Radio(self.world)
        self.bus = Rs485Bus(self.world, "line")
        self.platform = RecordingPlatform(self.world)
        self.server = MqttServer(self.platform)
        self.server.listen(self.net, "platform", 1883)
        self.tmp_path = tmp_path
        self.gateways: list[MqttGateway] = []

    def config(self, **sections: Any) -> dict[str, Any]:
        """A configuration document: defaults for the gateway, platform and a queue file in the
        test's folder, updated by ``sections``."""
        doc: dict[str, Any] = {
            "gateway": {"name": "gw-1", "access_token": TOKEN},
            "platform": {"host": "platform", "port": 1883},
            "delivery": {"path": str(self.tmp_path / "gw-1-outbox.sqlite"), "batch_s": 0.5},
        }
        for name, value in sections.items():
            if isinstance(value, dict) and isinstance(doc.get(name), dict):
                doc[name] = {**doc[name], **value}
            else:
                doc[name] = value
        return doc

    def gateway(self, doc: dict[str, Any]) -> MqttGateway:
        gateway = MqttGateway(self.world, parse_config(doc), net=self.net)
        self.gateways.append(gateway)
        return gateway

    def close(self) -> None:
        for gateway in self.gateways:
            if not gateway.closed and not self.world.closed:
                self.world.run(gateway.crash())
        self.world.close()
