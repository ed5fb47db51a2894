"""Device2 identities through the HTTP API, in virtual time: add, make, get, list (every filter,
order and paging), count, update (one and by query), remove (one and many), the vendor's REST
paths and bulk CSV; each with its bounds, defaults and status codes."""

from __future__ import annotations

import json

import pytest

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
    body = response.json()
    assert body["status"] == body["code"] == status and body["field"] == field, body
    assert body["message"]
    return body


def names(listing):
    return [d["identity"] for d in listing["devices"]]


def test_add_get_and_the_identity_object(d2):
    ok(d2.call("addIdentity", {"identity": "dev1", "auth": {"type": "token"}}))
    got = ok(d2.call("getIdentity", {"identity": "dev1"}), 200)
    assert got == {
        "identity": "dev1",
        "auth": {"type": "token", "key": None, "expire": None},
        "locked": False,
        "online": False,
        "status": "whitelisted",
        "lastip": None,
        "lastseen": None,
        "tags": [],
        "state": {},
    }
    assert ok(d2.rest("GET", "/identity/dev1"), 200) == got
    error(d2.call("addIdentity", {"identity": "dev1"}), 409, "identity")
    error(d2.call("getIdentity", {"identity": "nope"}), 404, "identity")
    error(d2.rest("GET", "/identity/nope"), 404, "identity")


@pytest.mark.parametrize(
    "params, field",
    [
        ({}, "identity"),
        ({"identity": ""}, "identity"),
        ({"identity": 5}, "identity"),
        ({"identity": "d", "auth": {"type": "secret"}}, "auth.type"),
        ({"identity": "d", "auth": {"type": "password", "key": "short"}}, "auth.key"),
        ({"identity": "d", "auth": {"type": "certificate", "key": "not a pem"}}, "auth.key"),
        ({"identity": "d", "auth": {"expire": 1767225600}}, "auth.expire"),
        ({"identity": "d", "auth": {"expire": "soon"}}, "auth.expire"),
        ({"identity": "d", "auth": {"colour": 1}}, "auth.colour"),
        ({"identity": "d", "auth": "token"}, "auth"),
        ({"identity": "d", "locked": "yes"}, "locked"),
        ({"identity": "d", "lockd": True}, "lockd"),
    ],
)
def test_add_refuses_bad_input_naming_the_field(d2, params, field):
    error(d2.call("addIdentity", params), 400, field)


def test_unknown_gateway_context_is_404(d2):
    d2.client.product = "nope"
    error(d2.call("getIdentity", {"identity": "dev1"}), 404, "product")
    error(d2.rest("GET"), 404, "product")


def test_identity_format_is_enforced_on_add(d2):
    ok(d2.call("updateGatewaySettings", {"identity_format": {"type": "mac-48"}}))
    ok(d2.call("addIdentity", {"identity": "00-1A-2B-3C-4D-5E"}))
    body = error(d2.call("addIdentity", {"identity": "dev1"}), 400, "identity")
    assert "MM-MM-MM-SS-SS-SS" in body["message"]


def test_make_identity_follows_the_format_and_refuses_certificates(d2):
    ok(
        d2.call(
            "updateGatewaySettings",
            {"identity_format": {"type": "base10", "prefix": "sn", "options": {"length": 1}}},
        )
    )
    made = [ok(d2.call("makeIdentity", {"locked": True}), 200) for _ in range(10)]
    assert sorted(m["identity"] for m in made) == [f"sn{i}" for i in range(10)]
    assert all(m["status"] == "locked" and m["auth"]["key"] is None for m in made)
    error(d2.call("makeIdentity", {}), 409, None)
    error(d2.call("makeIdentity", {"auth": {"type": "certificate"}}), 400, "auth.type")


def _fleet(d2):
    """dev1..dev4 seen at different times from different addresses, tagged, one locked."""
    for i in range(1, 6):
        ok(d2.call("addIdentity", {"identity": f"dev{i}"}))
    gw = d2.gateway
    ok(d2.call("addResource", {"alias": "temp", "format": "number"}))
    for i, temp in zip((3, 1, 4, 2), (5, 30, 10, 20), strict=True):
        d2.sleep(10)
        gw.write(f"dev{i}", {"temp": temp})
        gw.connect(f"dev{i}", ip=f"10.0.0.{i}", protocol="mqtt")
    d2.gateway.disconnect(gw.sessions("dev2")[0].connection_id)
    tags = [
        ("dev1", "installed-date", "20020101"),
        ("dev2", "installed-date", "20000101"),
        ("dev3", "installed-date", "20030101"),
        ("dev1", "device-type", "camera"),
        ("dev3", "device-type", "camera"),
        ("dev4", "device-type", "sensor"),
    ]
    for identity, name, value in tags:
        ok(
            d2.call(
                "addIdentityTag", {"identity": identity, "tags": [{"name": name, "value": value}]}
            )
        )
    ok(d2.call("updateIdentity", {"identity": "dev4", "locked": True}))


