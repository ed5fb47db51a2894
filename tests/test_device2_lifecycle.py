"""Device2 provisioning and the status lifecycle in virtual time, the gateway events over SSE,
restarts (nothing acknowledged is lost) and credentials (made with `secrets`, stored one-way,
never returned)."""

from __future__ import annotations

import re
import sqlite3

import pytest

from devices.cloud.device2 import GATEWAY_EVENT, STATUS_CHANGED
from devices.cloud.device2.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    NotFound,
    Refused,
)
from devices.cloud.device2.local import LocalDevice2
from devices.protocols.x509 import CertificateAuthority

US = 1_000_000
PASSWORD = "a password of twenty-four"


@pytest.fixture
def d2(tmp_path):
    with LocalDevice2(tmp_path / "d2.db", archive_dir=tmp_path / "archive") as local:
        yield local


def ok(response, status=204):
    assert response.status == status, response.text
    return response.json() if status == 200 else None


def status_of(d2, identity):
    return ok(d2.call("getIdentity", {"identity": identity}), 200)["status"]


def now_us(d2):
    return d2.service.clock.now_us()


def test_token_provisioning_whitelisted_to_provisioned(d2):
    gw = d2.gateway
    ok(d2.call("addIdentity", {"identity": "dev1"}))
    result = gw.provision("dev1", ip="10.0.0.7", protocol="http")
    assert result.identity == "dev1" and result.auth_type == "token"
    assert re.fullmatch(r"[0-9A-Za-z]{40}", result.token or "")
    assert status_of(d2, "dev1") == "provisioned"
    with pytest.raises(Conflict):
        gw.provision("dev1")
    assert gw.authenticate(token=result.token) == "dev1"
    with pytest.raises(AuthenticationFailed):
        gw.authenticate(token="x" * 40)
    other = gw.provision("dev2")  # presenter_identity (default true) adds it
    assert other.token != result.token and status_of(d2, "dev2") == "provisioned"


def test_provisioning_rules(d2):
    gw = d2.gateway
    ok(d2.call("updateGatewaySettings", {"provisioning": {"presenter_identity": False}}))
    with pytest.raises(NotFound):
        gw.provision("stranger")
    with pytest.raises(InvalidInput):
        gw.provision(None)
    ok(
        d2.call(
            "updateGatewaySettings",
            {
                "identity_format": {"type": "base16", "options": {"length": 8, "casing": "upper"}},
                "provisioning": {"generate_identity": True},
            },
        )
    )
    made = gw.provision(None)
    assert re.fullmatch(r"[0-9A-F]{8}", made.identity)
    with pytest.raises(InvalidInput):
        gw.provision("not-hex")
    ok(d2.call("addIdentity", {"identity": "0000000A"}))
    ok(
        d2.call(
            "updateGatewaySettings",
            {
                "provisioning": {
                    "ip_whitelisting": {"enabled": True, "allowed": ["10.0.0.1", "192.168.1.0/24"]}
                }
            },
        )
    )
    with pytest.raises(Refused) as refused:
        gw.provision("0000000A", ip="10.0.0.2")
    assert refused.value.reason == "ip_not_allowed"
    gw.provision("0000000A", ip="192.168.1.77")
    ok(d2.call("updateGatewaySettings", {"provisioning": {"enabled": False}}))
    ok(d2.call("addIdentity", {"identity": "0000000B"}))
    with pytest.raises(Refused) as refused:
        gw.provision("0000000B", ip="10.0.0.1")
    assert refused.value.reason == "provisioning_disabled"
    errors = ok(d2.call("getDeviceMetrics", {"metric_name": "connection_error"}), 200)
    assert {e["connection_error"] for e in errors} == {"ip_not_allowed", "provisioning_disabled"}


def test_password_auth(d2):
    gw = d2.gateway
    ok(d2.call("updateGatewaySettings", {"provisioning": {"auth_type": "password"}}))
    ok(d2.call("addIdentity", {"identity": "dev1"}))
    with pytest.raises(InvalidInput):
        gw.provision("dev1", password="too short")
    assert gw.provision("dev1", password=PASSWORD).token is None
    assert gw.authenticate(identity="dev1", password=PASSWORD) == "dev1"
    with pytest.raises(AuthenticationFailed):
        gw.authenticate(identity="dev1", password=PASSWORD + "!")
    ok(d2.call("addIdentity", {"identity": "dev2", "auth": {"type": "password", "key": PASSWORD}}))
    assert status_of(d2, "dev2") == "provisioned"
    assert gw.authenticate(identity="dev2", password=PASSWORD) == "dev2"


