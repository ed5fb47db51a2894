"""Device2 solution resources, identity state (set/reported, sync, simulate, settable), tags,
permissions and gateway settings through the HTTP API, with their bounds and status codes."""

from __future__ import annotations

import pytest

from devices.cloud.device2 import STATE_SET
from devices.cloud.device2.errors import InvalidInput, NotFound, Refused
from devices.cloud.device2.local import LocalDevice2


@pytest.fixture
def d2(tmp_path):
    with LocalDevice2(tmp_path / "d2.db", archive_dir=tmp_path / "archive") as local:
        yield local


def ok(response, status=204):
    assert response.status == status, response.text
    return response.json() if status == 200 else None


def error(response, status, field):
    assert response.status == status, response.text
    assert response.json()["field"] == field, response.json()
    return response.json()


DEFAULT_DEFINITION = {
    "format": "string",
    "settable": False,
    "sync": True,
    "unit": "",
    "allowed": [],
    "initial": None,
    "timeout": None,
    "retention": "12",
    "script": {"qos": 0, "enabled": False},
    "cloud_sync": {"enable": False},
    "replication": {"enabled": False},
}


def test_resources_add_get_list_update(d2):
    ok(d2.call("addResource", {"alias": "note"}))
    assert ok(d2.call("getGatewayResource", {"alias": "note"}), 200) == DEFAULT_DEFINITION
    ok(
        d2.call(
            "addResource",
            {
                "alias": "temp",
                "format": "number",
                "settable": True,
                "sync": False,
                "unit": "°C",
                "allowed": [[-40, 125]],
                "initial": 20,
                "timeout": 30,
                "retention": "36",
                "script": {"qos": 1, "enable": True},
                "cloud_sync": {"enable": True},
                "replication": {"enabled": True},
            },
        )
    )
    temp = ok(d2.call("getGatewayResource", {"alias": "temp"}), 200)
    assert temp == {
        **DEFAULT_DEFINITION,
        "format": "number",
        "settable": True,
        "sync": False,
        "unit": "°C",
        "allowed": [[-40, 125]],
        "initial": 20,
        "timeout": 30,
        "retention": "36",
        "script": {"qos": 1, "enabled": True},
        "cloud_sync": {"enable": True},
        "replication": {"enabled": True},
    }
    assert list(ok(d2.call("getGatewayResourceList"), 200)) == ["note", "temp"]
    ok(d2.call("updateResource", {"alias": "temp", "unit": "K", "timeout": 86400}))
    updated = ok(d2.call("getGatewayResource", {"alias": "temp"}), 200)
    assert (updated["unit"], updated["timeout"], updated["format"]) == ("K", 86400, "number")
    error(d2.call("addResource", {"alias": "temp"}), 409, "alias")
    error(d2.call("getGatewayResource", {"alias": "nope"}), 404, "alias")
    error(d2.call("updateResource", {"alias": "nope", "unit": "m"}), 404, "alias")


@pytest.mark.parametrize(
    "params, field",
    [
        ({}, "alias"),
        ({"alias": "a.b"}, "alias"),
        ({"alias": "$a"}, "alias"),
        ({"alias": "identity"}, "alias"),
        ({"alias": "x" * 129}, "alias"),
        ({"alias": "a", "format": "float"}, "format"),
        ({"alias": "a", "settable": "yes"}, "settable"),
        ({"alias": "a", "timeout": 29}, "timeout"),
        ({"alias": "a", "timeout": 86401}, "timeout"),
        ({"alias": "a", "retention": "24"}, "retention"),
        ({"alias": "a", "initial": "x"}, "initial"),
        ({"alias": "a", "settable": True, "format": "number", "initial": "warm"}, "initial"),
        ({"alias": "a", "allowed": "x"}, "allowed"),
        ({"alias": "a", "allowed": [[1, 2]]}, "allowed[0]"),
        ({"alias": "a", "script": {"qos": 3}}, "script.qos"),
        ({"alias": "a", "colour": "red"}, "colour"),
    ],
)
def test_resource_definitions_are_checked(d2, params, field):
    error(d2.call("addResource", params), 400, field)


