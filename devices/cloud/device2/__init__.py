"""The Device2 connectivity service (seed 003): identities, provisioning, resources and state,
device data, queries, metrics, restore, and its HTTP management API.

Domain layer (no HTTP; raises :mod:`.errors`, emits :mod:`.events`) — the public API the device
APIs (HTTP ``/provision/activate``, ``/onep:v1/stack/alias``...; MQTT ``$provision``,
``$resource``; X.509) build on::

    service = Device2Service(world, "device2.db")        # time: world.datetime() only
    gw = service.ensure_gateway("example", settings)     # one gateway context per product
    service.on(GATEWAY_EVENT, lambda product, event: ...)  # connect, data_in, provisioned...
    service.on(STATE_SET, lambda product, identity, values, ts: ...)  # push pending "set"s

    # the seed's operations, by name, with their parameter objects (JSON-ready results)
    gw.call("addIdentity", {"identity": "dev1", "auth": {"type": "token"}})
    gw.call("addResource", {"alias": "temp", "format": "number", "settable": True})
    gw.call("setIdentityState", {"identity": "dev1", "temp": 21})

    # the device side
    gw.settings                         # Settings: provisioning, identity_format, pki, ...
    result = gw.provision("dev1", ip=..., protocol="http")   # Provisioning(identity, token)
    identity = gw.authenticate(token=result.token)  # or identity=, password=; certificate_pem=
    session = gw.connect(identity, ip=..., protocol="mqtt")  # connect event, online
    gw.write(identity, {"temp": "21.5"}, session=session)    # data_in: state + data + event
    gw.record(identity, [(ts_us, {"temp": 1}), ...], session=session)  # timed batch
    gw.read(identity, ["temp"])          # set value for settable resources, else reported
    gw.pending_sets(identity)            # {alias: (value, ts)} waiting for the device's ack
    gw.check_publish_as(gateway_identity, target)  # permission.gateway / publish_as
    gw.upload_content(identity, "fw.bin", data); gw.contents().ids() / .info() / .data()
    gw.register_subscriber(identity, signal, session_id, "mqtt_qos1")
    gw.disconnect(session.connection_id)             # disconnect event
    service.close()

Errors (:mod:`.errors`): ``InvalidInput(field, accepted)`` (400), ``NotFound`` (404),
``Conflict`` (409), ``AuthenticationFailed`` and ``Refused(reason)`` (device side: locked,
expired, reprovision, provisioning_disabled, ip_not_allowed, publish_as), ``StoreError`` (500).
Each names its ``field``. Status lifecycle (:mod:`.lifecycle`): whitelisted -> provisioned by
the device; ``auth.expire`` passing -> expired (from whitelisted) or reprovision (from
provisioned), at that instant of the world's clock; ``locked`` refuses everything.

Storage (:mod:`.store`): one SQLite file; every acknowledged change is committed before the call
returns, so a new service object on the same file loses nothing. Credentials are stored one-way
hashed and never returned (:mod:`.credentials`).

HTTP (:mod:`.routes`, :mod:`.api`, :mod:`.openapi`, :mod:`.sse`): every operation as ``POST
/api:1/service/<product>/device2/<operationName>`` with its parameter object as JSON, plus the
vendor's REST paths (``.../device2/identity/<identity>``, its ``state``, ``.../identities``),
``GET .../device2/events`` (SSE), ``GET /health`` and ``GET /openapi.json``.
``await serve_device2(world, db_path, host, port, net=net)`` serves it in the world (through
``devices.protocols.http_server.serve``) or, without ``net``, on a real socket;
:class:`~.client.Device2Client` calls it; :class:`~.local.LocalDevice2` is the whole stack in a
fresh world for tests and scripts. Daily archive files for restores: :mod:`.restore` (their
default folder is ``archive/`` beside the database file).

Device APIs (:mod:`.device_apis`): ``await serve_device2_apis(world, db_path, net=net)`` serves
the HTTP Device API (:mod:`.device_http`: ``/provision/activate``, ``/onep:v1/stack/alias``,
``/stack/record``, ``/timestamp``, ``/provision/download``) and the MQTT Device API
(:mod:`.device_mqtt`: ``$provision``, ``$resource``, ``$resource.batch``, pushes on
``$resource/<alias>/<ts>``), plain and over TLS with client certificates
(:mod:`.device_tls`), with the management API, in the world (devices connect to each
product's ``fqdn``) or on real sockets (``ports=DevicePorts(...)``). Every wire detail the
facts sheet did not find is a field of :class:`~.device_config.DeviceApiConfig`, with the
choice made and why. Simulated devices (HTTP, MQTT, gateways publishing for others):
:mod:`.device_clients`.

Operations the seed describes without naming them are called ``getIdentityState``,
``setIdentityState``, ``getIdentityPermission``, ``updateIdentityPermission``,
``getGatewaySettings``, ``updateGatewaySettings`` and ``getSolutionPairing``;
``addIdentities`` is the vendor's bulk whitelisting (``POST .../identities``).
"""

from devices.cloud.device2.api import build_app
from devices.cloud.device2.connections import Provisioning
from devices.cloud.device2.context import Session
from devices.cloud.device2.device_apis import Device2Apis, DevicePorts, serve_device2_apis
from devices.cloud.device2.device_config import DeviceApiConfig
from devices.cloud.device2.device_http import DeviceHttp
from devices.cloud.device2.device_mqtt import DeviceMqtt
from devices.cloud.device2.device_tls import DeviceTls
from devices.cloud.device2.errors import (
    AuthenticationFailed,
    Conflict,
    Device2Error,
    InvalidInput,
    NotFound,
    Refused,
    StoreError,
)
from devices.cloud.device2.events import GATEWAY_EVENT, STATE_SET, STATUS_CHANGED
from devices.cloud.device2.gateway import OPERATIONS, Gateway
from devices.cloud.device2.service import Device2Service
from devices.cloud.device2.serving import Device2Server, serve_device2
from devices.cloud.device2.settings import Settings

__all__ = [
    "GATEWAY_EVENT",
    "OPERATIONS",
    "STATE_SET",
    "STATUS_CHANGED",
    "AuthenticationFailed",
    "Conflict",
    "Device2Apis",
    "Device2Error",
    "Device2Server",
    "Device2Service",
    "DeviceApiConfig",
    "DeviceHttp",
    "DeviceMqtt",
    "DevicePorts",
    "DeviceTls",
    "Gateway",
    "InvalidInput",
    "NotFound",
    "Provisioning",
    "Refused",
    "Session",
    "Settings",
    "StoreError",
    "build_app",
    "serve_device2",
    "serve_device2_apis",
]
