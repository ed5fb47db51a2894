"""The OpenAPI 3 description of the controller's API (:mod:`.api`), served at
``GET /openapi.json`` (not a seed path). The router calls through the controller
(``/api/<router call>?mac=<gateway-mac>``) are described once, as the catch-all they are; the
router's own description (its ``/openapi.json``) lists the calls themselves.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from devices.protocols.openapi import (
    FORM,
    JSON,
    OPENAPI_OPERATION,
    OPENAPI_PATH,
    Operation,
    Param,
    Route,
    document,
    json_answer,
    publish,
    sse_answer,
    text_answer,
)

TITLE = "BLE access controller API (seed 002, AC forms)"
VERSION = "1.0"

MAC = {"type": "string", "pattern": "^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$"}
APS = {
    "description": 'router MACs, or "*" for every router',
    "oneOf": [{"type": "array", "items": MAC}, {"type": "string", "enum": ["*"]}],
}
APS_BODY = {JSON: {"type": "object", "required": ["aps"], "properties": {"aps": APS}}}
OK = text_answer("done", {"type": "string", "enum": ["OK"]})
BAD = text_answer("bad input: the message names the parameter and what is accepted")
UNAUTHORIZED = text_answer("no valid access token (missing, unknown or expired)")
NO_ROUTER = text_answer("no router with that MAC is registered")
TOKEN = Param("access_token", {"type": "string"}, "the bearer token, instead of the header")
HUB = {"type": "object", "description": "the seed's router status (online or offline form)"}
SCAN_FILTERS = {
    "chip": {"type": "integer", "enum": [0, 1]},
    "active": {"type": "integer", "enum": [0, 1]},
    "filter_name": {"type": "string"},
    "filter_mac": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
    "filter_uuid": {"type": "string"},
    "filter_rssi": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
    "filter_duplicates": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
    "filter_value": {"oneOf": [{"type": "object"}, {"type": "array"}, {"type": "string"}]},
    "timestamp": {"type": "integer", "enum": [0, 1]},
    "connectable": {"type": "integer", "enum": [0, 1]},
    "report_interval": {"type": "integer", "minimum": 1000},
}


def _secured(op: Operation) -> Operation:
    answers = {**op.answers, 401: UNAUTHORIZED}
    return Operation(op.summary, answers, op.params + (TOKEN,), op.body, op.body_required)


_AC_ONLY: dict[Route, Operation] = {
    ("GET", "/api/cassia/hubs"): Operation(
        "the online routers", {200: json_answer("routers", {"type": "array", "items": HUB})}
    ),
    ("GET", "/api/cassia/hubs/{mac}"): Operation(
        "one router's status, online or offline",
        {200: json_answer("the router", HUB), 404: NO_ROUTER},
    ),
    ("GET", "/api/cassia/hubStatus"): Operation(
        "routers going online and offline", {200: sse_answer("one status object per change")}
    ),
    ("GET", "/api/ac/ap"): Operation(
        "every registered router (the vendor SDK's gateway list)",
        {200: json_answer("routers", {"type": "array", "items": HUB})},
    ),
    ("GET", "/api/aps/events"): Operation(
        "the combined stream: state, then scan, notification, connection_state, ap_state",
        {200: sse_answer("one JSON message per event; a keep-alive message every 30 s")},
    ),
    ("POST", "/api/aps/scan/open"): Operation(
        "open the routers' scans onto the combined stream",
        {200: OK, 400: BAD, 404: NO_ROUTER},
        body={
            JSON: {
                "type": "object",
                "required": ["aps"],
                "properties": {"aps": APS, **SCAN_FILTERS},
            }
        },
        body_required=True,
    ),
    ("POST", "/api/aps/ap-select-switch"): Operation(
        "switch router auto-selection on or off",
        {200: json_answer("switched", {"type": "object"}), 400: BAD},
        body={
            JSON: {
                "type": "object",
                "required": ["flag"],
                "properties": {
                    "flag": {"type": "integer", "enum": [0, 1]},
                    "scan_params": {"type": "object", "properties": SCAN_FILTERS},
                },
            }
        },
        body_required=True,
    ),
    ("POST", "/api/aps/connections/connect"): Operation(
        "connect a device through the router auto-selection picks",
        {
            200: OK,
            400: BAD,
            404: text_answer("an unknown router, or the device was not heard"),
            409: text_answer("auto-selection is off"),
            500: text_answer("no router could connect the device"),
        },
        body={
            JSON: {
                "type": "object",
                "required": ["aps", "devices"],
                "properties": {
                    "aps": APS,
                    "devices": {"type": "array", "items": MAC, "minItems": 1, "maxItems": 1},
                    "timeout": {"type": "integer", "minimum": 1000, "maximum": 20000},
                    "random": {"type": "integer", "enum": [0, 1]},
                    "rssi": {"type": "integer"},
                    "rssi_interval": {"type": "integer"},
                    "discovergatt": {"type": "integer", "enum": [0, 1]},
                },
            }
        },
        body_required=True,
    ),
    ("POST", "/api/aps/connections/disconnect"): Operation(
        "disconnect a device (no roaming after this)",
        {200: OK, 400: BAD, 404: text_answer("the device is not connected")},
        body={JSON: {"type": "object", "required": ["devices"]}},
        body_required=True,
    ),
    ("GET", "/api/middleware/position/by-device/{mac}"): Operation(
        "the closest router of a device (* for every device)",
        {200: json_answer("{hubMac} (or device -> {hubMac})"), 404: text_answer("not heard")},
        (Param("detail", {"type": "integer", "enum": [0, 1]}, "add RSSI, distance, position"),),
    ),
    ("GET", "/api/middleware/position/by-ap/{mac}"): Operation(
        "the devices around a router (* for every router)",
        {200: json_answer("[device] (or router -> [device])"), 404: NO_ROUTER},
    ),
}
for _path, _summary in (
    ("/api/aps/scan/close", "stop the routers' combined scans"),
    ("/api/aps/notify/open", "notifications onto the combined stream"),
    ("/api/aps/notify/close", "no notifications of these routers"),
    ("/api/aps/connection-state/open", "connection states onto the combined stream"),
    ("/api/aps/connection-state/close", "no connection states of these routers"),
):
    _AC_ONLY[("POST", _path)] = Operation(
        _summary, {200: OK, 400: BAD, 404: NO_ROUTER}, body=APS_BODY, body_required=True
    )
for _verb in ("open", "close"):
    for _method in ("GET", "POST"):
        _AC_ONLY[(_method, f"/api/aps/ap-state/{_verb}")] = Operation(
            f"{_verb} router state messages on the combined stream", {200: OK}
        )

ROUTER_CALL = Operation(
    "a router call through the controller: the router's local call, on the router mac= names",
    {
        200: text_answer("the router's answer, as it gave it (any status and type)"),
        400: text_answer("no or a malformed mac="),
        404: NO_ROUTER,
        503: text_answer("the router is offline"),
        504: text_answer("the router did not answer"),
    },
    (Param("mac", MAC, "the router (gateway) MAC", required=True),),
)

OPERATIONS: dict[Route, Operation] = {
    ("POST", "/api/oauth2/token"): Operation(
        "a bearer token for a developer key and secret (HTTP Basic)",
        {
            200: json_answer(
                "the token",
                {
                    "type": "object",
                    "properties": {
                        "access_token": {"type": "string"},
                        "token_type": {"type": "string"},
                        "expires_in": {"type": "integer"},
                    },
                },
            ),
            400: json_answer("not the client_credentials grant", {"type": "object"}),
            401: json_answer("wrong developer key or secret", {"type": "object"}),
        },
        body={
            JSON: {
                "type": "object",
                "properties": {"grant_type": {"enum": ["client_credentials"]}},
            },
            FORM: {"type": "object"},
        },
        body_required=True,
    ),
    **{route: _secured(op) for route, op in _AC_ONLY.items()},
    ("GET", OPENAPI_PATH): OPENAPI_OPERATION,
}


def build_document() -> dict[str, Any]:
    doc = document(
        TITLE,
        VERSION,
        OPERATIONS,
        "The access controller of seed 002: its own APIs and every router call in its "
        "router-addressed form (?mac=<gateway-mac>).",
    )
    call = document(TITLE, VERSION, {("GET", "/api/{tail}"): _secured(ROUTER_CALL)})
    item = call["paths"]["/api/{tail}"]["get"]
    doc["paths"]["/api/{tail}"] = {
        method: {**item, "operationId": f"{method}RouterCall"}
        for method in ("get", "post", "delete")
    }
    return doc


def register(app: web.Application) -> None:
    publish(app, build_document)