def test_state_sync_set_pending_until_the_device_writes(d2):
    gw = d2.gateway
    pushed = []
    d2.service.on(
        STATE_SET, lambda product, identity, values, ts: pushed.append((identity, values))
    )
    ok(d2.call("addResource", {"alias": "temp", "format": "number", "settable": True}))
    ok(d2.call("addIdentity", {"identity": "dev1"}))
    gw.write("dev1", {"temp": "21.5"})
    reported_at = d2.service.clock.now_us()
    state = ok(d2.call("getIdentityState", {"identity": "dev1"}), 200)
    assert state == {"temp": {"timestamp": reported_at, "set": 21.5, "reported": 21.5}}
    d2.sleep(1)
    ok(d2.call("setIdentityState", {"identity": "dev1", "temp": 30}))
    state = ok(d2.rest("GET", "/identity/dev1/state"), 200)["temp"]
    assert (state["set"], state["reported"]) == (30, 21.5) and state["timestamp"] > reported_at
    assert pushed == [("dev1", {"temp": 30})]
    assert gw.pending_sets("dev1") == {"temp": (30, state["timestamp"])}
    assert gw.read("dev1", ["temp"]) == {"temp": 30}  # a device reads the set value
    gw.write("dev1", {"temp": 30})  # its acknowledgement: writing the value back
    assert gw.pending_sets("dev1") == {}
    ok(d2.rest("PATCH", "/identity/dev1/state", json_body={"temp": 31}))
    gw.write("dev1", {"temp": 22})  # reported before reading: the set value is discarded
    assert ok(d2.call("getIdentityState", {"identity": "dev1"}), 200)["temp"]["set"] == 22


def test_state_without_sync_and_simulated_writes(d2):
    events = []
    d2.service.on("event", lambda product, event: events.append(event))
    ok(d2.call("addResource", {"alias": "mode", "settable": True, "sync": False}))
    ok(d2.call("addResource", {"alias": "temp", "format": "number"}))
    ok(d2.call("addIdentity", {"identity": "dev1"}))
    ok(d2.call("setIdentityState", {"identity": "dev1", "mode": "eco"}))
    mode = ok(d2.call("getIdentityState", {"identity": "dev1"}), 200)["mode"]
    assert (mode["set"], mode["reported"]) == ("eco", "eco")
    assert d2.gateway.pending_sets("dev1") == {}
    ok(d2.call("setIdentityState", {"identity": "dev1", "simulate": True, "temp": "7", "extra": 1}))
    assert ok(d2.call("getIdentityState", {"identity": "dev1"}), 200)["temp"]["reported"] == 7
    data_in = [e for e in events if e["type"] == "data_in"]
    assert data_in[0]["protocol"] == "simulate" and data_in[0]["updated_resources"] == ["temp"]


@pytest.mark.parametrize(
    "params, status, field",
    [
        ({"identity": "dev1", "temp": 1}, 409, "temp"),
        ({"identity": "dev1", "ghost": 1}, 400, "ghost"),
        ({"identity": "dev1", "level": "high"}, 400, "level"),
        ({"identity": "dev1", "level": 11}, 400, "level"),
        ({"identity": "dev1", "level": {"x": 1}}, 400, "level"),
        ({"identity": "dev1"}, 400, "state"),
        ({"identity": "ghost", "level": 1}, 404, "identity"),
        ({"identity": "dev1", "simulate": "yes", "level": 1}, 400, "simulate"),
    ],
)
def test_set_state_refusals(d2, params, status, field):
    ok(d2.call("addResource", {"alias": "temp", "format": "number"}))
    ok(
        d2.call(
            "addResource",
            {"alias": "level", "format": "number", "settable": True, "allowed": [[0, 10]]},
        )
    )
    ok(d2.call("addIdentity", {"identity": "dev1"}))
    error(d2.call("setIdentityState", params), status, field)


def test_initial_values_and_formats(d2):
    ok(d2.call("addIdentity", {"identity": "old"}))
    ok(
        d2.call(
            "addResource",
            {"alias": "on", "format": "boolean", "settable": True, "initial": "false"},
        )
    )
    ok(d2.call("addIdentity", {"identity": "new"}))
    for identity in ("old", "new"):
        state = ok(d2.call("getIdentityState", {"identity": identity}), 200)
        assert state["on"]["set"] is False and state["on"]["reported"] is None
    gw = d2.gateway
    assert gw.write("new", {"on": "TRUE"}) == ["on"]
    assert gw.write("new", {"on": "maybe"}) == []  # does not fit: event only
    assert ok(d2.call("getIdentityState", {"identity": "new"}), 200)["on"]["reported"] is True