def test_certificate_auth_with_pki(d2):
    gw = d2.gateway
    ca, stranger = CertificateAuthority("device CA"), CertificateAuthority("other CA")
    ok(
        d2.call(
            "updateGatewaySettings",
            {
                "provisioning": {"auth_type": "certificate"},
                "pki": {"enabled": True, "client_ca": [ca.cert_pem.decode()]},
            },
        )
    )
    ok(d2.call("addIdentity", {"identity": "dev1"}))
    cert = ca.issue("dev1").cert_pem
    assert gw.authenticate(certificate_pem=cert, ip="10.0.0.9", protocol="mqtt") == "dev1"
    assert status_of(d2, "dev1") == "provisioned"
    assert gw.authenticate(certificate_pem=cert) == "dev1"
    with pytest.raises(AuthenticationFailed):
        gw.authenticate(certificate_pem=ca.issue("dev1").cert_pem)  # not the associated one
    with pytest.raises(AuthenticationFailed):
        gw.authenticate(certificate_pem=stranger.issue("dev2").cert_pem)
    response = d2.call(
        "addIdentity",
        {
            "identity": "dev3",
            "auth": {"type": "certificate", "key": stranger.issue("dev3").cert_pem.decode()},
        },
    )
    assert response.status == 400 and response.json()["field"] == "auth.key"
    cert4 = ca.issue("dev4").cert_pem
    ok(
        d2.call(
            "addIdentity",
            {"identity": "dev4", "auth": {"type": "certificate", "key": cert4.decode()}},
        )
    )
    assert status_of(d2, "dev4") == "provisioned"
    assert gw.authenticate(certificate_pem=cert4) == "dev4"
    wrong_cn = d2.call(
        "addIdentity",
        {
            "identity": "dev5",
            "auth": {"type": "certificate", "key": ca.issue("devX").cert_pem.decode()},
        },
    )
    assert wrong_cn.status == 400 and "CN" in wrong_cn.json()["message"]
    # a certificate deadline passes: the identity must provision again, with a new certificate
    expire = now_us(d2) + 5 * US
    ok(d2.call("updateIdentity", {"identity": "dev4", "auth": {"expire": expire}}))
    d2.sleep(6)
    assert status_of(d2, "dev4") == "reprovision"
    with pytest.raises(Refused):
        gw.authenticate(certificate_pem=cert4)
    renewed = ca.issue("dev4").cert_pem
    assert gw.authenticate(certificate_pem=renewed) == "dev4"
    assert status_of(d2, "dev4") == "provisioned"
    # an identity of token auth is not provisioned by presenting a certificate
    ok(d2.call("addIdentity", {"identity": "dev6", "auth": {"type": "token"}}))
    with pytest.raises(AuthenticationFailed):
        gw.authenticate(certificate_pem=ca.issue("dev6").cert_pem)


def test_expiry_moves_statuses_at_the_deadline_in_virtual_time(d2):
    gw = d2.gateway
    changes = []
    d2.service.on(STATUS_CHANGED, lambda *a: changes.append((d2.world.now, *a[1:])))
    start = now_us(d2)
    key = "k" * 40
    ok(d2.call("addIdentity", {"identity": "w", "auth": {"expire": start + 10 * US}}))
    ok(
        d2.call(
            "addIdentity",
            {"identity": "p", "auth": {"type": "token", "key": key, "expire": start + 20 * US}},
        )
    )
    d2.sleep(9.5)
    assert (status_of(d2, "w"), status_of(d2, "p")) == ("whitelisted", "provisioned")
    d2.sleep(1)
    assert status_of(d2, "w") == "expired"
    d2.sleep(10)
    assert status_of(d2, "p") == "reprovision"
    moved = [(round(t, 6), i, old, new) for t, i, old, new in changes if old is not None]
    assert moved == [
        (10.0, "w", "whitelisted", "expired"),
        (20.0, "p", "provisioned", "reprovision"),
    ]
    with pytest.raises(Refused) as refused:
        gw.authenticate(token=key)
    assert refused.value.reason == "reprovision"
    events = []
    d2.service.on(GATEWAY_EVENT, lambda product, e: events.append(e))
    with pytest.raises(Refused) as refused:
        gw.provision("w", ip="10.0.0.5", protocol="http")
    assert refused.value.reason == "expired"
    assert [(e["type"], e["identity"], e["ip"]) for e in events] == [("expired", "w", "10.0.0.5")]
    again = gw.provision("p")  # a reprovision identity provisions again
    assert status_of(d2, "p") == "provisioned" and gw.authenticate(token=again.token) == "p"
    ok(d2.call("updateIdentity", {"identity": "w", "auth": {"expire": now_us(d2) + 60 * US}}))
    assert status_of(d2, "w") == "whitelisted"  # reset
    expired = ok(
        d2.call("getDeviceMetrics", {"metric_name": "expired", "aggregate_window": "1m"}), 200
    )
    assert expired == [{"time": "2026-01-01T00:00:00.000000Z", "value": 1}]
    assert ok(d2.call("countIdentities", {"status": "expired,reprovision"}), 200) == {"count": 0}


