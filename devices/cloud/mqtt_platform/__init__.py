"""The MQTT gateway platform emulator (seed 001, ThingsBoard's gateway API).

Two layers. The first is an MQTT 3.1.1 + 5 server of our own: :mod:`.session` is the sans-IO
state machine of one connection, :mod:`.server` runs sessions on in-world links or real TCP
ports, :mod:`.application` is the interface the platform logic implements. The second is
:class:`Platform` (:mod:`.platform`), that interface implemented with the real platform's
semantics (``specs/thingsboard-gateway-facts.md``; every answer is listed in
:mod:`.platform`), its data in SQLite (:mod:`.store`), a Python control surface and an HTTP
control API (:mod:`.control_api`, OpenAPI at ``GET /openapi.json``).

Using it (the public API; everything else is internal)::

    from devices.cloud.mqtt_platform import Platform, PlatformConfig, events

    platform = Platform(world, db=":memory:")          # or a file path: survives restarts
    token = platform.add_gateway("gw-1", tenant="default")   # the access token, returned once
    platform.listen(net, "platform", 1883)             # MQTT inside the world (virtual time)
    port = await platform.listen_tcp("127.0.0.1", 0)   # MQTT on a real socket (real time)
    # a gateway connects with MQTT user name = token (3.1.1 or 5), any client id

    platform.set_shared_attributes("Device A", {"interval": 5})   # pushed if subscribed
    result = await platform.rpc("Device A", "toggle", {"pin": 1})  # 10 s default timeout
    platform.telemetry("Device A", key="temperature", since=None) # [TelemetryPoint(ts,key,value)]
    platform.attributes("Device A", "client")                     # {key: value}
    platform.devices("gw-1"), platform.device("Device A"), platform.gateways()
    platform.is_active("Device A")                                # has a device session
    platform.on(events.TELEMETRY, handler)                        # domain events (.events)
    await platform.close()

Every per-device call takes ``tenant="default"``: device names are unique per tenant (as in
ThingsBoard), a gateway belongs to one tenant, and gateways of different tenants never see each
other's devices, data, RPCs or attribute pushes. ``rpc`` raises :class:`RpcTimeout` or
:class:`NoActiveConnection`; unknown names raise :class:`UnknownDevice` /
:class:`UnknownGateway`, bad values :class:`InvalidRequest` (all :class:`PlatformError`).
Telemetry is keyed by (device, key, ts): a resent batch replaces, never duplicates.

Serving: :func:`.serve_support.start_platform` starts a platform with its MQTT listener and its
control API (admin key from ``secrets``, for ``Authorization: Bearer``) on real sockets, for
``hil serve mqtt-platform``, or inside a world's network; :func:`.control_api.control_app`
builds the control API alone, to serve with :func:`devices.protocols.http_server.serve`.
"""

from devices.cloud.mqtt_platform.application import (
    Application,
    ClientHandle,
    ConnectRequest,
    Message,
)
from devices.cloud.mqtt_platform.config import PlatformConfig, RateLimits
from devices.cloud.mqtt_platform.errors import (
    InvalidRequest,
    NameTaken,
    NoActiveConnection,
    PlatformError,
    RpcTimeout,
    UnknownDevice,
    UnknownGateway,
)
from devices.cloud.mqtt_platform.info import ClaimInfo, DeviceInfo, GatewayInfo
from devices.cloud.mqtt_platform.platform import DEFAULT_TENANT, Platform
from devices.cloud.mqtt_platform.server import MqttServer
from devices.cloud.mqtt_platform.session import Close, Send, Session, SessionConfig
from devices.cloud.mqtt_platform.store import TelemetryPoint

__all__ = [
    "DEFAULT_TENANT",
    "Application",
    "ClaimInfo",
    "ClientHandle",
    "Close",
    "ConnectRequest",
    "DeviceInfo",
    "GatewayInfo",
    "InvalidRequest",
    "Message",
    "MqttServer",
    "NameTaken",
    "NoActiveConnection",
    "Platform",
    "PlatformConfig",
    "PlatformError",
    "RateLimits",
    "RpcTimeout",
    "Send",
    "Session",
    "SessionConfig",
    "TelemetryPoint",
    "UnknownDevice",
    "UnknownGateway",
]