def test_tags(d2):
    ok(d2.call("addIdentity", {"identity": "dev1"}))

    def tag(name, value):
        return {"name": name, "value": value}

    ok(
        d2.call(
            "addIdentityTag",
            {"identity": "dev1", "tags": [tag("c", "1"), tag("c", "2"), tag("b", "x")]},
        )
    )
    assert ok(d2.call("getIdentityTag", {"identity": "dev1", "name": "c"}), 200) == ["1", "2"]
    ok(d2.call("addIdentityTag", {"identity": "dev1", "tags": [tag("c", "3")], "replace": True}))
    assert ok(d2.call("getIdentityTag", {"identity": "dev1", "name": "c"}), 200) == ["3"]
    ok(d2.call("addIdentityTag", {"identity": "dev1", "tags": [tag("c", "4"), tag("c", "5")]}))
    ok(d2.call("removeIdentityTag", {"identity": "dev1", "name": "c", "value": "3,5"}))
    assert ok(d2.call("getIdentityTag", {"identity": "dev1", "name": "c"}), 200) == ["4"]
    assert ok(d2.call("listTagNames"), 200) == ["b", "c"]
    ok(d2.call("removeIdentityTag", {"identity": "dev1", "name": "c"}))
    assert ok(d2.call("getIdentityTag", {"identity": "dev1", "name": "c"}), 200) == []
    assert ok(d2.call("getIdentity", {"identity": "dev1"}), 200)["tags"] == [tag("b", "x")]
    error(
        d2.call("addIdentityTag", {"identity": "ghost", "tags": [tag("a", "b")]}), 404, "identity"
    )
    error(d2.call("addIdentityTag", {"identity": "dev1", "tags": []}), 400, "tags")
    error(
        d2.call("addIdentityTag", {"identity": "dev1", "tags": [tag("n" * 129, "v")]}),
        400,
        "tags[0].name",
    )
    error(
        d2.call("addIdentityTag", {"identity": "dev1", "tags": [tag("n", "v" * 4097)]}),
        400,
        "tags[0].value",
    )
    error(d2.call("getIdentityTag", {"identity": "dev1"}), 400, "name")
    error(d2.call("removeIdentityTag", {"identity": "ghost", "name": "b"}), 404, "identity")


def test_permissions_and_publish_as(d2):
    gw = d2.gateway
    for identity in ("gw1", "gw2", "dev1", "dev2"):
        ok(d2.call("addIdentity", {"identity": identity}))
    assert ok(d2.call("getIdentityPermission", {"identity": "gw2"}), 200) == {}
    ok(
        d2.call(
            "updateIdentityPermission",
            {
                "identity": "gw2",
                "permission": {"publish_as": {"identities": ["dev1"]}, "subscript": {"any": True}},
            },
        )
    )
    assert ok(d2.call("getIdentityPermission", {"identity": "gw2"}), 200) == {
        "publish_as": {"identities": ["dev1"]},
        "subscript": {"any": True},
    }
    gw.check_publish_as("gw2", "dev1")
    with pytest.raises(Refused):
        gw.check_publish_as("gw2", "dev2")
    with pytest.raises(Refused):
        gw.check_publish_as("gw1", "dev2")
    ok(d2.call("updateGatewaySettings", {"permission": {"gateway": ["gw1"]}}))
    gw.check_publish_as("gw1", "dev2")
    error(d2.call("getIdentityPermission", {"identity": "bad id!"}), 400, "identity")
    error(d2.call("getIdentityPermission", {"identity": "ghost"}), 404, "identity")
    error(
        d2.call("updateIdentityPermission", {"identity": "gw2", "permission": {"x": {}}}),
        400,
        "permission.x",
    )


