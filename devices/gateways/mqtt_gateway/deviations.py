"""The ways the reference MQTT gateway can be told to misbehave (:mod:`devices.deviations`).

``build_gateway(world, config, deviations=["gateway-no-resubscribe"])`` (or ``hil serve
mqtt-gateway --deviate NAME``, or a builtin SUT declaration's ``deviations:``) turns them on,
for the gateway's whole life; each hook is a small branch at the place of the behaviour it
bends. ``conformance/deviations/mqtt-gateway.yaml`` names, for each, its kind and the
requirements whose scenarios must catch it.
"""

from __future__ import annotations

from collections.abc import Iterable

from devices.deviations import Deviations

SYSTEM = "mqtt-gateway"

DEVIATIONS: dict[str, str] = {
    "gateway-token-as-password": "the access token goes in the password, the gateway's name in "
    "the user name",
    "gateway-data-before-connect": "a device's first reading is published before its connect",
    "gateway-no-disconnect": "a device that goes away is not announced as disconnected",
    "gateway-ts-seconds": "telemetry ts is in seconds, not milliseconds",
    "gateway-values-stale": "telemetry repeats the first value read of each key",
    "gateway-attributes-flat": "client attributes are published without the device level",
    "gateway-attr-request-id-reused": "every attribute request carries id 1",
    "gateway-shared-ignored": "shared attribute updates are not written to the device",
    "gateway-rpc-wrong-id": "RPC replies carry the request's id plus one",
    "gateway-rpc-slow": "RPC replies go out 12 s late",
    "gateway-claim-shape": 'claims go out as {"device", "secretKey", "durationMs"}',
    "gateway-no-resubscribe": "after a reconnect the gateway subscribes to nothing",
    "gateway-queue-lost-on-reconnect": "what is in flight when the connection drops, and what "
    "is queued while it is down, is thrown away",
    "gateway-queue-lost-on-restart": "the queue lives in memory: a restart loses what was not "
    "delivered",
    "gateway-duplicate-on-reconnect": "after a reconnect the last acknowledged message is sent "
    "again",
    "gateway-reorder-on-reconnect": "after a reconnect the queue is sent newest first",
    "gateway-refusal-no-backoff": "a retryable refusal is sent again at once",
    "gateway-poison-retried": "a 0x99 refusal is retried like a retryable one, forever",
    "gateway-no-session-limits": "getSessionLimits is never asked for",
    "gateway-qos0": "telemetry and attributes go out at QoS 0",
}


def gateway_deviations(names: Iterable[str] | Deviations = ()) -> Deviations:
    """``names`` checked against :data:`DEVIATIONS`."""
    return Deviations.of(names, DEVIATIONS, SYSTEM)
