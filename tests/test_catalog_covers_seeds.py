"""Every call and endpoint a seed names is named by a requirement of its catalog (`covers`).

The names are read from the seeds themselves (`../shared/seeds`, or `$HIL_SEEDS_DIR`), so a
catalog that forgets a call fails here; without the seeds the tests skip.

- Seed 000 (Connect Master): every call is a `### <Name>` heading; the facts sheet lists the same
  calls as the ConnectMaster rpcs.
- Seed 001 (ThingsBoard gateway MQTT API): every `v1/gateway/...` topic the seed names; the
  facts sheet adds the gateway's own device API topic of getSessionLimits, which `covers` may
  name too (nothing else).
- Seed 002 (BLE router): a router endpoint of the local API is one the seed gives under a
  `Local:` label (or, for the login, as a bare `http://{gateway ip}/...` URL after "send a POST
  request"). APIs the seed offers only through the access controller ("only available through
  Cassia AC": hubs, positioning, auto-selection, the combined SSE) have no `Local:` form; they
  must not appear in ble-router's `covers`.
- Seed 002 (access controller): an AC endpoint is one the seed gives as
  `METHOD http://{your AC domain}/api/...` — the AC-only APIs and the router-addressed form of
  the router calls; ble-ac's `covers` must name every one.
- Seed 003 (Device2): every operation the seed calls as `Device2.<name>(...)`; device2's `covers`
  may also name the gateway `event` and the operations the seed describes without naming them
  (identity state, identity permission, gateway settings).
"""

from __future__ import annotations

import re

import pytest

from conformance.catalog import Catalog, load_catalog
from conformance.sources import Documents

# The seed's heading misspells one call; the facts sheet names the rpc clients actually call.
SEED_SPELLINGS = {"GetSlaveDeviceIDB": "GetSlaveDeviceDB"}
# Query parameters that pick a different operation on the same path (scan vs connected list,
# all services vs one service); every other parameter is an option of the operation.
SELECTORS = ("event", "connection_state", "uuid")

_HEADING = re.compile(r"^### (\w+)\s*$", re.MULTILINE)
_LOCAL = re.compile(r"^(GET|POST|PUT|DELETE) http://\{[^}]+\}(/\S*)")
_BARE_LOCAL = re.compile(r"^http://\{gateway ip\}(/\S*)$")
_METHOD_WORD = re.compile(r"\b(GET|POST|PUT|DELETE) request\b")
_GATEWAY_TOPIC = re.compile(r"v1/gateway/[a-z/]+[a-z]")
_DEVICE_TOPIC = re.compile(r"v1/devices/me/[a-z/]+/<n>")
_AC = re.compile(r"\b(GET|POST|PUT|DELETE) http://\{your AC domain\}/api(/\S*)")


@pytest.fixture(scope="module")
def documents() -> Documents:
    docs = Documents.discover()
    if not docs.seeds.is_dir():
        pytest.skip(f"seeds not found at {docs.seeds} (set HIL_SEEDS_DIR to check coverage)")
    return docs


def seed_text(documents: Documents, catalog: Catalog) -> str:
    assert catalog.seed, f"catalog {catalog.profile} names no seed"
    return (documents.seeds / catalog.seed).read_text(encoding="utf-8")


def connect_master_calls(seed: str) -> list[str]:
    return [SEED_SPELLINGS.get(name, name) for name in _HEADING.findall(seed)]


def facts_master_rpcs(facts: str) -> set[str]:
    connect = re.search(r"`Connect` rpcs: (.*?)\.\n- `ConnectMaster`", facts, re.DOTALL)
    master = re.search(r"`ConnectMaster` rpcs: all of the above plus (.*?)\. Its", facts, re.DOTALL)
    assert connect and master, "facts sheet layout changed: rpc lists not found"
    names = f"{connect[1]}, {master[1]}".replace("\n", " ")
    return {re.sub(r"\s*\(.*", "", n).strip() for n in names.split(",")}


