"""Fuzzing an HTTP API from its OpenAPI description: hypothesis strategies that draw requests
for the documented operations (values the schema allows, mixed with hostile ones: odd digits,
huge numbers, deep JSON, bytes that are not UTF-8, wrong types, other methods, trailing
slashes), raw HTTP/1.1 exchanges over any connector (in-world or a real socket), and the
classes their answers fall in.

Inputs are drawn first (``hypothesis`` with a fixed seed, so a campaign is reproducible) and
then sent one by one through the world: the server's clock stays virtual.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import string
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from scenarios.fuzzing import FuzzTally
from sim.world import World

Connector = Callable[[str, int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]
T = TypeVar("T")
JSON_MEDIA = "application/json"
FORM_MEDIA = "application/x-www-form-urlencoded"
HANG_S = 90.0  # no whole answer within this many (world) seconds: a hang
METHODS = ("GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS")

# Texts that broke parsers before, or might: digits int() reads but str.isdigit() judges
# otherwise, numbers past int()'s 4300-digit limit, signs, floats, words, markup, controls.
HOSTILE_TEXTS = (
    "",
    " ",
    "²",
    "٣",
    "①",
    "9" * 5000,
    "-" + "9" * 30,
    "-1",
    "0",
    "+7",
    "1e5",
    "0x10",
    "NaN",
    "Infinity",
    "null",
    "true",
    "[]",
    "{}",
    '{"offset":"²","data":"01"}',
    '{"offset":"9999999999999999999999","data":"01"}',
    "[" * 60 + "]" * 60,
    "A" * 3000,
    "../../etc/passwd",
    "%00",
    "' OR 1=1 --",
    "<script>x</script>",
    "💥",
    "\u202e",
    "CC:1B:E0:E0:00:01",
    "all",
)


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


HOSTILE_JSON: tuple[Any, ...] = (
    None,
    True,
    False,
    [],
    {},
    -1,
    0,
    1.5,
    2**64,
    -(10**300),
    10**4000,
    1e308,
    "²",
    "9" * 5000,
    "x" * 20000,
    _nested(40),
    {"a": {"b": {"c": [1, {"d": None}]}}},
)
HOSTILE_BODIES = (
    b"",
    b"{",
    b"[" * 5000 + b"]" * 5000,
    b'{"a":' * 3000 + b"1" + b"}" * 3000,
    b"\xff\xfe\xfd",
    b"passkey=\xff\xfe",
    b'{"timeout": 1' + b"0" * 5000 + b"}",
    b'{"position": [NaN, Infinity]}',
    b"null",
    b'"text"',
    b"[1, 2, 3]",
    b"\x00" * 64,
    b"a=1&" * 500,
)


@dataclass(frozen=True)
class HttpCase:
    """One request to send, as bytes on the wire are built from it."""

    method: str
    path: str  # already percent-encoded
    query: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    operation: str = ""  # "METHOD /documented/path" it was drawn for

    def target(self) -> str:
        if not self.query:
            return self.path
        return self.path + "?" + urllib.parse.urlencode(self.query, safe=":,*{}\"'")

    def wire(self, host: str) -> bytes:
        lines = [f"{self.method} {self.target()} HTTP/1.1", f"Host: {host}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in self.headers]
        if self.content_type is not None:
            lines.append(f"Content-Type: {self.content_type}")
        if self.body or self.method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + self.body


@dataclass
class HttpAnswer:
    status: int  # 0: none (closed without an answer)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    hung: bool = False
    refused: bool = False  # the connection itself was refused

    @property
    def streaming(self) -> bool:
        return self.headers.get("content-type", "").startswith("text/event-stream")


async def exchange(connect: Connector, host: str, port: int, case: HttpCase) -> HttpAnswer:
    """Send ``case`` on a fresh connection and read the answer (a stream: its head only)."""
    try:
        reader, writer = await connect(host, port)
    except OSError:
        return HttpAnswer(0, refused=True)
    received = b""
    try:
        writer.write(case.wire(host))
        async with asyncio.timeout(HANG_S):
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                received += chunk
                head, sep, _ = received.partition(b"\r\n\r\n")
                if sep and b"text/event-stream" in head.lower():
                    break  # a stream opened: its head is the answer
    except TimeoutError:
        return parse_answer(received, hung=True)
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()
    return parse_answer(received)


def parse_answer(data: bytes, hung: bool = False) -> HttpAnswer:
    """An HTTP/1.1 answer as received (a stream: its head only)."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    match = re.match(r"HTTP/1\.[01] (\d{3})", lines[0]) if lines else None
    if match is None:
        return HttpAnswer(0, body=data, hung=hung)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return HttpAnswer(int(match.group(1)), headers, body, hung=hung)


