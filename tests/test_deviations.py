"""Deviations: the mechanism (:mod:`devices.deviations`), each deviation catalog against its
implementation and its requirement catalog, how a SUT declaration and ``hil serve`` select them,
and a few of the BLE router's hooks seen from outside."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.catalog import load_catalog
from conformance.deviations import KINDS, DeviationCatalogError, list_deviation_profiles
from conformance.deviations import load_deviations as load_deviation_catalog
from conformance.endpoints import check_declaration
from conformance.sut import SutError, deviant, load_sut, parse_sut, sut_data
from devices.deviations import NO_DEVIATIONS, DeviationError, Deviations
from devices.gateways.ble_router.deviations import DEVIATIONS, bent_scan_filter, ble_deviations
from devices.gateways.ble_router.scan_filter import parse_filter
from tests.served import ROOT, served

PROFILES = list_deviation_profiles()
FEATURES = ROOT / "features"
# The field faults of real gateways (specs/) that apply to a BLE router, by a word of their quote.
BLE_KNOWN_FAULTS = ("error although it succeeded", "dead links", "duplicate connections", "lost")


# -- the mechanism ------------------------------------------------------------------------------


def test_a_deviations_value_holds_only_declared_names() -> None:
    declared = {"late": "answers late", "twice": "sends twice"}
    value = Deviations.of(["twice"], declared, "toy")
    assert value.active("twice") and not value.active("late")
    assert bool(value) and len(value) == 1 and list(value) == ["twice"] and str(value) == "twice"
    unknown = r"unknown toy deviation 'soon'; accepted: late, twice"
    with pytest.raises(DeviationError, match=unknown):
        Deviations.of(["soon"], declared, "toy")
    with pytest.raises(DeviationError, match="'typo'"):  # a misspelt hook fails loudly
        value.active("typo")
    assert Deviations.of("late", declared).names == {"late"}  # one name, not its letters
    with pytest.raises(DeviationError):  # a value made for another system is checked again
        Deviations.of(value, {"other": "x"}, "other")
    with pytest.raises(AttributeError):
        value.names = frozenset()  # type: ignore[misc]


def test_no_deviations_is_false_for_every_name() -> None:
    assert not NO_DEVIATIONS and not NO_DEVIATIONS.active("anything")
    assert str(NO_DEVIATIONS) == "none"
    clean = ble_deviations()
    assert not clean and not clean.active("dead-link-slow")


def test_the_ble_router_refuses_a_deviation_it_does_not_declare() -> None:
    from scenarios.ble_router.bed import LocalBleBed

    with pytest.raises(DeviationError, match="unknown ble-router deviation 'melt'"):
        LocalBleBed(router={"deviations": ["melt"]})
    bed = LocalBleBed(router={"deviations": ["dead-link-slow"]})
    try:
        assert bed.router.deviations.active("dead-link-slow")
        assert bed.router.central.deviations is bed.router.deviations
    finally:
        bed.close()


def test_scan_filter_deviations_bend_the_compiled_filter() -> None:
    query = {"filter_name": "HR-1", "filter_rssi": "-60", "filter_uuid": "FFF0"}
    clean = parse_filter(query)
    assert bent_scan_filter(ble_deviations(), clean) is clean
    prefix = bent_scan_filter(ble_deviations(["scan-filter-name-prefix"]), clean)
    assert prefix.match_name("HR-10") and not clean.match_name("HR-10")
    assert bent_scan_filter(ble_deviations(["scan-filter-rssi-ignored"]), clean).rssi is None
    air = bent_scan_filter(ble_deviations(["scan-filter-uuid-air-order"]), clean)
    assert air.uuids == ("F0FF",)
    anywhere = bent_scan_filter(ble_deviations(["scan-filter-uuid-any-bytes"]), clean)
    assert anywhere.uuids == () and anywhere.values == ((None, b"\xf0\xff"),)
    first_only = bent_scan_filter(ble_deviations(["scan-filters-not-combined"]), clean)
    assert first_only.has_name_filter and first_only.rssi is None and first_only.uuids == ()


# -- the catalogs -------------------------------------------------------------------------------


def test_there_is_a_ble_router_deviation_catalog() -> None:
    assert "ble-router" in PROFILES


@pytest.mark.parametrize("profile", PROFILES)
def test_a_deviation_catalog_names_exactly_its_implementations_deviations(profile: str) -> None:
    catalog = load_deviation_catalog(profile)
    declared = catalog.declared()
    assert sorted(catalog.names) == sorted(declared), set(catalog.names) ^ set(declared)
    for deviation in catalog.deviations:
        assert deviation.kind in KINDS
        assert all(r in catalog.requirements for r in deviation.catches)


@pytest.mark.parametrize("profile", PROFILES)
def test_every_declared_deviation_has_a_hook(profile: str) -> None:
    """Each name is asked for (``active("NAME")``) somewhere in the implementation's package: a
    hook lost in an edit would leave a deviation that changes nothing."""
    catalog = load_deviation_catalog(profile)
    module = importlib.import_module(catalog.implementation)
    # an implementation gathering several systems' deviations names where their hooks live
    names = [module.__name__, *getattr(module, "HOOK_PACKAGES", ())]
    packages = [Path(str(importlib.import_module(n).__file__)).parent for n in names]
    package = packages[0]
    sources = "\n".join(
        p.read_text(encoding="utf-8") for folder in packages for p in folder.rglob("*.py")
    )
    unhooked = [
        n for n in catalog.names if not re.search(rf'active\(\s*"{re.escape(n)}"\s*\)', sources)
    ]
    assert not unhooked, f"deviations without a hook in {package}: {unhooked}"


@pytest.mark.parametrize("profile", PROFILES)
def test_every_mandatory_requirement_family_has_a_deviation(profile: str) -> None:
    catalog = load_deviation_catalog(profile)
    families = {r.id.rsplit("-", 1)[0] for r in catalog.requirements.requirements if r.mandatory}
    caught = {r.rsplit("-", 1)[0] for d in catalog.deviations for r in d.catches}
    assert families <= caught, f"mandatory families without a deviation: {families - caught}"


@pytest.mark.parametrize("profile", PROFILES)
def test_every_deviation_names_requirements_some_scenario_carries(profile: str) -> None:
    tags = _scenario_tags()
    catalog = load_deviation_catalog(profile)
    for deviation in catalog.deviations:
        carried = [r for r in deviation.catches if any(r in t for t, _load in tags)]
        assert carried, f"{deviation.name}: no scenario carries {deviation.catches}"


def test_ble_router_known_field_faults_are_caught_in_the_default_profile() -> None:
    catalog = load_deviation_catalog("ble-router")
    known = [d for d in catalog.deviations if d.known_fault]
    for words in BLE_KNOWN_FAULTS:
        assert any(words in (d.known_fault.quote or "") for d in known if d.known_fault), words
    default = set().union(*(t for t, load in _scenario_tags() if not load))
    for deviation in known:
        assert set(deviation.catches) & default, f"{deviation.name} is caught only under load"


def _scenario_tags() -> list[tuple[set[str], bool]]:
    """(requirement IDs, under @load) per scenario of every feature file."""
    found: list[tuple[set[str], bool]] = []
    for path in sorted(FEATURES.rglob("*.feature")):
        text = path.read_text(encoding="utf-8")
        feature_load = "@load" in text.split("Feature:", 1)[0]
        for tags in re.findall(r"((?:^[ \t]*@.*\n)+)[ \t]*Scenario(?: Outline)?:", text, re.M):
            found.append((set(re.findall(r"@req:([\w.-]+)", tags)), feature_load))
    return found


def test_a_deviation_catalog_is_checked_against_its_requirements(tmp_path: Path) -> None:
    from conformance.deviations.catalog import parse_deviations

    requirements = load_catalog("ble-router")
    good: dict[str, Any] = {
        "profile": "ble-router",
        "implementation": "devices.gateways.ble_router.deviations",
        "deviations": [
            {
                "name": "dead-link-slow",
                "description": "slow",
                "kind": "wrong-timing",
                "known_fault": False,
                "catches": ["BLE-CST-003"],
            }
        ],
    }
    assert parse_deviations(good, tmp_path / "x.yaml", requirements).names == ["dead-link-slow"]
    for change, message in [
        ({"kind": "late"}, "kind is 'late'; accepted: wrong-field"),
        ({"catches": ["BLE-NOPE-001"]}, "catches BLE-NOPE-001, not requirements of ble-router"),
        ({"known_fault": "yes"}, "known_fault is 'yes'"),
        (
            {"known_fault": {"kind": "facts", "file": "specs/gsdk-wire-facts.md", "quote": "x y"}},
            "quote not found",
        ),
    ]:
        bad = {**good, "deviations": [{**good["deviations"][0], **change}]}
        with pytest.raises(DeviationCatalogError, match=re.escape(message)):
            parse_deviations(bad, tmp_path / "x.yaml", requirements)


# -- selection ----------------------------------------------------------------------------------


def _declaration(**changes: Any) -> dict[str, Any]:
    return {**sut_data(load_sut("builtin")), **changes}


def test_a_builtin_declaration_may_name_deviations_an_outside_one_may_not() -> None:
    sut = parse_sut(_declaration(deviations=["dead-link-slow"]))
    assert sut.deviations == ("dead-link-slow",)
    assert sut.to_dict()["deviations"] == ["dead-link-slow"]
    check_declaration(sut, "ble-router")
    with pytest.raises(SutError, match="needs 'builtin: true'"):
        parse_sut(_declaration(builtin=False, deviations=["dead-link-slow"]))
    with pytest.raises(SutError, match="listed twice"):
        parse_sut(_declaration(deviations=["dead-link-slow", "dead-link-slow"]))
    with pytest.raises(SutError, match="'melt' is not a ble-router deviation; accepted: scan-"):
        check_declaration(parse_sut(_declaration(deviations=["melt"])), "ble-router")
    with pytest.raises(SutError, match="'melt' is not a ble-ac deviation; accepted: access-"):
        check_declaration(parse_sut(_declaration(deviations=["melt"])), "ble-ac")


def test_a_deviant_declaration_round_trips_through_yaml(tmp_path: Path) -> None:
    sut = deviant(load_sut("builtin"), ["scan-name-missing"], name="builtin-deviant")
    path = tmp_path / "sut.yaml"
    path.write_text(yaml.safe_dump(sut_data(sut)), encoding="utf-8")
    again = load_sut(path)
    assert again.name == "builtin-deviant" and again.deviations == ("scan-name-missing",)
    assert again.capabilities == load_sut("builtin").capabilities
    assert dict(again.credentials) == dict(load_sut("builtin").credentials)


def _hil(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("system", "message"),
    [
        ("ble-router", "hil serve ble-router: unknown ble-router deviation 'melt'; accepted: "),
        ("rs485", "hil serve rs485: unknown rs485 deviation 'melt'; accepted: answers-absent-"),
        ("ble-ac", "hil serve ble-ac: unknown ble-ac deviation 'melt'; accepted: access-"),
        (
            "connect-master",
            "hil serve connect-master: unknown connect-master deviation 'melt'; accepted: async-",
        ),
    ],
)
def test_serve_refuses_an_unknown_deviation_in_one_line(system: str, message: str) -> None:
    proc = _hil("serve", system, "--deviate", "melt", "--duration", "1")
    assert proc.returncode == 2
    assert proc.stderr.startswith(message) and proc.stderr.count("\n") == 1, proc.stderr
    assert "listening" not in proc.stdout


def test_serve_deviates_as_told() -> None:
    assert "--deviate NAME" in _hil("serve", "ble-router", "--help").stdout
    args = ["--port", "0", "--control-port", "0", "--peripherals", "0", "--duration", "30"]
    with served("ble-router", *args, "--deviate", "info-version-missing") as running:
        assert "deviating on purpose: info-version-missing" in running.output
        with urllib.request.urlopen(f"{running.address('api')}/cassia/info", timeout=10) as r:
            info = json.loads(r.read())
    assert "mac" in info and "version" not in info
    assert "info-version-missing" in DEVIATIONS