def endpoint_name(method: str, target: str) -> str:
    """`METHOD /path[?selector=value]`: options and example values of parameters dropped."""
    path, _, query = target.partition("?")
    kept = [p for p in query.split("&") if p.partition("=")[0] in SELECTORS]
    return f"{method} {path}" + (f"?{'&'.join(kept)}" if kept else "")


def _instance_of(name: str, template: str) -> bool:
    """`GET /a/37/value/0100` is an example of `GET /a/<handle>/value/<value>`."""
    parts, slots = name.split("/"), template.split("/")
    if name == template or len(parts) != len(slots):
        return False
    return all(
        p == s or (s.startswith("<") and not p.startswith("<"))
        for p, s in zip(parts, slots, strict=True)
    )


def _templates(names: set[str]) -> set[str]:
    return {n for n in names if not any(_instance_of(n, t) for t in names)}


def local_endpoints(seed: str) -> set[str]:
    lines = [line.strip() for line in seed.splitlines()]
    names = set()
    for i, line in enumerate(lines):
        if line == "Local:":
            target = next(following for following in lines[i + 1 :] if following)
            found = _LOCAL.match(target)
            assert found, f"a Local: label is followed by {target!r}, not METHOD URL"
            names.add(endpoint_name(found[1], found[2]))
        elif bare := _BARE_LOCAL.match(line):
            method = _METHOD_WORD.search(" ".join(lines[max(0, i - 3) : i]))
            assert method, f"no method named before the bare URL {line!r}"
            names.add(endpoint_name(method[1], bare[1]))
    return _templates(names)


def ac_only_endpoints(seed: str, local: set[str]) -> set[str]:
    names = {endpoint_name(m[1], m[2]) for m in _AC.finditer(seed)}
    return {n for n in _templates(names | local) if n not in local}


def covered(catalog: Catalog) -> set[str]:
    return {name for req in catalog.requirements for name in req.covers}


def test_every_connect_master_call_is_named_by_a_requirement(documents: Documents) -> None:
    catalog = load_catalog("connect-master")
    calls = connect_master_calls(seed_text(documents, catalog))
    assert len(calls) == len(set(calls)) == 27, calls
    facts = documents.shared / "specs" / "gsdk-wire-facts.md"
    if facts.is_file():  # the facts sheet names the same calls as the ConnectMaster rpcs
        assert set(calls) == facts_master_rpcs(facts.read_text(encoding="utf-8"))
    assert sorted(set(calls) - covered(catalog)) == []
    assert sorted(covered(catalog) - set(calls)) == [], "covers names a call the seed lacks"


def test_every_local_router_endpoint_is_named_by_a_requirement(documents: Documents) -> None:
    catalog = load_catalog("ble-router")
    seed = seed_text(documents, catalog)
    local = local_endpoints(seed)
    for expected in (
        "GET /gap/nodes?event=1",
        "GET /gap/nodes?connection_state=connected",
        "GET /gatt/nodes/<node>/handle/<handle>/value/<value>",
        "POST /cassia/login",
        "DELETE /management/nodes/<node>/bond",
    ):
        assert expected in local
    assert "GET /gatt/nodes/<node>/handle/37/value/0100" not in local  # an example, not an API
    assert sorted(local - covered(catalog)) == []
    assert sorted(covered(catalog) - local) == [], "covers names an endpoint the seed lacks"


def test_access_controller_only_apis_stay_out_of_the_router_profile(documents: Documents) -> None:
    catalog = load_catalog("ble-router")
    seed = seed_text(documents, catalog)
    ac_only = ac_only_endpoints(seed, local_endpoints(seed))
    for expected in ("GET /cassia/hubs", "GET /aps/events", "POST /aps/connections/connect"):
        assert expected in ac_only
    assert not ac_only & covered(catalog)


def test_endpoint_names_keep_selectors_and_drop_options() -> None:
    assert endpoint_name("GET", "/gap/nodes?event=1&filter_mac=<mac1>") == "GET /gap/nodes?event=1"
    assert endpoint_name("GET", "/gap/rssi?mac=<gateway-mac>") == "GET /gap/rssi"
    assert _templates({"GET /a/<h>/v", "GET /a/37/v", "GET /b/37/v"}) == {
        "GET /a/<h>/v",
        "GET /b/37/v",
    }
    seed = "x\nLocal:\n\nGET http://{gateway ip}/x/<n>?uuid=<uuid>&mac=<m>\n"
    seed += (
        "Send the POST request to the login API. For example:\nhttp://{gateway ip}/cassia/login\n"
    )
    assert local_endpoints(seed) == {"GET /x/<n>?uuid=<uuid>", "POST /cassia/login"}


