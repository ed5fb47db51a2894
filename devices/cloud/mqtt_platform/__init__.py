"""The MQTT gateway platform emulator (seed 001, ThingsBoard's gateway API).

Two layers. The first is an MQTT 3.1.1 + 5 server of our own: :mod:`.session` is the sans-IO
state machine of one connection, :mod:`.server` runs sessions on in-world links or real TCP
ports, :mod:`.application` is the interface the platform logic implements. The second is
:class:`Platform`, that interface implemented with the real platform's semantics
(``specs/thingsboard-gateway-facts.md``), its data in SQLite, a Python control surface and an
HTTP control API.

Using it (the public API; everything else is internal)::

    from devices.cloud.mqtt_platform import Platform, PlatformConfig

    platform = Platform(world, db=":memory:")          # or a file path: survives restarts
    token = platform.add_gateway("gw-1", tenant="default")   # the access token, returned once
    platform.listen(net, "platform", 1883)             # MQTT inside the world (virtual time)
    port = await platform.listen_tcp("127.0.0.1", 0)   # MQTT on a real socket (real time)
    # a gateway connects with MQTT username = token (3.1.1 or 5), any client id

    platform.set_shared_attributes("Device A", {"interval": 5})        # pushed if subscribed
    result = await platform.rpc("Device A", "toggle", {"pin": 1})     # 10 s default timeout
    platform.telemetry("Device A", key="temperature", since=None)     # [TelemetryPoint]
    platform.attributes("Device A", "client")                         # {key: value}
    platform.devices("gw-1")                                          # [DeviceInfo]
    platform.on(events.TELEMETRY, handler)                            # domain events
    await platform.close()

Every per-device call takes ``tenant="default"``: device names are unique per tenant (as in
ThingsBoard), a gateway belongs to one tenant, and gateways of different tenants never see each
other's devices. ``rpc`` raises :class:`~.errors.RpcTimeout` or
:class:`~.errors.NoActiveConnection`; unknown names raise :class:`~.errors.UnknownDevice` /
:class:`~.errors.UnknownGateway` (all :class:`~.errors.PlatformError`).

HTTP control API (:mod:`.control_api`, OpenAPI at ``GET /openapi.json``) and one call that
starts the MQTT listener and the control API on real sockets for ``hil serve mqtt-platform``:
:func:`.serve_support.start_platform`.
"""

from devices.cloud.mqtt_platform.application import (
    Application,
    ClientHandle,
    ConnectRequest,
    Message,
)
from devices.cloud.mqtt_platform.server import MqttServer
from devices.cloud.mqtt_platform.session import Close, Send, Session, SessionConfig

__all__ = [
    "Application",
    "ClientHandle",
    "Close",
    "ConnectRequest",
    "Message",
    "MqttServer",
    "Send",
    "Session",
    "SessionConfig",
]
