"""The OpenAPI 3 description of the platform's control API (:mod:`.control_api`), served at
``GET /openapi.json``. A test checks that every route is described and every described path
is routed."""

from __future__ import annotations

from typing import Any

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def _path(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


def _answer(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description}
    if schema is not None:
        answer["content"] = {JSON: {"schema": schema}}
    return answer


def _errors(*statuses: int) -> dict[str, Any]:
    meaning = {
        400: "bad input (the message names the field)",
        401: "missing or wrong admin key",
        404: "no such gateway or device in the tenant",
        409: "name taken, or no active connection to the device",
        504: "the device did not answer the RPC in time",
    }
    return {str(s): _answer(meaning[s], _ref("Error")) for s in (400, 401, *statuses)}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": schema}}}


TENANT = _query(
    "tenant", 'the tenant (default "default"); device names are per tenant', {"type": "string"}
)
GATEWAY = _path("gateway", "the gateway's name")
DEVICE = _path("device", "the device's name (a gateway is a device too)")

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
    "Gateway": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "tenant": {"type": "string"},
            "connections": {"type": "integer", "description": "open MQTT connections"},
            "devices": {"type": "integer", "description": "devices it last connected"},
        },
    },
    "NewGateway": {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string"}, "tenant": {"type": "string"}},
    },
    "GatewayToken": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "tenant": {"type": "string"},
            "token": {"type": "string", "description": "the MQTT user name; shown this once"},
        },
    },
    "Device": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "tenant": {"type": "string"},
            "type": {"type": "string"},
            "gateway": {"type": "string", "nullable": True},
            "isGateway": {"type": "boolean"},
            "active": {"type": "boolean", "description": "has an active session"},
            "createdMs": {"type": "integer"},
            "claim": {
                "type": "object",
                "nullable": True,
                "properties": {"secretKey": {"type": "string"}, "expiresMs": {"type": "integer"}},
            },
        },
    },
    "TelemetryPoint": {
        "type": "object",
        "properties": {"ts": {"type": "integer"}, "key": {"type": "string"}, "value": {}},
    },
    "Attributes": {"type": "object", "additionalProperties": True},
    "RpcRequest": {
        "type": "object",
        "required": ["method"],
        "properties": {
            "method": {"type": "string"},
            "params": {"description": "any JSON; {} when absent"},
            "timeout": {
                "type": "integer",
                "maximum": 60000,
                "description": "ms (default 10000; values under 5000 are raised to 5000; "
                "at most 60000)",
            },
        },
    },
}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "MQTT gateway platform emulator: control API",
            "version": "1.0.0",
            "description": "Gateways, devices, telemetry, attributes and server-side RPC of the "
            "ThingsBoard-style platform emulator. Every /api route needs "
            "'Authorization: Bearer <admin key>' (printed when the platform is served).",
        },
        "components": {
            "securitySchemes": {"admin": {"type": "http", "scheme": "bearer"}},
            "schemas": SCHEMAS,
        },
        "security": [{"admin": []}],
        "paths": {
            "/openapi.json": {
                "get": {
                    "summary": "This description",
                    "security": [],
                    "responses": {"200": _answer("the OpenAPI document", {"type": "object"})},
                }
            },
            "/api/gateways": {
                "get": {
                    "summary": "Gateways (of one tenant, or all)",
                    "parameters": [_query("tenant", "only this tenant", {"type": "string"})],
                    "responses": {
                        "200": _answer("gateways", {"type": "array", "items": _ref("Gateway")}),
                        **_errors(),
                    },
                },
                "post": {
                    "summary": "Create a gateway; its access token is returned this once",
                    "requestBody": _body(_ref("NewGateway")),
                    "responses": {"201": _answer("created", _ref("GatewayToken")), **_errors(409)},
                },
            },
            "/api/gateways/{gateway}/devices": {
                "get": {
                    "summary": "Devices the gateway last connected",
                    "parameters": [GATEWAY, TENANT],
                    "responses": {
                        "200": _answer("devices", {"type": "array", "items": _ref("Device")}),
                        **_errors(404),
                    },
                }
            },
            "/api/devices/{device}": {
                "get": {
                    "summary": "One device",
                    "parameters": [DEVICE, TENANT],
                    "responses": {"200": _answer("the device", _ref("Device")), **_errors(404)},
                }
            },
            "/api/devices/{device}/telemetry": {
                "get": {
                    "summary": "Stored time series, ordered by ts",
                    "parameters": [
                        DEVICE,
                        TENANT,
                        _query("key", "one key only", {"type": "string"}),
                        _query("since", "ms since the Unix epoch (inclusive)", {"type": "integer"}),
                    ],
                    "responses": {
                        "200": _answer(
                            "points", {"type": "array", "items": _ref("TelemetryPoint")}
                        ),
                        **_errors(404),
                    },
                }
            },
            "/api/devices/{device}/attributes": {
                "get": {
                    "summary": "Attributes of one scope",
                    "parameters": [
                        DEVICE,
                        TENANT,
                        _query(
                            "scope",
                            "client (default) or shared",
                            {"type": "string", "enum": ["client", "shared"]},
                        ),
                    ],
                    "responses": {
                        "200": _answer("key -> value", _ref("Attributes")),
                        **_errors(404),
                    },
                }
            },
            "/api/devices/{device}/attributes/shared": {
                "post": {
                    "summary": "Set shared attributes; pushed to the gateway holding the session",
                    "parameters": [DEVICE, TENANT],
                    "requestBody": _body(_ref("Attributes")),
                    "responses": {
                        "200": _answer(
                            "stored",
                            {
                                "type": "object",
                                "properties": {
                                    "keys": {"type": "array", "items": {"type": "string"}},
                                    "pushed": {"type": "boolean"},
                                },
                            },
                        ),
                        **_errors(404),
                    },
                }
            },
            "/api/devices/{device}/rpc": {
                "post": {
                    "summary": "Server-side RPC; waits for the device's reply",
                    "parameters": [DEVICE, TENANT],
                    "requestBody": _body(_ref("RpcRequest")),
                    "responses": {
                        "200": _answer("the reply's data", {}),
                        **_errors(404, 409, 504),
                    },
                }
            },
        },
    }
