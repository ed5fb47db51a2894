"""What the MQTT tests share: sample packets of every type, a recorder of paho callbacks, and
:class:`TopicLog`, a minimal application for the server (never used outside tests).

TopicLog logs every event and routes by topic prefix: ``reject/...`` is answered "topic name
invalid" (0x90), ``json/...`` must carry JSON ("payload format invalid", 0x99, otherwise),
``echo/...`` is published back to every client subscribed to it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from devices.cloud.mqtt_platform import Application, ClientHandle, ConnectRequest, Message
from devices.protocols.mqtt import (
    PROTOCOL_5,
    Auth,
    ConnAck,
    Connect,
    Disconnect,
    PingReq,
    PingResp,
    Properties,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    Reason,
    SubAck,
    Subscribe,
    Subscription,
    UnsubAck,
    Unsubscribe,
    Will,
)
from devices.protocols.mqtt.reasons import ConnackCode


@dataclass
class TopicLog(Application):
    users: dict[str, bytes | None] | None = None  # user name -> password; None: anyone
    banned: set[str] = field(default_factory=set)
    clients: dict[str, ClientHandle] = field(default_factory=dict)
    events: list[tuple[Any, ...]] = field(default_factory=list)

    def authenticate(self, request: ConnectRequest) -> int:
        self.events.append(("connect", request.client_id, request.username, request.version))
        if request.username in self.banned:
            return Reason.NOT_AUTHORIZED
        if self.users is not None and (
            request.username not in self.users or self.users[request.username] != request.password
        ):
            return Reason.BAD_USER_NAME_OR_PASSWORD
        return Reason.SUCCESS

    def on_connect(self, client: ClientHandle) -> None:
        self.clients[client.client_id] = client

    def on_publish(self, client: ClientHandle, message: Message) -> int:
        self.events.append(("publish", client.client_id, message.topic, message.payload))
        if message.topic.startswith("reject/"):
            return Reason.TOPIC_NAME_INVALID
        if message.topic.startswith("json/"):
            try:
                json.loads(message.payload)
            except ValueError:
                return Reason.PAYLOAD_FORMAT_INVALID
        if message.topic.startswith("echo/"):
            for other in list(self.clients.values()):
                other.publish(message.topic, message.payload, message.qos)
        return Reason.SUCCESS

    def on_subscribe(self, client: ClientHandle, subscription: Subscription) -> int:
        self.events.append(("subscribe", client.client_id, subscription.topic_filter))
        if subscription.topic_filter.startswith("forbidden/"):
            return Reason.NOT_AUTHORIZED
        return subscription.qos

    def on_acknowledged(self, client: ClientHandle, packet_id: int, reason: int) -> None:
        self.events.append(("acked", client.client_id, packet_id, reason))

    def on_will(self, client: ClientHandle, message: Message) -> None:
        self.events.append(("will", client.client_id, message.topic, message.payload))

    def on_disconnect(self, client: ClientHandle, reason: int, detail: str) -> None:
        if self.clients.get(client.client_id) is client:
            del self.clients[client.client_id]
        self.events.append(("disconnect", client.client_id, reason))

    def of_kind(self, kind: str) -> list[tuple[Any, ...]]:
        return [e for e in self.events if e[0] == kind]


class PahoEvents:
    """Records a paho client's callbacks (CallbackAPIVersion 2) as plain tuples."""

    def __init__(self, client: Any, clock: Any = None) -> None:
        self.events: list[tuple[Any, ...]] = []
        self._clock = clock
        client.on_connect = self._connect
        client.on_message = self._message
        client.on_publish = self._publish
        client.on_subscribe = self._subscribe
        client.on_disconnect = self._disconnect

    def _add(self, *event: Any) -> None:
        self.events.append((*event, self._clock()) if self._clock else event)

    def _connect(self, _c: Any, _u: Any, _flags: Any, rc: Any, props: Any) -> None:
        assigned = getattr(props, "AssignedClientIdentifier", None) if props else None
        self._add("connack", rc.value, assigned)

    def _message(self, _c: Any, _u: Any, msg: Any) -> None:
        self._add("message", msg.topic, msg.payload, msg.qos)

    def _publish(self, _c: Any, _u: Any, mid: int, rc: Any, _props: Any) -> None:
        self._add("puback", mid, rc.value)

    def _subscribe(self, _c: Any, _u: Any, mid: int, codes: Any, _props: Any) -> None:
        self._add("suback", mid, [c.value for c in codes])

    def _disconnect(self, _c: Any, _u: Any, _flags: Any, rc: Any, _props: Any) -> None:
        self._add("disconnect", rc.value)

    def of_kind(self, kind: str) -> list[tuple[Any, ...]]:
        return [e for e in self.events if e[0] == kind]


def without_reason_strings(packets: list[Any], found: list[str] | None = None) -> list[Any]:
    """``packets`` with their MQTT 5 Reason Strings taken out (into ``found``), so tests can
    compare reason codes; the server explains every DISCONNECT and refusing CONNACK."""
    for packet in packets:
        props = getattr(packet, "properties", None)
        if props is not None and props.reason_string is not None:
            if found is not None:
                found.append(props.reason_string)
            props.reason_string = None
    return packets


V5_PROPS = Properties(user_properties=[("k", "v"), ("k", "w")])


def sample_packets(version: int) -> list[Any]:
    """One or more packets of every type the version has, with properties under MQTT 5."""
    v5 = version == PROTOCOL_5
    props = V5_PROPS if v5 else Properties()
    will_props = Properties(will_delay_interval=5, content_type="text/plain") if v5 else props
    return [
        Connect("gw-1", version, True, 60, "token", b"secret"),
        Connect(
            "",
            version,
            False,
            0,
            will=Will("last/will", b"\x00gone", 2, True, will_props),
            properties=Properties(session_expiry_interval=30, receive_maximum=10) if v5 else props,
        ),
        ConnAck(0, False, Properties(assigned_client_identifier="auto-1") if v5 else props),
        ConnAck(0x86 if v5 else ConnackCode.BAD_USER_NAME_OR_PASSWORD, False),
        Publish("v1/gateway/telemetry", b'{"a":[]}', 0, False, False, None, props),
        Publish("t", b"", 1, True, True, 1, props),
        Publish(
            "t/2",
            bytes(range(256)),
            2,
            packet_id=65535,
            properties=Properties(payload_format_indicator=0, correlation_data=b"\x01")
            if v5
            else props,
        ),
        PubAck(1),
        PubAck(7, 0x99 if v5 else 0),
        PubRec(2, 0x10 if v5 else 0, props),
        PubRel(3, 0x92 if v5 else 0),
        PubComp(4, 0, props),
        Subscribe(
            5,
            [Subscription("v1/gateway/rpc", 1), Subscription("a/+/#", 2)]
            + ([Subscription("x", 0, True, True, 2)] if v5 else []),
            props,
        ),
        SubAck(5, [1, 2, 0x80] + ([0x8F] if v5 else []), props),
        Unsubscribe(6, ["a/+/#", "b"], props),
        UnsubAck(6, [0, 0x11] if v5 else [], props),
        PingReq(),
        PingResp(),
        Disconnect(),
        *(
            [
                Disconnect(0x04),
                Disconnect(0x8E, Properties(reason_string="taken over")),
                Auth(),
                Auth(0x18, Properties(authentication_method="SCRAM", authentication_data=b"x")),
            ]
            if v5
            else []
        ),
    ]
