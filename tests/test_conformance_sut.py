"""SUT declarations: the builtin one, validation errors, masking for reports, the check of a
declaration against its profile and the reachability probe before a run."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest
import yaml

from conformance.catalog import list_profiles, load_catalog
from conformance.endpoints import SCHEMAS, check_declaration, dial_targets, known_capabilities
from conformance.reachability import probe
from conformance.sut import MASK, SutError, list_suts, load_sut, parse_sut

DECL = {
    "name": "acme-gw",
    "identity": {"vendor": "Acme", "model": "GW-9", "firmware": "2.1.7"},
    "role": "gateway",
    "endpoints": {
        "ble-router": {
            "base_url": "http://10.0.0.9:80",
            "ac_url": "https://ops:hunter2@ac.example:8443/api",
        }
    },
    "credentials": {
        "username": "ops",
        "password": "s3cret-pw",
        "ac": {"client_id": "tester", "client_secret": "abc123", "api_key": "k-999"},
    },
    "capabilities": ["scan", "connect"],
}


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "sut.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_builtin_declares_the_reference_ble_router() -> None:
    sut = load_sut("builtin")
    assert sut.name == "builtin" and sut.builtin and sut.role == "gateway"
    assert sut.identity.vendor == "gateway-hil"
    assert sut.identity.firmware == "0.1.0"
    # Every capability the ble-router catalog names is declared (other profiles add theirs).
    assert set(sut.capabilities) >= {
        "scan",
        "connect",
        "gatt",
        "notify",
        "connection-state",
        "info",
        "rssi",
        "world-control",
    }
    ble_caps = {r.capability for r in load_catalog("ble-router").requirements if r.capability}
    assert ble_caps <= set(sut.capabilities), ble_caps - set(sut.capabilities)
    assert sut.endpoint("ble-router")["base_url"] == "http://127.0.0.1:8080"
    assert "builtin" in list_suts()


def test_to_dict_masks_every_secret_and_keeps_the_rest(tmp_path: Path) -> None:
    sut = load_sut(write(tmp_path, DECL))
    data = sut.to_dict()
    text = json.dumps(data)
    for secret in ("s3cret-pw", "abc123", "k-999", "hunter2"):
        assert secret not in text
    assert data["credentials"]["username"] == "ops"
    assert data["credentials"]["password"] == MASK
    assert data["credentials"]["ac"] == {
        "client_id": "tester",
        "client_secret": MASK,
        "api_key": MASK,
    }
    assert data["endpoints"]["ble-router"]["ac_url"] == f"https://ops:{MASK}@ac.example:8443/api"
    assert data["identity"] == {"vendor": "Acme", "model": "GW-9", "firmware": "2.1.7"}
    assert data["capabilities"] == ["scan", "connect"]
    # masking is a view: the declaration itself keeps what adapters need to log in
    assert sut.credentials["password"] == "s3cret-pw"


def test_numeric_firmware_is_kept_as_written(tmp_path: Path) -> None:
    sut = load_sut(write(tmp_path, {**DECL, "identity": {**DECL["identity"], "firmware": 2.1}}))
    assert sut.identity.firmware == "2.1"


@pytest.mark.parametrize(
    ("data", "fragments"),
    [
        ({**DECL, "identity": {"vendor": "Acme", "model": "GW-9"}}, ["identity", "'firmware'"]),
        ({**DECL, "identity": "Acme GW-9"}, ["'identity'", "vendor, model, firmware"]),
        ({**DECL, "role": "router"}, ["'role'", "'router'", "gateway, server, platform"]),
        ({**DECL, "capabilities": "scan"}, ["'capabilities'", "a list"]),
        ({**DECL, "capabilities": ["scan", "scan"]}, ["capabilities[1]", "twice"]),
        ({**DECL, "capabilities": ["Scan Radio"]}, ["capabilities[0]", "'Scan Radio'"]),
        ({k: v for k, v in DECL.items() if k != "capabilities"}, ["missing", "'capabilities'"]),
        ({**DECL, "builtin": "yes"}, ["'builtin'", "true or false"]),
        ({**DECL, "endpoints": {"ble-router": "http://x"}}, ["endpoints.ble-router", "mapping"]),
        ({**DECL, "capabilites": []}, ["capabilites", "accepted"]),
        ({k: v for k, v in DECL.items() if k != "name"}, ["missing field 'name'"]),
    ],
)
def test_invalid_declaration_names_file_and_field(
    tmp_path: Path, data: dict, fragments: list[str]
) -> None:
    path = write(tmp_path, data)
    with pytest.raises(SutError) as info:
        load_sut(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_unknown_sut_name_lists_known_ones() -> None:
    with pytest.raises(SutError) as info:
        load_sut("acme-does-not-exist")
    assert "'acme-does-not-exist'" in str(info.value) and "builtin" in str(info.value)


def test_missing_endpoint_for_profile_is_named() -> None:
    sut = parse_sut(DECL, "inline.yaml")
    with pytest.raises(
        SutError, match="no endpoints for profile 'mqtt-gateway'; declared: ble-router"
    ):
        sut.endpoint("mqtt-gateway")


# -- the declaration against a profile (conformance.endpoints) ----------------------------------


def test_builtin_fits_every_profile_and_is_never_dialled() -> None:
    sut = load_sut("builtin")
    for profile in list_profiles():
        check_declaration(sut, profile)
        assert dial_targets(sut, profile) == []
    assert set(SCHEMAS) <= set(list_profiles())


def test_every_capability_scenarios_or_catalogs_name_is_known() -> None:
    known = set(known_capabilities())
    from_catalogs = {
        r.capability for p in list_profiles() for r in load_catalog(p).requirements if r.capability
    }
    features = Path(__file__).resolve().parents[1] / "features"
    from_tags = {
        cap
        for path in features.rglob("*.feature")
        for tag in re.findall(r"@needs:(\S+)", path.read_text(encoding="utf-8"))
        for cap in tag.split("|")
    }
    assert from_tags, "no @needs tags found"
    assert from_catalogs | from_tags | set(load_sut("builtin").capabilities) <= known, (
        from_catalogs | from_tags
    ) - known
    assert "custom-thing" in known_capabilities(["custom-thing"])


OUTSIDE = {**DECL, "endpoints": {}, "capabilities": ["scan"]}


@pytest.mark.parametrize(
    ("profile", "block", "fragment"),
    [
        ("ble-router", {"world_control": "http://h:1"}, "ble-router.base_url is missing"),
        ("ble-router", {"base_url": "https://h"}, "base_url is 'https://h'; accepted: http://"),
        ("ble-router", {"base_url": "http://h:99999"}, "base_url is 'http://h:99999'"),
        ("ble-router", {"base_url": "http://u:p@h"}, "base_url is 'http://u:p@h'"),
        ("ble-router", {"base_url": "http://h", "time_scale": 0}, "time_scale is 0; accepted"),
        (
            "ble-router",
            {"base_url": "http://h", "ac": 1},
            "unknown field(s) ac; accepted: base_url",
        ),
        ("connect-master", {"address": "h:1", "ca": "c", "cert": "c"}, "connect-master.key is"),
        (
            "connect-master",
            {"address": "h:1", "ca": "c", "cert": "c", "key": "k", "admin": {"cert": "c"}},
            "connect-master.admin.key is missing; accepted: a file path",
        ),
        (
            "connect-master",
            {"address": "h:1", "ca": "c", "cert": "c", "key": "k", "other_tenant": "b"},
            "other_tenant is 'b'; accepted: a mapping with tenant, gateway, cert, key",
        ),
        (
            "connect-master",
            {"address": "h:1", "ca": "c", "cert": "c", "key": "k", "devices": [{"deviceID": 5}]},
            "connect-master.devices[0].ip is missing; accepted: an IPv4 address",
        ),
        ("rs485-modbus", {"tcp": "h:1", "pty": "/dev/pts/1"}, "names tcp, pty as its bridge"),
        ("rs485-modbus", {"tcp": "h:1", "unit": 0}, "rs485-modbus.unit is 0; accepted: a slave"),
        ("rs485-modbus", {"pty": "/p", "settings": "fast"}, "settings is 'fast'; accepted"),
        ("rs485-osdp", {"serial": "/dev/x", "scbk": "00"}, "scbk is '00'; accepted: null or 16"),
        ("rs485-osdp", {"serial": "/dev/x", "address": 127}, "address is 127; accepted: an OSDP"),
    ],
)
def test_outside_declaration_not_fitting_its_profile_is_one_line(
    profile: str, block: dict, fragment: str
) -> None:
    sut = parse_sut({**OUTSIDE, "endpoints": {profile: block}}, "lab.yaml")
    with pytest.raises(SutError) as info:
        check_declaration(sut, profile)
    message = str(info.value)
    assert message.startswith("lab.yaml: ") and "\n" not in message
    assert fragment in message, message


def test_fitting_declarations_pass_and_name_what_is_dialled() -> None:
    sut = parse_sut(
        {
            **OUTSIDE,
            "endpoints": {
                "ble-router": {
                    "base_url": "http://10.0.0.9/api",
                    "world_control": "http://[::1]:81",
                },
                "ble-ac": {"base_url": "http://10.0.0.8:8090", "client_id": "d", "secret": "s"},
                "connect-master": {"address": "[::1]:4010", "ca": "c", "cert": "c", "key": "k"},
                "rs485-modbus": {"tcp": "127.0.0.1:5020", "unit": 3, "settings": "19200 8E1"},
                "rs485-osdp": {"pty": "/dev/pts/9", "address": 0, "scbk": None},
                "mqtt-gateway": {"process": {"start": "gw"}, "meters": [{"name": "M", "unit": 1}]},
                "device2": {
                    "service_url": "http://10.0.0.7:8090",
                    "device_url": "http://10.0.0.7:8091",
                },
            },
        },
        "lab.yaml",
    )
    for profile in SCHEMAS:
        check_declaration(sut, profile)
    assert [(t.field, t.host, t.port) for t in dial_targets(sut, "ble-router")] == [
        ("endpoints.ble-router.base_url", "10.0.0.9", 80),
        ("endpoints.ble-router.world_control", "::1", 81),
    ]
    assert [(t.host, t.port) for t in dial_targets(sut, "ble-ac")] == [("10.0.0.8", 8090)]
    assert [(t.host, t.port) for t in dial_targets(sut, "connect-master")] == [("::1", 4010)]
    assert [(t.host, t.port) for t in dial_targets(sut, "rs485-modbus")] == [("127.0.0.1", 5020)]
    assert [t.path for t in dial_targets(sut, "rs485-osdp")] == ["/dev/pts/9"]


def test_a_profile_without_a_schema_gets_the_capability_check_only() -> None:
    sut = parse_sut({**OUTSIDE, "capabilities": ["warp"]}, "lab.yaml")
    check_declaration(sut, "mini-router", ["warp"])
    with pytest.raises(SutError, match="capabilities\\[0\\] 'warp' is not a capability"):
        check_declaration(sut, "mini-router")


def test_probe_names_what_could_not_be_reached(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        open_port = listener.getsockname()[1]
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            closed_port = closed.getsockname()[1]  # bound, never listening: refused
            endpoints = {
                "ble-router": {
                    "base_url": f"http://127.0.0.1:{open_port}",
                    "world_control": f"http://127.0.0.1:{closed_port}",
                },
                "rs485-osdp": {"pty": str(tmp_path / "no-such-pty")},
            }
            sut = parse_sut({**OUTSIDE, "endpoints": endpoints}, "lab.yaml")
            line = probe(sut, "ble-router", timeout=2)
            assert line == (
                f"SUT acme-gw could not be reached: endpoints.ble-router.world_control "
                f"http://127.0.0.1:{closed_port} (connection refused)"
            )
            assert "(no such device)" in (probe(sut, "rs485-osdp") or "")
            endpoints["ble-router"]["world_control"] = f"http://127.0.0.1:{open_port}"
            sut = parse_sut({**OUTSIDE, "endpoints": endpoints}, "lab.yaml")
            assert probe(sut, "ble-router") is None
    assert probe(load_sut("builtin"), "ble-router") is None
