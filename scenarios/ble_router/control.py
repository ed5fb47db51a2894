"""The BLE router's world-control API: how a harness in another process places, moves and
powers the peripherals of a world it does not own (``hil serve ble-router`` exposes it beside
the router; :class:`scenarios.ble_router.bed.RemoteBleBed` is its client).

    GET    /world                               time, seed, clock, peripherals
    POST   /world/peripherals                   a peripheral spec (JSON) -> 201 {name, address}
    DELETE /world/peripherals                   remove every peripheral (powered off first)
    GET    /world/peripherals/<name>            its state: address, position, powered, writes
    POST   /world/peripherals/<name>/position   {"position": [x, y, z]}
    POST   /world/peripherals/<name>/power      {"on": true|false}
    POST   /world/peripherals/<name>/passkey    {"passkey": 123456}: typed on its keyboard
    GET    /world/trace?since=<t>               the world's timeline records since t

    GET    /openapi.json                        this API's OpenAPI 3 description

Errors are JSON ``{"error": "..."}`` (:mod:`scenarios.control_http`) with 400 (bad input),
404 (unknown peripheral or route), 405 (another method) or 409 (the peripheral cannot take a
passkey now). A new peripheral is all or nothing: its spec is checked whole (every field,
the position, a free name) before anything is built, and a placement that still fails is
undone, so a refused spec never takes its name. ``hci_transport`` (a real controller on this
machine) is not accepted over the wire.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from aiohttp import web

from devices.ble.spec import PeripheralSpec
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
from scenarios.ble_router.bed import LocalBleBed, peripheral_state
from scenarios.control_http import (
    BAD_INPUT,
    NO_SUCH,
    ON_BODY,
    TRACE_ANSWER,
    TRACE_PARAMS,
    Refused,
    control_application,
    flag,
    json_object,
    position,
    refusal,
    shown,
    trace_handler,
    whole_number,
    world_clock,
)

MAX_NAME = 64
# what PeripheralSpec.from_dict raises on values of the wrong shape
_SPEC_ERRORS = (ValueError, TypeError, AttributeError, KeyError, OverflowError, struct.error)


def checked_spec(spec: dict[str, Any], taken: set[str]) -> PeripheralSpec:
    """``spec`` parsed whole, or :class:`Refused` naming the field that is wrong."""
    name = spec.get("name")
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME or "/" in name:
        raise Refused(
            f"name must be a text of 1 to {MAX_NAME} characters without '/', got {shown(name)}"
        )
    if name in taken:
        raise Refused(f"name {name!r} is taken; taken: {', '.join(sorted(taken))}")
    if spec.get("hci_transport"):
        raise Refused(
            "hci_transport (a real controller on the serving machine) is not "
            "accepted over world control"
        )
    position(spec.get("position", [1.0, 0.0, 0.0]))
    power = spec.get("tx_power_dbm", 0.0)
    if isinstance(power, bool) or not isinstance(power, int | float) or not -100 <= power <= 30:
        raise Refused(f"tx_power_dbm must be a number of dBm from -100 to 30, got {shown(power)}")
    try:
        return PeripheralSpec.from_dict(spec)
    except _SPEC_ERRORS as exc:
        raise Refused(f"peripheral spec refused: {_field_of(spec, exc)}") from None


def _field_of(spec: dict[str, Any], exc: Exception) -> str:
    """``exc``'s message, naming the top-level field that caused it when it does not."""
    message = str(exc) or type(exc).__name__
    if message.startswith("peripheral "):  # a SpecError: it names its field
        return message
    base = {k: spec[k] for k in ("name", "address") if k in spec}
    for key in spec:
        try:
            PeripheralSpec.from_dict({**base, key: spec[key]})
        except _SPEC_ERRORS:
            return f"field {key!r}: {shown(spec[key])} is not accepted ({message})"
    return message


def peripheral_routes(app: web.Application, bed: Any) -> Callable[[web.Request], str]:
    """The peripheral routes every BLE world's control has (place, remove all, state, move,
    power; :data:`PERIPHERAL_OPERATIONS`), on ``app`` for ``bed`` (a router's or an access
    controller's: both keep ``peripherals`` and place, move, power and remove them alike).
    Returns the check that a request's ``{name}`` is a placed peripheral."""

    def known(request: web.Request) -> str:
        name = request.match_info["name"]
        if name not in bed.peripherals:
            placed = ", ".join(sorted(bed.peripherals)) or "none"
            raise Refused(f"no peripheral named {shown(name)}; the world has {placed}", 404)
        return name

    async def add(request: web.Request) -> web.Response:
        spec = await json_object(request)
        parsed = checked_spec(spec, set(bed.peripherals) | set(bed.world.nodes))
        try:
            address = await bed.place(spec)
        except (BedError, *_SPEC_ERRORS) as exc:
            await _undo(bed, parsed.name)
            raise Refused(f"peripheral {parsed.name!r} could not be placed: {exc}") from None
        return web.json_response({"name": parsed.name, "address": address}, status=201)

    async def clear(_request: web.Request) -> web.Response:
        return web.json_response({"removed": await bed.remove_all()})

    async def state(request: web.Request) -> web.Response:
        return web.json_response(await bed.peripheral_state(known(request)))

    async def move(request: web.Request) -> web.Response:
        name = known(request)
        where = position((await json_object(request)).get("position"))
        await bed.move(name, where)
        return web.json_response({"position": where})

    async def power(request: web.Request) -> web.Response:
        name = known(request)
        on = flag(await json_object(request), "on")
        await bed.set_power(name, on)
        return web.json_response({"on": on})

    app.router.add_post("/world/peripherals", add)
    app.router.add_delete("/world/peripherals", clear)
    app.router.add_get("/world/peripherals/{name}", state)
    app.router.add_post("/world/peripherals/{name}/position", move)
    app.router.add_post("/world/peripherals/{name}/power", power)
    return known


