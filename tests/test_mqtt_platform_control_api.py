"""The platform's HTTP control API, in-world (virtual time): every route against its OpenAPI
description, the admin key, the answers to good and bad input (400 naming the field, never
500), RPC over HTTP (200, 409 no active connection, 504 timeout)."""

from __future__ import annotations

import asyncio

import pytest

from devices.cloud.mqtt_platform.control_api import control_app
from devices.cloud.mqtt_platform.openapi import document
from devices.cloud.mqtt_platform.serve_support import start_platform
from devices.protocols.http_client import HttpClient
from devices.protocols.http_server import serve
from tests.mqtt_platform_support import PlatformBed

KEY = "test-admin-key"
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def bed():
    b = PlatformBed()
    yield b
    b.close()


def routed(app) -> set[tuple[str, str]]:
    return {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.method.lower() in METHODS
    }


def described(doc) -> set[tuple[str, str]]:
    return {(m, path) for path, ops in doc["paths"].items() for m in ops if m in METHODS}


def test_every_route_is_described_and_every_description_routed(bed):
    doc = document()
    assert doc["openapi"].startswith("3.")
    assert routed(control_app(bed.platform, KEY)) == described(doc)
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            params = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert params == {seg[1:-1] for seg in path.split("/") if seg.startswith("{")}, (
                method,
                path,
            )
            assert op["responses"], (method, path)


async def start_api(bed):
    served = await serve(control_app(bed.platform, KEY), bed.world, "platform", 8080, bed.net)
    auth = {"Authorization": f"Bearer {KEY}"}
    return served, HttpClient(served.url, connect=bed.net.open_connection, headers=auth)


def test_the_admin_key_guards_the_api_but_not_its_description(bed):
    async def main():
        served, _client = await start_api(bed)
        anonymous = HttpClient(served.url, connect=bed.net.open_connection)
        wrong = HttpClient(
            served.url, connect=bed.net.open_connection, headers={"Authorization": "Bearer no"}
        )
        answers = [
            (await anonymous.request("GET", "/api/gateways")).status,
            (await wrong.request("GET", "/api/gateways")).status,
            (await anonymous.request("GET", "/openapi.json")).status,
        ]
        await served.close()
        return answers

    assert bed.run(main()) == [401, 401, 200]


def test_gateways_devices_telemetry_and_attributes_over_http(bed):
    async def main():
        served, api = await start_api(bed)
        created = await api.request(
            "POST", "/api/gateways", json_body={"name": "gw-h", "tenant": "t1"}
        )
        assert created.status == 201
        token = created.json()["token"]
        assert (
            await api.request("POST", "/api/gateways", json_body={"name": "gw-h", "tenant": "t1"})
        ).status == 409
        gw = bed.gateway(token=token, client_id="gw-h")
        assert await gw.connect() == 0
        await gw.send("v1/gateway/connect", {"device": "Dev 1", "type": "meter"})
        body = {"Dev 1": [{"ts": 10, "values": {"a": 1, "b": "x"}}, {"ts": 20, "values": {"a": 2}}]}
        await gw.send("v1/gateway/telemetry", body)
        await gw.send("v1/gateway/attributes", {"Dev 1": {"fw": "1"}})
        t1 = {"tenant": "t1"}
        pushed = await api.request(
            "POST", "/api/devices/Dev%201/attributes/shared", params=t1, json_body={"rate": 3}
        )
        await asyncio.sleep(0.1)
        answers = {
            "gateways": (await api.request("GET", "/api/gateways", params=t1)).json(),
            "devices": (await api.request("GET", "/api/gateways/gw-h/devices", params=t1)).json(),
            "device": (await api.request("GET", "/api/devices/Dev%201", params=t1)).json(),
            "all": (await api.request("GET", "/api/devices/Dev%201/telemetry", params=t1)).json(),
            "a since 15": (
                await api.request(
                    "GET", "/api/devices/Dev%201/telemetry", params={**t1, "key": "a", "since": 15}
                )
            ).json(),
            "client": (
                await api.request("GET", "/api/devices/Dev%201/attributes", params=t1)
            ).json(),
            "shared": (
                await api.request(
                    "GET", "/api/devices/Dev%201/attributes", params={**t1, "scope": "shared"}
                )
            ).json(),
            "pushed": pushed.json(),
        }
        await served.close()
        return answers, gw.received("v1/gateway/attributes")

    answers, pushes = bed.run(main())
    assert answers["gateways"] == [{"name": "gw-h", "tenant": "t1", "connections": 1, "devices": 1}]
    assert [d["name"] for d in answers["devices"]] == ["Dev 1"]
    device = answers["device"]
    assert (device["type"], device["gateway"], device["active"], device["isGateway"]) == (
        "meter",
        "gw-h",
        True,
        False,
    )
    assert answers["all"] == [
        {"ts": 10, "key": "a", "value": 1},
        {"ts": 10, "key": "b", "value": "x"},
        {"ts": 20, "key": "a", "value": 2},
    ]
    assert answers["a since 15"] == [{"ts": 20, "key": "a", "value": 2}]
    assert answers["client"] == {"fw": "1"}
    assert answers["shared"] == {"rate": 3}
    assert answers["pushed"] == {"keys": ["rate"], "pushed": True}
    assert pushes == [{"device": "Dev 1", "data": {"rate": 3}}]


