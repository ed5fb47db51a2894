"""SUT declarations: the builtin one, validation errors, masking for reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conformance.catalog import load_catalog
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