def answer_class(answer: HttpAnswer, internal_error: bool) -> str:
    """``"hang"``, ``"crash"`` (nothing answers any more), ``"unhandled"`` (a 5xx the server
    did not mean: an exception reached its catch-all or aiohttp's), ``"stream"`` or the
    status."""
    if answer.hung:
        return "hang"
    if answer.refused:
        return "crash"
    if internal_error:
        return "unhandled"
    if answer.status >= 500 and (
        answer.body.startswith(b"500 Internal Server Error") or b"internal error" in answer.body
    ):
        return "unhandled"
    if answer.status == 0:
        return "no-answer"
    if answer.status == 200 and answer.streaming:
        return "stream"
    return str(answer.status)


class TracedErrors:
    """Counts a world's ``internal-error`` trace records (servers trace what reached their
    catch-all there): call it for the count so far."""

    def __init__(self, world: World) -> None:
        self.count = 0
        world.trace.listeners.append(self._see)

    def _see(self, record: dict[str, Any]) -> None:
        if record["event"] == "internal-error":
            self.count += 1

    def __call__(self) -> int:
        return self.count


class LogWatch(logging.Handler):
    """Counts error records (tracebacks) logged by aiohttp and asyncio while installed."""

    LOGGERS = ("aiohttp.server", "aiohttp.web", "aiohttp.access", "asyncio")

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> LogWatch:
        for name in self.LOGGERS:
            logging.getLogger(name).addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        for name in self.LOGGERS:
            logging.getLogger(name).removeHandler(self)


# -- strategies from the OpenAPI document ---------------------------------------------------------
def from_schema(schema: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    """Values a JSON schema allows (the subset our documents use)."""
    if "enum" in schema:
        return st.sampled_from(list(schema["enum"]))
    if "oneOf" in schema:
        return st.one_of([from_schema(s) for s in schema["oneOf"]])
    kind = schema.get("type")
    if kind == "integer":
        return st.integers(schema.get("minimum", -(2**31)), schema.get("maximum", 2**31))
    if kind == "number":
        return st.floats(
            schema.get("minimum", -1e6),
            schema.get("maximum", 1e6),
            allow_nan=False,
            allow_infinity=False,
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "string":
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True).filter(
                lambda s: len(s) <= schema.get("maxLength", 1024)
            )
        return st.text(
            string.printable,
            min_size=schema.get("minLength", 0),
            max_size=schema.get("maxLength", 24),
        )
    if kind == "array":
        return st.lists(
            from_schema(schema.get("items", {})),
            min_size=schema.get("minItems", 0),
            max_size=schema.get("maxItems", 4),
        )
    if kind == "object":
        properties = schema.get("properties", {})
        required = set(schema.get("required", ()))
        return st.fixed_dictionaries(
            {k: from_schema(v) for k, v in properties.items() if k in required},
            optional={k: from_schema(v) for k, v in properties.items() if k not in required},
        )
    return st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
        max_leaves=6,
    )


def _query_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def param_value(schema: Mapping[str, Any], pinned: st.SearchStrategy[str] | None = None) -> Any:
    """A parameter's text: what the schema allows (or ``pinned``), else hostile."""
    valid = pinned if pinned is not None else from_schema(schema).map(_query_text)
    return st.one_of(valid, valid, st.sampled_from(HOSTILE_TEXTS), st.text(max_size=12))


