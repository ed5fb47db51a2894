"""Names of the domain events :class:`~devices.gateways.mqtt_gateway.gateway.MqttGateway` emits
(a Bumble ``EventEmitter``), with their arguments."""

from __future__ import annotations

UPLINK_READY = "uplink_ready"
"""(limits: SessionLimits | None) connected, subscribed, devices re-announced."""
UPLINK_LOST = "uplink_lost"
"""(reason: str) the MQTT connection ended; a reconnect is scheduled."""
DEVICE_CONNECTED = "device_connected"
"""(device: str, device_type: str) a device came (BLE link up, Modbus slave answering)."""
DEVICE_DISCONNECTED = "device_disconnected"
"""(device: str, reason: str) a device went (link lost, slave silent, gateway stopping)."""
TELEMETRY = "telemetry"
"""(device: str, ts_ms: int, values: dict) a reading was queued."""
DELIVERED = "delivered"
"""(seqs: list[int], reason: int) the platform acknowledged these queued rows."""
REFUSED = "refused"
"""(seqs: list[int], reason: int, verdict: str) a PUBACK refused them: verdict "retry" or
"isolate" (a batch is split to find the poisonous row)."""
DEAD_LETTERED = "dead_lettered"
"""(seq: int, reason: int, why: str) a row will never be sent again (see the outbox)."""
ATTRIBUTES_APPLIED = "attributes_applied"
"""(device: str, applied: dict, errors: dict) a shared-attribute update was written."""
RPC_ANSWERED = "rpc_answered"
"""(device: str, request_id: int, method: str, reply: dict) an RPC was carried out."""
