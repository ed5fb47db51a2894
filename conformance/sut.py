"""SUT declarations: who the system under test is, where it listens, what it claims.

A declaration of the builtin reference implementations may also name ``deviations``: ways they
misbehave on purpose (``conformance/deviations/``), which ``hil selfcheck`` uses to measure what
the scenarios catch. Such a declaration (e.g. ``builtin-deviant``) is made on the fly; an outside
SUT cannot have deviations.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from conformance.catalog import CAPABILITY

SUT_DIR = Path(__file__).resolve().parent / "suts"
ROLES = ("gateway", "server", "platform")
MASK = "********"
# Credential keys whose values never reach a report.
_SECRET_KEY = re.compile(r"pass|secret|token|key|(^|[_-])pin($|[_-]|code)", re.IGNORECASE)
_KEYS = {
    "name",
    "identity",
    "role",
    "builtin",
    "endpoints",
    "credentials",
    "capabilities",
    "deviations",
}
_IDENTITY_KEYS = ("vendor", "model", "firmware")


class SutError(ValueError):
    """A SUT declaration is missing or malformed; the message names the file and the field."""


@dataclass(frozen=True)
class SutIdentity:
    vendor: str
    model: str
    firmware: str

    def __str__(self) -> str:
        return f"{self.vendor} {self.model} (firmware {self.firmware})"


@dataclass(frozen=True)
class SutDeclaration:
    name: str
    identity: SutIdentity
    role: str
    capabilities: tuple[str, ...]
    builtin: bool = False
    endpoints: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    credentials: Mapping[str, Any] = field(default_factory=dict)
    source: Path | None = field(default=None, compare=False)
    deviations: tuple[str, ...] = ()  # builtin only: names of conformance/deviations/<profile>

    def has(self, capability: str) -> bool:
        return capability in self.capabilities

    def endpoint(self, profile: str) -> Mapping[str, Any]:
        """The endpoint block for `profile`; SutError if the SUT declares none."""
        try:
            return self.endpoints[profile]
        except KeyError:
            known = ", ".join(sorted(self.endpoints)) or "none"
            raise SutError(
                f"{self.source or self.name}: no endpoints for profile {profile!r}; "
                f"declared: {known}"
            ) from None

    def to_dict(self) -> dict[str, Any]:
        """Report-safe view: passwords, secrets, tokens and URL passwords masked."""
        return {
            "name": self.name,
            "identity": {
                "vendor": self.identity.vendor,
                "model": self.identity.model,
                "firmware": self.identity.firmware,
            },
            "role": self.role,
            "builtin": self.builtin,
            "endpoints": _mask(self.endpoints),
            "credentials": _mask(self.credentials),
            "capabilities": list(self.capabilities),
            "deviations": list(self.deviations),
            "source": str(self.source) if self.source else None,
        }


def list_suts(sut_dir: Path = SUT_DIR) -> list[str]:
    if not sut_dir.is_dir():
        return []
    return sorted(p.stem for p in sut_dir.glob("*.yaml") if p.is_file())


def sut_path(name_or_path: str | Path, sut_dir: Path = SUT_DIR) -> Path:
    """`builtin` or any other name in `conformance/suts/` -> its file; anything else is a path."""
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or text.endswith((".yaml", ".yml")) or "/" in text:
        return Path(name_or_path)
    path = sut_dir / f"{text}.yaml"
    if not path.is_file():
        known = ", ".join(list_suts(sut_dir)) or "none"
        raise SutError(
            f"unknown SUT {text!r}: no {path}; give a path to a SUT YAML file or one of: {known}"
        )
    return path


def load_sut(name_or_path: str | Path = "builtin", sut_dir: Path = SUT_DIR) -> SutDeclaration:
    path = sut_path(name_or_path, sut_dir)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SutError(f"{path}: SUT declaration not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SutError(f"{path}: cannot read SUT declaration: {exc}") from exc
    except yaml.YAMLError as exc:
        raise SutError(f"{path}: not valid YAML: {exc}") from exc
    return parse_sut(data, path)


def parse_sut(data: Any, source: Path | str = "<sut>") -> SutDeclaration:
    at = str(source)
    if not isinstance(data, Mapping):
        raise SutError(f"{at}: a SUT declaration must be a mapping, got {type(data).__name__}")
    unknown = sorted(str(k) for k in data if k not in _KEYS)
    if unknown:
        raise SutError(
            f"{at}: unknown field(s) {', '.join(unknown)}; accepted: {', '.join(sorted(_KEYS))}"
        )
    name = _text(data, "name", at)

    identity = data.get("identity")
    if not isinstance(identity, Mapping):
        raise SutError(
            f"{at}: field 'identity' must be a mapping with {', '.join(_IDENTITY_KEYS)}, "
            f"got {_shown(identity)}"
        )
    ident = {key: _text(identity, key, f"{at}: identity", scalar=True) for key in _IDENTITY_KEYS}

    role = data.get("role")
    if role not in ROLES:
        raise SutError(f"{at}: field 'role' is {_shown(role)}; accepted: {', '.join(ROLES)}")

    builtin = data.get("builtin", False)
    if not isinstance(builtin, bool):
        raise SutError(f"{at}: field 'builtin' is {builtin!r}; accepted: true or false")

    return SutDeclaration(
        name=name,
        identity=SutIdentity(**ident),
        role=role,
        capabilities=_capabilities(data.get("capabilities"), at),
        builtin=builtin,
        endpoints=_endpoints(data.get("endpoints"), at),
        credentials=_mapping(data.get("credentials"), "credentials", at),
        source=Path(source) if not isinstance(source, Path) else source,
        deviations=_deviations(data.get("deviations"), builtin, at),
    )


def _deviations(raw: Any, builtin: bool, at: str) -> tuple[str, ...]:
    """Names only here; conformance.endpoints checks them against the profile's catalog."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise SutError(f"{at}: field 'deviations' is {raw!r}; accepted: a list of names")
    if raw and not builtin:
        raise SutError(
            f"{at}: field 'deviations' needs 'builtin: true': only the harness's own reference "
            "implementations can be told to misbehave"
        )
    seen: list[str] = []
    for index, name in enumerate(raw):
        if not isinstance(name, str) or not CAPABILITY.match(name):
            raise SutError(
                f"{at}: deviations[{index}] is {name!r}; accepted: a deviation name (lower-case "
                "letters, digits, '-', '_')"
            )
        if name in seen:
            raise SutError(f"{at}: deviations[{index}] {name!r} is listed twice")
        seen.append(name)
    return tuple(seen)


