"""The world-control API of a served RS485 line (``hil serve rs485``): what a harness in another
process may see and do on the far side of the bridge (:class:`scenarios.rs485.bed.RemoteLine`
uses it when the SUT declares ``world_control``).

    GET  /world                                    time, calendar, seed, clock, scale, the line
                                                   (settings, statistics, ports) and its nodes
    GET  /world/trace?since=<t>                    the world's timeline records since t
    POST /world/slaves/<unit>/power                {"on": true|false}
    POST /world/slaves/<unit>/points/<name>/failure
                                                   {"failed": true|false} (default true): the
                                                   point's sensor fails, its registers answer
                                                   exception 4 (server device failure)
    POST /world/readers/<address>/power            {"on": true|false}
    POST /world/readers/<address>/card             {"card": "<hex>", "format": "wiegand" (default)
                                                   | "raw" | "ascii", "bits": n (default: every
                                                   bit of card)}; a 26-bit Wiegand card of
                                                   facility 12, number 3456 is
                                                   {"card": "0606c040", "bits": 26}
    POST /world/readers/<address>/keypad           {"keys": "1234#"} (digits, * and #)
    POST /world/readers/<address>/tamper           {"tampered": true|false} (default true): a
                                                   local status report to the control panel

    GET  /openapi.json                              this API's OpenAPI 3 description

A card read, keys or tamper answer ``{"queued": true}``. Errors are JSON ``{"error": "..."}``
(:mod:`scenarios.control_http`) with 400 (bad input), 404 (no such node on this line, or no
such route), 405 (another method) or 409 (a powered-off reader queued nothing).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from devices.protocols.openapi import (
    JSON,
    OPENAPI_OPERATION,
    OPENAPI_PATH,
    Operation,
    Param,
    Route,
    document,
    json_answer,
    publish,
)
from scenarios.bed import BedError
from scenarios.control_http import (
    BAD_INPUT,
    NO_SUCH,
    ON_BODY,
    TRACE_ANSWER,
    TRACE_PARAMS,
    control_application,
    error,
    flag,
    optional_object,
    path_number,
    refusal,
    shown,
    trace_handler,
    world_clock,
)
from scenarios.rs485.bed import LineBed, ModbusLine, OsdpLine
from sim.rs485 import line_stats

Handler = Callable[[web.Request], Awaitable[web.Response]]


class NotOnLine(BedError):
    """A node (or a slave's point) the line does not hold: 404."""


def control_app(bed: LineBed) -> web.Application:
    """The routes above on ``bed`` (a local line: its nodes are in this world)."""
    app = control_application(bed.world)
    line = bed.bus

    async def world(_request: web.Request) -> web.Response:
        w = bed.world
        return web.json_response(
            {
                **world_clock(w),
                "line": {
                    "name": line.name,
                    "settings": str(line.settings),
                    "frame_gap_s": line.frame_gap,
                    "bit_error_rate": line.bit_error_rate,
                    "stats": line_stats(line),
                    "ports": [p.name for p in line.ports],
                },
                "nodes": bed.nodes(),
            }
        )

    def on(kind: type[LineBed], nodes: str, act: Callable[..., Awaitable[Any]]) -> Handler:
        """A POST route for ``kind`` lines; ``act(request, body)`` does it (BedError -> 4xx)."""

        async def handler(request: web.Request) -> web.Response:
            if not isinstance(bed, kind):
                return error(404, f"this line holds no {nodes}")
            try:
                result = await act(request, await optional_object(request))
            except NotOnLine as exc:
                return error(404, str(exc))
            except BedError as exc:
                return error(400, str(exc))
            if result is False:
                return error(409, "nothing queued: the reader is powered off")
            return web.json_response({"queued": True} if result is True else {"ok": True})

        return handler

    async def slave_power(request: web.Request, body: dict[str, Any]) -> Any:
        assert isinstance(bed, ModbusLine)
        unit = _known(bed.slaves, path_number(request, "unit"), "slave with unit")
        await bed.set_power(unit, flag(body, "on"))

    async def point_failure(request: web.Request, body: dict[str, Any]) -> Any:
        assert isinstance(bed, ModbusLine)
        unit = _known(bed.slaves, path_number(request, "unit"), "slave with unit")
        slave = bed.slaves[unit]
        point = request.match_info["point"]
        try:
            slave.fail_point(point, flag(body, "failed", True))
        except KeyError as exc:
            raise NotOnLine(str(exc.args[0])) from None

    def reader(request: web.Request) -> int:
        assert isinstance(bed, OsdpLine)
        return _known(bed.readers, path_number(request, "address"), "reader at address")

    async def reader_power(request: web.Request, body: dict[str, Any]) -> Any:
        assert isinstance(bed, OsdpLine)
        await bed.set_power(reader(request), flag(body, "on"))

    async def card(request: web.Request, body: dict[str, Any]) -> Any:
        assert isinstance(bed, OsdpLine)
        address = reader(request)
        text, bits = body.get("card"), body.get("bits")
        try:
            data = bytes.fromhex(text) if isinstance(text, str) and text.isascii() else None
        except ValueError:
            data = None
        if data is None:
            raise BedError(f"card must be the card's data as hex digits, got {shown(text)}")
        if bits is not None and (not isinstance(bits, int) or isinstance(bits, bool)):
            raise BedError(f"bits must be a whole number, got {shown(bits)}")
        return await bed.read_card(address, data, bits, str(body.get("format", "wiegand"))[:20])

    async def keypad(request: web.Request, body: dict[str, Any]) -> Any:
        assert isinstance(bed, OsdpLine)
        keys = body.get("keys")
        if not isinstance(keys, str):
            raise BedError(f"keys must be a string of digits, * and #, got {shown(keys)}")
        return await bed.press_keys(reader(request), keys)

    async def tamper(request: web.Request, body: dict[str, Any]) -> Any:
        assert isinstance(bed, OsdpLine)
        return await bed.tamper(reader(request), flag(body, "tampered", True))

    app.router.add_get("/world", world)
    app.router.add_get("/world/trace", trace_handler(bed.world))
    app.router.add_post("/world/slaves/{unit}/power", on(ModbusLine, "Modbus slaves", slave_power))
    app.router.add_post(
        "/world/slaves/{unit}/points/{point}/failure",
        on(ModbusLine, "Modbus slaves", point_failure),
    )
    for route, act in (
        ("power", reader_power),
        ("card", card),
        ("keypad", keypad),
        ("tamper", tamper),
    ):
        app.router.add_post(
            f"/world/readers/{{address}}/{route}", on(OsdpLine, "OSDP readers", act)
        )
    publish(app, build_document)
    return app


def _known(nodes: dict[int, Any], number: int, what: str) -> int:
    if number not in nodes:
        known = ", ".join(map(str, sorted(nodes))) or "none"
        raise NotOnLine(f"no {what} {number} on this line; on it: {known}")
    return number


UNIT = Param("unit", {"type": "integer", "minimum": 1, "maximum": 247}, where="path")
ADDRESS = Param("address", {"type": "integer", "minimum": 0, "maximum": 126}, where="path")
QUEUED = json_answer("queued", {"type": "object", "properties": {"queued": {"type": "boolean"}}})
DONE = json_answer("done", {"type": "object", "properties": {"ok": {"type": "boolean"}}})
POWERED_OFF = refusal("nothing queued: the reader is powered off")


def _node_route(summary: str, params: tuple[Param, ...], ok: Any, body: Any) -> Operation:
    answers = {200: ok, 400: BAD_INPUT, 404: NO_SUCH}
    if ok is QUEUED:
        answers[409] = POWERED_OFF
    return Operation(summary, answers, params, body=body)


def _object(**properties: Any) -> dict[str, Any]:
    return {JSON: {"type": "object", "properties": properties}}


OPERATIONS: dict[Route, Operation] = {
    ("GET", "/world"): Operation(
        "time, calendar, seed, clock, scale, the line and its nodes",
        {200: json_answer("the world", {"type": "object"})},
    ),
    ("GET", "/world/trace"): Operation(
        "the world's timeline since a time", {200: TRACE_ANSWER, 400: BAD_INPUT}, TRACE_PARAMS
    ),
    ("POST", "/world/slaves/{unit}/power"): _node_route(
        "power a Modbus slave on or off", (UNIT,), DONE, ON_BODY
    ),
    ("POST", "/world/slaves/{unit}/points/{point}/failure"): _node_route(
        "a point's sensor fails (its registers answer exception 4) or recovers",
        (UNIT, Param("point", where="path")),
        DONE,
        _object(failed={"type": "boolean", "default": True}),
    ),
    ("POST", "/world/readers/{address}/power"): _node_route(
        "power an OSDP reader on or off", (ADDRESS,), DONE, ON_BODY
    ),
    ("POST", "/world/readers/{address}/card"): _node_route(
        "a card read at the reader",
        (ADDRESS,),
        QUEUED,
        _object(
            card={"type": "string", "pattern": "^([0-9A-Fa-f]{2})+$"},
            format={"type": "string", "enum": ["wiegand", "raw", "ascii"]},
            bits={"type": "integer", "minimum": 1},
        ),
    ),
    ("POST", "/world/readers/{address}/keypad"): _node_route(
        "keys pressed at the reader",
        (ADDRESS,),
        QUEUED,
        _object(keys={"type": "string", "pattern": "^[0-9*#]*$"}),
    ),
    ("POST", "/world/readers/{address}/tamper"): _node_route(
        "the reader reports tamper (or its end)",
        (ADDRESS,),
        QUEUED,
        _object(tampered={"type": "boolean", "default": True}),
    ),
    ("GET", OPENAPI_PATH): OPENAPI_OPERATION,
}


def build_document() -> dict[str, Any]:
    return document(
        "RS485 line world control",
        "1.0",
        OPERATIONS,
        "Power, fail and drive the Modbus slaves or OSDP readers of a served RS485 line.",
    )
