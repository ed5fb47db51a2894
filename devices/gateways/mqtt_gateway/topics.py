"""The ThingsBoard gateway API's topics (seed 001) and the JSON the gateway puts on them."""

from __future__ import annotations

import json
from typing import Any

CONNECT = "v1/gateway/connect"
DISCONNECT = "v1/gateway/disconnect"
TELEMETRY = "v1/gateway/telemetry"
ATTRIBUTES = "v1/gateway/attributes"
ATTRIBUTES_REQUEST = "v1/gateway/attributes/request"
ATTRIBUTES_RESPONSE = "v1/gateway/attributes/response"
RPC = "v1/gateway/rpc"
CLAIM = "v1/gateway/claim"
# The gateway's own device API (getSessionLimits, RPCs to the gateway itself).
ME_RPC_REQUEST = "v1/devices/me/rpc/request/"
ME_RPC_RESPONSE = "v1/devices/me/rpc/response/"

# What the gateway subscribes to after every CONNACK (as the official client does).
SUBSCRIPTIONS = (
    ATTRIBUTES,
    ATTRIBUTES_RESPONSE,
    RPC,
    ME_RPC_REQUEST + "+",
    ME_RPC_RESPONSE + "+",
)

TOPIC_OF_KIND = {
    "telemetry": TELEMETRY,
    "attributes": ATTRIBUTES,
    "connect": CONNECT,
    "disconnect": DISCONNECT,
    "claim": CLAIM,
}


def dumps(payload: Any) -> bytes:
    """Compact JSON; NaN and infinities are refused (they are not JSON)."""
    return json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()


def loads_object(payload: bytes) -> dict[str, Any] | None:
    """A JSON object from the platform, or None when the payload is not one."""
    try:
        value = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None