def test_list_defaults_to_lastseen_newest_first_and_pages(d2):
    _fleet(d2)
    listing = ok(d2.call("listIdentities", {}), 200)
    assert names(listing) == ["dev2", "dev4", "dev1", "dev3", "dev5"]
    assert listing["mayLoadMore"] is False
    first = ok(d2.call("listIdentities", {"limit": 2}), 200)
    assert names(first) == ["dev2", "dev4"] and first["mayLoadMore"] is True
    rest = ok(d2.call("listIdentities", {"limit": 2, "offset": 2}), 200)
    assert names(rest) == ["dev1", "dev3"] and rest["mayLoadMore"] is True
    last = ok(d2.call("listIdentities", {"limit": 2, "offset": 4}), 200)
    assert names(last) == ["dev5"] and last["mayLoadMore"] is False
    # paging by lastseen, as the seed suggests: before = the last lastseen returned
    before = first["devices"][-1]["lastseen"]
    assert names(ok(d2.call("listIdentities", {"before": before, "limit": 2}), 200)) == [
        "dev1",
        "dev3",
    ]
    assert names(ok(d2.call("listIdentities", {"after": before}), 200)) == ["dev2"]
    zero = ok(d2.call("listIdentities", {"limit": 0}), 200)
    assert zero == {"devices": [], "mayLoadMore": True}


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"status": "locked"}, ["dev4"]),
        ({"status": "whitelisted"}, ["dev1", "dev2", "dev3", "dev5"]),
        ({"status": "online"}, ["dev1", "dev3", "dev4"]),
        ({"status": "offline"}, ["dev2", "dev5"]),
        ({"status": "locked,offline"}, ["dev2", "dev4", "dev5"]),
        ({"status": "provisioned,expired,reprovision"}, []),
        ({"identity": "^dev[12]$"}, ["dev1", "dev2"]),
        ({"identity": "[35]"}, ["dev3", "dev5"]),
        ({"ipaddress": "10.0.0.3"}, ["dev3"]),
        ({"version": "1.0"}, ["dev1", "dev2", "dev3", "dev4", "dev5"]),
        ({"tag.name": "device-type"}, ["dev1", "dev3", "dev4"]),
        ({"tag.name": "device-type", "tag.value": "camera"}, ["dev1", "dev3"]),
        ({"tag": {"name": "device-type", "value": "sensor"}}, ["dev4"]),
        (
            {
                "tags": json.dumps(
                    [
                        {"name": "installed-date", "operator": "gte", "value": "20010101"},
                        {"name": "installed-date", "operator": "lte", "value": "20030101"},
                        {"name": "device-type", "operator": "eq", "value": "camera"},
                    ]
                )
            },
            ["dev1", "dev3"],
        ),
        ({"tags": [{"name": "installed-date", "operator": "gt", "value": "20020101"}]}, ["dev3"]),
        ({"tags": [{"name": "installed-date", "operator": "lt", "value": "20020101"}]}, ["dev2"]),
        ({"tags": [{"name": "device-type", "operator": "ne", "value": "camera"}]}, ["dev4"]),
        (
            {
                "identity": "^dev",
                "tags": [{"name": "device-type", "operator": "eq", "value": "camera"}],
                "status": "online",
            },
            ["dev1", "dev3"],
        ),
    ],
)
def test_list_and_count_filters(d2, query, expected):
    _fleet(d2)
    listed = ok(d2.call("listIdentities", {**query, "order": ["identity"]}), 200)
    assert names(listed) == expected
    assert ok(d2.call("countIdentities", query), 200) == {"count": len(expected)}


def test_order_by_identity_lastip_and_state(d2):
    _fleet(d2)

    def order(o):
        return names(ok(d2.call("listIdentities", {"order": o}), 200))

    assert order(["identity.desc"]) == ["dev5", "dev4", "dev3", "dev2", "dev1"]
    assert order("identity.asc") == ["dev1", "dev2", "dev3", "dev4", "dev5"]
    assert order(["lastip.desc"]) == ["dev4", "dev3", "dev2", "dev1", "dev5"]
    assert order(["state.temp.desc"]) == ["dev1", "dev2", "dev4", "dev3", "dev5"]
    assert order(["lastseen"]) == ["dev5", "dev3", "dev1", "dev4", "dev2"]
    # the REST form takes the same parameters from the query string
    rest = ok(d2.rest("GET", "/identity/", params={"order": "identity.desc", "limit": "2"}), 200)
    assert names(rest) == ["dev5", "dev4"] and rest["mayLoadMore"] is True
    assert names(ok(d2.rest("GET", "/identity", params={"status": "locked"}), 200)) == ["dev4"]


@pytest.mark.parametrize(
    "query, field",
    [
        ({"limit": 2001}, "limit"),
        ({"limit": -1}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"order": ["name"]}, "order"),
        ({"order": ["identity.up"]}, "order"),
        ({"status": "sleeping"}, "status"),
        ({"identity": "(unclosed"}, "identity"),
        ({"before": "yesterday"}, "before"),
        ({"tag.value": "camera"}, "tag.value"),
        ({"tags": "not json"}, "tags"),
        ({"tags": [{"name": "a", "operator": "like", "value": "x"}]}, "tags[0].operator"),
        ({"tags": [{"name": "a", "value": "x"}], "tag.name": "a"}, "tags"),
    ],
)
def test_list_refuses_bad_queries(d2, query, field):
    error(d2.call("listIdentities", query), 400, field)


