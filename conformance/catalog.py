"""Requirement catalogs: `conformance/catalogs/<profile>.yaml`, loaded and validated.

Every requirement names its `source` (see `conformance.sources`); a requirement resting on our
reading alone is `advisory`: its verdict is shown but never fails a run. `covers` lists the
calls or endpoints of the seed a requirement exercises, so coverage of the seed can be checked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from conformance.sources import Documents, QuoteChecker, Source, SourceError, parse_source

CATALOG_DIR = Path(__file__).resolve().parent / "catalogs"

LEVELS = ("mandatory", "optional", "advisory")
# Same alphabet the scenarios' `@req:<ID>` tags use, so every catalog ID can be tagged.
REQUIREMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# Capabilities are shared with SUT declarations and `@needs:<capability>` tags.
CAPABILITY = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
PROFILE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

_TOP_KEYS = {"profile", "title", "version", "seed", "description", "requirements"}
_REQUIREMENT_KEYS = {"id", "section", "text", "level", "capability", "notes", "source", "covers"}


class CatalogError(ValueError):
    """A catalog file is missing or malformed; the message names the file and the field."""


@dataclass(frozen=True)
class Requirement:
    id: str
    section: str
    text: str
    source: Source
    level: str = "mandatory"
    capability: str | None = None
    notes: str | None = None
    covers: tuple[str, ...] = ()

    @property
    def mandatory(self) -> bool:
        return self.level == "mandatory"

    @property
    def advisory(self) -> bool:
        """Shown with its verdict (`deviates` instead of `fail`), never failing a run."""
        return self.level == "advisory"


@dataclass(frozen=True)
class Catalog:
    profile: str
    title: str
    version: str
    requirements: tuple[Requirement, ...]
    seed: str | None = None
    description: str | None = None
    source: Path | None = field(default=None, compare=False)

    @property
    def ids(self) -> list[str]:
        return [r.id for r in self.requirements]

    def get(self, requirement_id: str) -> Requirement | None:
        return next((r for r in self.requirements if r.id == requirement_id), None)

    def __contains__(self, requirement_id: object) -> bool:
        return any(r.id == requirement_id for r in self.requirements)


def list_profiles(catalog_dir: Path = CATALOG_DIR) -> list[str]:
    """Profile names with a catalog file in `catalog_dir`, sorted."""
    if not catalog_dir.is_dir():
        return []
    return sorted(p.stem for p in catalog_dir.glob("*.yaml") if p.is_file())


def catalog_path(profile_or_path: str | Path, catalog_dir: Path = CATALOG_DIR) -> Path:
    """Resolve a profile name (`ble-router`) or a file path to the catalog file."""
    text = str(profile_or_path)
    if isinstance(profile_or_path, Path) or text.endswith((".yaml", ".yml")) or "/" in text:
        return Path(profile_or_path)
    path = catalog_dir / f"{text}.yaml"
    if not path.is_file():
        known = ", ".join(list_profiles(catalog_dir)) or "none"
        raise CatalogError(f"unknown profile {text!r}: no {path}; known profiles: {known}")
    return path


def load_catalog(
    profile_or_path: str | Path,
    catalog_dir: Path = CATALOG_DIR,
    documents: Documents | None = None,
) -> Catalog:
    """Load and validate a catalog by profile name or path; raise CatalogError on any defect.
    Quotes are checked against `documents` (default: `Documents.discover()`)."""
    path = catalog_path(profile_or_path, catalog_dir)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogError(f"{path}: catalog file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{path}: cannot read catalog: {exc}") from exc
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}: not valid YAML: {exc}") from exc
    catalog = parse_catalog(data, path, documents)
    by_name = path.parent.resolve() == catalog_dir.resolve() and path.suffix == ".yaml"
    if by_name and catalog.profile != path.stem:
        raise CatalogError(
            f"{path}: field 'profile' is {catalog.profile!r} but the file name says {path.stem!r}; "
            "they must match"
        )
    return catalog


def parse_catalog(
    data: Any, source: Path | str = "<catalog>", documents: Documents | None = None
) -> Catalog:
    """Validate already-parsed YAML data (a mapping) into a Catalog; seed and facts quotes are
    checked against `documents` (default: `Documents.discover()`) where those are present."""
    where = str(source)
    if not isinstance(data, Mapping):
        raise CatalogError(f"{where}: a catalog must be a mapping, got {type(data).__name__}")
    _reject_unknown_keys(data, _TOP_KEYS, where)
    profile = _text(data, "profile", where)
    if not PROFILE.match(profile):
        raise CatalogError(
            f"{where}: field 'profile' is {profile!r}; "
            "accepted: lower-case letters, digits, '-', '_'"
        )
    title = _text(data, "title", where)
    version = _version(data, where)
    seed = _optional_text(data, "seed", where)
    description = _optional_text(data, "description", where)

    raw = data.get("requirements")
    if not isinstance(raw, list) or not raw:
        raise CatalogError(
            f"{where}: field 'requirements' must be a non-empty list, got {_shown(raw)}"
        )
    requirements: list[Requirement] = []
    first_index: dict[str, int] = {}
    quotes = QuoteChecker(documents or Documents.discover())
    for index, item in enumerate(raw):
        requirement = _requirement(item, index, where, seed, quotes)
        if requirement.id in first_index:
            raise CatalogError(
                f"{where}: requirements[{index}] (id {requirement.id}): duplicate id, "
                f"already used by requirements[{first_index[requirement.id]}]"
            )
        first_index[requirement.id] = index
        requirements.append(requirement)
    return Catalog(
        profile=profile,
        title=title,
        version=version,
        requirements=tuple(requirements),
        seed=seed,
        description=description,
        source=Path(source) if not isinstance(source, Path) else source,
    )


def _requirement(
    item: Any, index: int, where: str, seed: str | None, quotes: QuoteChecker
) -> Requirement:
    if not isinstance(item, Mapping):
        raise CatalogError(
            f"{where}: requirements[{index}]: must be a mapping, got {type(item).__name__}"
        )
    rid = item.get("id")
    label = f"requirements[{index}]" + (f" (id {rid})" if isinstance(rid, str) else "")
    at = f"{where}: {label}"
    _reject_unknown_keys(item, _REQUIREMENT_KEYS, at)
    rid = _text(item, "id", at)
    if not REQUIREMENT_ID.match(rid):
        raise CatalogError(
            f"{at}: field 'id' is {rid!r}; accepted: letters, digits, '.', '_', '-' "
            "(no spaces), starting with a letter or digit"
        )
    level = item.get("level")
    if level not in LEVELS:
        raise CatalogError(f"{at}: field 'level' is {_shown(level)}; accepted: {', '.join(LEVELS)}")
    capability = item.get("capability")
    if capability is not None and (
        not isinstance(capability, str) or not CAPABILITY.match(capability)
    ):
        raise CatalogError(
            f"{at}: field 'capability' is {_shown(capability)}; accepted: null or a name of "
            "lower-case letters, digits, '-', '_'"
        )
    try:
        source = parse_source(item.get("source"))
        quotes.check(source, seed)
    except SourceError as exc:
        raise CatalogError(f"{at}: {exc}") from None
    if source.kind == "reading" and level != "advisory":
        raise CatalogError(
            f"{at}: source kind 'reading' with level {level!r}; a requirement resting on our "
            "reading alone must be 'advisory' (shown, never failing a run), or cite a seed, "
            "facts sheet or standard"
        )
    return Requirement(
        id=rid,
        section=_text(item, "section", at),
        text=_text(item, "text", at),
        source=source,
        level=level,
        capability=capability,
        notes=_optional_text(item, "notes", at),
        covers=_covers(item.get("covers"), at),
    )


def _covers(value: Any, at: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise CatalogError(
            f"{at}: field 'covers' is {_shown(value)}; accepted: a list of call or endpoint "
            "names (e.g. [GetDeviceList] or ['GET /cassia/info'])"
        )
    names = [" ".join(v.split()) for v in value]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise CatalogError(f"{at}: field 'covers' names {', '.join(repeated)} more than once")
    return tuple(names)


def _reject_unknown_keys(data: Mapping[Any, Any], accepted: set[str], at: str) -> None:
    unknown = sorted(str(k) for k in data if k not in accepted)
    if unknown:
        raise CatalogError(
            f"{at}: unknown field(s) {', '.join(unknown)}; accepted: {', '.join(sorted(accepted))}"
        )


def _text(data: Mapping[str, Any], key: str, at: str) -> str:
    if key not in data or data[key] is None:
        raise CatalogError(f"{at}: missing field {key!r}")
    value = data[key]
    if not isinstance(value, str) or not value.strip():
        raise CatalogError(f"{at}: field {key!r} is {_shown(value)}; accepted: a non-empty string")
    return value.strip()


def _optional_text(data: Mapping[str, Any], key: str, at: str) -> str | None:
    if data.get(key) is None:
        return None
    return _text(data, key, at)


def _version(data: Mapping[str, Any], at: str) -> str:
    value = data.get("version")
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise CatalogError(
            f"{at}: field 'version' is the number {value!r}; quote it (e.g. \"1.0.0\") "
            "so YAML keeps it a string"
        )
    return _text(data, "version", at)


def _shown(value: Any) -> str:
    return "missing" if value is None else repr(value)
