"""What the Device2 steps share: the scenario's context, step text with JSON in it, and the
identity formats as the seed describes them (the harness's own reading, not the service's)."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from typing import Any

import parse as _parse
from pytest_bdd import parsers

from devices.protocols.http_client import HttpResponse
from features.steps.text import TYPES
from scenarios.device2.bed import Device2Bed
from scenarios.device2.load import Fleet

US = 1_000_000


@_parse.with_pattern(r"[\[{\"].*[\]}\"]|-?\d+(?:\.\d+)?|true|false|null")
def _json(text: str) -> Any:
    return json.loads(text)


_NUMBER = r"-?\d+(?:\.\d+)?"


@_parse.with_pattern(rf"{_NUMBER}(?:(?:, | and ){_NUMBER})*")
def _numbers(text: str) -> list[float]:
    return [float(n) for n in re.findall(_NUMBER, text)]


@_parse.with_pattern(r"[\[{].*[\]}]")
def _structure(text: str) -> Any:
    return json.loads(text)


def d2_step(pattern: str) -> parsers.parse:
    """A step pattern with the shared types plus ``{x:J}`` (a JSON value), ``{x:L}`` (a JSON
    array or object) and ``{x:Nums}`` (numbers like ``1, 2 and 3``)."""
    extra = {**TYPES, "J": _json, "L": _structure, "Nums": _numbers}
    return parsers.parse(pattern, extra_types=extra)


@dataclass
class Ctx:
    """The scenario's state: the last answer of the management API and what steps noted."""

    bed: Device2Bed
    answer: HttpResponse | None = None
    params: Any = None  # the parameters of the last call
    body: Any = None  # the answer's JSON (or the part of it a step picked)
    identity_format: dict[str, Any] = field(default_factory=lambda: {"type": "opaque"})
    archive_url: str | None = None
    task_id: str | None = None
    device_status: int | None = None
    device_time: int | None = None
    queried: list[Any] = field(default_factory=list)
    fleet: Fleet | None = None

    def call(self, operation: str, params: Any = None, product: str | None = None) -> Any:
        client = self.bed.client()
        self.params = params
        if product is not None:
            client.product = product
        self.take(self.bed.run(client.call(operation, params)))
        if operation == "updateGatewaySettings" and self.ok and "identity_format" in params:
            self.identity_format = dict(params["identity_format"])
        if isinstance(self.body, dict) and isinstance(self.body.get("task_id"), str):
            self.task_id = self.body["task_id"]
        return self.body

    def take(self, response: HttpResponse) -> None:
        self.answer = response
        try:
            self.body = response.json() if response.text else None
        except ValueError:
            self.body = response.text

    @property
    def ok(self) -> bool:
        return self.answer is not None and 200 <= self.answer.status < 300

    def must_succeed(self, what: str) -> Any:
        assert self.answer is not None
        assert self.ok, f"{what} -> {self.answer.status}: {self.answer.text}"
        return self.body

    def settle(self, seconds: float = 0.2) -> None:
        """Let the world run a moment (events and pushes are in flight)."""
        self.bed.run(asyncio.sleep(seconds))


def at_path(body: Any, path: str) -> Any:
    """``body``'s value at a dotted path (list items by index); KeyError naming the path."""
    value = body
    for part in path.split(".") if path else []:
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise KeyError(f"the answer has no {path!r} (stuck at {part!r}): {shown(body)}")
    return value


def shown(value: Any, limit: int = 400) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


# -- identity formats, as the seed's identity_format describes them ----------------------------
_HEX = "[0-9A-Fa-f]"
_SHAPES = {
    "mac:48": rf"{_HEX}{{2}}(?::{_HEX}{{2}}){{5}}",
    "mac-48": rf"{_HEX}{{2}}(?:-{_HEX}{{2}}){{5}}",
    "mac.48": rf"{_HEX}{{3}}(?:\.{_HEX}{{3}}){{3}}",
    "uuidv4": rf"{_HEX}{{8}}-{_HEX}{{4}}-4{_HEX}{{3}}-[89abAB]{_HEX}{{3}}-{_HEX}{{12}}",
}


def matches_format(identity: str, fmt: dict[str, Any]) -> bool:
    """Whether ``identity`` has the shape ``fmt`` (identity_format) asks for."""
    kind = fmt.get("type", "opaque")
    options = fmt.get("options") or {}
    casing = options.get("casing", "mixed")
    if casing == "lower" and identity != identity.lower():
        return False
    if casing == "upper" and identity != identity.upper():
        return False
    if kind in _SHAPES:
        if not re.fullmatch(_SHAPES[kind], identity):
            return False
        base = options.get("mac_base")
        if base and kind.startswith("mac"):
            digits = re.sub(r"[^0-9A-Fa-f]", "", identity).lower()
            return digits.startswith(re.sub(r"[^0-9A-Fa-f]", "", base).lower())
        return True
    if kind in ("base10", "base16"):
        prefix = fmt.get("prefix") or ""
        if not identity.lower().startswith(prefix.lower()):
            return False
        digits = identity[len(prefix) :]
        alphabet = "0-9" if kind == "base10" else "0-9A-Fa-f"
        length = options.get("length")
        count = f"{{{length}}}" if length else "+"
        return re.fullmatch(f"[{alphabet}]{count}", digits) is not None
    return bool(identity)
