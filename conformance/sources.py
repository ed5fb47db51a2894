"""Where a requirement comes from: the `source` of a catalog entry.

Kinds: `seed` (a sentence of the profile's seed, quoted), `facts` (a fact of a facts sheet under
`specs/`, quoted), `standard` (a clause of a public standard, e.g. Modbus or OSDP) and `reading`
(our interpretation where the documents are silent, with the reason). Quotes of seeds and facts
sheets are checked against the documents when they are present: the seeds and facts sheets live
beside the project in `../shared` (override with `HIL_SHARED_DIR`, or `HIL_SEEDS_DIR` for the
seeds alone); where that folder is absent the check is skipped.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
SHARED_ENV = "HIL_SHARED_DIR"
SEEDS_ENV = "HIL_SEEDS_DIR"

# kind -> (required fields, optional fields) besides `kind`
SOURCE_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "seed": (("section", "quote"), ()),
    "facts": (("file", "quote"), ()),
    "standard": (("document", "clause"), ("quote",)),
    "reading": (("why",), ()),
}
SOURCE_KINDS = tuple(SOURCE_FIELDS)

# Markdown markup a reader does not see: links keep their text, emphasis and code marks go.
_LINK = re.compile(r"\[((?:[^\[\]]|\[\])*)\]\([^)]*\)")
_MARKS = re.compile(r"\*\*|__|`")


class SourceError(ValueError):
    """A `source` mapping is malformed or quotes text its document does not hold."""


@dataclass(frozen=True)
class Source:
    kind: str
    section: str | None = None
    quote: str | None = None
    file: str | None = None
    document: str | None = None
    clause: str | None = None
    why: str | None = None

    @property
    def ref(self) -> str:
        """A short reference for tables: where to look."""
        if self.kind == "seed":
            return f"§ {self.section}"
        if self.kind == "facts":
            return f"{Path(self.file or '').name}"
        if self.kind == "standard":
            return f"{self.document} {self.clause}"
        return "our reading"

    @property
    def text(self) -> str:
        """What the source says: the quote, or for a reading the reason we read it so."""
        return self.quote or self.why or ""

    def to_dict(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class Documents:
    """Where the seeds and facts sheets are."""

    shared: Path
    seeds: Path

    @classmethod
    def discover(cls) -> Documents:
        """`$HIL_SHARED_DIR` (default: `shared/` beside the project) and `$HIL_SEEDS_DIR`
        (default: its `seeds/`)."""
        shared = Path(os.environ.get(SHARED_ENV) or PROJECT_DIR.parent / "shared")
        return cls(shared=shared, seeds=Path(os.environ.get(SEEDS_ENV) or shared / "seeds"))


def normalise(text: str) -> str:
    """Text as compared for quotes: markdown markup dropped, whitespace collapsed."""
    return " ".join(_MARKS.sub("", _LINK.sub(r"\1", text)).split())


class QuoteChecker:
    """Checks quotes against the documents, reading each document once."""

    def __init__(self, documents: Documents) -> None:
        self.documents = documents
        self._texts: dict[Path, str] = {}

    def check(self, source: Source, catalog_seed: str | None) -> None:
        """Raise SourceError when a seed or facts quote is not in its document; skip the check
        when the documents' folder is absent."""
        if source.kind == "seed":
            if catalog_seed is None:
                raise SourceError(
                    "source kind 'seed' but the catalog names no 'seed' file; "
                    "add the catalog's seed or use kind facts, standard or reading"
                )
            self._find(self.documents.seeds, catalog_seed, source.quote or "", "seed")
        elif source.kind == "facts":
            self._find(self.documents.shared, source.file or "", source.quote or "", "facts sheet")

    def _find(self, folder: Path, name: str, quote: str, what: str) -> None:
        if not folder.is_dir():
            return
        path = folder / name
        if path not in self._texts:
            try:
                self._texts[path] = normalise(path.read_text(encoding="utf-8"))
            except OSError as exc:
                raise SourceError(f"{what} {path} cannot be read: {exc}") from None
        if normalise(quote) not in self._texts[path]:
            raise SourceError(
                f"quote not found in {what} {path}: {_clip(quote)!r}; copy the sentence verbatim "
                "(whitespace and markdown markup may differ)"
            )


def parse_source(data: Any) -> Source:
    """Validate one `source` mapping (without the quote check)."""
    if data is None:
        raise SourceError(
            "missing field 'source'; every requirement names what it rests on: "
            f"a mapping with kind {', '.join(SOURCE_KINDS)}"
        )
    if not isinstance(data, Mapping):
        raise SourceError(f"field 'source' must be a mapping, got {type(data).__name__}")
    kind = data.get("kind")
    if kind not in SOURCE_FIELDS:
        shown = "missing" if kind is None else repr(kind)
        raise SourceError(f"source 'kind' is {shown}; accepted: {', '.join(SOURCE_KINDS)}")
    required, optional = SOURCE_FIELDS[kind]
    unknown = sorted(str(k) for k in data if k != "kind" and k not in (*required, *optional))
    if unknown:
        accepted = ", ".join(("kind", *required, *optional))
        raise SourceError(
            f"source of kind {kind!r} has unknown field(s) {', '.join(unknown)}; "
            f"accepted: {accepted}"
        )
    values: dict[str, str] = {}
    for key in (*required, *optional):
        value = data.get(key)
        if value is None:
            if key in required:
                raise SourceError(f"source of kind {kind!r} is missing field {key!r}")
            continue
        if not isinstance(value, str) or not value.strip():
            raise SourceError(f"source field {key!r} is {value!r}; accepted: a non-empty string")
        values[key] = " ".join(value.split())
    return Source(kind=kind, **values)


def _clip(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
