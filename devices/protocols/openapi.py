"""OpenAPI 3 descriptions of the HTTP APIs we serve: a document built from one
:class:`Operation` per route, the check that a document and an aiohttp route table agree, and
the ``GET /openapi.json`` route that serves it.

An API module describes its routes as ``{(method, path): Operation(...)}`` with aiohttp's path
syntax (``/gap/nodes/{node}/connection``); path parameters are derived from the path unless an
operation describes them itself. ``HEAD`` routes aiohttp adds beside ``GET`` are not listed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

JSON = "application/json"
TEXT = "text/plain"
SSE = "text/event-stream"
FORM = "application/x-www-form-urlencoded"
OPENAPI_PATH = "/openapi.json"
_PATH_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")

Schema = Mapping[str, Any]
Route = tuple[str, str]  # (METHOD, path)


@dataclass(frozen=True)
class Param:
    """A query (or path, header) parameter."""

    name: str
    schema: Schema = field(default_factory=lambda: {"type": "string"})
    description: str = ""
    where: str = "query"
    required: bool = False


@dataclass(frozen=True)
class Answer:
    """One response: its description, its body's media types and schemas (none: no body) and
    the headers worth naming."""

    description: str
    content: Mapping[str, Schema] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)  # name -> description


def json_answer(description: str, schema: Schema | None = None) -> Answer:
    return Answer(description, {JSON: schema or {}})


def text_answer(description: str, schema: Schema | None = None) -> Answer:
    return Answer(description, {TEXT: schema or {"type": "string"}})


def sse_answer(description: str) -> Answer:
    """A Server-Sent Events stream (the description says what its ``data:`` lines hold)."""
    return Answer(description, {SSE: {"type": "string"}})


@dataclass(frozen=True)
class Operation:
    """One route: what it does, what it takes and how it answers."""

    summary: str
    answers: Mapping[int, Answer]
    params: tuple[Param, ...] = ()
    body: Mapping[str, Schema] | None = None  # media type -> schema
    body_required: bool = False
    description: str = ""
    tags: tuple[str, ...] = ()

    def path_params(self, path: str) -> list[Param]:
        """The path's parameters (described here or plain strings), then the others."""
        own = {p.name: p for p in self.params if p.where == "path"}
        from_path = [own.get(name, Param(name, where="path")) for name in _PATH_PARAM.findall(path)]
        return from_path + [p for p in self.params if p.where != "path"]


def _parameter(p: Param) -> dict[str, Any]:
    out: dict[str, Any] = {"name": p.name, "in": p.where, "schema": dict(p.schema)}
    if p.where == "path" or p.required:
        out["required"] = True
    if p.description:
        out["description"] = p.description
    return out


def _answer(a: Answer) -> dict[str, Any]:
    out: dict[str, Any] = {"description": a.description}
    if a.content:
        out["content"] = {media: {"schema": dict(schema)} for media, schema in a.content.items()}
    if a.headers:
        out["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in a.headers.items()
        }
    return out


def _operation(method: str, path: str, op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {
        "operationId": _operation_id(method, path),
        "summary": op.summary,
        "responses": {str(status): _answer(a) for status, a in sorted(op.answers.items())},
    }
    if op.description:
        out["description"] = op.description
    if op.tags:
        out["tags"] = list(op.tags)
    params = [_parameter(p) for p in op.path_params(path)]
    if params:
        out["parameters"] = params
    if op.body is not None:
        out["requestBody"] = {
            "required": op.body_required,
            "content": {media: {"schema": dict(schema)} for media, schema in op.body.items()},
        }
    return out


def _operation_id(method: str, path: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", _PATH_PARAM.sub(r"by \1", path))
    return method.lower() + "".join(w[:1].upper() + w[1:] for w in words)


def document(
    title: str,
    version: str,
    operations: Mapping[Route, Operation],
    description: str = "",
    components: Mapping[str, Schema] | None = None,
) -> dict[str, Any]:
    """The OpenAPI 3.0 document of ``operations``."""
    paths: dict[str, dict[str, Any]] = {}
    for (method, path), op in sorted(operations.items(), key=lambda item: item[0][::-1]):
        paths.setdefault(_PATH_PARAM.sub(r"{\1}", path), {})[method.lower()] = _operation(
            method, path, op
        )
    doc: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": title, "version": version},
        "paths": paths,
    }
    if description:
        doc["info"]["description"] = description
    if components:
        doc["components"] = {"schemas": {k: dict(v) for k, v in components.items()}}
    return doc


def routes(app: web.Application) -> set[Route]:
    """``(METHOD, path)`` of every route of ``app`` (aiohttp's automatic HEAD routes aside)."""
    found: set[Route] = set()
    for resource in app.router.resources():
        info = resource.get_info()
        path = info.get("path") or info.get("formatter")
        if path is None:
            continue
        methods = {route.method for route in resource}
        for method in methods:
            if method == "HEAD" and "GET" in methods:
                continue
            found.add((method, _PATH_PARAM.sub(r"{\1}", path)))
    return found


def documented(doc: Mapping[str, Any]) -> set[Route]:
    """``(METHOD, path)`` of every operation ``doc`` describes."""
    return {
        (method.upper(), path)
        for path, item in doc.get("paths", {}).items()
        for method in item
        if method in ("get", "put", "post", "delete", "patch", "head", "options")
    }


def mismatches(doc: Mapping[str, Any], app: web.Application) -> list[str]:
    """What the document and the route table disagree on (empty when they agree)."""
    served, described = routes(app), documented(doc)
    return [f"{m} {p} is routed but not documented" for m, p in sorted(served - described)] + [
        f"{m} {p} is documented but not routed" for m, p in sorted(described - served)
    ]


OPENAPI_OPERATION = Operation(
    "this API's OpenAPI 3 description",
    {200: json_answer("the OpenAPI document", {"type": "object"})},
)


def publish(app: web.Application, build: Callable[[], dict[str, Any]]) -> None:
    """Serve ``build()`` (the document, built on the first request) at ``GET /openapi.json``."""
    built: list[dict[str, Any]] = []

    async def openapi(_request: web.Request) -> web.Response:
        if not built:
            built.append(build())
        return web.json_response(built[0])

    app.router.add_get(OPENAPI_PATH, openapi)


def lint(doc: Mapping[str, Any]) -> list[str]:
    """What makes ``doc`` an unsound OpenAPI 3 document: a path parameter not declared, an
    operation with no responses, an operationId used twice (empty when sound)."""
    problems: list[str] = []
    if not str(doc.get("openapi", "")).startswith("3."):
        problems.append("openapi must name a 3.x version")
    seen: set[str] = set()
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            where = f"{method.upper()} {path}"
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            missing = set(_PATH_PARAM.findall(path)) - declared
            if missing:
                problems.append(f"{where}: path parameters {sorted(missing)} not declared")
            if not op.get("responses"):
                problems.append(f"{where}: no responses")
            ident = op.get("operationId", "")
            if ident in seen:
                problems.append(f"{where}: operationId {ident!r} used twice")
            seen.add(ident)
    return problems
