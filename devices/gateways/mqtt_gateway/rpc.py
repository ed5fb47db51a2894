"""What the platform asks of a device through the gateway: server-side RPC
(``v1/gateway/rpc``) and shared-attribute updates (``v1/gateway/attributes``), carried out by the
device's bridge as the mapping says (a GATT write/read, a Modbus register write/read).

RPC answers, on ``v1/gateway/rpc`` as ``{"device", "id", "data"}``:

* ``write``: ``{"success": true}``; ``params`` is the value itself or ``{"value": ...}``;
* ``read``: ``{"success": true, "value": <decoded value>}``;
* any failure: ``{"success": false, "error": "<what went wrong>"}`` (unknown device or method,
  device not connected, bad params, the device's own error or silence).

A request without a usable ``device`` or integer ``data.id`` cannot be answered and is only
traced. Shared-attribute keys without an ``attribute_updates`` entry are ignored (traced).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from devices.gateways.mqtt_gateway.errors import (
    DeviceFailure,
    GatewayError,
    UnknownDevice,
    UnknownMethod,
)
from devices.gateways.mqtt_gateway.values import CodecError

if TYPE_CHECKING:
    from devices.gateways.mqtt_gateway.bridge import DeviceBridge
    from devices.gateways.mqtt_gateway.config import DeviceConfig


def value_of(params: Any) -> Any:
    """The value an RPC's ``params`` carries: itself, or its ``value`` field."""
    if isinstance(params, dict):
        if "value" not in params:
            raise DeviceFailure('params must be a value or {"value": ...}')
        return params["value"]
    if params is None:
        raise DeviceFailure('params must be a value or {"value": ...}; got nothing')
    return params


async def call(
    device: DeviceConfig | None, bridge: DeviceBridge | None, method: str, params: Any, name: str
) -> dict[str, Any]:
    """Carry out one RPC; the ``data`` of the reply."""
    try:
        if device is None or bridge is None:
            raise UnknownDevice(f"no device named {name!r} is configured on this gateway")
        point = device.method(method)
        if point is None:
            known = ", ".join(p.name for p in device.rpc) or "none"
            raise UnknownMethod(f"device {name!r} has no RPC method {method!r}; methods: {known}")
        if point.action == "read":
            return {"success": True, "value": await bridge.read(device, point)}
        await bridge.write(device, point, value_of(params))
        return {"success": True}
    except (GatewayError, CodecError) as exc:
        return {"success": False, "error": str(exc)}


async def apply_attributes(
    device: DeviceConfig, bridge: DeviceBridge, data: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """Write each mapped key of ``data``: (applied, errors by key, ignored keys)."""
    applied: dict[str, Any] = {}
    errors: dict[str, str] = {}
    ignored: list[str] = []
    for key, value in data.items():
        point = device.update(key)
        if point is None:
            ignored.append(key)
            continue
        try:
            await bridge.write(device, point, value)
            applied[key] = value
        except (GatewayError, CodecError) as exc:
            errors[key] = str(exc)
    return applied, errors, ignored
