"""The OpenAPI 3 description of the management API, generated from the route table
(:mod:`.routes`) and the operation table (:mod:`.operations`) — the same tables the server
routes with, so a route cannot exist undocumented (a test checks both ways)."""

from __future__ import annotations

from typing import Any

from devices.cloud.device2.events import TYPES
from devices.cloud.device2.operations import ERROR_SCHEMA, OPERATIONS, Operation
from devices.cloud.device2.routes import EVENTS_PATH, HEALTH_PATH, OPENAPI_PATH, ROUTES, Route

TITLE = "Device2 connectivity service (gateway-hil reference)"
_REASONS = {
    200: "OK",
    204: "No Content",
    205: "Reset Content",
    400: "Invalid input (the field is named)",
    401: "Authentication failed",
    403: "Refused",
    404: "The gateway context (or the item named) does not exist",
    409: "Conflict with the current state",
    500: "Database or internal error",
}


def _path_params(path: str) -> list[dict[str, Any]]:
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    return [
        {"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names
    ]


def _body_schema(op: Operation, route: Route) -> dict[str, Any]:
    in_path = {p["name"] for p in _path_params(route.path)}
    props = {p.name: p.schema() for p in op.params if p.name not in in_path}
    required = [p.name for p in op.params if p.required and p.name not in in_path]
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    schema["additionalProperties"] = op.open_params
    return schema


def _operation(route: Route) -> dict[str, Any]:
    op = OPERATIONS[route.operation]
    rest = not route.path.endswith("/" + op.name)
    slash = "_slash" if route.path.endswith("/") else ""
    doc: dict[str, Any] = {
        "operationId": f"{op.name}_{route.method.lower()}_rest{slash}" if rest else op.name,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": _path_params(route.path),
        "responses": {},
    }
    in_path = {p["name"] for p in doc["parameters"]}
    if route.source == "query":
        doc["parameters"] += [
            {"name": p.name, "in": "query", "required": p.required, "schema": p.schema()}
            for p in op.params
            if p.name not in in_path
        ]
    elif route.source == "multipart":
        doc["requestBody"] = {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "identities": {
                                "type": "string",
                                "format": "binary",
                                "description": "CSV, one identity per line",
                            },
                            "expire": {"type": "integer"},
                        },
                    }
                },
                "application/json": {"schema": _body_schema(op, route)},
            }
        }
    else:
        doc["requestBody"] = {"content": {"application/json": {"schema": _body_schema(op, route)}}}
    success: dict[str, Any] = {"description": _REASONS[op.success]}
    if op.success == 200:
        success["content"] = {"application/json": {"schema": op.result or {}}}
    doc["responses"][str(op.success)] = success
    for code in sorted({*op.errors, 400, 404, 500}):
        doc["responses"][str(code)] = {
            "description": _REASONS[code],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    return doc


def _extras() -> dict[str, dict[str, Any]]:
    return {
        EVENTS_PATH: {
            "get": {
                "operationId": "events",
                "summary": "Gateway events as Server-Sent Events (event: <type>, data: JSON).",
                "tags": ["Events"],
                "parameters": [
                    *_path_params(EVENTS_PATH),
                    {
                        "name": "types",
                        "in": "query",
                        "required": False,
                        "schema": {
                            "type": "string",
                            "description": "Comma-separated: " + ", ".join(TYPES),
                        },
                    },
                ],
                "responses": {
                    "200": {
                        "description": "The event stream",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    },
                    "404": {"description": _REASONS[404]},
                },
            }
        },
        HEALTH_PATH: {
            "get": {
                "operationId": "healthCheck",
                "summary": "Service health check.",
                "tags": ["Health"],
                "responses": {
                    "200": {
                        "description": "OK",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        OPENAPI_PATH: {
            "get": {
                "operationId": "openapi",
                "summary": "This description.",
                "tags": ["Health"],
                "responses": {"200": {"description": "OpenAPI 3 document"}},
            }
        },
    }


def describe() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    paths.update(_extras())
    return {
        "openapi": "3.0.3",
        "info": {"title": TITLE, "version": "1"},
        "paths": paths,
        "components": {"schemas": {"Error": ERROR_SCHEMA}},
    }