def json_value(schema: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    return st.one_of(from_schema(schema), from_schema(schema), st.sampled_from(HOSTILE_JSON))


def body_strategy(content: Mapping[str, Any]) -> st.SearchStrategy[tuple[bytes, str | None]]:
    """A body for a ``requestBody.content``: a (possibly hostile) JSON object or form built
    from the schema, hostile bytes, or nothing; with the matching or a wrong content type."""
    options: list[st.SearchStrategy[tuple[bytes, str | None]]] = []
    for media, entry in content.items():
        schema = entry.get("schema", {})
        properties = schema.get("properties", {})
        required = set(schema.get("required", ()))
        fields = st.fixed_dictionaries(
            {k: json_value(v) for k, v in properties.items() if k in required},
            optional={k: json_value(v) for k, v in properties.items() if k not in required},
        )
        if media == JSON_MEDIA:
            options.append(fields.map(lambda d: (json.dumps(d, default=str).encode(), JSON_MEDIA)))
        elif media == FORM_MEDIA:
            options.append(
                fields.map(
                    lambda d: (
                        urllib.parse.urlencode({k: _query_text(v) for k, v in d.items()}).encode(),
                        FORM_MEDIA,
                    )
                )
            )
    types = st.sampled_from([JSON_MEDIA, FORM_MEDIA, "text/plain", None, "application/json; x"])
    hostile = st.tuples(st.sampled_from(HOSTILE_BODIES), types)
    noise = st.tuples(st.binary(max_size=64), types)
    return st.one_of(*options, *options, hostile, noise)


def _segment(text: str) -> str:
    return urllib.parse.quote(text, safe=":*")


def case_strategy(
    doc: Mapping[str, Any],
    pinned: Mapping[str, st.SearchStrategy[str]] | None = None,
    skip: Iterable[tuple[str, str]] = (),
) -> st.SearchStrategy[HttpCase]:
    """Requests for every operation of ``doc`` but those in ``skip`` (``(METHOD, path)``);
    ``pinned`` draws the named path parameters (e.g. the peripherals a campaign may touch)."""
    pinned = pinned or {}
    skipped = set(skip)
    per_operation = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if (method.upper(), path) in skipped:
                continue
            per_operation.append(_operation_cases(method.upper(), path, op, pinned, skipped))
    return st.one_of(per_operation)


def _operation_cases(
    method: str,
    path: str,
    op: Mapping[str, Any],
    pinned: Mapping[str, st.SearchStrategy[str]],
    skipped: set[tuple[str, str]],
) -> st.SearchStrategy[HttpCase]:
    params = op.get("parameters", [])
    in_path = [p for p in params if p["in"] == "path"]
    in_query = [p for p in params if p["in"] == "query"]
    body = op.get("requestBody", {}).get("content")

    @st.composite
    def draw(d: st.DrawFn) -> HttpCase:
        filled = path
        for p in in_path:
            value = d(param_value(p.get("schema", {}), pinned.get(p["name"])))
            filled = filled.replace("{" + p["name"] + "}", _segment(str(value)) or "x")
        if d(st.integers(0, 9)) == 0:
            filled += "/"
        query: list[tuple[str, str]] = []
        for p in in_query:
            if p.get("required") or d(st.booleans()):
                query.append((p["name"], d(param_value(p.get("schema", {})))))
        if d(st.integers(0, 9)) == 0:
            query.append((d(st.text(string.ascii_lowercase, min_size=1, max_size=8)), "1"))
        payload, content_type = b"", None
        if body is not None:
            payload, content_type = d(body_strategy(body))
        elif d(st.integers(0, 9)) == 0:
            payload, content_type = d(st.tuples(st.sampled_from(HOSTILE_BODIES), st.none()))
        chosen = method if d(st.integers(0, 9)) else d(st.sampled_from(METHODS))
        if (chosen, path) in skipped:  # another method must not reach a skipped route
            chosen = method
        return HttpCase(
            chosen, filled, tuple(query), payload, content_type, operation=f"{method} {path}"
        )

    return draw()


def draw_cases(strategy: st.SearchStrategy[T], examples: int, seed: int) -> list[T]:
    """``examples`` inputs drawn from ``strategy`` with ``seed`` (the same seed, the same
    list). Hypothesis draws distinct inputs; a small space is drawn again with the next seeds
    until there are enough."""
    cases: list[T] = []
    for round_ in range(1000):
        if len(cases) >= examples:
            break

        @hypothesis_seed(seed + round_)
        @settings(
            max_examples=examples - len(cases),
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(strategy)
        def collect(case: T) -> None:
            cases.append(case)

        collect()
    return cases[:examples]


async def send_all(
    cases: list[HttpCase],
    connect: Connector,
    host: str,
    port: int,
    tally: FuzzTally,
    internal_errors: Callable[[], int],
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Send every case and record its answer's class. ``internal_errors()`` counts the
    server's own traced internal errors (a rise during a case makes it ``unhandled``)."""
    with LogWatch() as log:
        for i, case in enumerate(cases, 1):
            before, logged = internal_errors(), len(log.records)
            answer = await exchange(connect, host, port, case)
            unhandled = internal_errors() > before or len(log.records) > logged
            tally.record(answer_class(answer, unhandled), described(case, answer))
            if progress is not None and (i % 500 == 0 or i == len(cases)):
                progress(i, len(cases))


def described(case: HttpCase, answer: HttpAnswer) -> dict[str, Any]:
    """A case and its answer as a tally keeps them (texts cut at 200 characters)."""
    return {
        "operation": case.operation,
        "request": f"{case.method} {case.target()[:200]}",
        "content_type": case.content_type,
        "headers": case.headers,
        "body": case.body[:200],
        "status": answer.status,
        "answer": answer.body[:200],
    }
