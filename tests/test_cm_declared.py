"""Judging an external master gateway through its DECLARED terminals (no world control): the
device list and its errors, binding scenario terminals to declared ones, the `@needs:a|b`
plan rule, and the declared-device scenarios against `hil serve connect-master` in another
process whose terminals a "lab technician" placed out of band."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

import pytest
import yaml

from conformance.sut import SutError, parse_sut
from features.connect_master.steps.sut import declared_devices
from scenarios.connect_master.declared import DeclaredTerminal, DeviceBinding, parse_devices
from tests.served import served_connect_master

pytest_plugins = ["pytester"]
SCALE = 20  # far-side seconds per wall second in the served process

DEVICES = [
    {
        "deviceID": 540000001,
        "ip": "10.0.0.31",
        "port": 51211,
        "ssl": False,
        "mode": "server-to-device",
    },
    {"deviceID": 540000002, "ip": "10.0.0.32", "ssl": True},
    {"deviceID": 540000003, "ip": "10.0.0.33", "mode": "device-to-server"},
    {"deviceID": 540000004, "ip": "10.0.0.34"},
]


# -- the declared list ------------------------------------------------------------------------


def test_devices_parse_with_defaults() -> None:
    devices = parse_devices(DEVICES)
    assert devices[0] == DeclaredTerminal(540000001, "10.0.0.31", 51211, False, 0)
    assert devices[1] == DeclaredTerminal(540000002, "10.0.0.32", 51211, True, 0)
    assert devices[2].mode == 1 and parse_devices(None) == []


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"ip": "10.0.0.1"}, "devices[1].deviceID is missing; accepted: an integer 1..4294967295"),
        ({"deviceID": 0, "ip": "10.0.0.1"}, "devices[1].deviceID is 0"),
        ({"deviceID": 7, "ip": "10.0.0.300"}, "devices[1].ip is '10.0.0.300'; accepted: an IPv4"),
        ({"deviceID": 7, "ip": "10.0.0.1", "port": 70000}, "devices[1].port is 70000"),
        (
            {"deviceID": 7, "ip": "10.0.0.1", "ssl": "yes"},
            "devices[1].ssl is 'yes'; accepted: true",
        ),
        (
            {"deviceID": 7, "ip": "10.0.0.1", "mode": "push"},
            "devices[1].mode is 'push'; accepted: server-to-device, device-to-server",
        ),
        ({"deviceID": 7, "ip": "10.0.0.1", "host": 3}, "devices[1]: unknown field(s) host"),
        (
            {"deviceID": 540000001, "ip": "10.0.0.1"},
            "devices[1].deviceID 540000001 is declared twice",
        ),
        ("540000009", "devices[1] is '540000009'; accepted: a mapping"),
    ],
)
def test_malformed_entry_names_entry_and_field(entry: Any, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_devices([DEVICES[0], entry])
    assert message in str(caught.value)


def _sut(devices: Any, capabilities: list[str]) -> Any:
    return parse_sut(
        {
            "name": "lab",
            "identity": {"vendor": "V", "model": "M", "firmware": "1"},
            "role": "server",
            "capabilities": capabilities,
            "endpoints": {"connect-master": {"address": "192.0.2.20:4010", "devices": devices}},
        },
        "lab.yaml",
    )


def test_sut_errors_name_file_entry_and_field() -> None:
    with pytest.raises(
        SutError,
        match=r"lab.yaml: endpoints.connect-master.devices\[0\].ip "
        r"is missing",
    ):
        declared_devices(_sut([{"deviceID": 5}], ["declared-devices"]))
    with pytest.raises(SutError, match="capabilities lack 'declared-devices'"):
        declared_devices(_sut(DEVICES, ["connect-master"]))
    with pytest.raises(SutError, match="needs a non-empty 'devices' list"):
        declared_devices(_sut(None, ["declared-devices"]))
    assert len(declared_devices(_sut(DEVICES, ["declared-devices"]))) == 4


def test_binding_follows_declaration_order_mode_and_ssl() -> None:
    binding = DeviceBinding(parse_devices(DEVICES))
    assert binding.bind(1001, "10.0.0.11", mode=0, ssl=False).device_id == 540000001
    assert binding.bind(1002, "10.0.0.12", mode=0, ssl=False).device_id == 540000004
    assert binding.bind(2001, "10.0.0.21", mode=1, ssl=False).device_id == 540000003
    assert binding.device(1002) == 540000004 and binding.device(8888) == 8888
    assert binding.address("10.0.0.21") == ("10.0.0.33", 51211)
    assert binding.address("10.0.0.300") == ("10.0.0.300", 51211)
    with pytest.raises(
        ValueError,
        match=r"1003 needs a declared server-to-device device with "
        r"ssl false; unused declared devices: 540000002 "
        r"\(server-to-device, ssl true\)",
    ):
        binding.bind(1003, "10.0.0.13", mode=0, ssl=False)
    with pytest.raises(ValueError, match="already bound"):
        binding.bind(1001, "10.0.0.11", mode=0, ssl=True)


# -- the plan: @needs:a|b ---------------------------------------------------------------------

ALT_FEATURE = """\
Feature: alternatives
  @needs:world-control|declared-devices
  Scenario: either will do
    Given nothing

  @needs:world-control|teleport @needs:declared-devices
  Scenario: all needs count
    Given nothing
