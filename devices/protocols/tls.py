"""TLS over in-world IP links (:mod:`sim.iplink`), for protocol-based stacks (aiohttp's server, the
MQTT server, paho through :class:`~devices.protocols.mqtt.paho_virtual.PahoLink`, asyncio
streams).

asyncio's own :class:`asyncio.sslproto.SSLProtocol` does the TLS, on the world's loop (its
handshake timeout is loop time): no thread, no socket. Two adapters make it run over a
:class:`~sim.iplink.MemoryTransport`, which pushes bytes with ``data_received`` while
``SSLProtocol`` is a buffered protocol and ends a fatal error with the transport's private
``_force_close`` (here: a reset). :mod:`devices.protocols.terminal_wire` does the same for
stream-based code with an ``SSLObject`` it pumps itself.

* :func:`server_factory` — what ``IpNetwork.listen`` takes: each connection's protocol behind a
  server-side TLS layer; the protocol's ``connection_made`` comes after the handshake, with a
  transport whose ``get_extra_info("ssl_object")`` has the peer's certificate.
* :func:`dial` — a client connection: ``(transport, protocol)`` once the handshake is done, as
  ``PahoLink`` dials; :func:`open_connection` — the same as an asyncio stream pair, as
  ``HttpClient`` connects.
* :class:`ServerNames` — the server name (SNI) each client asked for, which ``ssl`` shows only
  to a context's ``sni_callback``.

On real sockets asyncio's own TLS is used (``ssl=`` of ``create_server``/``TCPSite``); the same
``ServerNames`` works there. Certificate validity is checked by OpenSSL against the machine's
clock (the one wall-clock read TLS makes; see :mod:`devices.protocols.x509`).
"""

from __future__ import annotations

import asyncio
import ssl
import weakref
from asyncio import sslproto
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.iplink import IpNetwork

ProtocolFactory = Callable[[], asyncio.BaseProtocol]
HANDSHAKE_TIMEOUT_S = 30.0


class _Lower(asyncio.Transport):
    """The in-world transport as ``SSLProtocol`` expects its lower transport to be."""

    def __init__(self, transport: asyncio.Transport) -> None:
        super().__init__()
        self._transport = transport

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._transport.write(data)

    def close(self) -> None:
        self._transport.close()

    def abort(self) -> None:
        self._transport.abort()

    def _force_close(self, exc: BaseException | None) -> None:
        self._transport.abort()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size()


class _Pushed(asyncio.Protocol):
    """Feeds bytes a transport pushes (``data_received``) to a buffered protocol."""

    def __init__(self, inner: sslproto.SSLProtocol, context: ssl.SSLContext) -> None:
        self.inner = inner
        self.context = context

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        keylog = transport.get_extra_info("tls_keylog")  # an in-world IP capture's key log
        if keylog and self.context.keylog_filename != keylog:
            self.context.keylog_filename = keylog
        self.inner.connection_made(_Lower(transport))

    def data_received(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            buffer = self.inner.get_buffer(len(view))
            n = min(len(buffer), len(view))
            buffer[:n] = view[:n]
            self.inner.buffer_updated(n)
            view = view[n:]

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


def _layer(
    loop: asyncio.AbstractEventLoop,
    app: asyncio.BaseProtocol,
    context: ssl.SSLContext,
    server_side: bool,
    server_hostname: str | None = None,
    waiter: asyncio.Future[None] | None = None,
) -> asyncio.Protocol:
    tls = sslproto.SSLProtocol(
        loop,
        app,
        context,
        waiter,
        server_side=server_side,
        server_hostname=server_hostname,
        ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S,
    )
    return _Pushed(tls, context)


def server_factory(
    loop: asyncio.AbstractEventLoop,
    factory: ProtocolFactory,
    context: ssl.SSLContext | Callable[[], ssl.SSLContext],
) -> Callable[[], asyncio.Protocol]:
    """``factory``'s protocols behind server-side TLS (``context``, or a callable giving the
    context for each new connection), for ``IpNetwork.listen``."""

    def make() -> asyncio.Protocol:
        ctx = context if isinstance(context, ssl.SSLContext) else context()
        return _layer(loop, factory(), ctx, server_side=True)

    return make


class _Watched(asyncio.Protocol):
    """Forwards to a client's protocol, keeping the TLS transport it was given for :func:`dial`."""

    def __init__(self, app: asyncio.Protocol) -> None:
        self.app = app
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.app.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self.app.data_received(data)

    def eof_received(self) -> bool | None:
        return self.app.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.app.connection_lost(exc)

    def pause_writing(self) -> None:
        self.app.pause_writing()

    def resume_writing(self) -> None:
        self.app.resume_writing()


async def dial(
    net: IpNetwork,
    factory: Callable[[], asyncio.Protocol],
    host: str,
    port: int,
    context: ssl.SSLContext,
    server_hostname: str | None = None,
    client_host: str = "client",
) -> tuple[asyncio.BaseTransport, asyncio.Protocol]:
    """A TLS connection from ``client_host`` to ``host:port`` in ``net``'s world:
    ``(transport, protocol)`` once the handshake is done (ssl.SSLError if it failed).
    ``server_hostname`` (default ``host``) is sent as SNI and checked when the context checks
    host names."""
    loop = net.world.loop
    waiter: asyncio.Future[None] = loop.create_future()
    watched = _Watched(factory())
    layer = _layer(loop, watched, context, False, server_hostname or host, waiter)
    await net.create_connection(lambda: layer, host, port, client_host)
    await waiter
    if watched.transport is None:
        raise ConnectionError(f"TLS to {host}:{port}: the connection closed after the handshake")
    return watched.transport, watched.app


async def open_connection(
    net: IpNetwork,
    host: str,
    port: int,
    context: ssl.SSLContext,
    server_hostname: str | None = None,
    client_host: str = "client",
    limit: int = 2**16,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """:func:`dial` as an asyncio stream pair (what ``HttpClient``'s ``connect`` returns)."""
    loop = net.world.loop
    reader = asyncio.StreamReader(limit=limit, loop=loop)
    transport, protocol = await dial(
        net,
        lambda: asyncio.StreamReaderProtocol(reader, loop=loop),
        host,
        port,
        context,
        server_hostname,
        client_host,
    )
    assert isinstance(transport, asyncio.Transport)
    assert isinstance(protocol, asyncio.StreamReaderProtocol)
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)


class ServerNames:
    """The server name (SNI) each TLS client asked for, per connection.

    :meth:`install` sets ``context.sni_callback`` (chaining one already set); :meth:`of` answers
    for a connection's ``ssl_object``: the name, or None when the client sent none (as clients
    do when they connect to an IP address).
    """

    def __init__(self) -> None:
        self._names: weakref.WeakKeyDictionary[Any, str | None] = weakref.WeakKeyDictionary()

    def install(self, context: ssl.SSLContext) -> ssl.SSLContext:
        before = context.sni_callback

        def callback(obj: Any, name: str | None, ctx: ssl.SSLContext) -> int | None:
            self._names[obj] = name
            return before(obj, name, ctx) if before is not None else None

        context.sni_callback = callback
        return context

    def of(self, ssl_object: Any) -> str | None:
        return self._names.get(ssl_object) if ssl_object is not None else None