def control_app(bed: LocalBleBed) -> web.Application:
    app = control_application(bed.world)
    known = peripheral_routes(app, bed)

    async def world(_request: web.Request) -> web.Response:
        w = bed.world
        return web.json_response(
            {
                **world_clock(w),
                "router": bed.router.mac,
                "peripherals": [peripheral_state(p) for p in bed.peripherals.values()],
            }
        )

    async def passkey(request: web.Request) -> web.Response:
        name = known(request)
        value = whole_number((await json_object(request)).get("passkey"), "passkey", 0, 999999)
        try:
            await bed.type_passkey(name, value)
        except BedError as exc:
            raise Refused(str(exc), 409) from None
        return web.json_response({"typed": value})

    app.router.add_get("/world", world)
    app.router.add_post("/world/peripherals/{name}/passkey", passkey)
    app.router.add_get("/world/trace", trace_handler(bed.world))
    publish(app, build_document)
    return app


async def _undo(bed: Any, name: str) -> None:
    """Take out what a failed placement left (nothing, when it failed before building)."""
    peripheral = bed.peripherals.pop(name, None)
    if peripheral is not None:
        try:
            await peripheral.power_off()
        finally:
            bed.world.remove_node(name)


NAME = Param("name", {"type": "string"}, "the peripheral's name", where="path")
POSITION = {
    "type": "array",
    "items": {"type": "number", "minimum": -1e6, "maximum": 1e6},
    "minItems": 2,
    "maxItems": 3,
    "description": "metres",
}
PERIPHERAL = json_answer("the peripheral's state", {"type": "object"})
PERIPHERAL_OPERATIONS: dict[Route, Operation] = {
    ("POST", "/world/peripherals"): Operation(
        "place a peripheral (a devices.ble.spec PeripheralSpec as JSON), powered on",
        {
            201: json_answer(
                "placed",
                {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "address": {"type": "string"}},
                },
            ),
            400: BAD_INPUT,
        },
        body={
            JSON: {
                "type": "object",
                "required": ["name", "address"],
                "properties": {
                    "name": {"type": "string", "pattern": f"^[^/]{{1,{MAX_NAME}}}$"},
                    "address": {
                        "type": "string",
                        "pattern": "^[0-9A-F]{2}(:[0-9A-F]{2}){5}(/P)?$",
                        "description": "MAC; /P suffix: public",
                    },
                    "position": POSITION,
                    "tx_power_dbm": {"type": "number", "minimum": -100, "maximum": 30},
                    "advertising": {"type": "object"},
                    "services": {"type": "array", "items": {"type": "object"}},
                    "security": {"type": "object"},
                },
            }
        },
        body_required=True,
    ),
    ("DELETE", "/world/peripherals"): Operation(
        "remove every peripheral (powered off first)",
        {200: json_answer("the names removed", {"type": "object"})},
    ),
    ("GET", "/world/peripherals/{name}"): Operation(
        "a peripheral's state: address, position, powered, writes",
        {200: PERIPHERAL, 404: NO_SUCH},
        (NAME,),
    ),
    ("POST", "/world/peripherals/{name}/position"): Operation(
        "move a peripheral",
        {200: json_answer("moved"), 400: BAD_INPUT, 404: NO_SUCH},
        (NAME,),
        body={
            JSON: {
                "type": "object",
                "required": ["position"],
                "properties": {"position": POSITION},
            }
        },
        body_required=True,
    ),
    ("POST", "/world/peripherals/{name}/power"): Operation(
        "power a peripheral on or off",
        {200: json_answer("done"), 400: BAD_INPUT, 404: NO_SUCH},
        (NAME,),
        body=ON_BODY,
        body_required=True,
    ),
}
OPERATIONS: dict[Route, Operation] = {
    ("GET", "/world"): Operation(
        "time, seed, clock, the router's MAC and the peripherals",
        {200: json_answer("the world", {"type": "object"})},
    ),
    **PERIPHERAL_OPERATIONS,
    ("POST", "/world/peripherals/{name}/passkey"): Operation(
        "type a passkey on a peripheral's keyboard (passkey-entry pairing)",
        {
            200: json_answer("typed"),
            400: BAD_INPUT,
            404: NO_SUCH,
            409: refusal("the peripheral waits for no passkey"),
        },
        (NAME,),
        body={
            JSON: {
                "type": "object",
                "required": ["passkey"],
                "properties": {"passkey": {"type": "integer", "minimum": 0, "maximum": 999999}},
            }
        },
        body_required=True,
    ),
    ("GET", "/world/trace"): Operation(
        "the world's timeline since a time", {200: TRACE_ANSWER, 400: BAD_INPUT}, TRACE_PARAMS
    ),
    ("GET", OPENAPI_PATH): OPENAPI_OPERATION,
}


def build_document() -> dict[str, Any]:
    return document(
        "BLE router world control",
        "1.0",
        OPERATIONS,
        "Place, move and power the simulated peripherals around a served BLE router.",
    )