def deviant(sut: SutDeclaration, deviations: Sequence[str], name: str = "") -> SutDeclaration:
    """``sut`` (a builtin declaration) told to misbehave in the named ways; as YAML data by
    :func:`sut_data`. SutError for an outside SUT."""
    if not sut.builtin:
        raise SutError(f"{sut.source or sut.name}: only a builtin SUT can take deviations")
    return replace(sut, name=name or f"{sut.name}-deviant", deviations=tuple(deviations))


def sut_data(sut: SutDeclaration) -> dict[str, Any]:
    """The declaration as YAML data that :func:`parse_sut` reads back (secrets unmasked)."""
    data: dict[str, Any] = {
        "name": sut.name,
        "identity": {
            "vendor": sut.identity.vendor,
            "model": sut.identity.model,
            "firmware": sut.identity.firmware,
        },
        "role": sut.role,
        "builtin": sut.builtin,
        "endpoints": {k: dict(v) for k, v in sut.endpoints.items()},
        "credentials": dict(sut.credentials),
        "capabilities": list(sut.capabilities),
    }
    if sut.deviations:
        data["deviations"] = list(sut.deviations)
    return data


def _capabilities(raw: Any, at: str) -> tuple[str, ...]:
    if raw is None:
        raise SutError(f"{at}: missing field 'capabilities' (a list, possibly empty)")
    if not isinstance(raw, list):
        raise SutError(f"{at}: field 'capabilities' is {raw!r}; accepted: a list of names")
    seen: list[str] = []
    for index, cap in enumerate(raw):
        if not isinstance(cap, str) or not CAPABILITY.match(cap):
            raise SutError(
                f"{at}: capabilities[{index}] is {cap!r}; accepted: lower-case letters, digits, "
                "'-', '_'"
            )
        if cap in seen:
            raise SutError(f"{at}: capabilities[{index}] {cap!r} is listed twice")
        seen.append(cap)
    return tuple(seen)


def _endpoints(raw: Any, at: str) -> dict[str, dict[str, Any]]:
    endpoints = _mapping(raw, "endpoints", at)
    for profile, block in endpoints.items():
        if not isinstance(block, Mapping):
            raise SutError(
                f"{at}: endpoints.{profile} is {block!r}; accepted: a mapping such as "
                "{base_url: http://host:port}"
            )
    return {str(k): dict(v) for k, v in endpoints.items()}


def _mapping(raw: Any, key: str, at: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise SutError(f"{at}: field {key!r} is {raw!r}; accepted: a mapping")
    return {str(k): v for k, v in raw.items()}


def _text(data: Mapping[str, Any], key: str, at: str, scalar: bool = False) -> str:
    value = data.get(key)
    if value is None:
        raise SutError(f"{at}: missing field {key!r}")
    if scalar and isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)  # `firmware: 2.1` is a version, keep it as written
    if not isinstance(value, str) or not value.strip():
        raise SutError(f"{at}: field {key!r} is {value!r}; accepted: a non-empty string")
    return value.strip()


def _mask(value: Any, key: str = "") -> Any:
    if isinstance(value, Mapping):
        return {k: _mask(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(v, key) for v in value]
    if key and _SECRET_KEY.search(key) and value is not None:
        return MASK
    if isinstance(value, str) and "@" in value and "://" in value:
        return _mask_url(value)
    return value


def _mask_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:{MASK}@{host}"))


def _shown(value: Any) -> str:
    return "missing" if value is None else repr(value)
