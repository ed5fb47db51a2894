"""The OpenAPI 3 description of the router's API (:mod:`.api` and the ``*_api`` modules),
served at ``GET /openapi.json`` — a path the seed's local API does not use. A test checks
that every route is described and every described route is served.

Errors are plain text (see :mod:`.api_errors`): 400 names the parameter and what is accepted,
500 says what the router tried; streams answer ``text/event-stream``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from devices.ble.security import IO_CAPABILITY
from devices.gateways.ble_router.central import ADDRESS_TYPES
from devices.protocols.openapi import (
    FORM,
    JSON,
    OPENAPI_OPERATION,
    OPENAPI_PATH,
    Answer,
    Operation,
    Param,
    Route,
    document,
    json_answer,
    publish,
    sse_answer,
    text_answer,
)

TITLE = "BLE router local API (seed 002, Standalone Router mode)"
VERSION = "1.0"

MAC = {"type": "string", "pattern": "^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$"}
FLAG = {"type": "integer", "enum": [0, 1]}
UUID = {"type": "string", "description": "16-bit (180d), 32-bit or 128-bit UUID"}
HEX = {"type": "string", "pattern": "^([0-9A-Fa-f]{2})*$"}


def _int(lo: int, hi: int, description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer", "minimum": lo, "maximum": hi}
    if description:
        schema["description"] = description
    return schema


NODE = Param("node", MAC, "the device's MAC address", where="path")
OK = text_answer("done", {"type": "string", "enum": ["OK"]})
BAD = text_answer("bad input: the message names the parameter and what is accepted")
FAILED = text_answer(
    "the router tried and could not: not connected, timed out, busy, an ATT error, the link "
    "dropped (the seed's '500 for error')"
)
UNKNOWN = text_answer("the connected device has no service / characteristic with that UUID")
LOGIN_PAGE = Answer("login is on and the client has no session: the login page", {"text/html": {}})
STREAM_LIMIT = text_answer("bad input (400), or too many SSE streams are open (500)")
CHIP = Param("chip", {"type": "string", "pattern": "^([0-9]+|all)$"}, "chip index (or all)")
GATEWAY_MAC = Param("mac", MAC, "the gateway's MAC (the AC form); ignored")


def _with_errors(ok: Answer, *, unknown: bool = False) -> dict[int, Answer]:
    out = {200: ok, 400: BAD, 500: FAILED}
    if unknown:
        out[404] = UNKNOWN
    return out


def _stream(description: str) -> dict[int, Answer]:
    return {200: sse_answer(description), 400: BAD, 500: STREAM_LIMIT}


def _object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def _body(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A JSON body, or the same fields as a form."""
    schema = _object(properties, required)
    return {JSON: schema, FORM: schema}


INT_OR_TEXT = {"oneOf": [{"type": "integer"}, {"type": "string", "pattern": "^[0-9]+$"}]}

CONNECT_FIELDS = {
    "type": {"type": "string", "enum": list(ADDRESS_TYPES), "default": "public"},
    "timeout": {
        **INT_OR_TEXT,
        "description": "ms; 200-20000 (default 5000); a whole number outside is taken as the "
        "nearest end (the vendor SDK sends 60000)",
    },
    "auto": {**FLAG, "description": "accepted and ignored (disabled since firmware 1.4.3)"},
    "discovergatt": {**FLAG, "default": 1},
    "mtu": {"type": "integer", "description": "0 (use 247) or 23-498", "default": 0},
    "chip": {"type": "integer", "minimum": 0},
}
PAIR_FIELDS = {
    "iocapability": {"type": "string", "enum": list(IO_CAPABILITY), "default": "KeyboardDisplay"},
    "oob": {"type": "integer", "enum": [0, 1, 2], "description": "0 none, 1 legacy, 2 secure"},
    "legacy-oob": FLAG,
    "rand": {"type": "string", "pattern": "^(0[xX])?[0-9A-Fa-f]{32}$"},
    "confirm": {"type": "string", "pattern": "^(0[xX])?[0-9A-Fa-f]{32}$"},
    "timeout": {**INT_OR_TEXT, "description": "ms, 200-20000 (default 5000)"},
    "type": {"type": "string", "enum": ["public", "random"]},
    "bond": FLAG,
}
PAIRING_ANSWER = _object(
    {
        "pairingStatusCode": {"type": "integer"},
        "pairingStatus": {"type": "string"},
        "display": {"type": "string"},
    },
    ("pairingStatusCode", "pairingStatus"),
)
SCAN_PARAMS = (
    Param("event", {"type": "string", "enum": ["1"]}, "1: the scan stream"),
    Param("connection_state", {"type": "string", "enum": ["connected"]}, "the connected list"),
    Param("active", FLAG, "active scanning (scan requests)"),
    Param("filter_name", description="names, Prefix*, *Suffix, * (comma-separated)"),
    Param("filter_mac", description="MACs or CC:DD:EE* prefixes (comma-separated)"),
    Param("filter_rssi", _int(-127, 20), "report RSSI >= this (dBm)"),
    Param("filter_uuid", description="hex UUIDs without '-' (comma-separated)"),
    Param("filter_value", description='{"offset":"7","data":"0302E9"} or a list of them'),
    Param("filter_duplicates", _int(0, 2**31), "0, 1, or a restart period in ms > 1000"),
    Param("connectable", FLAG),
    Param("timestamp", FLAG),
    CHIP,
    Param("report_interval", _int(1000, 3_600_000), "ms"),
    Param("beacon", FLAG),
    GATEWAY_MAC,
)
GATT_LIST = json_answer("the device's attributes", {"type": "array", "items": {"type": "object"}})
UUID_QUERY = Param("uuid", UUID, "only the one with this UUID")

