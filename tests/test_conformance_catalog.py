"""Requirement catalog loading and validation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conformance.catalog import (
    CatalogError,
    catalog_path,
    list_profiles,
    load_catalog,
    parse_catalog,
)
from conformance.sources import SEEDS_ENV, SHARED_ENV, Documents, normalise

# The documents beside the project, captured before any test points the env elsewhere.
REAL_DOCUMENTS = Documents.discover()
SEED = "002_bfed87bbd4822233.txt"
SEED_TEXT = """Scan Bluetooth Devices

This API is a Server-Sent Events (SSE) which will be
running continuously. See [Status](#status) for __more__.
"""
FACTS_TEXT = "- Device gateway defaults: keep-alive `32 000 ms`.\n"

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
            "covers": ["GET /gap/nodes?event=1"],
            "source": {
                "kind": "seed",
                "section": "Scan Bluetooth Devices",
                "quote": "This API is a Server-Sent Events (SSE) "
                "which will be running continuously.",
            },
        },
        {
            "id": "DEMO-INFO-001",
            "section": "Info",
            "text": "info answers",
            "level": "optional",
            "source": {"kind": "facts", "file": "specs/facts.md", "quote": "keep-alive 32 000 ms"},
        },
        {
            "id": "DEMO-READ-001",
            "section": "Errors",
            "text": "bad input is refused",
            "level": "advisory",
            "source": {"kind": "reading", "why": "the seed gives values, not refusals"},
        },
        {
            "id": "DEMO-STD-001",
            "section": "Line",
            "text": "no answer to a broadcast",
            "level": "mandatory",
            "source": {"kind": "standard", "document": "Modbus serial line", "clause": "§2.1"},
        },
    ],
}


@pytest.fixture(autouse=True)
def documents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Documents:
    """A small shared folder (a seed and a facts sheet) found through $HIL_SHARED_DIR."""
    shared = tmp_path / "shared"
    (shared / "seeds").mkdir(parents=True)
    (shared / "specs").mkdir()
    (shared / "seeds" / SEED).write_text(SEED_TEXT, encoding="utf-8")
    (shared / "specs" / "facts.md").write_text(FACTS_TEXT, encoding="utf-8")
    monkeypatch.setenv(SHARED_ENV, str(shared))
    monkeypatch.delenv(SEEDS_ENV, raising=False)
    return Documents.discover()


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
    assert catalog.ids == ["DEMO-SCAN-001", "DEMO-INFO-001", "DEMO-READ-001", "DEMO-STD-001"]
    scan = catalog.get("DEMO-SCAN-001")
    assert scan is not None and scan.capability == "scan" and scan.mandatory
    assert scan.covers == ("GET /gap/nodes?event=1",)
    assert scan.source.kind == "seed" and scan.source.section == "Scan Bluetooth Devices"
    assert scan.source.ref == "§ Scan Bluetooth Devices"
    info = catalog.get("DEMO-INFO-001")
    assert info is not None and info.capability is None and not info.mandatory
    assert info.source.ref == "facts.md" and info.covers == ()
    reading = catalog.get("DEMO-READ-001")
    assert reading is not None and reading.advisory and not reading.mandatory
    assert reading.source.text == "the seed gives values, not refusals"
    standard = catalog.get("DEMO-STD-001")
    assert standard is not None and standard.source.ref == "Modbus serial line §2.1"
    assert standard.source.to_dict() == {
        "kind": "standard",
        "document": "Modbus serial line",
        "clause": "§2.1",
    }
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
            [
                "requirements[1]",
                "DEMO-INFO-001",
                "'level'",
                "'must'",
                "mandatory, optional, advisory",
            ],
        ),
        (with_requirement(1, level=...), ["DEMO-INFO-001", "'level'", "missing"]),
        (with_requirement(0, text=...), ["requirements[0]", "DEMO-SCAN-001", "missing", "'text'"]),
        (with_requirement(0, section=""), ["DEMO-SCAN-001", "'section'", "non-empty string"]),
        (with_requirement(0, id=...), ["requirements[0]", "missing field 'id'"]),
        (with_requirement(0, id="DEMO SCAN"), ["'id'", "'DEMO SCAN'", "no spaces"]),
        (with_requirement(0, capabilty="scan"), ["DEMO-SCAN-001", "capabilty", "capability"]),
        (with_requirement(0, capability="Scan Radio"), ["'capability'", "'Scan Radio'"]),
        (with_requirement(1, source=...), ["DEMO-INFO-001", "missing field 'source'"]),
        (
            with_requirement(1, source={"kind": "hearsay", "why": "x"}),
            ["DEMO-INFO-001", "'hearsay'", "seed, facts, standard, reading"],
        ),
        (
            with_requirement(1, source="the seed"),
            ["DEMO-INFO-001", "'source' must be a mapping", "str"],
        ),
        (
            with_requirement(1, source={"kind": "seed", "section": "Scan"}),
            ["DEMO-INFO-001", "kind 'seed'", "missing field 'quote'"],
        ),
        (
            with_requirement(1, source={"kind": "reading", "why": "x", "quote": "y"}),
            ["DEMO-INFO-001", "unknown field(s) quote", "accepted: kind, why"],
        ),
        (
            with_requirement(1, source={"kind": "reading", "why": "our guess"}),
            ["DEMO-INFO-001", "kind 'reading'", "'optional'", "must be 'advisory'"],
        ),
        (
            with_requirement(
                0, source={"kind": "seed", "section": "Scan", "quote": "The router never scans."}
            ),
            ["DEMO-SCAN-001", "quote not found in seed", SEED, "'The router never scans.'"],
        ),
        (
            with_requirement(
                1, source={"kind": "facts", "file": "specs/facts.md", "quote": "keep-alive 5 s"}
            ),
            ["DEMO-INFO-001", "quote not found in facts sheet", "facts.md", "'keep-alive 5 s'"],
        ),
        (
            with_requirement(1, source={"kind": "facts", "file": "specs/none.md", "quote": "x"}),
            ["DEMO-INFO-001", "none.md cannot be read"],
        ),
        (
            {k: v for k, v in GOOD.items() if k != "seed"},
            ["DEMO-SCAN-001", "kind 'seed' but the catalog names no 'seed' file"],
        ),
        (with_requirement(0, covers="GET /"), ["DEMO-SCAN-001", "'covers'", "a list of call"]),
        (with_requirement(0, covers=["A", "A"]), ["DEMO-SCAN-001", "'covers' names A more"]),
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
    assert len(catalog.requirements) == 4


def test_quotes_match_across_whitespace_and_markdown_markup() -> None:
    # the seed holds "[Status](#status) for __more__" across a line break
    quote = "running continuously. See Status for more."
    data = with_requirement(0, source={"kind": "seed", "section": "Scan", "quote": quote})
    assert parse_catalog(data).requirements[0].source.quote == quote
    assert normalise("a  [b[]](x#y)\n`c` **d**") == "a b[] c d"


def test_quote_check_is_skipped_without_the_documents(tmp_path: Path) -> None:
    bogus = {"kind": "seed", "section": "Scan", "quote": "not in any seed"}
    absent = Documents(shared=tmp_path / "nowhere", seeds=tmp_path / "nowhere" / "seeds")
    catalog = parse_catalog(with_requirement(0, source=bogus), documents=absent)
    assert catalog.requirements[0].source.quote == "not in any seed"


def test_seeds_dir_can_be_set_on_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seeds = tmp_path / "other-seeds"
    seeds.mkdir()
    (seeds / SEED).write_text("A different seed.", encoding="utf-8")
    monkeypatch.setenv(SEEDS_ENV, str(seeds))
    assert Documents.discover().seeds == seeds
    quote = {"kind": "seed", "section": "S", "quote": "A different seed."}
    assert parse_catalog(with_requirement(0, source=quote)).requirements[0].source.quote
    with pytest.raises(CatalogError, match="quote not found in seed"):
        parse_catalog(GOOD)


@pytest.mark.parametrize("profile", list_profiles())
def test_shipped_catalogs_are_valid(profile: str) -> None:
    """Every shipped requirement names its source; seed and facts quotes are checked against
    the documents beside the project when they are there."""
    catalog = load_catalog(profile, documents=REAL_DOCUMENTS)
    assert catalog.profile == profile
    assert catalog.requirements
    for req in catalog.requirements:
        assert req.source.kind in ("seed", "facts", "standard", "reading"), req.id
        assert req.source.kind != "reading" or req.advisory, req.id


@pytest.mark.parametrize("profile", list_profiles())
def test_shipped_catalogs_name_a_source_in_the_yaml_itself(profile: str) -> None:
    """What the before-stop check counts: requirements without a `source` in the raw YAML."""
    data = yaml.safe_load(catalog_path(profile).read_text(encoding="utf-8"))
    assert [r["id"] for r in data["requirements"] if not r.get("source")] == []