def test_rpc_over_http(bed):
    gw = bed.gateway()
    gw.on_rpc = lambda r: {"device": r["device"], "id": r["data"]["id"], "data": {"ok": True}}

    async def main():
        served, api = await start_api(bed)
        await gw.connect()
        await gw.send("v1/gateway/connect", {"device": "A"})
        ok = await api.request(
            "POST", "/api/devices/A/rpc", json_body={"method": "go", "params": {}}
        )
        gw.on_rpc = None
        started = bed.world.now
        late = await api.request(
            "POST", "/api/devices/A/rpc", json_body={"method": "go", "timeout": 1000}
        )
        waited = bed.world.now - started
        await gw.send("v1/gateway/disconnect", {"device": "A"})
        gone = await api.request("POST", "/api/devices/A/rpc", json_body={"method": "go"})
        await served.close()
        return ok, late, waited, gone

    ok, late, waited, gone = bed.run(main())
    assert (ok.status, ok.json()) == (200, {"ok": True})
    assert late.status == 504 and "no reply in 5 s" in late.json()["error"]
    assert 5 <= waited < 5.5  # 1000 ms is raised to the 5 s minimum
    assert gone.status == 409 and "no active connection" in gone.json()["error"]


BAD_REQUESTS = [
    ("POST", "/api/gateways", {"raw": b"{nope"}, 400, "body"),
    ("POST", "/api/gateways", {"json_body": ["gw"]}, 400, "body"),
    ("POST", "/api/gateways", {"json_body": {"name": ""}}, 400, "name"),
    ("POST", "/api/gateways", {"json_body": {"name": 5}}, 400, "name"),
    ("POST", "/api/gateways", {"json_body": {"name": "g", "tenant": None}}, 400, "tenant"),
    ("GET", "/api/gateways/nope/devices", {}, 404, "nope"),
    ("GET", "/api/gateways/A/devices", {}, 404, "A"),  # a device, not a gateway
    ("GET", "/api/devices/nope", {}, 404, "nope"),
    ("GET", "/api/devices/A", {"params": {"tenant": ""}}, 400, "tenant"),
    ("GET", "/api/devices/A/telemetry", {"params": {"since": "yesterday"}}, 400, "since"),
    ("GET", "/api/devices/A/telemetry", {"params": {"since": str(10**30)}}, 400, "since"),
    ("GET", "/api/devices/A/attributes", {"params": {"scope": "server"}}, 400, "scope"),
    ("GET", "/api/devices/A/telemetry", {"params": {"tenant": "other"}}, 404, "other"),
    ("POST", "/api/devices/A/attributes/shared", {"json_body": {}}, 400, "attributes"),
    ("POST", "/api/devices/A/attributes/shared", {"json_body": {"k": None}}, 400, "'k'"),
    ("POST", "/api/devices/A/attributes/shared", {"raw": b"[1]"}, 400, "body"),
    ("POST", "/api/devices/A/rpc", {"json_body": {"params": {}}}, 400, "method"),
    ("POST", "/api/devices/A/rpc", {"json_body": {"method": 7}}, 400, "method"),
    ("POST", "/api/devices/A/rpc", {"json_body": {"method": "m", "timeout": "x"}}, 400, "timeout"),
    ("POST", "/api/devices/A/rpc", {"json_body": {"method": "m", "timeout": -5}}, 400, "timeout"),
    ("POST", "/api/devices/nope/rpc", {"json_body": {"method": "m"}}, 404, "nope"),
]


def test_bad_input_gets_a_4xx_naming_what_was_wrong(bed):
    gw = bed.gateway()

    async def main():
        served, api = await start_api(bed)
        await gw.connect()
        await gw.send("v1/gateway/connect", {"device": "A"})
        answers = []
        for method, path, kwargs, _status, _word in BAD_REQUESTS:
            answers.append(await api.request(method, path, **kwargs))
        await served.close()
        return answers

    for (method, path, _kwargs, status, word), answer in zip(
        BAD_REQUESTS, bed.run(main()), strict=True
    ):
        assert answer.status == status, (method, path, answer.text)
        assert word in answer.json()["error"], (method, path, answer.text)


def test_start_platform_in_world_with_gateways_and_a_generated_key():
    bed = PlatformBed()
    try:

        async def main():
            await bed.platform.close()  # start_platform brings its own, at the same address
            served = await start_platform(
                bed.world,
                host="platform",
                mqtt_port=1883,
                control_port=8080,
                gateways=[("gw-s", "default"), ("gw-t", "other")],
                net=bed.net,
            )
            bed.platform = served.platform
            gw = bed.gateway(token=served.tokens[("default", "gw-s")], client_id="gw-s")
            connack = await gw.connect()
            api = HttpClient(
                served.control.url,
                connect=bed.net.open_connection,
                headers={"Authorization": f"Bearer {served.admin_key}"},
            )
            listed = (await api.request("GET", "/api/gateways")).json()
            await served.control.close()
            return served, connack, listed

        served, connack, listed = bed.run(main())
        assert connack == 0 and served.mqtt_address == "platform:1883"
        assert len(served.admin_key) >= 32
        assert [(g["tenant"], g["name"], g["connections"]) for g in listed] == [
            ("default", "gw-s", 1),
            ("other", "gw-t", 0),
        ]
    finally:
        bed.close()