def test_rest_query_strings_are_typed(d2):
    error(d2.rest("GET", "/identity/", params={"limit": "many"}), 400, "limit")
    error(d2.rest("GET", "/identity/", params={"limit": "3000"}), 400, "limit")
    error(d2.rest("GET", "/identity/", params={"sort": "x"}), 400, "sort")


def test_update_identity_lock_credentials_and_reset(d2):
    ok(d2.call("addIdentity", {"identity": "dev1"}))

    def status():
        return ok(d2.call("getIdentity", {"identity": "dev1"}), 200)["status"]

    ok(d2.call("updateIdentity", {"identity": "dev1", "locked": True}))
    assert status() == "locked"
    ok(d2.rest("PATCH", "/identity/dev1", json_body={"locked": False}))
    assert status() == "whitelisted"
    key = "0123456789abcdefghij0123456789abcdefghij"
    ok(d2.call("updateIdentity", {"identity": "dev1", "auth": {"type": "token", "key": key}}))
    assert status() == "provisioned"
    assert d2.gateway.authenticate(token=key) == "dev1"
    ok(d2.call("updateIdentity", {"identity": "dev1", "auth": {"key": None}}))
    assert status() == "whitelisted"
    error(d2.call("updateIdentity", {"identity": "nope", "locked": True}), 404, "identity")
    error(d2.call("updateIdentity", {"identity": "dev1", "locked": 1}), 400, "locked")


def test_update_identities_by_query(d2):
    _fleet(d2)
    ok(d2.call("addResource", {"alias": "mode", "settable": True}))
    ok(
        d2.call(
            "updateIdentities",
            {
                "identity": "^dev[13]$",
                "add": {"tags": [{"name": "group", "value": "a"}]},
                "remove": {"tags": [{"name": "device-type"}]},
                "update": {"state": {"mode": "eco"}},
            },
        )
    )
    for identity in ("dev1", "dev3"):
        got = ok(d2.call("getIdentity", {"identity": identity}), 200)
        assert {"name": "group", "value": "a"} in got["tags"]
        assert all(t["name"] != "device-type" for t in got["tags"])
        assert got["state"]["mode"]["set"] == "eco"
    assert ok(d2.call("getIdentityTag", {"identity": "dev4", "name": "device-type"}), 200) == [
        "sensor"
    ]
    ok(
        d2.call(
            "updateIdentities",
            {"tag.name": "group", "remove": {"tags": [{"name": "group", "value": "a"}]}},
        )
    )
    assert ok(d2.call("listTagNames"), 200) == ["device-type", "installed-date"]
    error(
        d2.call(
            "updateIdentities",
            {"identity": "^none", "add": {"tags": [{"name": "x", "value": "y"}]}},
        ),
        404,
        None,
    )
    error(d2.call("updateIdentities", {"identity": "dev1"}), 400, "update")
    error(d2.call("updateIdentities", {"update": {"state": {"temp": 1}}}), 409, "update.state.temp")
    error(d2.call("updateIdentities", {"add": {"locked": True}}), 400, "add.locked")


def test_remove_one_and_many(d2):
    for i in range(1, 5):
        ok(d2.call("addIdentity", {"identity": f"dev{i}"}))
    assert d2.call("removeIdentity", {"identity": "dev1"}).status == 205
    error(d2.call("getIdentity", {"identity": "dev1"}), 404, "identity")
    error(d2.call("removeIdentity", {"identity": "dev1"}), 404, "identity")
    assert d2.rest("DELETE", "/identity/dev2").status == 205
    ok(d2.call("removeIdentities", {"identities": "dev3,dev4,ghost"}))
    assert ok(d2.call("countIdentities"), 200) == {"count": 0}
    error(d2.call("removeIdentities", {"identities": ""}), 400, "identities[0]")
    error(d2.call("removeIdentities", {}), 400, "identities")


def test_vendor_rest_whitelisting_and_bulk_csv(d2):
    ok(d2.rest("PUT", "/identity/00000002", json_body={"locked": False}))
    assert ok(d2.rest("GET", "/identity/00000002"), 200)["status"] == "whitelisted"
    boundary = "hilboundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="identities"; '
        f'filename="ids.csv"\r\nContent-Type: text/csv\r\n\r\nidentity\r\nbulk1\r\nbulk2\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="expire"\r\n\r\n'
        f"1893456000000000\r\n--{boundary}--\r\n"
    ).encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    ok(d2.rest("POST", "/identities", raw=body, headers=headers))
    bulk = ok(d2.call("listIdentities", {"identity": "^bulk"}), 200)
    assert [(d["identity"], d["auth"]["expire"]) for d in bulk["devices"]] == [
        ("bulk1", 1893456000000000),
        ("bulk2", 1893456000000000),
    ]
    ok(d2.call("addIdentities", {"identities": ["bulk2", "bulk3"]}))
    assert ok(d2.call("countIdentities", {"identity": "^bulk"}), 200) == {"count": 3}
