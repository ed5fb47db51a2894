"""The platform: ThingsBoard's gateway API semantics on top of our MQTT server.

:class:`Platform` is the :class:`~.application.Application` the server calls for every CONNECT,
PUBLISH, SUBSCRIBE and disconnection, and the Python control surface (add gateways, read
telemetry and attributes, set shared attributes, send RPCs). Its data lives in SQLite
(:mod:`.store`); the topic handlers are :mod:`.topics_gateway` and :mod:`.device_api`.

Answers, as the real platform's MQTT transport gives them (``specs/thingsboard-gateway-facts.md``
and its source):

* CONNECT: the user name is a gateway's access token. An unknown one is refused with "bad user
  name or password" (MQTT 5 0x86, 3.1.1 return code 4) when the CONNECT carries a user name
  or a password, else "client identifier not valid" (0x85 / 2) for a non-empty client id, else
  "not authorized" (0x87 / 5).
* SUBSCRIBE: the gateway and device API topics are granted at most QoS 1; any other filter is
  "topic filter invalid" (0x8F; 3.1.1: 0x80).
* PUBLISH, routed on the exact topic:

  - unknown topic: MQTT 5 PUBACK 0x90 topic name invalid; under 3.1.1 a plain PUBACK (it cannot
    carry a reason, and the real platform does not close) — the message is dropped either way;
  - payload not JSON, or a value that cannot be converted: MQTT 5 PUBACK 0x99 payload format
    invalid (at QoS 0, where no PUBACK can say it, DISCONNECT 0x99); 3.1.1: the connection is
    closed;
  - a required field missing (``device``, ``id``, ``client``, ``key``/``keys``, ``data``), a
    payload that is not a JSON object, or nothing left after skipping bad entries: the
    connection is closed (MQTT 5: PUBACK 0x83 first, then DISCONNECT 0x83);
  - otherwise the message is stored, committed, and only then acknowledged (PUBACK 0).

  A refused message stores nothing; everything acknowledged before it stays stored.

Server PUBLISHes (attribute pushes, RPCs, responses) use QoS 1, lowered to the subscription's.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import secrets
import sqlite3
import string
from collections.abc import Callable
from pathlib import Path
from ssl import SSLContext
from typing import TYPE_CHECKING, Any

from bumble.utils import EventEmitter

from devices.cloud.mqtt_platform import device_api, events, topics_gateway
from devices.cloud.mqtt_platform.application import (
    Application,
    ClientHandle,
    ConnectRequest,
    Message,
)
from devices.cloud.mqtt_platform.config import PlatformConfig
from devices.cloud.mqtt_platform.deviations import platform_deviations
from devices.cloud.mqtt_platform.errors import (
    InvalidRequest,
    NameTaken,
    NoActiveConnection,
    RpcTimeout,
    UnknownDevice,
    UnknownGateway,
)
from devices.cloud.mqtt_platform.info import ClaimInfo, DeviceInfo, GatewayInfo
from devices.cloud.mqtt_platform.payloads import DEFAULT_DEVICE_TYPE, MALFORMED, Refusal
from devices.cloud.mqtt_platform.rpc import RpcBook
from devices.cloud.mqtt_platform.server import MqttServer
from devices.cloud.mqtt_platform.sessions import Connection, DeviceSession, DeviceSessions
from devices.cloud.mqtt_platform.store import (
    MAX_INTEGER,
    SCOPES,
    Device,
    Store,
    TelemetryPoint,
    token_hash,
)
from devices.protocols.mqtt.packet_types import PROTOCOL_5
from devices.protocols.mqtt.packets import Subscription
from devices.protocols.mqtt.reasons import Reason

if TYPE_CHECKING:
    from sim.iplink import IpNetwork
    from sim.world import World

log = logging.getLogger(__name__)

DEFAULT_TENANT = "default"
LAYER = "mqtt-platform"
TOKEN_LENGTH = 20
_TOKEN_ALPHABET = string.ascii_letters + string.digits
_UNIX_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

FIRMWARE_TOPICS = frozenset(
    {"v2/fw/response/+/chunk/+", "v2/fw/error", "v2/sw/response/+/chunk/+", "v2/sw/error"}
)
SUBSCRIBABLE = topics_gateway.SUBSCRIBABLE | device_api.SUBSCRIBABLE | FIRMWARE_TOPICS
"""The filters the real platform grants (firmware ones too, though we never publish there)."""


def new_token() -> str:
    """A fresh access token (ThingsBoard's shape: 20 letters and digits), from ``secrets``."""
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


class Platform(Application, EventEmitter):
    """The platform emulator. See :mod:`devices.cloud.mqtt_platform` for how to use it."""

    def __init__(
        self, world: World, db: str | Path = ":memory:", config: PlatformConfig | None = None
    ) -> None:
        EventEmitter.__init__(self)
        self.world = world
        self.config = config or PlatformConfig()
        self.deviations = platform_deviations(self.config.deviations)
        self.name = self.config.name
        self.store = Store(db)
        self.server = MqttServer(self, self.config.session_config())
        self.sessions = DeviceSessions(
            world.loop,
            self.config.device_session_timeout_s,
            self._device_started,
            self._device_ended,
        )
        self._rpcs = RpcBook()
        self._connections: dict[ClientHandle, Connection] = {}
        self._closed = False
        self.intercept: Callable[[ClientHandle, Message], int | None] | None = None
        """Asked first about every PUBLISH: a reason code to answer instead of handling it (a
        harness judging a gateway makes its platform refuse on purpose), or None to handle it."""

    # -- running -----------------------------------------------------------------------------
    def listen(self, net: IpNetwork, host: str, port: int = 1883) -> None:
        """MQTT at ``host:port`` inside the world (virtual time)."""
        self.server.listen(net, host, port)

    async def listen_tcp(
        self, host: str = "127.0.0.1", port: int = 0, ssl_context: SSLContext | None = None
    ) -> int:
        """MQTT on a real socket (TLS with ``ssl_context``); the port bound."""
        return await self.server.listen_tcp(host, port, ssl_context)

    async def close(self) -> None:
        """Stop listening, end every connection, close the database."""
        if self._closed:
            return
        await self.server.close()
        self._closed = True
        self.sessions.close()
        self._rpcs.cancel_all()
        self.store.close()

    def now_ms(self) -> int:
        """The world's calendar time in ms since the Unix epoch (telemetry without ``ts``)."""
        return (self.world.datetime() - _UNIX_EPOCH) // dt.timedelta(milliseconds=1)

    # -- control surface: gateways and devices -----------------------------------------------
    def add_gateway(self, name: str, tenant: str = DEFAULT_TENANT) -> str:
        """Create a gateway device in ``tenant`` (created if new); its access token, which is
        returned this once and stored only as a hash."""
        _check_name("name", name)
        _check_name("tenant", tenant)
        token = new_token()
        try:
            self.store.add_gateway(tenant, name, token_hash(token), self.now_ms())
        except sqlite3.IntegrityError:
            raise NameTaken(tenant, name) from None
        self._trace("gateway-added", tenant=tenant, gateway=name)
        return token

    def gateways(self, tenant: str | None = None) -> list[GatewayInfo]:
        return [
            GatewayInfo(
                g.name,
                g.tenant,
                len(self._connections_of(g.id)),
                len(self.store.devices_of_gateway(g.id)),
            )
            for g in self.store.gateways(tenant)
        ]

    def devices(self, gateway: str, tenant: str = DEFAULT_TENANT) -> list[DeviceInfo]:
        """The devices ``gateway`` last connected."""
        found = self._device(tenant, gateway)
        if found is None or not found.is_gateway:
            raise UnknownGateway(tenant, gateway)
        return [self._info(d) for d in self.store.devices_of_gateway(found.id)]

    def device(self, name: str, tenant: str = DEFAULT_TENANT) -> DeviceInfo:
        return self._info(self._known(tenant, name))

    def is_active(self, device: str, tenant: str = DEFAULT_TENANT) -> bool:
        return self._active(self._known(tenant, device))

    def telemetry(
        self,
        device: str,
        key: str | None = None,
        since: int | None = None,
        tenant: str = DEFAULT_TENANT,
    ) -> list[TelemetryPoint]:
        """Stored time series of ``device`` ordered by ts: one ``key`` or all, from ``since``
        (ms since the Unix epoch) on."""
        if since is not None and (
            isinstance(since, bool) or not isinstance(since, int) or abs(since) > MAX_INTEGER
        ):
            raise InvalidRequest("since", f"since must be ms since the epoch, got {since!r}")
        return self.store.telemetry(self._known(tenant, device).id, key, since)

    def attributes(
        self, device: str, scope: str = "client", tenant: str = DEFAULT_TENANT
    ) -> dict[str, Any]:
        if scope not in SCOPES:
            raise InvalidRequest("scope", f"scope must be client or shared, got {scope!r}")
        return self.store.attributes(self._known(tenant, device).id, scope)

    def set_shared_attributes(
        self, device: str, values: dict[str, Any], tenant: str = DEFAULT_TENANT
    ) -> bool:
        """Store shared attributes and push them to the gateway holding the device's session
        (``v1/gateway/attributes`` ``{"device", "data"}``; a gateway device itself gets them on
        ``v1/devices/me/attributes``). True if a push went out."""
        if not isinstance(values, dict) or not values:
            raise InvalidRequest("attributes", f"attributes must be a non-empty object: {values!r}")
        for key, value in values.items():
            if not isinstance(key, str) or not key or value is None:
                raise InvalidRequest(
                    "attributes", f"attribute {key!r}: a non-empty key and a non-null value"
                )
        target = self._known(tenant, device)
        self.store.put_attributes(target.id, "shared", values, self.now_ms())
        self.record(
            events.ATTRIBUTES, tenant=tenant, device=device, scope="shared", keys=sorted(values)
        )
        if target.is_gateway:
            sent = [
                self._publish(c, device_api.ATTRIBUTES, values)
                for c in self._connections_of(target.id)
            ]
            return any(s is not None for s in sent)
        session = self.sessions.active(target.id)
        if session is None or self.deviations.active("platform-push-missing"):
            return False
        body = {"device": device, "data": values}
        return self._publish(session.connection, topics_gateway.ATTRIBUTES, body) is not None

    async def rpc(
        self,
        device: str,
        method: str,
        params: Any = None,
        timeout: float | None = None,
        tenant: str = DEFAULT_TENANT,
    ) -> Any:
        """Server-side RPC: the ``data`` of the gateway's reply. ``params`` None sends ``{}``;
        ``timeout`` in seconds (default 10, at least 5). Raises :class:`NoActiveConnection`
        (no session to send it through) or :class:`RpcTimeout` (no reply in time, including
        when the gateway is not subscribed to ``v1/gateway/rpc`` and so never got it)."""
        if not isinstance(method, str) or not method:
            raise InvalidRequest("method", f"method must be a non-empty string, got {method!r}")
        wait = self._rpc_timeout(timeout)
        if self.deviations.active("platform-rpc-timeout-early"):
            wait = 2.0
        target = self._known(tenant, device)
        request_id = self._rpcs.next_id(target.id)
        if self.deviations.active("platform-rpc-ids-from-1"):
            request_id += 1
        params = {} if params is None else params
        if target.is_gateway:
            conns = self._connections_of(target.id)
            if not conns:
                raise NoActiveConnection(tenant, device)
            conn = conns[-1]
            topic, body = (
                f"{device_api.RPC_REQUEST}{request_id}",
                {"method": method, "params": params},
            )
        else:
            session = self.sessions.active(target.id)
            if session is None and self.deviations.active("platform-rpc-no-session-waits"):
                await asyncio.sleep(wait)
                raise RpcTimeout(device, request_id, method, wait)
            if session is None:
                raise NoActiveConnection(tenant, device)
            conn = session.connection
            topic = topics_gateway.RPC
            body = {
                "device": device,
                "data": {"id": request_id, "method": method, "params": params},
            }
        future = self._rpcs.expect(target.id, request_id)
        self._publish(conn, topic, body)
        self.record(
            events.RPC_SENT, tenant=tenant, device=device, request_id=request_id, method=method
        )
        try:
            return await asyncio.wait_for(future, wait)
        except TimeoutError:
            self.record(events.RPC_TIMED_OUT, tenant=tenant, device=device, request_id=request_id)
            raise RpcTimeout(device, request_id, method, wait) from None
        finally:
            self._rpcs.forget(target.id, request_id)

    # -- the MQTT application ----------------------------------------------------------------
    def authenticate(self, request: ConnectRequest) -> int:
        user, password = request.username, request.password
        if user is not None and self.store.gateway_by_token(token_hash(user)) is not None:
            return Reason.SUCCESS
        if self.deviations.active("platform-any-token"):
            return Reason.SUCCESS
        if (user is not None and password is not None) or ((user is None) != (password is None)):
            reason = Reason.BAD_USER_NAME_OR_PASSWORD
        elif request.client_id and not request.assigned:
            reason = Reason.CLIENT_IDENTIFIER_NOT_VALID
        else:
            reason = Reason.NOT_AUTHORIZED
        client_id = _redacted(request.client_id, user)
        self.record(events.GATEWAY_REFUSED, client_id=client_id, reason=int(reason))
        return reason

    def on_connect(self, client: ClientHandle) -> None:
        gateway = self.store.gateway_by_token(token_hash(client.username or ""))
        if gateway is None:  # removed between CONNECT and CONNACK: cannot happen today
            client.disconnect(Reason.NOT_AUTHORIZED, "unknown access token")
            return
        self._connections[client] = Connection(client, gateway)
        self.record(
            events.GATEWAY_CONNECTED,
            tenant=gateway.tenant,
            gateway=gateway.name,
            client_id=_redacted(client.client_id, client.username),
            version=client.version,
        )

    def on_disconnect(self, client: ClientHandle, reason: int, detail: str) -> None:
        conn = self._connections.pop(client, None)
        if conn is None:
            return
        if not self.deviations.active("platform-sessions-outlive-gateway"):
            self.sessions.end_connection(conn)
        self.record(
            events.GATEWAY_DISCONNECTED,
            tenant=conn.gateway.tenant,
            gateway=conn.gateway.name,
            client_id=_redacted(client.client_id, client.username),
            reason=int(reason),
        )

    def on_subscribe(self, client: ClientHandle, subscription: Subscription) -> int:
        if subscription.topic_filter not in SUBSCRIBABLE:
            return Reason.TOPIC_FILTER_INVALID
        if self.deviations.active("platform-qos0-granted"):
            return 0
        return min(subscription.qos, 1)

    def on_publish(self, client: ClientHandle, message: Message) -> int:
        conn = self._connections.get(client)
        if conn is None or conn.closing:
            return Reason.IMPLEMENTATION_SPECIFIC_ERROR
        if self.intercept is not None:
            forced = self.intercept(client, message)
            if forced is not None:
                self._bad(conn, message, forced, "refused on purpose")
                return forced
        handler = topics_gateway.HANDLERS.get(message.topic) or device_api.route(message.topic)
        if handler is None:
            self._bad(conn, message, Reason.TOPIC_NAME_INVALID, "no such topic")
            v5 = client.version == PROTOCOL_5
            if self.deviations.active("platform-unknown-topic-accepted"):
                return Reason.SUCCESS
            return Reason.TOPIC_NAME_INVALID if v5 else Reason.SUCCESS
        try:
            handler(self, conn, message)
        except Refusal as refusal:
            return self._refuse(conn, message, refusal)
        return Reason.SUCCESS

    # -- for the topic handlers --------------------------------------------------------------
    def ensure_device(
        self, conn: Connection, name: str, device_type: str = DEFAULT_DEVICE_TYPE
    ) -> Device:
        """Get-or-create ``name`` in the connection's tenant (within the caller's transaction)."""
        if self.deviations.active("platform-cross-tenant"):
            elsewhere = self.store.device_in_any_tenant(name)
            if elsewhere is not None:
                return elsewhere
        device, created = self.store.get_or_create_device(
            conn.gateway, name, device_type, self.now_ms()
        )
        if created:
            self.record(
                events.DEVICE_CREATED,
                tenant=device.tenant,
                device=name,
                type=device.type,
                gateway=conn.gateway.name,
            )
        return device

    def seen(self, conn: Connection, device: Device) -> None:
        """A message named ``device`` on ``conn``: its session starts, moves or lives on."""
        if not device.is_gateway:
            self.sessions.touch(conn, device)

    def respond(self, conn: Connection, topic: str, body: Any) -> None:
        """Publish ``body`` to ``conn`` once the current PUBLISH is acknowledged."""
        asyncio.get_running_loop().call_soon(self._publish, conn, topic, body)

    def rpc_replied(self, device: Device, request_id: int, data: Any) -> None:
        matched = self._rpcs.resolve(device.id, request_id, data)
        self.record(
            events.RPC_REPLIED,
            tenant=device.tenant,
            device=device.name,
            request_id=request_id,
            matched=matched,
        )

    def record(self, event: str, **details: Any) -> None:
        """Trace domain event ``event`` and emit it (arguments in ``details`` order). A listener
        that raises is logged: it never changes what the platform answers."""
        self._trace(event.replace("_", "-"), **details)
        try:
            self.emit(event, *details.values())
        except Exception:
            log.exception("a listener of %s raised", event)

    # -- internals ---------------------------------------------------------------------------
    def _trace(self, event: str, **details: Any) -> None:
        self.world.trace.emit(self.name, LAYER, event, **details)

    def _publish(self, conn: Connection, topic: str, body: Any) -> int | None:
        data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        required = self.config.require_subscription and not (
            topic == topics_gateway.ATTRIBUTES
            and self.deviations.active("platform-push-unsubscribed")
        )
        return conn.client.publish(topic, data, qos=1, require_subscription=required)

    def _refuse(self, conn: Connection, message: Message, refusal: Refusal) -> int:
        client = conn.client
        v5 = client.version == PROTOCOL_5
        if refusal.kind == MALFORMED:
            reason = Reason.PAYLOAD_FORMAT_INVALID
            if self.deviations.active("platform-bad-json-wrong-reason"):
                reason = Reason.UNSPECIFIED_ERROR
            if not v5 and self.deviations.active("platform-v311-bad-json-acknowledged"):
                return Reason.SUCCESS
            self._bad(conn, message, reason, refusal.detail)
            if v5 and message.qos == 0:
                client.disconnect(reason, refusal.detail)
            return reason
        reason = Reason.IMPLEMENTATION_SPECIFIC_ERROR
        if self.deviations.active("platform-missing-device-tolerated"):
            return Reason.PAYLOAD_FORMAT_INVALID
        self._bad(conn, message, reason, refusal.detail)
        conn.closing = True
        if v5 and message.qos > 0:  # the PUBACK 0x83 goes out first, then DISCONNECT
            asyncio.get_running_loop().call_soon(client.disconnect, reason, refusal.detail)
        else:
            client.disconnect(reason, refusal.detail)
        return reason

    def _bad(self, conn: Connection, message: Message, reason: int, detail: str) -> None:
        self.record(
            events.BAD_MESSAGE,
            tenant=conn.gateway.tenant,
            gateway=conn.gateway.name,
            topic=message.topic,
            reason=int(reason),
            detail=detail,
        )

    def _device_started(self, session: DeviceSession) -> None:
        device = session.device
        self.record(
            events.DEVICE_CONNECTED,
            tenant=device.tenant,
            device=device.name,
            gateway=session.connection.gateway.name,
        )

    def _device_ended(self, session: DeviceSession, why: str) -> None:
        device = session.device
        self.record(
            events.DEVICE_DISCONNECTED,
            tenant=device.tenant,
            device=device.name,
            gateway=session.connection.gateway.name,
            why=why,
        )

    def _connections_of(self, gateway_id: int) -> list[Connection]:
        return [c for c in self._connections.values() if c.gateway.id == gateway_id]

    def _device(self, tenant: str, name: str) -> Device | None:
        tenant_id = self.store.tenant_id(tenant)
        return None if tenant_id is None else self.store.device(tenant_id, name)

    def _known(self, tenant: str, name: str) -> Device:
        found = self._device(tenant, name)
        if found is None:
            raise UnknownDevice(tenant, name)
        return found

    def _active(self, device: Device) -> bool:
        if device.is_gateway:
            return bool(self._connections_of(device.id))
        return self.sessions.active(device.id) is not None

    def _info(self, device: Device) -> DeviceInfo:
        claim = None
        if device.claim_secret is not None and device.claim_expires_ms is not None:
            claim = ClaimInfo(device.claim_secret, device.claim_expires_ms)
        return DeviceInfo(
            device.name,
            device.tenant,
            device.type,
            device.gateway,
            device.is_gateway,
            self._active(device),
            device.created_ms,
            claim,
        )

    def _rpc_timeout(self, timeout: float | None) -> float:
        if timeout is None:
            return self.config.rpc_timeout_s
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise InvalidRequest("timeout", f"timeout must be a positive number, got {timeout!r}")
        return max(float(timeout), self.config.rpc_min_timeout_s)


def _check_name(field: str, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(field, f"{field} must be a non-empty string, got {value!r}")


def _redacted(client_id: str, token: str | None) -> str:
    """A client identifier for the trace: never the access token."""
    return "<token>" if token and token in client_id else client_id