def test_locked_identities_are_refused(d2):
    gw = d2.gateway
    ok(d2.call("addIdentity", {"identity": "dev1", "locked": True}))
    with pytest.raises(Refused) as refused:
        gw.provision("dev1")
    assert refused.value.reason == "locked"
    ok(d2.call("updateIdentity", {"identity": "dev1", "locked": False}))
    token = gw.provision("dev1").token
    ok(d2.call("updateIdentity", {"identity": "dev1", "locked": True}))
    with pytest.raises(Refused):
        gw.authenticate(token=token)
    locked = ok(d2.call("getDeviceMetrics", {"metric_name": "locked"}), 200)
    assert sum(row["value"] for row in locked) == 2


def test_gateway_events_over_sse(d2):
    gw = d2.gateway
    ok(d2.call("addResource", {"alias": "temp", "format": "number"}))

    async def scenario():
        async with d2.client.events() as stream, d2.client.events("connect,disconnect") as some:
            assert stream.status == 200 and stream.headers["content-type"].startswith(
                "text/event-stream"
            )
            token = gw.provision("dev1", ip="10.0.0.3", protocol="mqtt").token
            session = gw.connect(gw.authenticate(token=token), ip="10.0.0.3", protocol="mqtt")
            gw.write("dev1", {"temp": "21.5", "undefined": "x"}, timestamp=None, session=session)
            gw.upload_content("dev1", "log.txt", b"hello", "text/plain", {"k": "v"}, session)
            gw.disconnect(session.connection_id)
            await d2.client.call("removeIdentity", {"identity": "dev1"})
            return await stream.collect(1.0), await some.collect(0.1), session

    events, filtered, session = d2.run(scenario())
    kinds = [e.event for e in events]
    assert kinds == ["provisioned", "connect", "data_in", "content_in", "disconnect", "deleted"]
    assert [e.id for e in events] == ["1", "2", "3", "4", "5", "6"]
    body = {e.event: e.json() for e in events}
    stamp = body["provisioned"]["timestamp"]  # no time passes between the domain calls
    for kind in ("connect", "data_in", "content_in", "disconnect"):
        assert body[kind]["connection_id"] == session.connection_id
        assert (body[kind]["ip"], body[kind]["protocol"]) == ("10.0.0.3", "mqtt")
    assert body["data_in"]["payload"] == [
        {"timestamp": stamp, "values": {"temp": "21.5", "undefined": "x"}}
    ]
    assert body["data_in"]["updated_resources"] == ["temp"]
    assert body["content_in"]["payload"] == {
        "id": "log.txt",
        "length": 5,
        "tags": {"k": "v"},
        "type": "text/plain",
    }
    assert all(b["identity"] == "dev1" for b in body.values())
    assert {b["timestamp"] for k, b in body.items() if k != "deleted"} == {stamp}
    assert body["deleted"]["timestamp"] > stamp  # after the HTTP round trip
    assert [e.event for e in filtered] == ["connect", "disconnect"]


def test_event_stream_refusals(d2):
    async def open_stream(client, types=None):
        async with client.events(types) as stream:
            return stream.status, stream.body

    status, body = d2.run(open_stream(d2.client, "connect,reboot"))
    assert status == 400 and b'"field": "types"' in body
    d2.client.product = "nope"
    status, _ = d2.run(open_stream(d2.client))
    assert status == 404