def test_settings_defaults_updates_and_checks(d2):
    settings = ok(d2.call("getGatewaySettings"), 200)
    assert settings == {
        "fqdn": "example.m2.exosite.io",
        "provisioning": {
            "enabled": True,
            "auth_type": "token",
            "generate_identity": False,
            "presenter_identity": True,
            "ip_whitelisting": {"enabled": False, "allowed": []},
        },
        "identity_format": {"type": "opaque", "options": {"casing": "mixed"}},
        "pki": None,
        "permission": {"gateway": []},
        "enable_signal_parser": False,
        "partition_key_level": None,
        "root_ca_fingerprint": None,
        "solution_sync": {"source": None, "target": None},
    }
    assert ok(d2.rest("GET"), 200) == settings
    ok(
        d2.rest(
            "PATCH",
            json_body={
                "provisioning": {"auth_type": "password"},
                "solution_sync": {"source": {"id": "s1"}},
            },
        )
    )
    changed = ok(d2.call("getGatewaySettings"), 200)
    assert changed["provisioning"]["auth_type"] == "password"
    assert changed["provisioning"]["presenter_identity"] is True  # merged, not replaced
    assert ok(d2.call("getSolutionPairing"), 200) == {"source": {"id": "s1"}, "target": None}


@pytest.mark.parametrize(
    "patch, field",
    [
        ({"provisioning": {"auth_type": "psk"}}, "provisioning.auth_type"),
        ({"provisioning": {"enabled": "yes"}}, "provisioning.enabled"),
        (
            {"provisioning": {"ip_whitelisting": {"allowed": ["::1"]}}},
            "provisioning.ip_whitelisting.allowed[0]",
        ),
        (
            {"provisioning": {"ip_whitelisting": {"allowed": ["10.0.0.300"]}}},
            "provisioning.ip_whitelisting.allowed[0]",
        ),
        ({"identity_format": {"type": "mac"}}, "identity_format.type"),
        ({"pki": {"enabled": True, "client_ca": []}}, "pki.client_ca"),
        ({"pki": {"client_ca": ["not a pem"]}}, "pki.client_ca[0]"),
        ({"pki": {"vendor": {"name": "Other"}}}, "pki.vendor.name"),
        ({"permission": {"gateway": ["bad id"]}}, "permission.gateway[0]"),
        ({"enable_signal_parser": 1}, "enable_signal_parser"),
        ({"root_ca_fingerprint": "ab"}, "root_ca_fingerprint"),
        ({"fqdn": "bad host!"}, "fqdn"),
    ],
)
def test_settings_refuse_bad_values(d2, patch, field):
    error(d2.call("updateGatewaySettings", patch), 400, field)
    assert ok(d2.call("getGatewaySettings"), 200)["provisioning"]["auth_type"] == "token"


def test_timed_batches_keep_the_newest_state(d2):
    gw = d2.gateway
    ok(d2.call("addResource", {"alias": "temp", "format": "number"}))
    ok(d2.call("addIdentity", {"identity": "dev1"}))
    now = d2.service.clock.now_us()
    updated = gw.record("dev1", [(now - 2_000_000, {"temp": 1}), (now - 1_000_000, {"temp": 2})])
    assert updated == ["temp"]
    gw.record("dev1", [(now - 5_000_000, {"temp": 0})])  # older than the state: data only
    state = ok(d2.call("getIdentityState", {"identity": "dev1"}), 200)["temp"]
    assert (state["reported"], state["timestamp"]) == (2, now - 1_000_000)
    points = ok(d2.call("querySignal", {"identity": "dev1", "signal": "temp", "order": "asc"}), 200)
    assert [p["value"] for p in points["data"]] == [0, 1, 2]


def test_content_store(d2):
    ok(d2.call("addIdentity", {"identity": "dev1"}))
    store = d2.gateway.contents()
    store.put("fw.bin", b"\x00\x01", "application/octet-stream", {"v": "2"}, "firmware")
    d2.gateway.upload_content("dev1", "log.txt", b"hello", "text/plain")
    assert store.ids() == ["fw.bin", "log.txt"]
    info = store.info("fw.bin")
    assert (info["type"], info["length"], info["tags"], info["description"]) == (
        "application/octet-stream",
        2,
        {"v": "2"},
        "firmware",
    )
    assert store.data("log.txt") == b"hello"
    with pytest.raises(NotFound):
        store.info("nope")
    with pytest.raises(InvalidInput):
        store.put("a/b", b"")
