"""The ways the platform emulator can be told to misbehave (:mod:`devices.deviations`).

``Platform(world, db, PlatformConfig(deviations=("platform-rpc-ids-from-1",)))`` (or ``hil
serve mqtt-platform --deviate NAME``, or a builtin SUT declaration's ``deviations:``) turns them
on; each hook is a small branch at the place of the behaviour it bends.
``conformance/deviations/mqtt-gateway.yaml`` names, for each, its kind and the requirements
whose scenarios must catch it.
"""

from __future__ import annotations

from collections.abc import Iterable

from devices.deviations import Deviations

SYSTEM = "mqtt-platform"

DEVIATIONS: dict[str, str] = {
    "platform-any-token": "a CONNECT with an unknown access token is let in as the first gateway",
    "platform-connect-creates-nothing": "v1/gateway/connect is acknowledged but creates no device",
    "platform-connect-type-overwritten": "a connect naming an existing device changes its type",
    "platform-disconnect-ignored": "v1/gateway/disconnect does not end the device's session",
    "platform-attr-first-device-only": "client attributes are stored for the first device named",
    "platform-attr-value-values-swapped": 'attribute answers say "values" for one key and '
    '"value" for several',
    "platform-attr-response-id-zero": "attribute answers carry id 0, not the request's id",
    "platform-attr-scope-ignored": '"client": false is answered from the client attributes',
    "platform-push-missing": "shared attribute updates are stored but never pushed",
    "platform-push-unsubscribed": "attribute updates go to gateways that did not subscribe",
    "platform-telemetry-ts-seconds": "telemetry ts is read as seconds (stored times 1000)",
    "platform-telemetry-no-ts-unstamped": "plain value maps are stored at ts 0",
    "platform-telemetry-unknown-device-dropped": "telemetry of a device never connected is "
    "acknowledged and dropped",
    "platform-rpc-ids-from-1": "server-side RPC ids of a device start at 1",
    "platform-rpc-timeout-early": "an unanswered RPC times out after 2 s, whatever its timeout",
    "platform-rpc-no-session-waits": "an RPC to a device without a session waits out its timeout",
    "platform-sessions-outlive-gateway": "device sessions stay when their gateway's connection "
    "ends (RPCs go nowhere and time out)",
    "platform-claim-duration-ignored": "durationMs is ignored: every claim lasts the default",
    "platform-claim-key-null": 'a claim without secretKey gets the key "null"',
    "platform-bad-json-wrong-reason": "a payload that is not JSON is answered PUBACK 0x80, not "
    "0x99",
    "platform-v311-bad-json-acknowledged": "under MQTT 3.1.1 a payload that is not JSON is "
    "acknowledged and the session stays open",
    "platform-unknown-topic-accepted": "a PUBLISH on an unknown v1/gateway/ topic is answered "
    "PUBACK 0 (and dropped)",
    "platform-missing-device-tolerated": "a connect without device is answered PUBACK 0x99 and "
    "the connection stays open",
    "platform-cross-tenant": "device names are looked up in every tenant: another tenant's "
    "gateway reaches the device",
    "platform-session-limits-silent": "getSessionLimits is never answered",
    "platform-qos0-granted": "gateway topics are granted QoS 0",
}


def platform_deviations(names: Iterable[str] | Deviations = ()) -> Deviations:
    """``names`` checked against :data:`DEVIATIONS`."""
    return Deviations.of(names, DEVIATIONS, SYSTEM)