def _populate(d2):
    gw = d2.gateway
    ok(
        d2.call(
            "updateGatewaySettings",
            {"enable_signal_parser": True, "permission": {"gateway": ["gw1"]}},
        )
    )
    ok(
        d2.call(
            "addResource",
            {"alias": "temp", "format": "number", "settable": True, "unit": "°C", "initial": 18},
        )
    )
    ok(d2.call("addIdentity", {"identity": "dev1", "auth": {"expire": now_us(d2) + 3600 * US}}))
    token = gw.provision("dev1").token
    ok(d2.call("addIdentityTag", {"identity": "dev1", "tags": [{"name": "site", "value": "A"}]}))
    d2.sleep(5)
    session = gw.connect("dev1", ip="10.0.0.1", protocol="http")
    gw.write("dev1", {"temp": 21}, session=session)
    ok(d2.call("setIdentityState", {"identity": "dev1", "temp": 25}))
    ok(d2.call("restoreUrl", {"urls": ["file:///nonexistent/2025-12-31.ndjson"]}), 200)
    return token


SNAPSHOT = [
    ("getIdentity", {"identity": "dev1"}),
    ("listIdentities", {}),
    ("getGatewaySettings", {}),
    ("getGatewayResourceList", {}),
    ("getIdentityState", {"identity": "dev1"}),
    (
        "querySignal",
        {"identity": "dev1", "signal": "temp", "start_time": 1767225000, "end_time": 1767226000},
    ),
    ("getDeviceMetrics", {"metric_name": "connection"}),
    ("getRestoreStatus", {}),
    ("listTagNames", {}),
]


def test_restart_loses_nothing(d2):
    token = _populate(d2)
    before = {op: d2.call(op, params).json() for op, params in SNAPSHOT}
    d2.restart()
    after = {op: d2.call(op, params).json() for op, params in SNAPSHOT}
    for device in before["listIdentities"]["devices"] + [before["getIdentity"]]:
        device["online"] = False  # connections do not survive a restart
    assert after == before
    assert d2.gateway.authenticate(token=token) == "dev1"
    set_at = before["getIdentityState"]["temp"]["timestamp"]
    assert d2.gateway.pending_sets("dev1") == {"temp": (25, set_at)}


def test_credentials_are_never_returned_nor_stored_in_clear(d2, tmp_path):
    token = _populate(d2)
    key = "Admin-Given-Token-0123456789abcdefghijkl"
    ca = CertificateAuthority("device CA")
    cert = ca.issue("dev3").cert_pem.decode()
    ok(d2.call("addIdentity", {"identity": "dev2", "auth": {"type": "token", "key": key}}))
    ok(d2.call("addIdentity", {"identity": "dev3", "auth": {"type": "certificate", "key": cert}}))
    ok(d2.call("addIdentity", {"identity": "dev4", "auth": {"type": "password", "key": PASSWORD}}))
    for op, params in SNAPSHOT:
        d2.call(op, params)
    for identity in ("dev2", "dev3", "dev4"):
        d2.call("getIdentity", {"identity": identity})
        d2.rest("GET", f"/identity/{identity}")
    d2.call("listIdentities", {"status": "provisioned"})
    d2.rest("GET", "/identity/")
    d2.call("makeIdentity", {"auth": {"type": "password", "key": PASSWORD}})
    d2.call("updateIdentity", {"identity": "dev2", "auth": {"key": key + "2"}})
    secret_texts = [token, key, PASSWORD, cert.splitlines()[1]]
    assert len(d2.responses) > 25
    for response in d2.responses:  # every answer the test received
        for secret in secret_texts:
            assert secret.encode() not in response.body
        assert b'"key": null' in response.body or b'"key"' not in response.body
    d2.stop()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("d2.db*"))
    assert raw, "the database file exists"
    for secret in (token, key, PASSWORD):
        assert secret.encode() not in raw
    stored = (
        sqlite3.connect(tmp_path / "d2.db")
        .execute("SELECT identity, secret FROM identities ORDER BY identity")
        .fetchall()
    )
    kinds = {identity: secret.split(":")[0] for identity, secret in stored if secret}
    made = next(i for i in kinds if not i.startswith("dev"))
    assert kinds == {
        "dev1": "sha256",
        "dev2": "sha256",
        "dev3": "cert",
        "dev4": "scrypt",
        made: "scrypt",
    }
