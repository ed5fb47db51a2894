"""The Device2 API's contract: the OpenAPI description and the routes are generated from the
same tables and agree both ways, every operation the seed names is routed, and bad input of any
shape to any operation is answered 4xx, never 500."""

from __future__ import annotations

import itertools
import re

import pytest

from conformance.sources import Documents
from devices.cloud.device2 import OPERATIONS as DOMAIN_OPERATIONS
from devices.cloud.device2 import Device2Error, Device2Service, build_app, serve_device2
from devices.cloud.device2.api import status_of
from devices.cloud.device2.client import Device2Client
from devices.cloud.device2.local import LocalDevice2
from devices.cloud.device2.openapi import describe
from devices.cloud.device2.operations import OPERATIONS
from devices.cloud.device2.routes import BASE
from devices.protocols.http_client import HttpClient
from sim.world import World

SEED = "003_6641300f028869b8.txt"
# operations the seed describes without naming them: the names we gave them
UNNAMED = {
    "getIdentityState",
    "setIdentityState",
    "getIdentityPermission",
    "updateIdentityPermission",
    "getGatewaySettings",
    "getSolutionPairing",
}


@pytest.fixture
def app(tmp_path):
    world = World(seed=1)
    service = Device2Service(world, tmp_path / "d2.db")
    yield build_app(service)
    service.close()
    world.close()


def routed(app):
    return {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }


def documented():
    return {(method.upper(), path) for path, ops in describe()["paths"].items() for method in ops}


def test_every_route_is_documented_and_every_documented_path_is_routed(app):
    assert routed(app) == documented()


def test_the_description_is_openapi_3_with_unique_operation_ids():
    doc = describe()
    assert doc["openapi"].startswith("3.")
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    for ops in doc["paths"].values():
        for op in ops.values():
            assert op["responses"] and op["summary"]
            for param in op.get("parameters", []):
                assert param["in"] in ("path", "query") and "schema" in param


def test_the_operation_tables_agree():
    assert set(OPERATIONS) == set(DOMAIN_OPERATIONS)
    paths = describe()["paths"]
    for name, op in OPERATIONS.items():
        post = paths[f"{BASE}/{name}"]["post"]
        assert str(op.success) in post["responses"]
        schema = post["requestBody"]["content"]["application/json"]["schema"]
        assert set(schema["properties"]) == {p.name for p in op.params}


def test_every_operation_the_seed_names_is_routed():
    documents = Documents.discover()
    seed = documents.seeds / SEED
    if not seed.is_file():
        pytest.skip(f"seed not found at {seed} (set HIL_SEEDS_DIR to check)")
    named = set(re.findall(r"Device2\.(\w+)\(", seed.read_text(encoding="utf-8")))
    assert named >= {"listIdentities", "publishData", "getDeviceMetrics", "queryResource"}
    assert named | UNNAMED <= set(OPERATIONS)


def test_the_openapi_document_is_served(tmp_path):
    with LocalDevice2(tmp_path / "d2.db") as d2:
        served = d2.run(d2.client.http.request("GET", "/openapi.json"))
        health = d2.run(d2.client.http.request("GET", "/health"))
    assert served.status == 200 and served.json() == describe()
    assert (health.status, health.text) == (200, "OK")


BAD_VALUES = [
    None,
    True,
    -1,
    0,
    10**20,
    1.5,
    float("nan"),
    "",
    "x",
    "(",
    "a,,b",
    "'; DROP TABLE",
    "\x00",
    [],
    [1, "a"],
    [{}],
    {},
    {"a": [1]},
    "9" * 400,
]


def test_bad_input_to_any_operation_never_fails_inside(tmp_path):
    """Every parameter of every operation given every bad value: a domain error, never another
    exception (which the API would answer 500)."""
    world = World(seed=1)
    service = Device2Service(world, tmp_path / "d2.db", tmp_path / "archive")
    gw = service.ensure_gateway("example")
    gw.call("addIdentity", {"identity": "dev1"})
    gw.call("addResource", {"alias": "temp", "format": "number", "settable": True})
    base = {
        "identity": "dev1",
        "alias": "temp",
        "resource": "temp",
        "signal": "temp",
        "signals": ["temp"],
        "name": "n",
        "task_id": "t",
    }
    statuses = set()
    try:
        for name, op in OPERATIONS.items():
            known = {p.name for p in op.params}
            valid = {k: v for k, v in base.items() if k in known}
            for param, value in itertools.product(op.params, BAD_VALUES):
                try:
                    gw.call(name, {**valid, param.name: value})
                    statuses.add(op.success)
                except Device2Error as exc:
                    statuses.add(status_of(exc))
                    assert status_of(exc) in (400, 404, 409), (name, param.name, value, exc)
    finally:
        service.close()
        world.close()
    assert 400 in statuses


def test_bad_bodies_and_query_strings_are_answered_400(tmp_path):
    with LocalDevice2(tmp_path / "d2.db") as d2:
        http = d2.client.http
        base = d2.client.base

        async def probe():
            answers = []
            for name in OPERATIONS:
                for raw in (b"[1, 2]", b"\xff\xfe", b'"text"', b"{", b"null"):
                    answers.append(await http.request("POST", f"{base}/{name}", raw=raw))
            for path in ("", "/identity/", "/identity/dev1", "/identity/dev1/state"):
                answers.append(await http.request("GET", base + path, params={"limit": "x"}))
            answers.append(await http.request("PUT", base + "/identity/dev1", raw=b"[]"))
            answers.append(
                await http.request(
                    "POST",
                    base + "/identities",
                    raw=b"x",
                    headers={"Content-Type": "multipart/form-data"},
                )
            )
            answers.append(await http.request("DELETE", base + "/listIdentities"))
            answers.append(await http.request("GET", "/api:1/nothing"))
            return answers

        answers = d2.run(probe())
    assert {a.status for a in answers} <= {400, 404, 405}
    assert all(a.json()["status"] == a.status for a in answers)


def test_served_on_a_real_socket(tmp_path):
    world = World(seed=1, clock="real")

    async def main():
        server = await serve_device2(world, tmp_path / "d2.db", "127.0.0.1", 0)
        try:
            client = Device2Client(HttpClient(server.url))
            added = await client.call("addIdentity", {"identity": "dev1"})
            listed = await client.rest("GET", "/identity/")
            return server.url, added, listed
        finally:
            await server.close()

    try:
        url, added, listed = world.run(main())
    finally:
        world.close()
    assert not url.endswith(":0")
    assert added.status == 204
    assert [d["identity"] for d in listed.json()["devices"]] == ["dev1"]
