"""Step-text parsing every system's steps share: ``step_text`` and its extra types."""

from __future__ import annotations

import re

import parse as _parse
from pytest_bdd import parsers


@_parse.with_pattern(r'[^"]*')
def _quoted(text: str) -> str:
    return text


@_parse.with_pattern(r"-?\d+(?:\.\d+)?")
def _number(text: str) -> float:
    return float(text)


@_parse.with_pattern(r"-?\d+")
def _integer(text: str) -> int:
    return int(text)


_NAME_LIST = r'"[^"]+"(?:(?:, | and | or )"[^"]+")*'


@_parse.with_pattern(_NAME_LIST)
def _names(text: str) -> list[str]:
    return re.findall(r'"([^"]+)"', text)


TYPES = {"Q": _quoted, "N": _number, "I": _integer, "Names": _names}


def step_text(pattern: str) -> parsers.parse:
    """A step pattern: ``{x:Q}`` inside quotes, ``{x:N}`` a number, ``{x:I}`` an integer,
    ``{x:Names}`` a list like ``"A", "B" and "C"``."""
    return parsers.parse(pattern, extra_types=TYPES)
