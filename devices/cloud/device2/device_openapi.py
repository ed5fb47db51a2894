"""The OpenAPI 3 description of the HTTP Device API (:mod:`.device_http`), served at ``GET
/openapi.json`` on the device hosts. Bodies are forms and plain text, as the device API's are;
every route of the application is described here (a test checks that the two agree)."""

from __future__ import annotations

from typing import Any

from devices.cloud.device2.device_config import DeviceApiConfig
from devices.protocols.openapi import (
    FORM,
    OPENAPI_OPERATION,
    OPENAPI_PATH,
    TEXT,
    Answer,
    Operation,
    Param,
    document,
    text_answer,
)

FORM_BODY = {FORM: {"type": "string", "description": "a=1&b=2 (form-encoded)"}}
AUTH = (
    "Authentication: X-Exosite-CIK: <token>, Authorization: token <token>, Authorization: basic "
    '(":<token>" or "<identity>:<password>"), or a TLS client certificate (CN = identity).'
)


def _errors(*statuses: int) -> dict[int, Answer]:
    meaning = {
        400: "bad input (the message names it)",
        401: "no or invalid credential (or expired credentials: activate again)",
        403: "refused: locked, provisioning window closed, IP not allowed, no permission",
        404: "not found",
        409: "conflict",
        415: "no form Content-Type",
    }
    return {s: text_answer(meaning[s]) for s in statuses}


def _operations(config: DeviceApiConfig) -> dict[tuple[str, str], Operation]:
    reads = Param("aliases", description="the aliases to read: ?a1&a2 (bare keys)")
    poll = (
        Param("Request-Timeout", {"type": "integer"}, "long poll: milliseconds", "header"),
        Param("If-Modified-Since", description="unix seconds or HTTP-date", where="header"),
    )
    publish_as = Param(
        config.publish_as_header, description="write as this identity (publish-as)", where="header"
    )
    write = Operation(
        "write resource values (one data_in); with ?r1&r2 the reads after it",
        {
            200: Answer("the reads", {FORM: {"type": "string"}}),
            204: Answer("written (and nothing to read)"),
            **_errors(400, 401, 403, 404, 415),
        },
        params=(reads, publish_as),
        body=FORM_BODY,
        description=AUTH,
    )
    read = Operation(
        "read resource values (set for settable resources), or long-poll one",
        {
            200: Answer(
                "alias=value&...", {FORM: {"type": "string"}}, {"Last-Modified": "long poll"}
            ),
            204: Answer("no value"),
            304: Answer("long poll: no set within Request-Timeout"),
            **_errors(400, 401, 403),
        },
        params=(reads, *poll),
        description=AUTH,
    )
    record = Operation(
        "record timed values: alias=<a>&<unix s>=<v>&...",
        {
            204: Answer("recorded"),
            409: Answer("conflicting timestamps: alias=ts,ts&...", {FORM: {"type": "string"}}),
            **_errors(400, 401, 403, 404, 415),
        },
        params=(publish_as,),
        body=FORM_BODY,
        body_required=True,
        description=AUTH,
    )
    ops: dict[tuple[str, str], Operation] = {
        ("POST", "/provision/activate"): Operation(
            "provision a device: id=<identity> (or vendor=&model=&sn=)",
            {
                200: Answer(
                    "the token", {TEXT: {"type": "string"}}, {config.identity_header: "made"}
                ),
                204: Answer("provisioned with the device's own password or certificate"),
                **_errors(400, 403, 404, 409, 415),
            },
            body=FORM_BODY,
            body_required=True,
        ),
        ("GET", "/provision/download"): Operation(
            "content: the list, ?id=&info=true, or ?id= (Range: bytes=X-Y)",
            {
                200: Answer("ids (text/csv), info line, or the content"),
                206: Answer("the requested range", headers={"Content-Range": "bytes X-Y/size"}),
                416: Answer("range not satisfiable"),
                **_errors(401, 403, 404),
            },
            params=(Param("id"), Param("info", {"type": "boolean"})),
            description=AUTH,
        ),
        ("GET", "/timestamp"): Operation(
            "the server's unix time in seconds (no authentication)",
            {200: text_answer("unix seconds", {"type": "integer"})},
        ),
        ("GET", OPENAPI_PATH): OPENAPI_OPERATION,
    }
    for prefix in ("/onep:v1", "/api:v1"):
        ops[("POST", f"{prefix}/stack/alias")] = write
        ops[("GET", f"{prefix}/stack/alias")] = read
        ops[("POST", f"{prefix}/stack/record")] = record
    return ops


def describe(config: DeviceApiConfig | None = None) -> dict[str, Any]:
    return document(
        "Device2 HTTP Device API",
        "1",
        _operations(config or DeviceApiConfig()),
        "The device side of the Device2 service: provisioning, writes, reads, long polls, "
        "records, time and content (the Murano HTTPS Device API).",
    )
