"""The MQTT Device API (facts, section 2) as an application of the project's MQTT server
(:class:`~devices.cloud.mqtt_platform.server.MqttServer`), over TLS or not.

Connecting (3.1.1; MQTT 5 clients are served too):

* token: user name ``""`` (or none) and the token as password; password: user name
  ``<identity>`` and its password; certificate: a TLS client certificate whose CN is the
  identity, no password (a whitelisted identity is provisioned by its first connection);
  nothing: an anonymous connection that may only provision. Refusals answer the CONNACK of
  :attr:`~.device_config.DeviceApiConfig.mqtt_refusals` (4 for wrong credentials, 5 for a
  locked identity or expired credentials). A client id must be empty or the identity.
* The product is the one the TLS server name (SNI) names (:mod:`.device_hosts`); a
  connection without TLS goes to the default product. Clean Session is ignored.

Publishing (QoS 0 or 1; QoS 2 is refused):

* ``$provision/<identity>`` (anonymous): empty payload for token provisioning, the password
  for password provisioning; ``$provision`` alone asks for a generated identity. The reply is
  pushed without a subscription on :attr:`~.device_config.DeviceApiConfig.
  provision_reply_topic` with the token (empty for a password). A refused provisioning closes
  the connection (MQTT 5: the PUBACK says why). A certificate-authenticated device renews its
  certificate by publishing the new PEM to ``$provision/<identity>``.
* ``$resource/<alias>`` with the raw value; ``$resource.batch`` with ``[{"timestamp": t,
  "values": {alias: value}}]`` (unit of ``t``: :func:`~.device_config.batch_timestamp_us`).
  A write assigns ``reported`` and ``set``: writing back a pushed value acknowledges it.
* ``$as/<identity>/<topic>``: ``<topic>`` published as ``<identity>`` (``permission.gateway``
  or the identity's ``publish_as``; else refused).

Cloud to device: every ``set`` waiting for a connected device is pushed on
``$resource/<alias>/<timestamp µs>`` without a subscription (subscriptions are the server's,
not the client's: SUBSCRIBE is granted and changes nothing); on connect, the sets made while
it was offline. A device that is locked, loses its credentials or is deleted is
disconnected. Will messages to a device topic are written as the device's publish.
An MQTT ``timestamp`` topic and an MQTT content API were not found: neither is offered (use
HTTP ``/timestamp`` and ``/provision/download``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from devices.cloud.device2.context import Session
from devices.cloud.device2.device_config import DeviceApiConfig, batch_timestamp_us
from devices.cloud.device2.device_credentials import from_mqtt_connect
from devices.cloud.device2.device_forms import value_text
from devices.cloud.device2.device_hosts import Hosts, Target
from devices.cloud.device2.device_tls import DeviceTls, pem_of_der, pki_client_cas
from devices.cloud.device2.errors import (
    AuthenticationFailed,
    Conflict,
    Device2Error,
    InvalidInput,
    NotFound,
    Refused,
)
from devices.cloud.device2.events import DELETED, GATEWAY_EVENT, STATE_SET, STATUS_CHANGED
from devices.cloud.device2.lifecycle import EXPIRED, LOCKED, REPROVISION
from devices.cloud.device2.service import Device2Service
from devices.cloud.mqtt_platform.application import (
    Application,
    ClientHandle,
    ConnectRequest,
    Message,
)
from devices.cloud.mqtt_platform.server import MqttServer
from devices.cloud.mqtt_platform.session import SessionConfig
from devices.protocols import tls as tls_layer
from devices.protocols.mqtt.packets import Subscription
from devices.protocols.mqtt.reasons import Reason

if TYPE_CHECKING:
    from sim.iplink import IpNetwork

log = logging.getLogger(__name__)
MAX_VALUE_BYTES = 1_048_576
"""A resource value may be at most this long (facts, section 2)."""
_DISCONNECTING = (LOCKED, REPROVISION, EXPIRED)


class Unanswered(Exception):
    """A PUBLISH the device API refuses: ``reason`` goes to the session (3.1.1: closed)."""

    def __init__(self, reason: int, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class _Peer:
    """What TLS said about one connection: the server name asked for, the client's cert."""

    server_name: str | None
    certificate_pem: bytes | None


