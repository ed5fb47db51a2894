"""Serving an aiohttp application inside the world or on a real socket.

Inside the world the application's protocol handler is attached to :class:`sim.iplink.IpNetwork`
listeners (real HTTP bytes through in-memory transports, virtual time). On a real socket it is an
ordinary aiohttp site. Either way the ``Date`` header is the world's calendar time, not the
machine's, so transcripts are reproducible.

Every server gets the same connection rules (:class:`ServerLimits`, the world's clock):

* A request (head and body) must arrive whole within ``request_timeout_s`` of the connection
  opening or of the previous answer; past that the server answers ``408`` (when part of a
  request arrived) or just closes (when nothing did). aiohttp itself has no such timeout, so a
  client trickling header bytes would hold a connection for ever.
* A client that half-closes (FIN) after a complete request still gets its answer, then the
  connection closes (aiohttp's default closes at the FIN, answering nothing). A FIN during a
  streamed answer (SSE) means the reader left: the stream ends as before.
* A trailing slash is not significant: ``/a/b/?x=1`` is routed as ``/a/b?x=1`` directly, with no
  redirect (which POST and SSE clients would not follow).

:func:`json_body` parses a request body as JSON with bounded nesting and finite numbers only,
for every API that takes JSON.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web
from yarl import URL

from devices.protocols import tls

if TYPE_CHECKING:
    from sim.iplink import IpNetwork
    from sim.world import World

MAX_JSON_DEPTH = 32
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")


@dataclass(frozen=True)
class ServerLimits:
    """How long a client may take to send a whole request (head and body), counted from the
    connection's opening or the previous answer: an idle keep-alive connection closes then
    too."""

    request_timeout_s: float = 30.0


@dataclass
class ServedApp:
    runner: web.AppRunner
    host: str
    port: int
    net: IpNetwork | None = None
    site: web.TCPSite | None = None
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    async def close(self) -> None:
        if self.net is not None:
            self.net.unlisten(self.host, self.port)
        await self.runner.cleanup()


class _Connection(web.RequestHandler):
    """aiohttp's connection handler with the request timeout and the half-close rule."""

    def __init__(self, manager: web.Server, *, request_timeout_s: float, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._request_timeout_s = request_timeout_s
        self._timer: asyncio.TimerHandle | None = None
        self._heads = 0  # requests whose head was parsed
        self._answered = 0
        self._partial = False  # bytes of a request not parsed whole yet
        self._eof = False
        self._streaming = False

    # -- the request timer ------------------------------------------------------------------
    def _arm(self) -> None:
        self._disarm()
        self._timer = self._loop.call_later(self._request_timeout_s, self._timed_out)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        transport = self.transport
        request = self._current_request
        if transport is None or self._streaming:
            return
        if self._heads > self._answered and (request is None or request.content.is_eof()):
            if request is None:  # whole, but still queued behind a busy loop: look again
                self._arm()
            return  # the request is whole: the handler is working on it
        if request is not None or self._partial:
            text = f"no whole request within {self._request_timeout_s:g} s\n".encode()
            transport.write(
                b"HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain; charset=utf-8\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(text), text)
            )
        self.force_close()

    # -- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        before = self._request_count
        super().data_received(data)
        if self._request_count > before:
            self._heads += self._request_count - before
            self._partial = False
        elif data and self._heads == self._answered:
            self._partial = True

    def eof_received(self) -> bool | None:  # type: ignore[override]
        self._eof = True
        if self._streaming or self._heads == self._answered:
            return None  # a reader left its stream, or no request waits: close
        self.close()  # answer what was asked, then close
        return True

    # -- answers ----------------------------------------------------------------------------
    def stream_started(self) -> None:
        """A streamed answer (SSE) began: a FIN from now on means its reader left."""
        self._streaming = True
        self._disarm()
        if self._eof and self.transport is not None:
            self.transport.close()

    async def finish_response(
        self, request: Any, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        try:
            return await super().finish_response(request, resp, start_time)
        finally:
            self._answered += 1
            self._streaming = False
            if not self._eof and not self._close and not self._force_close:
                self._arm()

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """A request aiohttp could not parse is bad input, not a server fault: a short plain
        400 (no traceback in the log); server faults (5xx) as aiohttp answers them."""
        if status >= 500:
            return super().handle_error(request, status, exc, message)
        self.log_debug("malformed request from %s", request.remote, exc_info=exc)
        if request.writer.output_size > 0:
            raise ConnectionError("the answer has begun; no error answer can follow")
        reason = str(getattr(exc, "message", None) or message or exc or "malformed")
        reason = reason if len(reason) <= 100 else reason[:100] + "..."
        response = web.Response(status=status, text=f"malformed HTTP request: {reason}\n")
        response.force_close()
        return response


class _Server(web.Server):
    """aiohttp's server, making :class:`_Connection` handlers."""

    request_timeout_s = ServerLimits.request_timeout_s

    def __call__(self) -> web.RequestHandler:
        return _Connection(
            self, loop=self._loop, request_timeout_s=self.request_timeout_s, **self._kwargs
        )


class _Runner(web.AppRunner):
    def __init__(self, app: web.Application, limits: ServerLimits) -> None:
        super().__init__(
            app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=0.5,
            # aiohttp's own idle close, a backstop behind the request timer (which answers 408)
            keepalive_timeout=2 * limits.request_timeout_s,
        )
        self._limits = limits

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # aiohttp builds its own Server class; ours only changes which handler it makes
        server.__class__ = _Server
        server.request_timeout_s = self._limits.request_timeout_s  # type: ignore[attr-defined]
        server.request_factory = _without_trailing_slash(server.request_factory)
        return server


def _without_trailing_slash(factory: Callable[..., Any]) -> Callable[..., Any]:
    def make(message: Any, *args: Any) -> Any:
        raw = message.url.raw_path
        if len(raw) > 1 and raw.endswith("/"):
            path = raw.rstrip("/") or "/"
            url = URL.build(path=path, query_string=message.url.raw_query_string, encoded=True)
            message = message._replace(path=str(url), url=url)
        return factory(message, *args)

    return make


def _stamp_date(world: World):  # type: ignore[no-untyped-def]
    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        response.headers["Date"] = email.utils.format_datetime(world.datetime(), usegmt=True)
        if not isinstance(response, web.Response) and isinstance(request.protocol, _Connection):
            request.protocol.stream_started()

    return on_prepare


async def serve(
    app: web.Application,
    world: World,
    host: str,
    port: int,
    net: IpNetwork | None = None,
    limits: ServerLimits | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> ServedApp:
    """Serve ``app`` at ``host:port`` — inside ``net`` when given, else on a real socket; over
    TLS with ``ssl_context`` (in the world through :mod:`devices.protocols.tls`)."""
    app.on_response_prepare.append(_stamp_date(world))
    runner = _Runner(app, limits or ServerLimits())
    await runner.setup()
    scheme = "http" if ssl_context is None else "https"
    if net is not None:
        server = runner.server
        assert server is not None
        factory = (
            server if ssl_context is None else tls.server_factory(world.loop, server, ssl_context)
        )
        net.listen(host, port, factory)  # type: ignore[arg-type]
        return ServedApp(runner, host, port, net=net, scheme=scheme)
    site = web.TCPSite(runner, host, port, reuse_address=True, ssl_context=ssl_context)
    await site.start()
    if port == 0:
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        port = sockets[0].getsockname()[1]
    return ServedApp(runner, host, port, site=site, scheme=scheme)


class JsonBodyError(ValueError):
    """A request body that is not the JSON an API takes (the message says why)."""


def json_body(raw: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``raw`` parsed as JSON: UTF-8, nested at most ``max_depth`` deep, finite numbers only
    (no ``NaN``/``Infinity``, no number of more than 4300 digits); else :class:`JsonBodyError`
    saying why (and where, for a number)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise JsonBodyError(f"the body is not UTF-8: {_shown(raw)}") from None
    depth = _nesting(text)
    if depth > max_depth:
        raise JsonBodyError(
            f"the body is JSON nested {depth} deep; at most {max_depth} levels are accepted"
        )
    try:
        parsed = json.loads(text, parse_constant=_NotFinite, parse_float=_float)
    except ValueError as exc:
        raise JsonBodyError(f"the body is not JSON ({exc}): {_shown(raw)}") from None
    where = _not_finite(parsed, "")
    if where is not None:
        field, value = where
        raise JsonBodyError(
            f"{field or 'the body'}: {value} is not accepted; only finite numbers are"
        )
    return parsed


class _NotFinite(str):
    """Where the JSON held NaN, Infinity or a number too large for a float."""


def _float(text: str) -> float | _NotFinite:
    value = float(text)
    return value if value not in (float("inf"), float("-inf")) else _NotFinite(text[:40])


def _not_finite(value: Any, path: str) -> tuple[str, str] | None:
    """The JSON path and text of the first non-finite number in ``value``."""
    if isinstance(value, _NotFinite):
        return path, str(value)
    items: Any = ()
    if isinstance(value, dict):
        items = ((f"{path}.{k}" if path else str(k), v) for k, v in value.items())
    elif isinstance(value, list):
        items = ((f"{path}[{i}]", v) for i, v in enumerate(value))
    for where, item in items:
        found = _not_finite(item, where)
        if found is not None:
            return found
    return None


def _nesting(text: str) -> int:
    """How deep ``[``/``{`` nest outside strings (a scan, so no recursion limit is reached)."""
    depth = deepest = 0
    for match in _BRACKETS.finditer(_STRINGS.sub("", text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _shown(raw: bytes | str, limit: int = 80) -> str:
    """``raw`` as a short repr for an error message."""
    if len(raw) <= limit:
        return repr(raw)
    return f"{raw[:limit]!r}... ({len(raw)} {'bytes' if isinstance(raw, bytes) else 'chars'})"
