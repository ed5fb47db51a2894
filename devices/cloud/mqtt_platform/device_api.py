"""The gateway's own device API (``v1/devices/me/*``): the gateway is a device too.

* ``v1/devices/me/telemetry`` — ``{key: value}``, ``{"ts", "values"}`` or an array of these.
* ``v1/devices/me/attributes`` — client attributes of the gateway device. Subscribing to it
  brings shared attribute updates of the gateway as ``{key: value}``.
* ``v1/devices/me/attributes/request/<n>`` — ``{"clientKeys": "a,b", "sharedKeys": "c"}``
  (either or both; none: everything), answered on ``.../attributes/response/<n>`` with
  ``{"client": {...}, "shared": {...}}``.
* ``v1/devices/me/rpc/request/<n>`` — client-side RPC. ``getSessionLimits`` is answered on
  ``v1/devices/me/rpc/response/<n>`` with :meth:`~.config.PlatformConfig.session_limits`, as
  the real platform's transport does; any other method goes to a rule engine this emulator
  does not have: it is acknowledged and not answered.
* ``v1/devices/me/rpc/response/<n>`` — the gateway's reply to server-side RPC ``n`` sent to
  the gateway device itself (on ``v1/devices/me/rpc/request/<n>``).
* ``v1/devices/me/claim`` — ``{"secretKey"?, "durationMs"?}``: the gateway offers itself.

A ``<n>`` that is not an integer, or a payload these cannot read, is "payload format invalid".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from devices.cloud.mqtt_platform import events
from devices.cloud.mqtt_platform.application import Message
from devices.cloud.mqtt_platform.payloads import (
    claim_of,
    malformed,
    parse_device_attribute_request,
    parse_device_attributes,
    parse_device_rpc_request,
    parse_device_telemetry,
    parse_json,
)
from devices.cloud.mqtt_platform.sessions import Connection

if TYPE_CHECKING:
    from devices.cloud.mqtt_platform.platform import Platform
    from devices.cloud.mqtt_platform.topics_gateway import Handler

ME = "v1/devices/me/"
TELEMETRY = ME + "telemetry"
ATTRIBUTES = ME + "attributes"
ATTRIBUTES_REQUEST = ME + "attributes/request/"
ATTRIBUTES_RESPONSE = ME + "attributes/response/"
RPC_REQUEST = ME + "rpc/request/"
RPC_RESPONSE = ME + "rpc/response/"
CLAIM = ME + "claim"
SESSION_LIMITS = "getSessionLimits"

SUBSCRIBABLE = frozenset(
    {ATTRIBUTES, ATTRIBUTES_RESPONSE + "+", RPC_REQUEST + "+", RPC_RESPONSE + "+"}
)


def _request_id(topic: str, prefix: str) -> int:
    tail = topic[len(prefix) :]
    if not tail.isdigit():
        raise malformed(f"{topic!r}: the request id after {prefix!r} must be an integer")
    return int(tail)


def on_telemetry(p: Platform, conn: Connection, message: Message) -> None:
    points = parse_device_telemetry(message.payload, p.now_ms())
    gateway = conn.gateway
    p.store.put_telemetry(gateway.id, points)
    p.record(
        events.TELEMETRY,
        tenant=gateway.tenant,
        gateway=gateway.name,
        device=gateway.name,
        points=len(points),
    )


def on_attributes(p: Platform, conn: Connection, message: Message) -> None:
    values = parse_device_attributes(message.payload)
    gateway = conn.gateway
    p.store.put_attributes(gateway.id, "client", values, p.now_ms())
    p.record(
        events.ATTRIBUTES,
        tenant=gateway.tenant,
        device=gateway.name,
        scope="client",
        keys=sorted(values),
    )


def on_attributes_request(p: Platform, conn: Connection, message: Message) -> None:
    request_id = _request_id(message.topic, ATTRIBUTES_REQUEST)
    client_keys, shared_keys = parse_device_attribute_request(message.payload)
    body: dict[str, object] = {}
    for scope, keys in (("client", client_keys), ("shared", shared_keys)):
        if keys is not None:
            body[scope] = p.store.attributes(conn.gateway.id, scope, keys or None)
    p.respond(conn, f"{ATTRIBUTES_RESPONSE}{request_id}", body)


def on_rpc_request(p: Platform, conn: Connection, message: Message) -> None:
    request_id = _request_id(message.topic, RPC_REQUEST)
    method, _params = parse_device_rpc_request(message.payload)
    if method == SESSION_LIMITS and not p.deviations.active("platform-session-limits-silent"):
        p.respond(conn, f"{RPC_RESPONSE}{request_id}", p.config.session_limits())


def on_rpc_response(p: Platform, conn: Connection, message: Message) -> None:
    request_id = _request_id(message.topic, RPC_RESPONSE)
    p.rpc_replied(conn.gateway, request_id, parse_json(message.payload))


def on_claim(p: Platform, conn: Connection, message: Message) -> None:
    value = parse_json(message.payload)
    if value is not None and not isinstance(value, dict):
        raise malformed(f"a claim is a JSON object, got {message.payload[:60]!r}")
    claim = claim_of(value or {}, p.config.claim_duration_ms, "claim")
    expires_ms = p.now_ms() + claim.duration_ms
    p.store.set_claim(conn.gateway.id, claim.secret_key, expires_ms)
    p.record(
        events.CLAIM, tenant=conn.gateway.tenant, device=conn.gateway.name, expires_ms=expires_ms
    )


EXACT: dict[str, Handler] = {
    TELEMETRY: on_telemetry,
    ATTRIBUTES: on_attributes,
    CLAIM: on_claim,
}
PREFIXED: tuple[tuple[str, Handler], ...] = (
    (ATTRIBUTES_REQUEST, on_attributes_request),
    (RPC_REQUEST, on_rpc_request),
    (RPC_RESPONSE, on_rpc_response),
)


def route(topic: str) -> Handler | None:
    handler = EXACT.get(topic)
    if handler is not None:
        return handler
    for prefix, prefixed in PREFIXED:
        if topic.startswith(prefix):
            return prefixed
    return None