@dataclass
class _Device:
    target: Target
    ip: str | None
    identity: str | None  # None: anonymous (may only provision)
    by_certificate: bool = False
    session: Session | None = None
    client: ClientHandle | None = None

    @property
    def gateway(self) -> Any:
        return self.target.gateway


class _PeerShim(asyncio.Protocol):
    """Wraps a connection's protocol to note its TLS peer before MQTT starts."""

    def __init__(self, api: DeviceMqtt, inner: asyncio.Protocol) -> None:
        self.api, self.inner, self.key = api, inner, ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.key = peer_key(transport.get_extra_info("peername"))
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            der = ssl_object.getpeercert(True)
            name = self.api.tls.names.of(ssl_object) if self.api.tls else None
            self.api._peers[self.key] = _Peer(name, pem_of_der(der) if der else None)
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.api._peers.pop(self.key, None)
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


def peer_key(peername: Any) -> str:
    """``host:port`` as the MQTT server names a connection's peer."""
    return ":".join(str(p) for p in peername[:2]) if peername else ""


class DeviceMqtt(Application):
    """The MQTT Device API over ``service``; :attr:`server` is its MQTT server."""

    def __init__(
        self,
        service: Device2Service,
        config: DeviceApiConfig | None = None,
        tls: DeviceTls | None = None,
    ) -> None:
        self.service = service
        self.config = config or DeviceApiConfig()
        self.tls = tls
        self.hosts = Hosts(service, self.config)
        self.server = MqttServer(self, SessionConfig(max_packet_size=MAX_VALUE_BYTES + 65536))
        self._peers: dict[str, _Peer] = {}
        self._connecting: dict[str, _Device] = {}
        self._devices: dict[ClientHandle, _Device] = {}  # by connection, not client id
        self._in_world: list[tuple[IpNetwork, str, int]] = []
        self._tcp: list[asyncio.Server] = []
        service.on(STATE_SET, self._on_set)
        service.on(STATUS_CHANGED, self._on_status)
        service.on(GATEWAY_EVENT, self._on_event)

    # -- listening --------------------------------------------------------------------------
    def _server_context(self) -> ssl.SSLContext:
        if self.tls is None:
            raise ValueError("a TLS listener needs DeviceTls material (DeviceMqtt(tls=...))")
        return self.tls.server_context(lambda: pki_client_cas(self.service))

    def listen(self, net: IpNetwork, host: str, port: int = 1883, secure: bool = False) -> None:
        """Accept connections at ``host:port`` in ``net``'s world (TLS when ``secure``)."""
        if not secure:
            self.server.listen(net, host, port)
            return
        loop = net.world.loop
        factory = tls_layer.server_factory(
            loop, lambda: _PeerShim(self, self.server.protocol(loop)), self._server_context()
        )
        net.listen(host, port, factory)  # type: ignore[arg-type]
        self._in_world.append((net, host, port))

    async def listen_tcp(self, host: str = "127.0.0.1", port: int = 0, secure: bool = True) -> int:
        """Accept connections on a real socket (TLS when ``secure``); the bound port."""
        if not secure:
            return await self.server.listen_tcp(host, port)
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: _PeerShim(self, self.server.protocol(loop)),
            host,
            port,
            ssl=self._server_context(),
        )
        self._tcp.append(server)
        return int(server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        for name, handler in (
            (STATE_SET, self._on_set),
            (STATUS_CHANGED, self._on_status),
            (GATEWAY_EVENT, self._on_event),
        ):
            self.service.remove_listener(name, handler)
        for net, host, port in self._in_world:
            net.unlisten(host, port)
        self._in_world.clear()
        for server in self._tcp:
            server.close()
        await self.server.close()
        for server in self._tcp:
            await server.wait_closed()
        self._tcp.clear()

    # -- connections ------------------------------------------------------------------------
    def authenticate(self, request: ConnectRequest) -> int:
        peer = self._peers.get(request.peer)
        ip = request.peer.rsplit(":", 1)[0] if request.peer else None
        if peer is not None:
            target = self.hosts.resolve(peer.server_name)
        else:
            target = self.hosts.resolve(None, named_required=False)
        if target is None:
            log.info(
                "MQTT %s: server name %r is not served", request.peer, peer and peer.server_name
            )
            return self.config.connack("unknown_host")
        try:
            presented = from_mqtt_connect(
                request.username, request.password, peer.certificate_pem if peer else None
            )
            if target.devmode and presented.kind not in ("token", "none"):
                raise AuthenticationFailed("dev mode accepts token authentication only")
            identity = None
            if presented.kind != "none":
                identity = presented.authenticate(target.gateway, ip, "mqtt")
        except AuthenticationFailed:
            return self.config.connack("bad_credentials")
        except Refused as exc:
            return self.config.connack(exc.reason)
        except Device2Error:
            return Reason.NOT_AUTHORIZED
        if (
            identity is not None
            and not request.assigned
            and self.config.client_id_must_match
            and request.client_id != identity
        ):
            return Reason.CLIENT_IDENTIFIER_NOT_VALID
        by_certificate = presented.kind == "certificate"
        self._connecting[request.client_id] = _Device(target, ip, identity, by_certificate)
        return Reason.SUCCESS

    def on_connect(self, client: ClientHandle) -> None:
        device = self._connecting.pop(client.client_id)
        device.client = client
        self._devices[client] = device
        if device.identity is None:
            return
        try:
            device.session = device.gateway.connect(device.identity, device.ip, "mqtt")
            pending = device.gateway.pending_sets(device.identity)
        except Device2Error as exc:
            client.disconnect(Reason.NOT_AUTHORIZED, exc.message)
            return
        for alias, (value, timestamp) in pending.items():
            self._push(device, alias, value, timestamp)

    def on_disconnect(self, client: ClientHandle, reason: int, detail: str) -> None:
        device = self._devices.pop(client, None)
        if device is not None and device.session is not None:
            device.gateway.disconnect(device.session.connection_id)

    def on_subscribe(self, client: ClientHandle, subscription: Subscription) -> int:
        return min(subscription.qos, 1)

    # -- publishing -------------------------------------------------------------------------
    def on_publish(self, client: ClientHandle, message: Message) -> int:
        device = self._devices.get(client)
        if device is None:
            return Reason.NOT_AUTHORIZED
        if message.qos == 2:
            log.info("MQTT %s: QoS 2 PUBLISH to %s refused", client.client_id, message.topic)
            return Reason.IMPLEMENTATION_SPECIFIC_ERROR
        try:
            self._publish(device, message.topic, message.payload)
        except Unanswered as exc:
            log.info("MQTT %s: PUBLISH to %s refused: %s", client.client_id, message.topic, exc)
            return exc.reason
        except (Refused, NotFound, AuthenticationFailed, Conflict) as exc:
            log.info("MQTT %s: PUBLISH to %s refused: %s", client.client_id, message.topic, exc)
            return Reason.NOT_AUTHORIZED
        except InvalidInput as exc:
            log.info("MQTT %s: PUBLISH to %s refused: %s", client.client_id, message.topic, exc)
            return Reason.PAYLOAD_FORMAT_INVALID
        except Device2Error as exc:
            log.warning("MQTT %s: PUBLISH to %s failed: %s", client.client_id, message.topic, exc)
            return Reason.UNSPECIFIED_ERROR
        return Reason.SUCCESS

    def on_will(self, client: ClientHandle, message: Message) -> None:
        device = self._devices.get(client)
        if not self.config.accept_will or device is None or device.identity is None:
            return
        try:
            self._publish(device, message.topic, message.payload)
        except (Unanswered, Device2Error) as exc:
            log.info("MQTT %s: Will to %s not written: %s", client.client_id, message.topic, exc)

    def _publish(self, device: _Device, topic: str, payload: bytes) -> None:
        cfg = self.config
        if topic == cfg.provision_topic or topic.startswith(cfg.provision_topic + "/"):
            self._provision(device, topic[len(cfg.provision_topic) + 1 :], payload)
            return
        if device.identity is None:
            raise Unanswered(Reason.NOT_AUTHORIZED, "an anonymous connection may only provision")
        identity = device.identity
        prefix = cfg.publish_as_prefix + "/"
        if topic.startswith(prefix):
            identity, _, topic = topic[len(prefix) :].partition("/")
            if not identity or not topic:
                raise Unanswered(Reason.TOPIC_NAME_INVALID, f"expected {prefix}<identity>/<topic>")
            if identity != device.identity:
                device.gateway.check_publish_as(device.identity, identity)
        if topic == cfg.batch_topic:
            device.gateway.record(identity, self._batch(payload), session=device.session)
        elif (
            topic.startswith(cfg.resource_topic + "/") and len(topic) > len(cfg.resource_topic) + 1
        ):
            alias = topic[len(cfg.resource_topic) + 1 :]
            device.gateway.write(identity, {alias: _text(payload)}, session=device.session)
        else:
            raise Unanswered(Reason.TOPIC_NAME_INVALID, f"no device topic {topic!r}")

    def _batch(self, payload: bytes) -> list[tuple[int | None, Mapping[str, Any]]]:
        try:
            items = json.loads(_text(payload))
        except ValueError:
            raise InvalidInput("payload", "a JSON array of {timestamp, values}") from None
        if not isinstance(items, list) or not items:
            raise InvalidInput("payload", "a non-empty JSON array of {timestamp, values}")
        batches: list[tuple[int | None, Mapping[str, Any]]] = []
        for i, item in enumerate(items):
            values = item.get("values") if isinstance(item, dict) else None
            if not isinstance(values, dict) or not values:
                raise InvalidInput(f"payload[{i}].values", "an object of alias: value")
            stamp = item.get("timestamp")
            if stamp is not None and (
                isinstance(stamp, bool) or not isinstance(stamp, int | float) or stamp < 0
            ):
                raise InvalidInput(f"payload[{i}].timestamp", "a number (µs since the epoch)")
            when = (
                None if stamp is None else batch_timestamp_us(stamp, self.config.batch_timestamps)
            )
            batches.append((when, values))
        return batches

    def _provision(self, device: _Device, identity: str, payload: bytes) -> None:
        gateway = device.gateway
        if device.identity is not None:
            if not (device.by_certificate and identity == device.identity and payload):
                raise Unanswered(
                    Reason.NOT_AUTHORIZED, "already authenticated: nothing to provision"
                )
            pem = _text(payload)
            gateway.call(
                "updateIdentity",
                {"identity": identity, "auth": {"type": "certificate", "key": pem}},
            )
            self._reply(device, identity, b"")
            return
        password = _text(payload) if payload else None
        result = gateway.provision(identity or None, device.ip, "mqtt", password=password)
        self._reply(device, result.identity, (result.token or "").encode())

    def _reply(self, device: _Device, identity: str, payload: bytes) -> None:
        """The activation reply, after the PUBACK of the request."""
        client = device.client
        topic = self.config.provision_reply_topic.format(identity=identity)
        if client is None:
            return
        qos = self.config.push_qos
        asyncio.get_running_loop().call_soon(
            lambda: client.publish(topic, payload, qos, require_subscription=False)
        )

    # -- cloud to device --------------------------------------------------------------------
    def _push(self, device: _Device, alias: str, value: Any, timestamp: int) -> None:
        if device.client is None:
            return
        topic = f"{self.config.resource_topic}/{alias}/{timestamp}"
        device.client.publish(
            topic, value_text(value).encode(), self.config.push_qos, require_subscription=False
        )

    def connected(self, product: str, identity: str) -> list[_Device]:
        return [
            d
            for d in self._devices.values()
            if d.identity == identity and d.gateway.product == product
        ]

    def _on_set(self, product: str, identity: str, values: dict[str, Any], timestamp: int) -> None:
        for device in self.connected(product, identity):
            for alias, value in values.items():
                self._push(device, alias, value, timestamp)

    def _on_status(self, product: str, identity: str, _old: str | None, new: str) -> None:
        if new in _DISCONNECTING:
            self._drop(product, identity, f"identity {identity!r} is now {new}")

    def _on_event(self, product: str, event: dict[str, Any]) -> None:
        if event.get("type") == DELETED:
            self._drop(product, str(event.get("identity")), "identity deleted")

    def _drop(self, product: str, identity: str, why: str) -> None:
        for device in self.connected(product, identity):
            if device.client is not None:
                device.client.disconnect(Reason.NOT_AUTHORIZED, why)


def _text(payload: bytes) -> str:
    if len(payload) > MAX_VALUE_BYTES:
        raise Unanswered(Reason.QUOTA_EXCEEDED, f"a value of {len(payload)} bytes (at most 1 MiB)")
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("payload", "UTF-8 text") from None
