"""Requirement catalog loading and validation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conformance.catalog import (
    CatalogError,
    list_profiles,
    load_catalog,
    parse_catalog,
)

GOOD = {
    "profile": "demo",
    "title": "Demo profile",
    "version": "1.0.0",
    "seed": "002_bfed87bbd4822233.txt",
    "requirements": [
        {
            "id": "DEMO-SCAN-001",
            "section": "Scan",
            "text": "scan reports arrive",
            "level": "mandatory",
            "capability": "scan",
        },
        {"id": "DEMO-INFO-001", "section": "Info", "text": "info answers", "level": "optional"},
    ],
}


def write(tmp_path: Path, data: object, name: str = "demo.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def with_requirement(index: int, **changes: object) -> dict:
    data = yaml.safe_load(yaml.safe_dump(GOOD))
    req = data["requirements"][index]
    for key, value in changes.items():
        if value is ...:
            req.pop(key)
        else:
            req[key] = value
    return data


def test_valid_catalog_loads_with_all_fields(tmp_path: Path) -> None:
    catalog = load_catalog(write(tmp_path, GOOD))
    assert catalog.profile == "demo"
    assert catalog.version == "1.0.0"
    assert catalog.seed == "002_bfed87bbd4822233.txt"
    assert catalog.ids == ["DEMO-SCAN-001", "DEMO-INFO-001"]
    scan = catalog.get("DEMO-SCAN-001")
    assert scan is not None and scan.capability == "scan" and scan.mandatory
    info = catalog.get("DEMO-INFO-001")
    assert info is not None and info.capability is None and not info.mandatory
    assert "DEMO-INFO-001" in catalog and "NOPE" not in catalog


@pytest.mark.parametrize(
    ("data", "fragments"),
    [
        (
            {**GOOD, "requirements": [GOOD["requirements"][0], GOOD["requirements"][0]]},
            ["requirements[1]", "DEMO-SCAN-001", "duplicate", "requirements[0]"],
        ),
        (
            with_requirement(1, level="must"),
            ["requirements[1]", "DEMO-INFO-001", "'level'", "'must'", "mandatory, optional"],
        ),
        (with_requirement(1, level=...), ["DEMO-INFO-001", "'level'", "missing"]),
        (with_requirement(0, text=...), ["requirements[0]", "DEMO-SCAN-001", "missing", "'text'"]),
        (with_requirement(0, section=""), ["DEMO-SCAN-001", "'section'", "non-empty string"]),
        (with_requirement(0, id=...), ["requirements[0]", "missing field 'id'"]),
        (with_requirement(0, id="DEMO SCAN"), ["'id'", "'DEMO SCAN'", "no spaces"]),
        (with_requirement(0, capabilty="scan"), ["DEMO-SCAN-001", "capabilty", "capability"]),
        (with_requirement(0, capability="Scan Radio"), ["'capability'", "'Scan Radio'"]),
        ({**GOOD, "version": 1.0}, ["'version'", "quote it"]),
        ({**GOOD, "requirements": []}, ["'requirements'", "non-empty list"]),
        ({k: v for k, v in GOOD.items() if k != "title"}, ["missing field 'title'"]),
        ({**GOOD, "profile": "Demo Profile"}, ["'profile'", "'Demo Profile'"]),
        (["not", "a", "mapping"], ["must be a mapping", "list"]),
    ],
)
def test_invalid_catalog_names_file_requirement_and_field(
    tmp_path: Path, data: object, fragments: list[str]
) -> None:
    path = write(tmp_path, data)
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_invalid_yaml_is_a_catalog_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("profile: [unclosed\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="not valid YAML"):
        load_catalog(path)


def test_profile_names_resolve_in_catalog_dir(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "demo.yaml")
    write(tmp_path, {**GOOD, "profile": "other"}, "other.yaml")
    assert list_profiles(tmp_path) == ["demo", "other"]
    assert load_catalog("demo", catalog_dir=tmp_path).profile == "demo"
    with pytest.raises(CatalogError) as info:
        load_catalog("nosuch", catalog_dir=tmp_path)
    assert "'nosuch'" in str(info.value) and "demo, other" in str(info.value)


def test_profile_field_must_match_file_name(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "renamed.yaml")
    with pytest.raises(CatalogError, match="'demo' but the file name says 'renamed'"):
        load_catalog("renamed", catalog_dir=tmp_path)


def test_parse_catalog_accepts_parsed_data() -> None:
    catalog = parse_catalog(GOOD, "inline")
    assert len(catalog.requirements) == 2


@pytest.mark.parametrize("profile", list_profiles())
def test_shipped_catalogs_are_valid(profile: str) -> None:
    catalog = load_catalog(profile)
    assert catalog.profile == profile
    assert catalog.requirements
