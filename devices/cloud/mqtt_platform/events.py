"""The names of the events :class:`~.platform.Platform` emits (Bumble ``EventEmitter`` events),
with their arguments, in this order. Each also lands in the world's trace (layer
``mqtt-platform``, the event name with dashes, the arguments as named fields); access tokens
never appear in either (a client identifier equal to the token is shown as ``<token>``).

* ``gateway_connected`` ``(tenant, gateway, client_id, version)`` — a gateway's MQTT connection was
  accepted.
* ``gateway_refused`` ``(client_id, reason)`` — a CONNECT with an unknown token was refused.
* ``gateway_disconnected`` ``(tenant, gateway, client_id, reason)`` — that connection ended
  (``reason`` an MQTT 5 reason code).
* ``device_connected`` ``(tenant, device, gateway)`` — a device session began on a gateway.
* ``device_disconnected`` ``(tenant, device, gateway, why)`` — it ended: ``disconnect``
  (``v1/gateway/disconnect``), ``gateway`` (its gateway's connection ended), ``inactive``
  (silent for the session timeout), ``moved`` (another gateway connection took it over).
* ``device_created`` ``(tenant, device, type, gateway)`` — get-or-create made a device.
* ``telemetry`` ``(tenant, gateway, device, points)`` — ``points`` time series values were stored.
* ``attributes`` ``(tenant, device, scope, keys)`` — attributes were stored (``client`` from a
  gateway, ``shared`` from the control surface).
* ``rpc_sent`` ``(tenant, device, request_id, method)``, ``rpc_replied`` ``(tenant, device,
  request_id, matched)`` (``matched`` False: nobody waited for it, e.g. after its timeout),
  ``rpc_timed_out`` ``(tenant, device, request_id)``.
* ``claim`` ``(tenant, device, expires_ms)`` — a device was offered for claiming.
* ``bad_message`` ``(tenant, gateway, topic, reason, detail)`` — a PUBLISH was refused or
  dropped (``reason`` the MQTT 5 code it was answered with).
"""

from __future__ import annotations

GATEWAY_CONNECTED = "gateway_connected"
GATEWAY_REFUSED = "gateway_refused"
GATEWAY_DISCONNECTED = "gateway_disconnected"
DEVICE_CONNECTED = "device_connected"
DEVICE_DISCONNECTED = "device_disconnected"
DEVICE_CREATED = "device_created"
TELEMETRY = "telemetry"
ATTRIBUTES = "attributes"
RPC_SENT = "rpc_sent"
RPC_REPLIED = "rpc_replied"
RPC_TIMED_OUT = "rpc_timed_out"
CLAIM = "claim"
BAD_MESSAGE = "bad_message"
