"""A device on the MQTT Device API: paho-mqtt (3.1.1 by default) driven in world time by
:class:`~devices.protocols.mqtt.paho_virtual.PahoLink` over an in-world link, plain or TLS
(with an optional client certificate).

It provisions the way the facts describe (an anonymous connection publishing to
``$provision/<identity>``, the token or an empty payload coming back on the reply topic, then
a new connection with its credentials), publishes ``$resource/<alias>`` and
``$resource.batch`` (µs timestamps), and applies each ``set`` pushed on
``$resource/<alias>/<timestamp>``, acknowledging it by publishing the value back. A refused
CONNECT (4: wrong credentials, 5: locked or expired) or a connection closed by the server is a
:class:`~.common.Refusal`; :meth:`MqttDevice.run` re-provisions a token device once when its
credentials are refused (``reprovision``).
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from devices.cloud.device2.device_clients.common import DeviceSpec, Refusal, SimDevice, Values
from devices.protocols import tls
from devices.protocols.mqtt.paho_virtual import PahoLink, ProtocolFactory

if TYPE_CHECKING:
    from sim.iplink import IpNetwork
    from sim.world import World

CONNACK_TIMEOUT_S = 30.0
BAD_CREDENTIALS = 0x86  # paho reports a 3.1.1 return code 4 as this MQTT 5 reason


class MqttDevice(SimDevice):
    """One device talking MQTT to ``host`` (a product's fqdn) in ``net``."""

    protocol = "mqtt"

    def __init__(
        self,
        world: World,
        net: IpNetwork,
        host: str,
        spec: DeviceSpec,
        port: int | None = None,
        tls_context: ssl.SSLContext | None = None,
        server_name: str | None = None,
        mqtt_protocol: int = paho.MQTTv311,
        keepalive: int = 60,
        publish_as_prefix: str = "$as",
    ) -> None:
        super().__init__(world, spec)
        self.net, self.host = net, host
        self.port = port or (8883 if tls_context is not None else 1883)
        self.keepalive = keepalive
        self.publish_as_prefix = publish_as_prefix
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=spec.client_id, protocol=mqtt_protocol
        )
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish

        def dial(factory: ProtocolFactory) -> Any:
            if tls_context is None:
                return net.create_connection(factory, host, self.port, spec.ip)
            return tls.dial(net, factory, host, self.port, tls_context, server_name, spec.ip)

        self.link = PahoLink(self.client, dial, host, self.port)
        self._connack: asyncio.Future[int] | None = None
        self._reply: asyncio.Future[tuple[str, bytes]] | None = None
        self._acks: dict[int, asyncio.Future[None]] = {}

    # -- paho callbacks -------------------------------------------------------------------
    def _on_connect(self, _c: Any, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if self._connack is not None and not self._connack.done():
            self._connack.set_result(int(reason.value))

    def _on_disconnect(self, _c: Any, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        self.note("disconnected", reason=str(reason))
        for future in (self._connack, self._reply, *self._acks.values()):
            if future is not None and not future.done():
                future.set_exception(Refusal("connection", int(reason.value), str(reason)))
        self._acks.clear()

    def _on_publish(self, _c: Any, _u: Any, mid: int, _reason: Any, _props: Any) -> None:
        future = self._acks.pop(mid, None)
        if future is not None and not future.done():
            future.set_result(None)

    def _on_message(self, _c: Any, _u: Any, message: paho.MQTTMessage) -> None:
        parts = message.topic.split("/")
        if parts[0] == "$provision" and self._reply is not None and not self._reply.done():
            self._reply.set_result((message.topic, message.payload))
            return
        if parts[0] != "$resource" or len(parts) < 3:
            self.note("ignored", topic=message.topic)
            return
        alias, value = "/".join(parts[1:-1]), message.payload.decode("utf-8", "replace")
        self.applied[alias] = value
        self.note("received", alias=alias, value=value, timestamp=int(parts[-1]))
        if self.auto_ack:
            self.client.publish(f"$resource/{alias}", message.payload, qos=1)
            self.note("acknowledged", alias=alias, value=value)

    # -- connections ----------------------------------------------------------------------
    async def _open(self, username: str | None, password: str | None) -> None:
        self.client.username_pw_set(username, password)
        loop = asyncio.get_running_loop()
        self._connack = loop.create_future()
        try:
            await self.link.connect(self.keepalive)
            code = await asyncio.wait_for(self._connack, CONNACK_TIMEOUT_S)
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            self.note("refused", call="connect", error=str(exc))
            raise Refusal("connect", 0, str(exc)) from None
        if code != 0:
            self.note("refused", call="connect", code=code)
            self.link.close()
            raise Refusal("connect", code, "CONNACK refused the connection")

    async def provision(self) -> str:
        """Provision over an anonymous connection; the identity (made by the service when the
        spec has none). The device disconnects afterwards."""
        await self._open(None, None)
        self._reply = asyncio.get_running_loop().create_future()
        topic = f"$provision/{self.identity}" if self.identity else "$provision"
        payload = (self.spec.password or "").encode() if self.spec.auth == "password" else b""
        try:
            self.client.publish(topic, payload, qos=1)
            reply_topic, token = await asyncio.wait_for(self._reply, CONNACK_TIMEOUT_S)
        except Refusal as exc:
            self.note("refused", call="provision", code=exc.code)
            raise Refusal("provision", exc.code, "the server closed the connection") from None
        finally:
            self._reply = None
        self.identity = reply_topic.split("/", 1)[1]
        if token:
            self.token = token.decode()
        self.note("provisioned", identity=self.identity)
        await self.disconnect()
        return self.identity

    async def connect(self) -> None:
        """Connect with the device's credentials (Refusal with the CONNACK code if refused)."""
        if self.spec.auth == "password":
            await self._open(self.identity, self.spec.password)
        elif self.spec.auth == "token":
            await self._open("", self.token)
        else:
            await self._open(None, None)
        self.note("connected", identity=self.identity)

    async def disconnect(self) -> None:
        if self.client.is_connected():
            self.client.disconnect()
            await asyncio.sleep(0)
        self.link.close()

    # -- publishing -----------------------------------------------------------------------
    def _topic(self, topic: str, publish_as: str | None) -> str:
        return f"{self.publish_as_prefix}/{publish_as}/{topic}" if publish_as else topic

    async def _publish(self, topic: str, payload: bytes, qos: int) -> None:
        info = self.client.publish(topic, payload, qos=qos)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise Refusal("publish", int(info.rc), f"not sent to {topic}")
        if qos == 0:
            return
        future = self._acks.setdefault(info.mid, asyncio.get_running_loop().create_future())
        if info.is_published():
            self._acks.pop(info.mid, None)
            return
        await future

    async def publish(
        self, values: Mapping[str, Any], qos: int = 1, publish_as: str | None = None
    ) -> None:
        """Each value on ``$resource/<alias>`` (raw text)."""
        self.note("sending", values=dict(values))  # the service may store it before the PUBACK
        for alias, value in values.items():
            text = value if isinstance(value, str) else json.dumps(value)
            await self._publish(self._topic(f"$resource/{alias}", publish_as), text.encode(), qos)
        self.note("wrote", values=dict(values), publish_as=publish_as)

    async def publish_batch(
        self,
        batches: Sequence[tuple[int, Mapping[str, Any]]],
        qos: int = 1,
        publish_as: str | None = None,
    ) -> None:
        """``[(timestamp µs, {alias: value}), ...]`` on ``$resource.batch``."""
        body = json.dumps([{"timestamp": t, "values": dict(v)} for t, v in batches])
        await self._publish(self._topic("$resource.batch", publish_as), body.encode(), qos)
        self.note("recorded", batches=len(batches), publish_as=publish_as)

    # -- behaviour ------------------------------------------------------------------------
    async def start(self) -> None:
        """Provision when the device has no token (or no identity) yet, then connect. A
        refused connection is answered once by provisioning (again): a password device not
        yet provisioned (4), a token device whose credentials expired (5)."""
        if self.identity is None or (self.spec.auth == "token" and self.token is None):
            await self.provision()
        try:
            await self.connect()
        except Refusal as exc:
            if exc.what != "connect" or self.spec.auth == "certificate":
                raise
            if self.spec.auth == "token" and exc.code == BAD_CREDENTIALS:
                raise
            self.note("unauthorized", call="connect", code=exc.code)
            self.token = None
            await self.provision()
            await self.connect()

    async def run(
        self, period_s: float = 10.0, values: Values | None = None, cycles: int | None = None
    ) -> None:
        """:meth:`start`, then publish ``values`` every ``period_s`` (sets arrive meanwhile);
        ends after ``cycles`` reports or when the service refuses the device."""
        values = values or self._default_values()
        try:
            await self.start()

            async def report(n: int) -> None:
                if not self.client.is_connected():
                    self.note("reconnecting")
                    await self.start()
                await self.publish(values(n, self.world.now))

            await self.every(period_s, cycles, report)
        except Refusal as exc:
            self.stopped = exc
            self.note("stopped", call=exc.what, code=exc.code, message=exc.message)
