"""The HTTP Device API's text forms: form-encoded bodies and queries, the ``/stack/record``
body, values as text, and the times of long polls.

* Values travel as form-encoded text (facts, section 1): a string as it is, ``true``/``false``,
  numbers as JSON writes them, anything else as compact JSON.
* A read names aliases as bare query keys (``?a1&a2``; ``a1=`` is the same).
* ``/stack/record``: ``alias=<a>&<ts>=<v>&<ts>=<v>&alias=<b>&...``, timestamps unix seconds
  (fractions allowed) [MC ``_http_record``].
* ``If-Modified-Since``: unix seconds or an HTTP-date; ``Last-Modified``: an HTTP-date.
"""

from __future__ import annotations

import email.utils
import json
import math
import urllib.parse
from collections.abc import Iterable
from typing import Any

from devices.cloud.device2.clock import US_PER_S, from_us, to_us
from devices.cloud.device2.errors import InvalidInput

FORM = "application/x-www-form-urlencoded"
FORM_UTF8 = f"{FORM}; charset=utf-8"
TEXT_UTF8 = "text/plain; charset=utf-8"


def value_text(value: Any) -> str:
    """A stored or pushed value as the device receives it."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":"))


def parse_form(body: bytes, field: str = "body") -> list[tuple[str, str]]:
    """A form-encoded body as ordered pairs (repeated keys kept); InvalidInput if it is not."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(field, "UTF-8 form-encoded text", body[:80]) from None
    if not text.strip():
        return []
    try:
        return urllib.parse.parse_qsl(
            text.strip(), keep_blank_values=True, strict_parsing=True, errors="strict"
        )
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(field, "form-encoded text like a=1&b=2", text[:80]) from None


def encode_form(values: Iterable[tuple[str, Any]]) -> str:
    return urllib.parse.urlencode([(k, value_text(v)) for k, v in values])


def query_aliases(raw_query: str) -> list[str]:
    """The aliases a read names: ``a1&a2`` (or ``a1=&a2``), in order, without repeats."""
    names: list[str] = []
    for part in raw_query.split("&"):
        if not part:
            continue
        name = urllib.parse.unquote_plus(part.split("=", 1)[0])
        if name and name not in names:
            names.append(name)
    return names


def parse_record(pairs: list[tuple[str, str]]) -> list[tuple[str, int, str]]:
    """``(alias, timestamp µs, value)`` of a ``/stack/record`` body's pairs, in order."""
    points: list[tuple[str, int, str]] = []
    alias: str | None = None
    for key, value in pairs:
        if key == "alias":
            if not value:
                raise InvalidInput("alias", "a resource alias", value)
            alias = value
            continue
        if alias is None:
            raise InvalidInput("alias", "alias=<alias> before its timestamps", key)
        try:
            seconds = float(key)
        except ValueError:
            seconds = math.nan
        if not math.isfinite(seconds) or seconds < 0:
            raise InvalidInput(f"{alias} timestamp", "unix seconds (fractions allowed)", key)
        points.append((alias, round(seconds * US_PER_S), value))
    if not points:
        raise InvalidInput("body", "alias=<alias>&<timestamp>=<value>...")
    return points


def since_us(header: str | None, now_us: int) -> int:
    """``If-Modified-Since`` as µs: unix seconds or an HTTP-date; absent means now."""
    if header is None or not header.strip():
        return now_us
    text = header.strip()
    try:
        return round(float(text) * US_PER_S)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        when = None
    if when is None or when.tzinfo is None:
        raise InvalidInput("If-Modified-Since", "unix seconds or an HTTP-date", text)
    return to_us(when)


def http_date(us: int) -> str:
    return email.utils.format_datetime(from_us(us), usegmt=True)