def gateway_topics(text: str) -> set[str]:
    return set(_GATEWAY_TOPIC.findall(text))


def test_every_gateway_topic_is_named_by_a_requirement(documents: Documents) -> None:
    catalog = load_catalog("mqtt-gateway")
    topics = gateway_topics(seed_text(documents, catalog))
    for expected in ("v1/gateway/connect", "v1/gateway/attributes/request", "v1/gateway/claim"):
        assert expected in topics
    assert len(topics) == 8, topics
    assert sorted(topics - covered(catalog)) == []
    facts = documents.shared / "specs" / "thingsboard-gateway-facts.md"
    extra = (
        set(_DEVICE_TOPIC.findall(facts.read_text(encoding="utf-8"))) if facts.is_file() else set()
    )
    assert "v1/devices/me/rpc/request/<n>" in extra or not facts.is_file()
    assert sorted(covered(catalog) - topics - extra) == [], "covers names a topic no document has"


def test_gateway_topics_are_read_whole() -> None:
    text = "Topic: v1/gateway/attributes/request\n`v1/gateway/rpc`, and v1/gateway/connect."
    assert gateway_topics(text) == {
        "v1/gateway/attributes/request",
        "v1/gateway/rpc",
        "v1/gateway/connect",
    }


def ac_endpoint_names(seed: str) -> tuple[set[str], set[str]]:
    """(the AC endpoints, as templates; every AC endpoint name the seed writes, examples too)."""
    names = {endpoint_name(m[1], m[2]) for m in _AC.finditer(seed)}
    return _templates(names), names


def test_every_access_controller_endpoint_is_named_by_a_requirement(documents: Documents) -> None:
    catalog = load_catalog("ble-ac")
    seed = seed_text(documents, catalog)
    endpoints, written = ac_endpoint_names(seed)
    for expected in (
        "GET /cassia/hubs",
        "GET /cassia/hubs/<gateway-mac>",
        "GET /aps/events",
        "POST /aps/connections/connect",
        "GET /middleware/position/by-device/<device_mac>",
        "GET /gap/nodes?event=1",
        "POST /gap/nodes/<node>/connection",
    ):
        assert expected in endpoints
    assert sorted(endpoints - covered(catalog)) == []
    assert sorted(covered(catalog) - endpoints - written) == [], (
        "covers names an endpoint the seed lacks"
    )


_DEVICE2_OPERATION = re.compile(r"\bDevice2\.(\w+)\(")
# described by the seed under "Identity state", its permission and settings tables, unnamed
DEVICE2_UNNAMED = {
    "event",
    "getIdentityState",
    "setIdentityState",
    "getIdentityPermission",
    "updateIdentityPermission",
    "getGatewaySettings",
    "updateGatewaySettings",
}


def device2_operations(seed: str) -> set[str]:
    return set(_DEVICE2_OPERATION.findall(seed))


def test_every_device2_operation_is_named_by_a_requirement(documents: Documents) -> None:
    catalog = load_catalog("device2")
    operations = device2_operations(seed_text(documents, catalog))
    for expected in ("addIdentity", "aggrquerySignals", "publishData", "getDeviceMetrics"):
        assert expected in operations
    assert len(operations) == 33, sorted(operations)
    assert sorted(operations - covered(catalog)) == []
    assert sorted(covered(catalog) - operations - DEVICE2_UNNAMED) == [], (
        "covers names an operation the seed lacks"
    )


def test_device2_operations_are_read_from_calls_only() -> None:
    text = "- Device2.addIdentity()\nDevice2 gateway event.\nlocal r = Device2.getDeviceMetrics(b)"
    assert device2_operations(text) == {"addIdentity", "getDeviceMetrics"}
