"""A small HTTP/1.1 client with Server-Sent Events, on h11, over any asyncio stream.

The same client talks to a server inside the world (through :class:`sim.iplink.IpNetwork`, in
virtual time) and to a real one on a socket (an external SUT, ``hil serve``). Every exchange can
be recorded as a transcript line for the run's evidence.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import h11

Connector = Callable[[str, int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]
Recorder = Callable[[dict[str, Any]], None]


class HttpError(Exception):
    """The exchange itself failed (connection refused or reset, malformed response, timeout)."""


@dataclass
class HttpResponse:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise HttpError(f"response body is not JSON: {self.text[:200]!r}") from exc


@dataclass
class SseEvent:
    data: str
    event: str = "message"
    id: str | None = None

    def json(self) -> Any:
        return json.loads(self.data)


@dataclass
class _Target:
    host: str
    port: int
    base_path: str


def _parse_base(base_url: str) -> _Target:
    url = urllib.parse.urlsplit(base_url)
    if url.scheme != "http" or not url.hostname:
        raise ValueError(f"base URL {base_url!r} must look like http://host:port")
    return _Target(url.hostname, url.port or 80, url.path.rstrip("/"))


def _query(params: dict[str, Any] | None) -> str:
    if not params:
        return ""
    return "?" + urllib.parse.urlencode(
        {k: v for k, v in params.items() if v is not None}, safe=':,*{}"'
    )


@dataclass
class HttpClient:
    """Requests and SSE streams against one base URL."""

    base_url: str
    connect: Connector | None = None  # default: a real TCP socket
    recorder: Recorder | None = None
    default_timeout: float = 30.0
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._target = _parse_base(self.base_url)

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        t = self._target
        try:
            if self.connect is not None:
                return await self.connect(t.host, t.port)
            return await asyncio.open_connection(t.host, t.port)
        except OSError as exc:
            raise HttpError(f"cannot connect to {t.host}:{t.port}: {exc}") from exc

    def _request_bytes(
        self, conn: h11.Connection, method: str, target: str, body: bytes, headers: dict[str, str]
    ) -> bytes:
        t = self._target
        all_headers = [
            ("Host", f"{t.host}:{t.port}"),
            ("Connection", "close"),
            ("User-Agent", "gateway-hil"),
        ]
        all_headers += list(self.headers.items()) + list(headers.items())
        if body or method in ("POST", "PUT", "PATCH"):
            all_headers.append(("Content-Length", str(len(body))))
        out = conn.send(h11.Request(method=method, target=target, headers=all_headers))
        if body:
            out += conn.send(h11.Data(data=body))
        out += conn.send(h11.EndOfMessage())
        return out

    @staticmethod
    def _encode_body(
        json_body: Any, form: dict[str, str] | None, raw: bytes | None, headers: dict[str, str]
    ) -> bytes:
        if json_body is not None:
            headers.setdefault("Content-Type", "application/json")
            return json.dumps(json_body).encode()
        if form is not None:
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
            return urllib.parse.urlencode(form).encode()
        return raw or b""

    async def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        form: dict[str, str] | None = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> HttpResponse:
        headers = dict(headers or {})
        body = self._encode_body(json_body, form, raw, headers)
        target = self._target.base_path + path + _query(params)
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            response = await asyncio.wait_for(
                self._exchange(method, target, body, headers), timeout or self.default_timeout
            )
        except TimeoutError as exc:
            self._record(method, target, None, started, error="timeout")
            raise HttpError(
                f"{method} {target}: no response within {timeout or self.default_timeout} s"
            ) from exc
        self._record(
            method, target, response.status, started, body=body, response=response.body[:2000]
        )
        return response

    async def _exchange(
        self, method: str, target: str, body: bytes, headers: dict[str, str]
    ) -> HttpResponse:
        reader, writer = await self._open()
        conn = h11.Connection(h11.CLIENT)
        try:
            writer.write(self._request_bytes(conn, method, target, body, headers))
            status, reason, resp_headers, chunks = 0, "", {}, []
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data = await reader.read(65536)
                    conn.receive_data(data)
                    continue
                if isinstance(event, h11.Response):
                    status, reason = event.status_code, event.reason.decode()
                    resp_headers = {k.decode().lower(): v.decode() for k, v in event.headers}
                elif isinstance(event, h11.Data):
                    chunks.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                    break
            return HttpResponse(status, reason, resp_headers, b"".join(chunks))
        except h11.RemoteProtocolError as exc:
            raise HttpError(f"{method} {target}: malformed HTTP response: {exc}") from exc
        except (ConnectionError, OSError) as exc:
            raise HttpError(f"{method} {target}: {exc}") from exc
        finally:
            writer.close()

    def sse(
        self, path: str, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> SseStream:
        """Open a Server-Sent Events stream (use as ``async with``)."""
        return SseStream(self, self._target.base_path + path + _query(params), headers or {})

    def _record(
        self, method: str, target: str, status: int | None, started: float, **extra: Any
    ) -> None:
        if self.recorder is None:
            return
        loop = asyncio.get_running_loop()
        entry = {
            "method": method,
            "target": target,
            "status": status,
            "sent_at": round(started, 6),
            "elapsed": round(loop.time() - started, 6),
        }
        for key, value in extra.items():
            if isinstance(value, bytes):
                value = value.decode("utf-8", errors="replace")
            if value:
                entry[key] = redact_secrets(value) if key == "body" else value
        self.recorder(entry)


_SECRET_FIELD = re.compile(
    r'((?:^|[&?"\s{,])"?(?:password|passwd|secret|token|access_token|client_secret)"?\s*[=:]\s*"?)'
    r'([^&"\s,}]*)',
    re.IGNORECASE,
)


def redact_secrets(text: str) -> str:
    """A request body for the transcript with the values of password-, secret- and token-like
    fields (form or JSON) replaced by ``<redacted>``: evidence never carries a credential."""
    return _SECRET_FIELD.sub(lambda m: m.group(1) + "<redacted>", text)


class SseStream:
    """An open SSE response: its status, and an async iterator of events."""

    def __init__(self, client: HttpClient, target: str, headers: dict[str, str]) -> None:
        self._client = client
        self.target = target
        self._headers = {"Accept": "text/event-stream", **headers}
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = b""  # the body, when the server refused the stream
        self._writer: asyncio.StreamWriter | None = None
        self._reader: asyncio.StreamReader | None = None
        self._conn = h11.Connection(h11.CLIENT)
        self._buffer = ""
        self._queue: list[SseEvent] = []
        self.closed = False

    async def __aenter__(self) -> SseStream:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    async def open(self) -> None:
        client = self._client
        loop = asyncio.get_running_loop()
        started = loop.time()
        self._reader, self._writer = await client._open()
        self._writer.write(
            client._request_bytes(self._conn, "GET", self.target, b"", self._headers)
        )
        while True:
            event = await self._next_h11_event()
            if isinstance(event, h11.Response):
                self.status = event.status_code
                self.headers = {k.decode().lower(): v.decode() for k, v in event.headers}
                break
            if event is None:
                raise HttpError(f"GET {self.target}: connection closed before a response")
        client._record("GET", self.target, self.status, started, stream=True)
        if self.status != 200:
            chunks = []
            while True:
                event = await self._next_h11_event()
                if isinstance(event, h11.Data):
                    chunks.append(bytes(event.data))
                else:
                    break
            self.body = b"".join(chunks)
            self.close()

    async def _next_h11_event(self) -> Any:
        assert self._reader is not None
        while True:
            try:
                event = self._conn.next_event()
            except h11.RemoteProtocolError as exc:
                raise HttpError(f"GET {self.target}: malformed HTTP: {exc}") from exc
            if event is h11.NEED_DATA:
                try:
                    data = await self._reader.read(65536)
                except (ConnectionError, OSError):
                    data = b""
                self._conn.receive_data(data)
                if not data and self._conn.their_state is not h11.SEND_BODY:
                    return None
                continue
            if isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                return None
            return event

    def _parse(self, text: str) -> None:
        self._buffer += text.replace("\r\n", "\n")
        while "\n\n" in self._buffer:
            block, self._buffer = self._buffer.split("\n\n", 1)
            data_lines: list[str] = []
            name, ident = "message", None
            for line in block.split("\n"):
                if not line or line.startswith(":"):
                    continue
                key, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if key == "data":
                    data_lines.append(value)
                elif key == "event":
                    name = value
                elif key == "id":
                    ident = value
            if data_lines:
                self._queue.append(SseEvent("\n".join(data_lines), name, ident))

    async def next(self, timeout: float | None = None) -> SseEvent | None:
        """The next event, or None when the stream ended (or ``timeout`` passed)."""
        try:
            return await asyncio.wait_for(self._next(), timeout)
        except TimeoutError:
            return None

    async def _next(self) -> SseEvent | None:
        while not self._queue:
            if self.closed:
                return None
            event = await self._next_h11_event()
            if event is None:
                self.closed = True
                return None
            if isinstance(event, h11.Data):
                self._parse(bytes(event.data).decode("utf-8", errors="replace"))
        return self._queue.pop(0)

    async def collect(self, duration: float) -> list[SseEvent]:
        """Every event that arrives within ``duration`` seconds (of the loop's clock)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + duration
        events = []
        while (left := deadline - loop.time()) > 0:
            event = await self.next(timeout=left)
            if event is None:
                if self.closed:
                    break
                continue
            events.append(event)
        return events

    def __aiter__(self) -> AsyncIterator[SseEvent]:
        return self

    async def __anext__(self) -> SseEvent:
        event = await self._next()
        if event is None:
            raise StopAsyncIteration
        return event

    def close(self) -> None:
        if self._writer is not None and not self.closed:
            self._writer.close()
        self.closed = True
