"""Deviation catalogs ``conformance/deviations/<profile>.yaml``, loaded and validated (the
format and the whole mechanism: :mod:`conformance.deviations`)."""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from conformance.catalog import Catalog, CatalogError, load_catalog
from conformance.sources import Documents, QuoteChecker, Source, SourceError, parse_source

DEVIATIONS_DIR = Path(__file__).resolve().parent
KINDS = (
    "wrong-field",
    "wrong-value",
    "missing-event",
    "wrong-status",
    "dropped-message",
    "duplicated-message",
    "wrong-timing",
    "rule-skipped",
)
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
# A known field fault is documented in a seed sentence or a facts sheet.
FAULT_SOURCES = ("seed", "facts")

_TOP_KEYS = {"profile", "implementation", "description", "deviations"}
_DEVIATION_KEYS = {"name", "description", "kind", "known_fault", "catches", "notes"}


class DeviationCatalogError(ValueError):
    """A deviation catalog is missing or malformed; the message names the file and the field."""


@dataclass(frozen=True)
class Deviation:
    """One named misbehaviour and the requirements whose scenarios must catch it."""

    name: str
    description: str
    kind: str
    catches: tuple[str, ...]
    known_fault: Source | None = None  # where the field fault it imitates is documented
    notes: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "kind": self.kind,
            "known_fault": self.known_fault.to_dict() if self.known_fault else False,
            "catches": list(self.catches),
        }


@dataclass(frozen=True)
class DeviationCatalog:
    profile: str
    implementation: str  # the module declaring DEVIATIONS
    deviations: tuple[Deviation, ...]
    requirements: Catalog
    source: Path

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.deviations]

    def get(self, name: str) -> Deviation:
        """The deviation ``name``; DeviationCatalogError naming the accepted ones."""
        for deviation in self.deviations:
            if deviation.name == name:
                return deviation
        raise DeviationCatalogError(
            f"unknown {self.profile} deviation {name!r}; accepted: {', '.join(self.names)}"
        )

    def declared(self) -> dict[str, str]:
        """The implementation's own ``DEVIATIONS`` (name -> description)."""
        module = importlib.import_module(self.implementation)
        return dict(module.DEVIATIONS)


def list_deviation_profiles(folder: Path = DEVIATIONS_DIR) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.yaml") if p.is_file())


def load_deviations(
    profile: str,
    folder: Path = DEVIATIONS_DIR,
    requirements: Catalog | None = None,
    documents: Documents | None = None,
) -> DeviationCatalog:
    """The deviation catalog of ``profile``, checked against its requirement catalog
    (``requirements``, loaded when not given); DeviationCatalogError on any defect."""
    path = folder / f"{profile}.yaml"
    if not path.is_file():
        known = ", ".join(list_deviation_profiles(folder)) or "none"
        raise DeviationCatalogError(
            f"profile {profile!r} has no deviation catalog ({path.name}); profiles with "
            f"deviations: {known}"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DeviationCatalogError(f"{path}: cannot read the deviation catalog: {exc}") from exc
    if requirements is None:
        try:
            requirements = load_catalog(profile)
        except CatalogError as exc:
            raise DeviationCatalogError(f"{path}: {exc}") from None
    return parse_deviations(data, path, requirements, documents)


def parse_deviations(
    data: Any, source: Path, requirements: Catalog, documents: Documents | None = None
) -> DeviationCatalog:
    at = str(source)
    if not isinstance(data, Mapping):
        raise DeviationCatalogError(f"{at}: a deviation catalog must be a mapping")
    _reject_unknown(data, _TOP_KEYS, at)
    profile = _text(data, "profile", at)
    if profile != requirements.profile:
        raise DeviationCatalogError(
            f"{at}: field 'profile' is {profile!r} but the requirements are those of "
            f"{requirements.profile!r}"
        )
    implementation = _text(data, "implementation", at)
    raw = data.get("deviations")
    if not isinstance(raw, list) or not raw:
        raise DeviationCatalogError(f"{at}: field 'deviations' must be a non-empty list")
    quotes = QuoteChecker(documents or Documents.discover())
    deviations: list[Deviation] = []
    for index, item in enumerate(raw):
        deviation = _deviation(item, f"{at}: deviations[{index}]", requirements, quotes)
        if deviation.name in (d.name for d in deviations):
            raise DeviationCatalogError(f"{at}: deviations[{index}] {deviation.name!r} is twice")
        deviations.append(deviation)
    return DeviationCatalog(profile, implementation, tuple(deviations), requirements, source)


def _deviation(item: Any, at: str, requirements: Catalog, quotes: QuoteChecker) -> Deviation:
    if not isinstance(item, Mapping):
        raise DeviationCatalogError(f"{at}: must be a mapping, got {type(item).__name__}")
    _reject_unknown(item, _DEVIATION_KEYS, at)
    name = _text(item, "name", at)
    if not NAME.match(name):
        raise DeviationCatalogError(
            f"{at}: name {name!r}; accepted: lower-case letters, digits, '-', '_'"
        )
    at = f"{at} ({name})"
    kind = item.get("kind")
    if kind not in KINDS:
        raise DeviationCatalogError(f"{at}: kind is {kind!r}; accepted: {', '.join(KINDS)}")
    catches = item.get("catches")
    if not isinstance(catches, list) or not catches:
        raise DeviationCatalogError(f"{at}: 'catches' must be a non-empty list of requirement IDs")
    unknown = [c for c in catches if c not in requirements]
    if unknown:
        raise DeviationCatalogError(
            f"{at}: catches {', '.join(map(str, unknown))}, not requirements of "
            f"{requirements.profile}"
        )
    return Deviation(
        name=name,
        description=_text(item, "description", at),
        kind=kind,
        catches=tuple(catches),
        known_fault=_known_fault(item.get("known_fault"), at, requirements, quotes),
        notes=str(item["notes"]).strip() if item.get("notes") else None,
    )


def _known_fault(raw: Any, at: str, requirements: Catalog, quotes: QuoteChecker) -> Source | None:
    if raw is False:
        return None
    hint = "false, or a source of kind seed (section, quote) or facts (file, quote)"
    if not isinstance(raw, Mapping) or raw.get("kind") not in FAULT_SOURCES:
        raise DeviationCatalogError(f"{at}: known_fault is {raw!r}; accepted: {hint}")
    try:
        source = parse_source(raw)
        quotes.check(source, requirements.seed)
    except SourceError as exc:
        raise DeviationCatalogError(f"{at}: known_fault: {exc}") from None
    return source


def _reject_unknown(data: Mapping[Any, Any], accepted: set[str], at: str) -> None:
    unknown = sorted(str(k) for k in data if k not in accepted)
    if unknown:
        raise DeviationCatalogError(
            f"{at}: unknown field(s) {', '.join(unknown)}; accepted: {', '.join(sorted(accepted))}"
        )


def _text(data: Mapping[str, Any], key: str, at: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise DeviationCatalogError(f"{at}: field {key!r} is {value!r}; accepted: a non-empty text")
    return " ".join(value.split())