"""
ALT_STEPS = """\
from pytest_bdd import given, scenarios
scenarios("alt.feature")

@given("nothing")
def nothing():
    pass
"""


@pytest.mark.parametrize(
    ("caps", "passed", "reasons"),
    [
        (
            ["declared-devices"],
            1,
            {"not-applicable: SUT does not declare world-control or teleport"},
        ),
        (["world-control", "declared-devices"], 2, set()),
        (
            ["scan"],
            0,
            {
                "not-applicable: SUT does not declare world-control or declared-devices",
                "not-applicable: SUT does not declare declared-devices, world-control or teleport",
            },
        ),
    ],
)
def test_needs_alternatives(
    pytester: pytest.Pytester, caps: list[str], passed: int, reasons: set[str]
) -> None:
    pytester.makefile(".feature", alt=ALT_FEATURE)
    pytester.makepyfile(test_alt=ALT_STEPS)
    pytester.makefile(
        ".yaml",
        sut=yaml.safe_dump(
            {
                "name": "s",
                "identity": {"vendor": "V", "model": "M", "firmware": "1"},
                "role": "server",
                "capabilities": caps,
            }
        ),
    )
    out = pytester.path / "records.json"
    result = pytester.runpytest(
        "-p",
        "conformance.pytest_plugin",
        "--hil-sut",
        str(pytester.path / "sut.yaml"),
        "--hil-results",
        str(out),
    )
    result.assert_outcomes(passed=passed, skipped=2 - passed)
    records = json.loads(out.read_text())
    missing = {
        frozenset(r["skip_reason"].split("declare ", 1)[1].split(", "))
        for r in records
        if r["planned_skip"]
    }
    assert missing == {frozenset(r.split("declare ", 1)[1].split(", ")) for r in reasons}


# -- end to end: a served master judged through declared terminals ----------------------------

DECLARED_SCENARIOS = " or ".join(
    (
        "outside_the_accept_filter",
        "dropped_for_good",
        "retried_after_disconnect",
        "comes_back_by_itself",
        "sees_only_its_own",
        "disconnectall_succeeds",
        "usessl_that_does_not_match",
        "power_cycle",
    )
)  # the last one stays not-applicable


def _control(url: str, path: str, body: dict[str, Any]) -> None:
    request = Request(
        url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urlopen(request, timeout=10) as reply:
        assert reply.status == 201


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`hil serve connect-master` with no terminals of its own; the 'technician' then places the
    lab's terminals through its world control, which the declaration below never names."""
    out = tmp_path_factory.mktemp("cm-lab")
    with served_connect_master(out, 0, SCALE) as info:
        served = info["sut"]
        url = served["endpoints"]["connect-master"].pop("world_control")
        for device in DEVICES:
            _control(
                url,
                "/world/terminals",
                {
                    "deviceID": device["deviceID"],
                    "gateway": "gw-a",
                    "host": int(device["ip"].rsplit(".", 1)[1]),
                    "ssl": device.get("ssl", False),
                    "mode": 1 if device.get("mode") == "device-to-server" else 0,
                },
            )
        served["endpoints"]["connect-master"].update(devices=DEVICES, time_scale=SCALE)
        served.update(
            name="lab-with-declared-terminals",
            capabilities=["connect-master", "declared-devices", "second-tenant"],
        )
        (out / "lab.yaml").write_text(yaml.safe_dump(served), encoding="utf-8")
        yield {"sut": out / "lab.yaml"}


@pytest.mark.slow
def test_declared_device_scenarios_pass_without_world_control(
    lab: dict[str, Any], tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance.cli",
            "conformance",
            "--profile",
            "connect-master",
            "--sut",
            str(lab["sut"]),
            "--clock",
            "real",
            "--reports",
            str(reports),
            "-k",
            DECLARED_SCENARIOS,
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    [run_dir] = list(reports.iterdir())
    results = json.loads((run_dir / "results.json").read_text())
    summary = results["summary"]
    assert summary["fail"] == 0 and summary["error"] == 0, proc.stdout[-4000:]
    verdicts = {r["id"]: r["verdict"] for r in results["requirements"]}
    for req in (
        "CM-FILTER-001",
        "CM-FILTER-002",
        "CM-FILTER-003",
        "CM-STATUS-002",
        "CM-SYNC-001",
        "CM-DISC-001",
        "CM-DISC-002",
        "CM-DISC-003",
        "CM-ASYNC-002",
        "CM-SSL-001",
        "CM-TENANT-001",
    ):
        assert verdicts[req] == "pass", (req, verdicts[req], proc.stdout[-4000:])
    outcomes = {r["name"]: (r["outcome"], r["skip_reason"]) for r in results["scenarios"]}
    assert sum(o == ("passed", None) for o in outcomes.values()) == 7, outcomes
    # Power-cycling needs world control: that scenario stays not-applicable.
    power = "An async device reconnects after a power cycle, within the reconnect interval"
    assert outcomes[power] == ("skipped", "not-applicable: SUT does not declare world-control")
    assert proc.returncode == 0
