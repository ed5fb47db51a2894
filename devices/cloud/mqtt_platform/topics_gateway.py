"""The server side of the seed's ``v1/gateway/*`` topics.

Each handler reads the whole message first (:mod:`.payloads`, which refuses bad ones), writes
it in one transaction, and only then touches sessions, answers and events: the PUBACK the
session sends when the handler returns follows the commit. Every device named gets its device
got-or-created (type "default" unless ``v1/gateway/connect`` names one; an existing device
keeps its type) and its session started or refreshed on this connection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from devices.cloud.mqtt_platform import events
from devices.cloud.mqtt_platform.application import Message
from devices.cloud.mqtt_platform.payloads import (
    parse_attribute_request,
    parse_connect,
    parse_disconnect,
    parse_gateway_attributes,
    parse_gateway_claim,
    parse_gateway_telemetry,
    parse_rpc_reply,
)
from devices.cloud.mqtt_platform.sessions import Connection

if TYPE_CHECKING:
    from devices.cloud.mqtt_platform.platform import Platform

Handler = Callable[["Platform", Connection, Message], None]

CONNECT = "v1/gateway/connect"
DISCONNECT = "v1/gateway/disconnect"
TELEMETRY = "v1/gateway/telemetry"
ATTRIBUTES = "v1/gateway/attributes"
ATTRIBUTES_REQUEST = "v1/gateway/attributes/request"
ATTRIBUTES_RESPONSE = "v1/gateway/attributes/response"
RPC = "v1/gateway/rpc"
CLAIM = "v1/gateway/claim"


def on_connect(p: Platform, conn: Connection, message: Message) -> None:
    name, device_type = parse_connect(message.payload)
    if p.deviations.active("platform-connect-creates-nothing"):
        return
    with p.store.transaction():
        device = p.ensure_device(conn, name, device_type)
        if device.type != device_type and p.deviations.active("platform-connect-type-overwritten"):
            device = p.store.set_type(device, device_type)
    p.seen(conn, device)


def on_disconnect(p: Platform, conn: Connection, message: Message) -> None:
    name = parse_disconnect(message.payload)
    device = p.store.device(conn.gateway.tenant_id, name)
    if device is not None and not p.deviations.active("platform-disconnect-ignored"):
        p.sessions.end_device(conn, device.id)


def on_telemetry(p: Platform, conn: Connection, message: Message) -> None:
    unstamped = p.deviations.active("platform-telemetry-no-ts-unstamped")
    batches = parse_gateway_telemetry(message.payload, 0 if unstamped else p.now_ms())
    if p.deviations.active("platform-telemetry-ts-seconds"):
        batches = [(n, [(ts * 1000, k, v) for ts, k, v in pts]) for n, pts in batches]
    if p.deviations.active("platform-telemetry-unknown-device-dropped"):
        tenant = conn.gateway.tenant_id
        batches = [(n, pts) for n, pts in batches if p.store.device(tenant, n) is not None]
    with p.store.transaction():
        stored = [(p.ensure_device(conn, name), points) for name, points in batches]
        for device, points in stored:
            p.store.put_telemetry(device.id, points)
    for device, points in stored:
        p.seen(conn, device)
        p.record(
            events.TELEMETRY,
            tenant=device.tenant,
            gateway=conn.gateway.name,
            device=device.name,
            points=len(points),
        )


def on_attributes(p: Platform, conn: Connection, message: Message) -> None:
    batches = parse_gateway_attributes(message.payload)
    if p.deviations.active("platform-attr-first-device-only"):
        batches = batches[:1]
    now = p.now_ms()
    with p.store.transaction():
        stored = [(p.ensure_device(conn, name), values) for name, values in batches]
        for device, values in stored:
            p.store.put_attributes(device.id, "client", values, now)
    for device, values in stored:
        p.seen(conn, device)
        p.record(
            events.ATTRIBUTES,
            tenant=device.tenant,
            device=device.name,
            scope="client",
            keys=sorted(values),
        )


def on_attributes_request(p: Platform, conn: Connection, message: Message) -> None:
    request = parse_attribute_request(message.payload)
    with p.store.transaction():
        device = p.ensure_device(conn, request.device)
    p.seen(conn, device)
    scope = "client" if request.client else "shared"
    if p.deviations.active("platform-attr-scope-ignored"):
        scope = "client"
    found = p.store.attributes(device.id, scope, request.keys)
    request_id = 0 if p.deviations.active("platform-attr-response-id-zero") else request.request_id
    body: dict[str, object] = {"id": request_id, "device": request.device}
    single = request.single != p.deviations.active("platform-attr-value-values-swapped")
    if not single:
        body["values"] = found
    elif found:
        body["value"] = next(iter(found.values()))
    p.respond(conn, ATTRIBUTES_RESPONSE, body)


def on_rpc_reply(p: Platform, conn: Connection, message: Message) -> None:
    name, request_id, data = parse_rpc_reply(message.payload)
    with p.store.transaction():
        device = p.ensure_device(conn, name)
    p.seen(conn, device)
    p.rpc_replied(device, request_id, data)


def on_claim(p: Platform, conn: Connection, message: Message) -> None:
    claims = parse_gateway_claim(message.payload, p.config.claim_duration_ms)
    if p.deviations.active("platform-claim-duration-ignored"):
        claims = [(n, replace(c, duration_ms=p.config.claim_duration_ms)) for n, c in claims]
    if p.deviations.active("platform-claim-key-null"):
        claims = [(n, replace(c, secret_key=c.secret_key or "null")) for n, c in claims]
    expires_base = p.now_ms()
    with p.store.transaction():
        stored = [(p.ensure_device(conn, name), claim) for name, claim in claims]
        for device, claim in stored:
            p.store.set_claim(device.id, claim.secret_key, expires_base + claim.duration_ms)
    for device, claim in stored:
        p.seen(conn, device)
        p.record(
            events.CLAIM,
            tenant=device.tenant,
            device=device.name,
            expires_ms=expires_base + claim.duration_ms,
        )


HANDLERS: dict[str, Handler] = {
    CONNECT: on_connect,
    DISCONNECT: on_disconnect,
    TELEMETRY: on_telemetry,
    ATTRIBUTES: on_attributes,
    ATTRIBUTES_REQUEST: on_attributes_request,
    RPC: on_rpc_reply,
    CLAIM: on_claim,
}
"""Routing is on the exact topic name, as the real platform routes."""

SUBSCRIBABLE = frozenset({ATTRIBUTES, ATTRIBUTES_RESPONSE, RPC})
