"""Every HTTP API we serve publishes its OpenAPI 3 description at ``GET /openapi.json``, and
the description agrees with the route table: every route documented, every documented route
served (the router's API and the BLE, Connect Master and RS485 world-control APIs)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp import web

from devices.gateways.ble_router import api_spec
from devices.protocols.http_client import HttpClient
from devices.protocols.http_server import serve
from devices.protocols.openapi import (
    SSE,
    Operation,
    document,
    documented,
    json_answer,
    lint,
    mismatches,
    routes,
)
from scenarios.bed import WorldBed
from scenarios.ble_router import control as ble_control
from scenarios.ble_router.bed import LocalBleBed
from scenarios.connect_master import control as cm_control
from scenarios.connect_master.bed import LocalCmBed
from scenarios.rs485 import control as rs485_control
from scenarios.rs485.bed import LocalModbusLine, LocalOsdpLine
from sim.iplink import IpNetwork


def _router(bed: Any) -> web.Application:
    return bed.router.app


APIS: dict[str, tuple[Callable[[], WorldBed], Callable[[Any], web.Application], Any]] = {
    "ble-router": (LocalBleBed, _router, api_spec.build),
    "ble-router-control": (LocalBleBed, ble_control.control_app, ble_control.build_document),
    "connect-master-control": (
        LocalCmBed,
        cm_control.control_app,
        cm_control.build_document,
    ),
    "rs485-modbus-control": (
        LocalModbusLine,
        rs485_control.control_app,
        rs485_control.build_document,
    ),
    "rs485-osdp-control": (LocalOsdpLine, rs485_control.control_app, rs485_control.build_document),
}


@pytest.fixture(params=sorted(APIS))
def api(request: pytest.FixtureRequest) -> Iterator[tuple[WorldBed, web.Application, Any]]:
    make_bed, make_app, build = APIS[request.param]
    bed = make_bed()
    try:
        yield bed, make_app(bed), build
    finally:
        bed.close()


def test_every_route_is_documented_and_every_documented_route_is_served(api):
    _bed, app, build = api
    doc = build()
    assert mismatches(doc, app) == []
    assert lint(doc) == []
    assert ("GET", "/openapi.json") in documented(doc)


def test_the_document_is_served_at_openapi_json(api):
    bed, app, build = api

    async def fetch() -> Any:
        net = IpNetwork(bed.world, name="openapi-test")
        served = await serve(app, bed.world, "api-under-test", 80, net=net)
        try:
            client = HttpClient(served.url, connect=net.open_connection)
            return await client.request("GET", "/openapi.json")
        finally:
            await served.close()

    answer = bed.run(fetch())
    assert answer.status == 200 and answer.json()["paths"].keys() == build()["paths"].keys()
    assert answer.json()["info"] == build()["info"]
    assert answer.json()["openapi"].startswith("3.")


def test_the_router_describes_its_streams_as_event_streams():
    doc = api_spec.build()
    streams = [
        path
        for path, item in doc["paths"].items()
        for op in item.values()
        if SSE in op["responses"]["200"].get("content", {})
    ]
    assert sorted(streams) == [
        "/gap/nodes",
        "/gap/rssi",
        "/gatt/nodes",
        "/management/nodes/connection-state",
    ]


def test_mismatches_name_what_is_missing_on_either_side():
    app = web.Application()

    async def handler(_request: web.Request) -> web.Response:
        return web.Response()

    app.router.add_get("/a/{x}", handler)
    app.router.add_post("/b", handler)
    doc = document(
        "t",
        "1",
        {
            ("GET", "/a/{x}"): Operation("a", {200: json_answer("ok")}),
            ("DELETE", "/c"): Operation("c", {200: json_answer("ok")}),
        },
    )
    assert routes(app) == {("GET", "/a/{x}"), ("POST", "/b")}
    assert mismatches(doc, app) == [
        "POST /b is routed but not documented",
        "DELETE /c is documented but not routed",
    ]
    broken = {"openapi": "3.0.3", "paths": {"/a/{x}": {"get": {"responses": {}}}}}
    assert lint(broken) == [
        "GET /a/{x}: path parameters ['x'] not declared",
        "GET /a/{x}: no responses",
    ]
