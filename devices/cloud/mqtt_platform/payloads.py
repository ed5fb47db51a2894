"""Reading the JSON payloads of the gateway API (and of the gateway's own device API) into plain
values, refusing what the real platform refuses, the way it refuses it.

Two kinds of refusal, after ThingsBoard's MQTT transport (:class:`Refusal`):

* ``MALFORMED`` — the payload is not JSON, or a value inside cannot be converted (a telemetry
  entry that is not an object, a ``ts`` that is not a number, a null value, a claim whose
  ``secretKey`` is not a string). The platform's "adaptor error": MQTT 5 PUBACK 0x99 payload
  format invalid; under 3.1.1 the session is closed.
* ``INVALID`` — well-formed JSON that lacks what the topic requires: not an object, no
  ``device`` (or an empty one), no ``id``, ``client``, ``key``/``keys`` or ``data``, or nothing
  left once non-array (telemetry) / non-object (attributes, claim) entries are skipped. The
  platform's runtime error: the connection is closed (MQTT 5: PUBACK 0x83 first).

Nothing here stores anything: a message is read whole before any of it is written, so a
refused message leaves no trace in the data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MALFORMED = "malformed"
INVALID = "invalid"

DEFAULT_DEVICE_TYPE = "default"

Point = tuple[int, str, Any]
"""(ts in ms, key, value)"""

INT32 = (-(2**31), 2**31 - 1)  # request ids are Java ints on the real platform
INT64 = (-(2**63), 2**63 - 1)  # timestamps and durations are Java longs


class Refusal(Exception):
    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


def malformed(detail: str) -> Refusal:
    return Refusal(MALFORMED, detail)


def invalid(detail: str) -> Refusal:
    return Refusal(INVALID, detail)


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, bytes) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(payload: bytes) -> Any:
    """The payload as JSON (NaN and Infinity are not); an empty payload is JSON null, as the
    platform's parser reads it."""
    if not payload.strip():
        return None
    try:
        return json.loads(payload.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise malformed(f"payload is not JSON ({exc}): {_short(payload)}") from None


def json_object(payload: bytes, what: str) -> dict[str, Any]:
    value = parse_json(payload)
    if not isinstance(value, dict):
        raise invalid(f"{what} must be a JSON object, got {_short(value)}")
    return value


def device_name(obj: dict[str, Any]) -> str:
    name = obj.get("device")
    if not isinstance(name, str) or not name:
        raise invalid(f'"device" must be a non-empty string, got {_short(name)}')
    return name


def _is_int(value: Any, bounds: tuple[int, int] = INT32) -> bool:
    return (
        isinstance(value, int) and not isinstance(value, bool) and bounds[0] <= value <= bounds[1]
    )


def _check_value(key: str, value: Any) -> Any:
    if value is None:
        raise malformed(f"value of {key!r} is null; a value is a string, number, bool or JSON")
    return value


def _values(obj: dict[str, Any], what: str) -> dict[str, Any]:
    return {str(k): _check_value(f"{what}.{k}", v) for k, v in obj.items()}


# -- v1/gateway/* ------------------------------------------------------------------------------
def parse_connect(payload: bytes) -> tuple[str, str]:
    """``{"device", "type"?}`` -> (device, type); a missing or null type is "default"."""
    obj = json_object(payload, "a connect message")
    name = device_name(obj)
    device_type = obj.get("type")
    if device_type is None:
        return name, DEFAULT_DEVICE_TYPE
    if not isinstance(device_type, str) or not device_type:
        raise invalid(f'"type" must be a non-empty string, got {_short(device_type)}')
    return name, device_type


def parse_disconnect(payload: bytes) -> str:
    return device_name(json_object(payload, "a disconnect message"))


def _entries(obj: dict[str, Any], kind: type, what: str) -> list[tuple[str, Any]]:
    """The (device, value) entries whose value is of ``kind``; the others are skipped (as the
    platform skips them); none left refuses the message."""
    kept = [(str(name), value) for name, value in obj.items() if isinstance(value, kind) and name]
    if not kept:
        shape = "an array" if kind is list else "an object"
        raise invalid(f"{what} names no device whose value is {shape}: {_short(obj)}")
    return kept


def telemetry_points(entry: Any, now_ms: int, what: str) -> list[Point]:
    """One telemetry entry: ``{"ts", "values"}``, or a plain map of values stamped ``now_ms``."""
    if not isinstance(entry, dict):
        raise malformed(f"{what}: a telemetry entry must be an object, got {_short(entry)}")
    if "ts" in entry and "values" in entry:
        ts, values = entry["ts"], entry["values"]
        if isinstance(ts, float) and ts.is_integer():
            ts = int(ts)
        if not _is_int(ts, INT64):
            raise malformed(
                f"{what}: ts must be an integer of ms since the epoch, got {_short(ts)}"
            )
        if not isinstance(values, dict):
            raise malformed(f"{what}: values must be an object, got {_short(values)}")
        return [(ts, k, v) for k, v in _values(values, what).items()]
    return [(now_ms, k, v) for k, v in _values(entry, what).items()]


def parse_gateway_telemetry(payload: bytes, now_ms: int) -> list[tuple[str, list[Point]]]:
    """``{device: [entry, ...], ...}`` -> [(device, points)]."""
    obj = json_object(payload, "a telemetry message")
    result = []
    for name, entries in _entries(obj, list, "the telemetry message"):
        points = [p for e in entries for p in telemetry_points(e, now_ms, f"device {name!r}")]
        result.append((name, points))
    return result


def parse_gateway_attributes(payload: bytes) -> list[tuple[str, dict[str, Any]]]:
    """``{device: {key: value}, ...}`` -> [(device, values)]."""
    obj = json_object(payload, "an attributes message")
    return [
        (name, _values(values, f"device {name!r}"))
        for name, values in _entries(obj, dict, "the attributes message")
    ]


@dataclass(frozen=True)
class AttributeRequest:
    request_id: int
    device: str
    client: bool
    keys: tuple[str, ...]
    single: bool
    """One key asked for: the answer carries ``value``, else ``values``."""


def parse_attribute_request(payload: bytes) -> AttributeRequest:
    obj = json_object(payload, "an attribute request")
    request_id, client = obj.get("id"), obj.get("client")
    if not _is_int(request_id):
        raise invalid(f'"id" must be an integer, got {_short(request_id)}')
    name = device_name(obj)
    if not isinstance(client, bool):
        raise invalid(f'"client" must be true (client scope) or false (shared), got {client!r}')
    if "key" in obj:
        key = obj["key"]
        if not isinstance(key, str):
            raise invalid(f'"key" must be a string, got {_short(key)}')
        keys: tuple[str, ...] = (key,)
    elif isinstance(obj.get("keys"), list) and all(isinstance(k, str) for k in obj["keys"]):
        keys = tuple(dict.fromkeys(obj["keys"]))
    else:
        raise invalid(f'an attribute request needs "key" or "keys" (strings): {_short(obj)}')
    return AttributeRequest(request_id, name, client, keys, single=len(keys) == 1)


def parse_rpc_reply(payload: bytes) -> tuple[str, int, Any]:
    """``{"device", "id", "data"}`` -> (device, id, data)."""
    obj = json_object(payload, "an RPC reply")
    name = device_name(obj)
    request_id = obj.get("id")
    if not _is_int(request_id):
        raise invalid(f'"id" must be the integer id of the request, got {_short(request_id)}')
    if "data" not in obj:
        raise invalid(f'an RPC reply needs "data": {_short(obj)}')
    return name, request_id, obj["data"]


@dataclass(frozen=True)
class Claim:
    secret_key: str
    duration_ms: int


def claim_of(entry: dict[str, Any], default_duration_ms: int, what: str) -> Claim:
    """``{"secretKey"?, "durationMs"?}``: defaults "" and (absent or not positive) the system
    duration."""
    secret, duration = entry.get("secretKey", ""), entry.get("durationMs")
    if not isinstance(secret, str):
        raise malformed(f"{what}: secretKey must be a string, got {_short(secret)}")
    if duration is not None and not _is_int(duration, INT64):
        raise malformed(f"{what}: durationMs must be an integer (ms), got {_short(duration)}")
    return Claim(secret, duration if duration and duration > 0 else default_duration_ms)


def parse_gateway_claim(payload: bytes, default_duration_ms: int) -> list[tuple[str, Claim]]:
    obj = json_object(payload, "a claim message")
    return [
        (name, claim_of(entry, default_duration_ms, f"device {name!r}"))
        for name, entry in _entries(obj, dict, "the claim message")
    ]


# -- v1/devices/me/* (the gateway as a device) -------------------------------------------------
def parse_device_telemetry(payload: bytes, now_ms: int) -> list[Point]:
    """An entry or an array of entries (:func:`telemetry_points`)."""
    value = parse_json(payload)
    entries = value if isinstance(value, list) else [value]
    return [p for e in entries for p in telemetry_points(e, now_ms, "telemetry")]


def parse_device_attributes(payload: bytes) -> dict[str, Any]:
    value = parse_json(payload)
    if not isinstance(value, dict):
        raise malformed(f"attributes must be a JSON object, got {_short(value)}")
    return _values(value, "attributes")


def parse_device_rpc_request(payload: bytes) -> tuple[str, Any]:
    """``{"method", "params"?}`` -> (method, params)."""
    value = parse_json(payload)
    if not isinstance(value, dict) or not isinstance(value.get("method"), str):
        raise malformed(f'an RPC request is {{"method": str, "params": ...}}: {_short(value)}')
    return value["method"], value.get("params")


def parse_device_attribute_request(payload: bytes) -> tuple[list[str] | None, list[str] | None]:
    """``{"clientKeys"?: "a,b", "sharedKeys"?: "c"}`` -> (client keys, shared keys); None for
    a scope not asked for. An empty payload asks for everything."""
    value = parse_json(payload)
    if value is None:
        return [], []
    if not isinstance(value, dict):
        raise malformed(f"an attribute request must be a JSON object, got {_short(value)}")

    def keys(field: str) -> list[str] | None:
        text = value.get(field)
        if text is None:
            return None
        if not isinstance(text, str):
            raise malformed(f"{field} must be a comma-separated string, got {_short(text)}")
        return [k.strip() for k in text.split(",") if k.strip()]

    client, shared = keys("clientKeys"), keys("sharedKeys")
    if client is None and shared is None:
        return [], []
    return client, shared
