"""The harness's own gateways, for judging a platform: paho-mqtt clients on the world's loop
(:class:`~devices.protocols.mqtt.paho_virtual.PahoLink`: no thread; an in-world link in virtual
time, a real socket in real time), each decoding its own wire into the scenario's transcript
(:class:`~scenarios.mqtt_gateway.transcript.WireTap`).

A :class:`HarnessGateway` logs in with a gateway's access token, subscribes to the gateway
topics (as the official client does), publishes what a step tells it and answers the RPCs it
gets (``rpc_answer``: by default ``{"success": true}`` with the request's params echoed; a
function returning None leaves an RPC unanswered).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from devices.protocols.mqtt.paho_virtual import PahoLink, ProtocolFactory
from scenarios.mqtt_gateway.transcript import C2S, S2C, Transcript, WireTap

if TYPE_CHECKING:
    from sim.world import World

V5, V311 = paho.MQTTv5, paho.MQTTv311
GATEWAY_TOPICS = (
    "v1/gateway/attributes",
    "v1/gateway/attributes/response",
    "v1/gateway/rpc",
    "v1/devices/me/attributes",
    "v1/devices/me/attributes/response/+",
    "v1/devices/me/rpc/request/+",
    "v1/devices/me/rpc/response/+",
)
RPC = "v1/gateway/rpc"
Dial = Callable[[ProtocolFactory], Awaitable[tuple[asyncio.BaseTransport, Any]]]
RpcAnswer = Callable[[dict[str, Any]], Any]


def echo_answer(request: dict[str, Any]) -> Any:
    """The default RPC answer: success, with the params echoed."""
    return {"success": True, "params": request.get("data", {}).get("params")}


class HarnessGateway:
    """One gateway of the harness (see the module docstring). ``version`` 5 or 4 (3.1.1)."""

    def __init__(
        self,
        world: World,
        name: str,
        token: str,
        dial: Dial,
        transcript: Transcript,
        version: int = V5,
        tenant: str = "default",
    ) -> None:
        self.world = world
        self.name = name
        self.token = token
        self.tenant = tenant
        self.version = version
        self.transcript = transcript
        self.rpc_answer: RpcAnswer | None = echo_answer
        self.connections = 0
        self._dial = dial
        self._client: paho.Client | None = None
        self._link: PahoLink | None = None
        self._conn = ""

    # -- the connection ----------------------------------------------------------------------------
    @property
    def conn(self) -> str:
        """The transcript's name of the current (or last) connection."""
        return self._conn

    @property
    def connected(self) -> bool:
        """Accepted by the last CONNACK and not closed since (by either side)."""
        if not self._conn:
            return False
        state = False
        for row in self.transcript.rows_of(self._conn):
            if row["type"] == "CONNACK":
                state = row["reason"] == 0
            elif row["type"] == "DISCONNECT":
                state = False
        return (
            state
            and self._link is not None
            and self._client is not None
            and (self._client.socket() is not None)
        )

    async def connect(
        self,
        subscribe: tuple[str, ...] = GATEWAY_TOPICS,
        keepalive: int = 60,
        token: str | None = None,
        client_id: str | None = None,
        patience: float = 5.0,
    ) -> int:
        """Connect (a fresh client and connection each time) and subscribe; the CONNACK reason
        (-1 if none came within ``patience`` seconds)."""
        self.drop()
        self.connections += 1
        self._conn = f"{self.name}#{self.connections}"
        v5 = self.version == V5
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id if client_id is not None else f"{self.name}-{self.connections}",
            protocol=V5 if v5 else V311,
            clean_session=None if v5 else True,
            reconnect_on_failure=False,
        )
        client.username_pw_set(self.token if token is None else token)
        client.on_message = self._on_message
        conn, transcript, dial = self._conn, self.transcript, self._dial

        def tapped(factory: ProtocolFactory) -> Awaitable[tuple[asyncio.BaseTransport, Any]]:
            return dial(lambda: WireTap(factory(), transcript, conn))

        link = PahoLink(client, tapped, "platform", 1883)
        self._client, self._link = client, link
        await link.connect(keepalive, **({"clean_start": True} if v5 else {}))
        connack = await self.wait_for(lambda: self._row("CONNACK", S2C), patience)
        if connack is None:
            return -1
        if connack["reason"] == 0 and subscribe:
            mark = self.transcript.mark()
            client.subscribe([(t, 1) for t in subscribe])
            await self.wait_for(lambda: self._row("SUBACK", S2C, mark), patience)
        return int(connack["reason"])

    async def disconnect(self) -> None:
        """A clean DISCONNECT."""
        client, link = self._client, self._link
        if client is not None and client.socket() is not None:
            client.disconnect()
            await asyncio.sleep(0.05)
        if link is not None:
            link.close()
        self._client = self._link = None

    def drop(self) -> None:
        """Lose the connection without a word (a crash, a cable pulled)."""
        link = self._link
        self._client = self._link = None
        if link is not None:
            link.close()

    # -- publishing ------------------------------------------------------------------------------
    def publish(self, topic: str, body: Any, qos: int = 1) -> int | None:
        """Send now (``body``: JSON-able, or bytes sent as they are); the packet id, None when
        there is no connection."""
        client = self._client
        if client is None or client.socket() is None:
            return None
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        info = client.publish(topic, payload, qos=qos)
        return info.mid if info.rc == paho.MQTT_ERR_SUCCESS else None

    async def send(self, topic: str, body: Any, qos: int = 1, patience: float = 5.0) -> Any:
        """Publish and wait for the platform's answer: the PUBACK reason (QoS 1), ``"closed"``
        if the platform closed the connection instead, ``None`` if nothing came (QoS 0: 0 once
        a moment passed with the connection still open)."""
        mark = self.transcript.mark()
        mid = self.publish(topic, body, qos)
        if mid is None:
            return "closed"
        if qos == 0:
            await asyncio.sleep(0.2)
            return 0 if self.connected else "closed"
        found = await self.wait_for(lambda: self._ack(mid, mark) or self._closed(mark), patience)
        if found is None:
            return None
        return found["reason"] if found["type"] == "PUBACK" else "closed"

    # -- what came back ----------------------------------------------------------------------------
    def received(self, topic: str | None = None, since: int = 0) -> list[Any]:
        """Payloads the platform published to this gateway (all its connections)."""
        mine = self.name + "#"
        return [
            r.get("payload", r.get("payload_text"))
            for r in self.transcript.publishes(topic, S2C, since)
            if r["conn"].startswith(mine)
        ]

    async def wait_message(
        self,
        topic: str,
        matches: Callable[[Any], bool] = lambda _p: True,
        since: int = 0,
        patience: float = 5.0,
    ) -> Any:
        """The first payload on ``topic`` (from transcript position ``since``) that ``matches``,
        waiting up to ``patience`` world seconds; None if none came."""

        def found() -> Any:
            return next((p for p in self.received(topic, since) if matches(p)), None)

        return await self.wait_for(found, patience)

    def sent(self, topic: str | None = None) -> list[dict[str, Any]]:
        """The PUBLISH rows this gateway sent (all its connections)."""
        mine = self.name + "#"
        return [r for r in self.transcript.publishes(topic, C2S) if r["conn"].startswith(mine)]

    async def wait_for(self, probe: Callable[[], Any], patience: float) -> Any:
        """``probe()`` once it is truthy (checked every 10 ms of world time), else None."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + patience
        while True:
            value = probe()
            if value:
                return value
            if loop.time() >= deadline:
                return None
            await asyncio.sleep(0.01)

    # -- internals ---------------------------------------------------------------------------------
    def _row(self, kind: str, direction: str, since: int = 0) -> dict[str, Any] | None:
        conn = self._conn
        return next(
            (
                r
                for r in self.transcript.since(since)
                if r["conn"] == conn and r["type"] == kind and r["dir"] == direction
            ),
            None,
        )

    def _ack(self, mid: int, since: int) -> dict[str, Any] | None:
        conn = self._conn
        return next(
            (
                r
                for r in self.transcript.since(since)
                if r["conn"] == conn and r["type"] == "PUBACK" and r["packet_id"] == mid
            ),
            None,
        )

    def _closed(self, since: int) -> dict[str, Any] | None:
        """The platform's DISCONNECT since ``since``, or a marker once the stream is gone."""
        if self._client is not None and self._client.socket() is not None:
            return self._row("DISCONNECT", S2C, since)
        return {"type": "closed", "reason": None}

    def _on_message(self, _client: paho.Client, _userdata: Any, message: Any) -> None:
        if message.topic != RPC or self.rpc_answer is None:
            return
        try:
            request = json.loads(message.payload)
            request_id = request["data"]["id"]
            device = request["device"]
        except (ValueError, KeyError, TypeError):
            return
        data = self.rpc_answer(request)
        if data is not None:
            self.publish(RPC, {"device": device, "id": request_id, "data": data})
