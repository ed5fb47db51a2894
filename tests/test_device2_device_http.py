"""The Device2 HTTP Device API on the wire, in virtual time: activation (both body forms, every
refusal), every way to authenticate, writes, reads, combined write+read, long polls on the
world's clock, records with conflicts, the timestamp, content download, host checks, HTTPS
with client certificates, and the events and state each call leaves behind."""

from __future__ import annotations

import base64
import re
import urllib.parse

import pytest

from devices.cloud.device2.device_config import DeviceApiConfig
from devices.protocols import openapi
from devices.protocols.http_client import HttpError
from devices.protocols.x509 import CertificateAuthority
from tests.device2_device_support import FORM, HOST, Stack

US = 1_000_000
PASSWORD = "a device password of 32 bytes...."


@pytest.fixture
def stack(tmp_path):
    s = Stack(tmp_path / "d2.db")
    s.resources()
    yield s
    s.close()


def cik(token: str) -> dict[str, str]:
    return {"X-Exosite-CIK": token}


def basic(user: str, secret: str) -> dict[str, str]:
    return {"Authorization": "basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}


# -- activation --------------------------------------------------------------------------------
def test_activate_with_id_gives_a_bare_40_character_token(stack):
    stack.call("addIdentity", {"identity": "dev-1"})
    response = stack.activate("dev-1", ip="192.0.2.7")
    assert response.status == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert re.fullmatch(r"[0-9A-Za-z]{40}", response.text)
    assert response.headers["server"] == "Murano"
    assert stack.status("dev-1") == "provisioned"
    (event,) = stack.events_of("provisioned", "dev-1")
    assert event["protocol"] == "http" and event["ip"] == "192.0.2.7"
    again = stack.activate("dev-1")
    assert again.status == 409  # already provisioned


def test_activate_with_the_legacy_vendor_model_sn_body(stack):
    http = stack.http()
    body = b"vendor=example&model=example&sn=dev-2"
    response = stack.request(http, "POST", "/provision/activate", raw=body, headers=FORM)
    assert response.status == 200 and len(response.text) == 40
    tutorial = stack.request(http, "POST", "/provision/activate", raw=b"sn=dev-3", headers=FORM)
    assert tutorial.status == 200
    other = b"vendor=another&model=another&sn=dev-4"
    wrong = stack.request(http, "POST", "/provision/activate", raw=other, headers=FORM)
    assert wrong.status == 404 and "vendor" in wrong.text


def test_activate_refusals(stack):
    http = stack.http()
    missing = stack.request(http, "POST", "/provision/activate", raw=b"id=dev-1")
    assert missing.status == 415 and "Content-Type" in missing.text
    json_type = {"Content-Type": "application/json"}
    wrong = stack.request(http, "POST", "/provision/activate", raw=b"{}", headers=json_type)
    assert wrong.status == 415
    stack.call("updateGatewaySettings", {"provisioning": {"presenter_identity": False}})
    assert stack.activate("stranger").status == 404  # not whitelisted
    stack.call("addIdentity", {"identity": "held", "locked": True})
    locked = stack.activate("held")
    assert locked.status == 403 and "locked" in locked.text
    stack.call("updateGatewaySettings", {"provisioning": {"enabled": False}})
    stack.call("addIdentity", {"identity": "late"})
    assert stack.activate("late").status == 403
    assert stack.status("late") == "whitelisted"


def test_an_expired_provisioning_window_is_refused_with_the_expired_event(stack):
    stack.call("addIdentity", {"identity": "slow", "auth": {"expire": stack.now_us + 60 * US}})
    stack.sleep(61)
    assert stack.status("slow") == "expired"
    response = stack.activate("slow")
    assert response.status == 403 and "window" in response.text
    assert [e["protocol"] for e in stack.events_of("expired", "slow")] == ["http"]


def test_generated_identity_comes_back_in_a_header(stack):
    stack.call(
        "updateGatewaySettings",
        {
            "provisioning": {"generate_identity": True},
            "identity_format": {"type": "base10", "prefix": "sn", "options": {"length": 6}},
        },
    )
    http = stack.http()
    response = stack.request(http, "POST", "/provision/activate", raw=b"id=", headers=FORM)
    assert response.status == 200 and len(response.text) == 40
    made = response.headers["x-exosite-identity"]
    assert re.fullmatch(r"sn\d{6}", made)
    assert stack.status(made) == "provisioned"
    response = stack.request(http, "POST", "/provision/activate", raw=b"", headers=FORM)
    assert response.status == 200 and response.headers["x-exosite-identity"] != made


def test_password_activation_and_basic_authentication(stack):
    stack.call("addIdentity", {"identity": "pw-1", "auth": {"type": "password"}})
    short = stack.activate("pw-1", password="too-short")
    assert short.status == 400
    response = stack.activate("pw-1", password=urllib.parse.quote_plus(PASSWORD))
    assert response.status == 204 and not response.text
    http = stack.http()
    write = stack.request(
        http,
        "POST",
        "/onep:v1/stack/alias",
        raw=b"temperature=20",
        headers={**FORM, **basic("pw-1", PASSWORD)},
    )
    assert write.status == 204
    wrong = stack.request(
        http,
        "POST",
        "/onep:v1/stack/alias",
        raw=b"temperature=20",
        headers={**FORM, **basic("pw-1", "x" * 24)},
    )
    assert wrong.status == 401


def test_password_over_http_can_be_switched_off(tmp_path):
    stack = Stack(tmp_path / "d2.db", config=DeviceApiConfig(http_password_auth=False))
    try:
        stack.call("addIdentity", {"identity": "pw-1", "auth": {"type": "password"}})
        stack.gw.provision("pw-1", password=PASSWORD)
        http = stack.http()
        write = stack.request(
            http,
            "POST",
            "/onep:v1/stack/alias",
            raw=b"a=1",
            headers={**FORM, **basic("pw-1", PASSWORD)},
        )
        assert write.status == 401 and "not offered" in write.text
    finally:
        stack.close()


# -- authentication ----------------------------------------------------------------------------
def test_every_token_form_authenticates_and_nothing_else_does(stack):
    token = stack.token_for("dev-1")
    http = stack.http()
    forms = [
        cik(token),
        {"Authorization": f"token {token}"},
        basic("", token),
    ]
    for headers in forms:
        response = stack.request(
            http, "POST", "/onep:v1/stack/alias", raw=b"temperature=1", headers={**FORM, **headers}
        )
        assert response.status == 204, headers
    refused = [
        {},
        cik("x" * 40),
        {"Authorization": "token"},
        {"Authorization": "bearer abc"},
        {"Authorization": "basic !!not-base64"},
        basic("dev-1", ""),
    ]
    for headers in refused:
        response = stack.request(
            http, "POST", "/onep:v1/stack/alias", raw=b"temperature=1", headers={**FORM, **headers}
        )
        assert response.status == 401, headers
        assert response.headers["content-type"].startswith("text/plain")


def test_a_locked_device_is_refused_and_expired_credentials_answer_401(stack):
    token = stack.token_for("dev-1")
    http = stack.http()
    stack.call("updateIdentity", {"identity": "dev-1", "locked": True})
    response = stack.request(http, "GET", "/onep:v1/stack/alias?temperature", headers=cik(token))
    assert response.status == 403 and "locked" in response.text
    stack.call("updateIdentity", {"identity": "dev-1", "locked": False})
    stack.call("updateIdentity", {"identity": "dev-1", "auth": {"expire": stack.now_us + US}})
    stack.sleep(2)
    assert stack.status("dev-1") == "reprovision"
    response = stack.request(http, "GET", "/onep:v1/stack/alias?temperature", headers=cik(token))
    assert response.status == 401
    again = stack.activate("dev-1")  # the device activates again and gets a new token
    assert again.status == 200 and again.text != token
    assert stack.status("dev-1") == "provisioned"


# -- writes and reads --------------------------------------------------------------------------
def test_a_write_is_one_data_in_event_and_state_for_defined_resources(stack):
    token = stack.token_for("dev-1")
    http = stack.http(ip="192.0.2.9")
    body = urllib.parse.urlencode(
        {"temperature": "21.5", "undefined": "x y", "data_in": '{"001":3}'}
    )
    response = stack.request(
        http, "POST", "/onep:v1/stack/alias", raw=body.encode(), headers={**FORM, **cik(token)}
    )
    assert response.status == 204
    (event,) = stack.events_of("data_in", "dev-1")
    assert event["protocol"] == "http" and event["ip"] == "192.0.2.9"
    assert re.fullmatch(r"[0-9a-f-]{36}", event["connection_id"])
    (point,) = event["payload"]
    assert point["values"] == {"temperature": "21.5", "undefined": "x y", "data_in": '{"001":3}'}
    assert sorted(event["updated_resources"]) == ["data_in", "temperature"]
    state = stack.state("dev-1")
    assert state["temperature"]["reported"] == 21.5 and "undefined" not in state
    synonym = stack.request(
        http, "POST", "/api:v1/stack/alias", raw=b"temperature=22", headers={**FORM, **cik(token)}
    )
    assert synonym.status == 204 and stack.state("dev-1")["temperature"]["reported"] == 22


def test_reads_give_set_values_for_settable_resources_and_204_when_empty(stack):
    token = stack.token_for("dev-1")
    http = stack.http()
    empty = stack.request(http, "GET", "/onep:v1/stack/alias?temperature", headers=cik(token))
    assert empty.status == 204
    stack.request(
        http, "POST", "/onep:v1/stack/alias", raw=b"temperature=20", headers={**FORM, **cik(token)}
    )
    stack.call("setIdentityState", {"identity": "dev-1", "config_io": "a&b=c"})
    response = stack.request(
        http, "GET", "/api:v1/stack/alias?temperature&config_io&nothing", headers=cik(token)
    )
    assert response.status == 200
    assert response.headers["content-type"] == "application/x-www-form-urlencoded; charset=utf-8"
    assert urllib.parse.parse_qs(response.text) == {"temperature": ["20"], "config_io": ["a&b=c"]}
    bare = stack.request(http, "GET", "/onep:v1/stack/alias", headers=cik(token))
    assert bare.status == 400


def test_a_combined_write_and_read(stack):
    token = stack.token_for("dev-1")
    http = stack.http()
    response = stack.request(
        http,
        "POST",
        "/onep:v1/stack/alias?temperature&switch",
        raw=b"temperature=19.5",
        headers={**FORM, **cik(token)},
    )
    assert response.status == 200 and response.text == "temperature=19.5"
    nothing = stack.request(
        http,
        "POST",
        "/onep:v1/stack/alias?switch",
        raw=b"temperature=19",
        headers={**FORM, **cik(token)},
    )
    assert nothing.status == 204
    no_type = stack.request(
        http, "POST", "/onep:v1/stack/alias", raw=b"temperature=1", headers=cik(token)
    )
    assert no_type.status == 415


# -- long polls --------------------------------------------------------------------------------
def poll(stack, http, token, alias="config_io", timeout_ms=30_000, since=None):
    headers = {**cik(token), "Request-Timeout": str(timeout_ms)}
    if since is not None:
        headers["If-Modified-Since"] = since
    return stack.run(
        http.request("GET", f"/onep:v1/stack/alias?{alias}", headers=headers, timeout=400)
    )


def test_a_long_poll_times_out_with_304_on_the_world_clock(stack):
    token = stack.token_for("dev-1")
    http = stack.http()
    started = stack.world.now
    response = poll(stack, http, token, timeout_ms=1000)
    assert response.status == 304 and not response.text
    assert 1.0 <= stack.world.now - started < 1.1
    started = stack.world.now
    capped = poll(stack, http, token, timeout_ms=900_000)  # cut to 300000 ms
    assert capped.status == 304 and 300 <= stack.world.now - started < 301


def test_a_long_poll_answers_when_the_cloud_sets_and_the_ack_ends_it(stack):
    token = stack.token_for("dev-1")
    http = stack.http()
    stack.world.loop.call_later(
        7, lambda: stack.call("setIdentityState", {"identity": "dev-1", "config_io": "mode=eco"})
    )
    started = stack.world.now
    response = poll(stack, http, token)
    assert response.status == 200 and 7 <= stack.world.now - started < 7.1
    assert urllib.parse.parse_qs(response.text) == {"config_io": ["mode=eco"]}
    assert response.headers["last-modified"] == "Thu, 01 Jan 2026 00:00:07 GMT"
    assert "config_io" in stack.gw.pending_sets("dev-1")
    # still waiting for the device: a poll since before the set answers at once
    again = poll(stack, http, token, since="0")
    assert again.status == 200 and stack.world.now - started < 7.2
    later = poll(stack, http, token, timeout_ms=500, since=response.headers["last-modified"])
    assert later.status == 200  # the same set, still not acknowledged, is newer than 00:00:07
    ack = stack.request(
        http,
        "POST",
        "/onep:v1/stack/alias",
        raw=urllib.parse.urlencode({"config_io": "mode=eco"}).encode(),
        headers={**FORM, **cik(token)},
    )
    assert ack.status == 204 and stack.gw.pending_sets("dev-1") == {}
    state = stack.state("dev-1")["config_io"]
    assert state["set"] == state["reported"] == "mode=eco"
    after = poll(stack, http, token, timeout_ms=1000, since="0")
    assert after.status == 304


def test_long_poll_rules(stack):
    token = stack.token_for("dev-1")
    http = stack.http()
    two = stack.run(
        http.request(
            "GET",
            "/onep:v1/stack/alias?config_io&switch",
            headers={**cik(token), "Request-Timeout": "1000"},
        )
    )
    assert two.status == 400 and "one alias" in two.text
    bad = poll(stack, http, token, since="yesterday")
    assert bad.status == 400 and "If-Modified-Since" in bad.text
    stack.call("setIdentityState", {"identity": "dev-1", "switch": True})
    future = str(stack.now_us // US + 60)
    waits = poll(stack, http, token, alias="switch", timeout_ms=2000, since=future)
    assert waits.status == 304  # the set is older than If-Modified-Since
    now = poll(stack, http, token, alias="switch", since="Thu, 01 Jan 2026 00:00:00 GMT")
    assert now.status == 200 and now.text == "switch=true"


# -- record ------------------------------------------------------------------------------------
def test_record_stores_historical_points_and_reports_conflicts(stack):
    token = stack.token_for("dev-1")
    http = stack.http()
    t0 = stack.now_us // US - 3600
    body = f"alias=temperature&{t0}=1&{t0 + 10}=2&alias=undefined&{t0}=x"
    response = stack.request(
        http, "POST", "/onep:v1/stack/record", raw=body.encode(), headers={**FORM, **cik(token)}
    )
    assert response.status == 204
    (event,) = stack.events_of("data_in", "dev-1")
    assert [p["timestamp"] for p in event["payload"]] == [t0 * US, (t0 + 10) * US]
    points = stack.call(
        "querySignal",
        {"identity": "dev-1", "signal": "temperature", "start_time": t0 - 1, "order": "asc"},
    )["data"]
    assert [(p["reported_time"], p["value"]) for p in points] == [(t0 * US, 1), ((t0 + 10) * US, 2)]
    clash = f"alias=temperature&{t0 + 0.5}=9&{t0 + 20}=3&{t0 + 20.25}=4"
    response = stack.request(
        http, "POST", "/onep:v1/stack/record", raw=clash.encode(), headers={**FORM, **cik(token)}
    )
    assert response.status == 409
    # Exosite's client reads the conflicting timestamps like this (get_conflict_timestamps)
    alias, times = urllib.parse.unquote_plus(response.text).split("=")
    assert alias == "temperature" and [float(t) for t in times.split(",")] == [
        t0 + 0.5,
        t0 + 20.25,
    ]
    stored = stack.call(
        "querySignal", {"identity": "dev-1", "signal": "temperature", "start_time": t0 - 1}
    )["data"]
    assert len(stored) == 3  # the point at t0 + 20 was kept
    malformed = stack.request(
        http, "POST", "/onep:v1/stack/record", raw=b"1234=5", headers={**FORM, **cik(token)}
    )
    assert malformed.status == 400


# -- timestamp and content ---------------------------------------------------------------------
def test_timestamp_needs_no_authentication_and_is_the_world_time(stack):
    stack.sleep(42)
    response = stack.request(stack.http(), "GET", "/timestamp")
    assert response.status == 200 and response.headers["content-type"].startswith("text/plain")
    assert int(response.text) == stack.now_us // US == 1_767_225_600 + 42


def test_content_download_lists_describes_and_serves_ranges(stack):
    token = stack.token_for("dev-1")
    http = stack.http()
    blob = bytes(range(200))
    stack.gw.contents().put("fw.bin", blob, description="firmware")
    stack.gw.contents().put("notes.txt", b"hello", "text/plain")
    listing = stack.request(http, "GET", "/provision/download", headers=cik(token))
    assert listing.status == 200 and listing.text.split() == ["fw.bin", "notes.txt"]
    info = stack.request(http, "GET", "/provision/download?id=fw.bin&info=true", headers=cik(token))
    kind, size, updated, description = info.text.split(",")
    assert (kind, size, description) == ("application/octet-stream", "200", "firmware")
    assert int(updated) == stack.now_us // US
    whole = stack.request(http, "GET", "/provision/download?id=fw.bin", headers=cik(token))
    assert whole.status == 200 and whole.body == blob and whole.headers["accept-ranges"] == "bytes"
    part = stack.request(
        http, "GET", "/provision/download?id=fw.bin", headers={**cik(token), "Range": "bytes=10-19"}
    )
    assert part.status == 206 and part.body == blob[10:20]
    assert part.headers["content-range"] == "bytes 10-19/200"
    tail = stack.request(
        http, "GET", "/provision/download?id=fw.bin", headers={**cik(token), "Range": "bytes=-5"}
    )
    assert tail.status == 206 and tail.body == blob[-5:]
    beyond = stack.request(
        http, "GET", "/provision/download?id=fw.bin", headers={**cik(token), "Range": "bytes=500-"}
    )
    assert beyond.status == 416 and beyond.headers["content-range"] == "bytes */200"
    assert (
        stack.request(http, "GET", "/provision/download?id=nope", headers=cik(token)).status == 404
    )
    assert stack.request(http, "GET", "/provision/download").status == 401


# -- hosts -------------------------------------------------------------------------------------
def test_a_request_for_another_domain_is_closed_without_an_answer(stack):
    http = stack.http(host="other.m2.exosite.io")
    with pytest.raises(HttpError):
        stack.request(http, "GET", "/timestamp")
    assert (
        stack.request(stack.http(host="EXAMPLE.m2.exosite.io."), "GET", "/timestamp").status == 200
    )


def test_unchecked_hosts_go_to_the_default_product(tmp_path):
    config = DeviceApiConfig(check_host=False, default_product="example")
    stack = Stack(tmp_path / "d2.db", config=config, products=("example", "other"))
    try:
        response = stack.request(stack.http(host="10.9.8.7"), "GET", "/timestamp")
        assert response.status == 200
        token = stack.token_for("dev-1")
        assert stack.service.gateway("example").status("dev-1") == "provisioned"
        assert token
    finally:
        stack.close()


def test_devmode_host_takes_tokens_only(stack):
    token = stack.token_for("dev-1")
    stack.call("addIdentity", {"identity": "pw-1", "auth": {"type": "password"}})
    stack.gw.provision("pw-1", password=PASSWORD)
    dev = stack.http(host="example.devmode-m2.exosite.io")
    ok = stack.request(
        dev, "POST", "/onep:v1/stack/alias", raw=b"temperature=1", headers={**FORM, **cik(token)}
    )
    assert ok.status == 204
    refused = stack.request(
        dev,
        "POST",
        "/onep:v1/stack/alias",
        raw=b"temperature=1",
        headers={**FORM, **basic("pw-1", PASSWORD)},
    )
    assert refused.status == 401 and "dev mode" in refused.text


# -- HTTPS and client certificates -------------------------------------------------------------
def test_a_client_certificate_provisions_on_first_write_then_authenticates(stack):
    stack.call("updateGatewaySettings", {"provisioning": {"auth_type": "certificate"}})
    stack.call("addIdentity", {"identity": "cert-1"})
    https = stack.http(context=stack.client_context("cert-1"), ip="192.0.2.33")
    first = stack.request(https, "POST", "/onep:v1/stack/alias", raw=b"temperature=5", headers=FORM)
    assert first.status == 204
    kinds = [e["type"] for e in stack.events if e["identity"] == "cert-1"]
    assert kinds == ["provisioned", "data_in"]  # the tutorial's order
    assert stack.status("cert-1") == "provisioned"
    again = stack.request(https, "GET", "/onep:v1/stack/alias?temperature")
    assert again.status == 200 and again.text == "temperature=5"
    other = stack.http(context=stack.client_context("cert-1"))  # a new key for the same CN
    refused = stack.request(other, "GET", "/onep:v1/stack/alias?temperature")
    assert refused.status == 401
    anonymous = stack.request(stack.http(context=stack.client_context()), "GET", "/timestamp")
    assert anonymous.status == 200


def test_pki_requires_a_client_ca_of_the_product(stack):
    foreign = CertificateAuthority("someone else")
    stack.call(
        "updateGatewaySettings",
        {
            "provisioning": {"auth_type": "certificate"},
            "pki": {"enabled": True, "client_ca": [foreign.cert_pem.decode()]},
        },
    )
    https = stack.http(context=stack.client_context("cert-2"))
    response = stack.request(
        https, "POST", "/onep:v1/stack/alias", raw=b"temperature=5", headers=FORM
    )
    assert response.status == 401 and "pki.client_ca" in response.text
    # a device certificate issued by the product's CA: trusted by TLS (read at the handshake)
    assert stack.apis.tls is not None
    stack.call("updateGatewaySettings", {"pki": {"client_ca": [foreign.cert_pem.decode()]}})
    own = foreign.issue("cert-3")
    context = stack.apis.tls.client_context(own)
    https = stack.http(context=context)
    response = stack.request(
        https, "POST", "/onep:v1/stack/alias", raw=b"temperature=6", headers=FORM
    )
    assert response.status == 204 and stack.status("cert-3") == "provisioned"


def test_an_untrusted_certificate_fails_the_handshake(stack):
    stranger = CertificateAuthority("stranger").issue("cert-4")
    assert stack.apis.tls is not None
    context = stack.apis.tls.client_context(stranger)
    with pytest.raises((HttpError, OSError)):
        stack.request(stack.http(context=context), "GET", "/timestamp")


def test_the_tls_server_name_must_be_the_host(stack):
    context = stack.client_context()
    context.check_hostname = False
    mismatched = stack.http(context=context, server_name="example.devmode-m2.exosite.io")
    with pytest.raises(HttpError):
        stack.request(mismatched, "GET", "/timestamp")
    assert (
        stack.request(stack.http(context=stack.client_context()), "GET", "/timestamp").status == 200
    )


# -- publish-as --------------------------------------------------------------------------------
def test_publish_as_needs_permission(stack):
    token = stack.token_for("gw-1")
    stack.call("addIdentity", {"identity": "sensor-1"})
    http = stack.http()
    headers = {**FORM, **cik(token), "X-Exosite-Publish-As": "sensor-1"}
    refused = stack.request(
        http, "POST", "/onep:v1/stack/alias", raw=b"temperature=7", headers=headers
    )
    assert refused.status == 403 and "may not publish as" in refused.text
    stack.call("updateGatewaySettings", {"permission": {"gateway": ["gw-1"]}})
    allowed = stack.request(
        http, "POST", "/onep:v1/stack/alias", raw=b"temperature=7", headers=headers
    )
    assert allowed.status == 204
    assert stack.state("sensor-1")["temperature"]["reported"] == 7
    (event,) = stack.events_of("data_in", "sensor-1")
    assert event["protocol"] == "http"
    missing = {**headers, "X-Exosite-Publish-As": "nobody"}
    assert (
        stack.request(http, "POST", "/onep:v1/stack/alias", raw=b"a=1", headers=missing).status
        == 404
    )
    assert HOST in stack.apis.url("http")


def test_the_device_api_publishes_its_openapi_description(stack):
    response = stack.request(stack.http(), "GET", "/openapi.json")
    assert response.status == 200
    doc = response.json()
    app = stack.apis.http.app()
    assert openapi.mismatches(doc, app) == [] and openapi.lint(doc) == []
    assert "/onep:v1/stack/alias" in doc["paths"] and "/provision/activate" in doc["paths"]