OPERATIONS: dict[Route, Operation] = {
    ("GET", "/gap/nodes"): Operation(
        "the scan stream (event=1) or the connected devices (connection_state=connected)",
        {
            200: Answer(
                "event=1: an SSE stream of scan reports; connection_state=connected: "
                '{"nodes": [...]}',
                {"text/event-stream": {"type": "string"}, JSON: _object({"nodes": {}})},
            ),
            400: BAD,
            500: STREAM_LIMIT,
        },
        SCAN_PARAMS,
    ),
    ("POST", "/gap/nodes/{node}/connection"): Operation(
        "connect to a device",
        _with_errors(OK),
        (NODE,),
        body=_body(CONNECT_FIELDS),
        description="Parameters come as a JSON (or form) body; query parameters too.",
    ),
    ("DELETE", "/gap/nodes/{node}/connection"): Operation(
        "disconnect a device", _with_errors(OK), (NODE, GATEWAY_MAC)
    ),
    ("GET", "/gap/nodes/{node}/rssi"): Operation(
        "the RSSI of a connection",
        _with_errors(json_answer("the reading", _object({"id": MAC, "rssi": {"type": "integer"}}))),
        (NODE, GATEWAY_MAC),
    ),
    ("GET", "/gap/rssi"): Operation(
        "the RSSI stream of the connections",
        _stream('{"id": <node>, "rssi": <dBm>} per reading below `rssi`'),
        (
            Param("rssi", _int(-127, 127), "report readings below this (dBm)"),
            Param("rssi_interval", _int(100, 3_600_000), "ms between readings"),
            Param("filter_mac", description="MACs or CC:DD:EE* prefixes (comma-separated)"),
            GATEWAY_MAC,
        ),
    ),
    ("POST", "/gap/batch-connect"): Operation(
        "queue devices to connect (batch connect)",
        {200: OK, 400: BAD},
        body=_body(
            {
                "list": {
                    "type": "array",
                    "items": _object(
                        {"type": {"type": "string", "enum": list(ADDRESS_TYPES)}, "addr": MAC},
                        ("addr",),
                    ),
                },
                "timeout": _int(20, 20000, "ms per attempt (default 5000)"),
                "per_dev_timeout": _int(20, 600_000, "ms per device (default 2 x timeout)"),
            }
        ),
    ),
    ("DELETE", "/gap/batch-connect"): Operation(
        "empty the batch-connect queue", {200: OK, 400: BAD}, (GATEWAY_MAC,)
    ),
    ("GET", "/management/nodes/connection-state"): Operation(
        "the connection-state stream",
        _stream('{"handle": <node>, "connectionState": "connected"|"disconnected", ...}'),
        (GATEWAY_MAC,),
    ),
    ("POST", "/management/nodes/{node}/pair"): Operation(
        "pair with (and bond to) a connected device",
        _with_errors(json_answer("the pairing's state", PAIRING_ANSWER)),
        (NODE,),
        body=_body(PAIR_FIELDS),
    ),
    ("POST", "/management/nodes/{node}/pair-input"): Operation(
        "answer the pairing's prompt (passkey, numeric comparison, legacy OOB TK)",
        _with_errors(json_answer("the pairing's state", PAIRING_ANSWER)),
        (NODE,),
        body=_body(
            {
                "passkey": {"type": "string", "pattern": "^[0-9]{1,6}$"},
                "tk": {"type": "string", "pattern": "^(0[xX])?[0-9A-Fa-f]{32}$"},
            }
        ),
        body_required=True,
    ),
    ("DELETE", "/management/nodes/{node}/bond"): Operation(
        "remove the bond with a device (unpair)", _with_errors(OK), (NODE,)
    ),
    ("GET", "/gatt/nodes"): Operation(
        "the notification and indication stream",
        _stream('{"id": <node>, "handle": <n>, "value": <hex>, "dataType": ...}'),
        (
            Param("event", {"type": "string", "enum": ["1"]}, required=True),
            Param("sequence", _int(0, 2), "0 none, 1 per stream, 2 per device"),
            Param("timestamp", FLAG),
            GATEWAY_MAC,
        ),
    ),
    ("GET", "/gatt/nodes/{node}/services"): Operation(
        "the device's services", _with_errors(GATT_LIST, unknown=True), (NODE, UUID_QUERY)
    ),
    ("GET", "/gatt/nodes/{node}/characteristics"): Operation(
        "the device's characteristics", _with_errors(GATT_LIST, unknown=True), (NODE, UUID_QUERY)
    ),
    ("GET", "/gatt/nodes/{node}/services/{service}/characteristics"): Operation(
        "the characteristics of one service",
        _with_errors(GATT_LIST, unknown=True),
        (NODE, Param("service", UUID, where="path")),
    ),
    ("GET", "/gatt/nodes/{node}/characteristics/{characteristic}/descriptors"): Operation(
        "the descriptors of one characteristic",
        _with_errors(GATT_LIST, unknown=True),
        (NODE, Param("characteristic", UUID, where="path")),
    ),
    ("GET", "/gatt/nodes/{node}/services/characteristics/descriptors"): Operation(
        "every service, characteristic and descriptor at once", _with_errors(GATT_LIST), (NODE,)
    ),
    ("GET", "/gatt/nodes/{node}/handle/{handle}/value"): Operation(
        "read a value",
        _with_errors(json_answer("the value", _object({"handle": {}, "value": HEX}))),
        (NODE, Param("handle", _int(1, 65535), where="path")),
    ),
    ("GET", "/gatt/nodes/{node}/handle/{handle}/value/{value}"): Operation(
        "write a value (noresponse=1: write without response)",
        _with_errors(OK),
        (
            NODE,
            Param("handle", _int(1, 65535), where="path"),
            Param("value", {**HEX, "maxLength": 1024}, "hex bytes", where="path"),
            Param("noresponse", FLAG),
        ),
    ),
    ("GET", "/advertise/start"): Operation(
        "advertise (replacing what the chip advertised)",
        _with_errors(OK),
        (
            Param("interval", _int(20, 10000), "ms (default 500)"),
            Param("ad_type", _int(0, 4), "0 ADV_IND ... 4 SCAN_RSP (default 3)"),
            Param("ad_data", {**HEX, "maxLength": 62}, "advertising data", required=True),
            Param("resp_data", {**HEX, "maxLength": 62}, "scan response data"),
            Param("peer", MAC, "the peer of directed advertising (ad_type=1)"),
            Param("peer_type", {"type": "string", "enum": ["public", "random"]}),
            CHIP,
        ),
    ),
    ("GET", "/advertise/stop"): Operation("stop advertising", _with_errors(OK), (CHIP,)),
    ("GET", "/cassia/info"): Operation(
        "the router's configuration (fields=container: the container status)",
        {**_with_errors(json_answer("the configuration")), 401: LOGIN_PAGE},
        (Param("fields", {"type": "string", "enum": ["container"]}),),
    ),
    ("POST", "/cassia/reboot"): Operation(
        "reboot the router", {200: OK, 401: LOGIN_PAGE}, (GATEWAY_MAC,)
    ),
    ("POST", "/cassia/login"): Operation(
        "log in (when the router has credentials): sets the session cookie",
        {
            200: Answer("logged in (Set-Cookie: session=...)", {"text/plain": {}}),
            400: BAD,
            401: text_answer("wrong username or password"),
            429: Answer(
                "too many wrong logins in a row from this client",
                {"text/plain": {}},
                {"Retry-After": "seconds to wait"},
            ),
        },
        body={
            FORM: _object(
                {"username": {"type": "string"}, "password": {"type": "string"}},
                ("username", "password"),
            )
        },
        body_required=True,
    ),
    ("GET", OPENAPI_PATH): OPENAPI_OPERATION,
}


def build() -> dict[str, Any]:
    return document(
        TITLE,
        VERSION,
        OPERATIONS,
        "The reference router's local RESTful API (seed 002): no /api prefix, no mac=. Errors "
        "are plain text naming the parameter and what is accepted.",
    )


def register(app: web.Application) -> None:
    publish(app, build)
