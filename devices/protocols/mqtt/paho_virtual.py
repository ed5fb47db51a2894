"""Driving a paho-mqtt 2.x ``Client`` from an asyncio loop: no thread, no kernel socket, the
loop's clock (virtual time in a world).

paho offers no transport or clock injection, so this uses two private hooks, checked by
:func:`check_paho_hooks` (a test fails if a paho release drops them):

* ``Client._create_socket()`` returns the object paho reads and writes. We hand it a
  :class:`VirtualSocket` over a stream the loop opened (an in-world link, or a real
  connection made by the loop): ``recv`` raises ``BlockingIOError`` when nothing is buffered,
  ``fileno()`` is -1. ``loop()``/``loop_start()`` would create a socketpair and a thread; the
  ``loop_read``/``loop_write``/``loop_misc`` path used here creates neither.
* The module global ``paho.mqtt.client.time_func`` is read at every use (keep alive, PINGREQ).
  While a :class:`PahoLink` is open it is replaced by a dispatcher that answers with the
  running loop's ``time()`` on a loop that has a link, and ``time.monotonic()`` anywhere else
  (a paho client on its own thread keeps the wall clock). The original is restored when the
  last link closes.

paho writes through ``on_socket_register_write``: each queued packet schedules one
``loop_write`` on the loop, so a ``publish()`` made inside a paho callback goes out too.
``loop_misc`` (keep alive) runs every ``misc_interval`` seconds of loop time while the socket
is open. paho's own reconnect and backoff are not used (they sleep): call
:meth:`PahoLink.connect` again from the loop. On a keep alive timeout paho calls
``on_disconnect`` twice (upstream issue #870): keep reconnect scheduling idempotent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as paho

if TYPE_CHECKING:
    from sim.iplink import IpNetwork

ProtocolFactory = Callable[[], asyncio.Protocol]
Dial = Callable[[ProtocolFactory], Awaitable[tuple[asyncio.BaseTransport, Any]]]


def check_paho_hooks() -> None:
    """RuntimeError naming what is missing if this paho no longer has the hooks we use."""
    missing = [
        name
        for name, present in (
            ("paho.mqtt.client.time_func", hasattr(paho, "time_func")),
            ("Client._create_socket", callable(getattr(paho.Client, "_create_socket", None))),
            ("Client.on_socket_register_write", hasattr(paho.Client, "on_socket_register_write")),
            ("Client.loop_read", hasattr(paho.Client, "loop_read")),
            ("Client.loop_write", hasattr(paho.Client, "loop_write")),
            ("Client.loop_misc", hasattr(paho.Client, "loop_misc")),
        )
        if not present
    ]
    if missing:
        raise RuntimeError(
            "paho-mqtt no longer offers what the virtual-time adapter uses: " + ", ".join(missing)
        )


# -- the clock ---------------------------------------------------------------------------------
_loops: dict[asyncio.AbstractEventLoop, int] = {}
_original_time_func: Callable[[], float] | None = None


def _loop_time() -> float:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return time.monotonic()
    return loop.time() if loop in _loops else time.monotonic()


def _hold_clock(loop: asyncio.AbstractEventLoop) -> None:
    global _original_time_func
    if not _loops:
        _original_time_func = paho.time_func
        paho.time_func = _loop_time
    _loops[loop] = _loops.get(loop, 0) + 1


def _release_clock(loop: asyncio.AbstractEventLoop) -> None:
    global _original_time_func
    count = _loops.get(loop, 0) - 1
    if count > 0:
        _loops[loop] = count
        return
    _loops.pop(loop, None)
    if not _loops and _original_time_func is not None:
        paho.time_func = _original_time_func
        _original_time_func = None


@contextmanager
def loop_clock(loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    """paho reads ``loop``'s time (when called on it) for the duration of the block."""
    _hold_clock(loop)
    try:
        yield
    finally:
        _release_clock(loop)


# -- the socket --------------------------------------------------------------------------------
class VirtualSocket(asyncio.Protocol):
    """Both sides of the stream: the asyncio protocol receiving bytes, and the socket-like
    object paho reads and writes (``recv``/``send``/``close``/``setblocking``/``fileno``)."""

    def __init__(self, on_readable: Callable[[], None]) -> None:
        self._on_readable = on_readable
        self._buffer = bytearray()
        self._eof = False
        self.transport: asyncio.Transport | None = None

    # asyncio side
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self._on_readable()

    def eof_received(self) -> bool:
        self._eof = True
        self._on_readable()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        self._on_readable()

    # paho side
    @property
    def readable(self) -> bool:
        return bool(self._buffer) or self._eof

    def recv(self, bufsize: int) -> bytes:
        if self._buffer:
            chunk = bytes(self._buffer[:bufsize])
            del self._buffer[:bufsize]
            return chunk
        if self._eof:
            return b""
        raise BlockingIOError("no data buffered")

    def send(self, data: bytes | bytearray) -> int:
        if self.transport is None or self.transport.is_closing():
            raise BrokenPipeError("the stream is closed")
        self.transport.write(bytes(data))
        return len(data)

    def close(self) -> None:
        self._eof = True
        if self.transport is not None:
            self.transport.close()

    def setblocking(self, flag: bool) -> None:
        pass

    def fileno(self) -> int:
        return -1


# -- the driver --------------------------------------------------------------------------------
class PahoLink:
    """Runs one paho ``Client`` on the running asyncio loop over streams ``dial`` opens.

    ``dial(protocol_factory)`` is awaited for each connection and returns ``(transport,
    protocol)`` as ``loop.create_connection`` and ``IpNetwork.create_connection`` do; ``host``
    and ``port`` are only what paho records. Everything else (callbacks, subscribe, publish)
    is the ordinary paho API.
    """

    def __init__(
        self,
        client: paho.Client,
        dial: Dial,
        host: str = "mqtt",
        port: int = 1883,
        misc_interval: float = 1.0,
    ) -> None:
        check_paho_hooks()
        self.client = client
        self.host, self.port = host, port
        self.misc_interval = misc_interval
        self._dial = dial
        self._loop: asyncio.AbstractEventLoop | None = None
        self._socket: VirtualSocket | None = None
        self._read_scheduled = False
        self._write_scheduled = False
        self._misc_timer: asyncio.TimerHandle | None = None
        client._create_socket = self._hand_socket  # type: ignore[method-assign]
        client.on_socket_register_write = self._on_register_write

    @classmethod
    def in_world(
        cls,
        client: paho.Client,
        net: IpNetwork,
        host: str,
        port: int = 1883,
        client_host: str = "client",
        misc_interval: float = 1.0,
    ) -> PahoLink:
        """A link whose connections are in-world streams from ``client_host`` to host:port."""

        def dial(factory: ProtocolFactory) -> Awaitable[tuple[asyncio.BaseTransport, Any]]:
            return net.create_connection(factory, host, port, client_host)

        return cls(client, dial, host, port, misc_interval)

    async def connect(self, keepalive: int = 60, **kwargs: Any) -> paho.MQTTErrorCode:
        """Open a stream and send CONNECT; the CONNACK arrives through paho's callbacks.
        ``kwargs`` go to ``Client.connect`` (``clean_start``, ``properties``). Raises what
        ``dial`` raises (refused, timed out)."""
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
            _hold_clock(loop)
        self._drop_socket()
        sock = VirtualSocket(self._schedule_read)
        await self._dial(lambda: sock)
        self._socket = sock
        rc = self.client.connect(self.host, self.port, keepalive, **kwargs)
        self._arm_misc()
        if sock.readable:
            self._schedule_read()
        return rc

    @property
    def connected(self) -> bool:
        return self.client.is_connected()

    def close(self) -> None:
        """Drop the stream without a DISCONNECT (call ``client.disconnect()`` first for a
        clean end), stop the timers and give paho its clock back."""
        self._drop_socket()
        if self._loop is not None:
            _release_clock(self._loop)
            self._loop = None

    # -- paho hooks ---------------------------------------------------------------------------
    def _hand_socket(self) -> VirtualSocket:
        if self._socket is None:
            raise ConnectionError("no stream was opened for paho (use PahoLink.connect)")
        return self._socket

    def _on_register_write(self, _client: paho.Client, _userdata: Any, _sock: Any) -> None:
        if not self._write_scheduled and self._loop is not None:
            self._write_scheduled = True
            self._loop.call_soon(self._write)

    # -- loop callbacks -----------------------------------------------------------------------
    def _schedule_read(self) -> None:
        if not self._read_scheduled and self._loop is not None:
            self._read_scheduled = True
            self._loop.call_soon(self._read)

    def _read(self) -> None:
        self._read_scheduled = False
        sock = self._socket
        while sock is not None and sock is self.client.socket() and sock.readable:
            if self.client.loop_read() != paho.MQTT_ERR_SUCCESS:
                break
        if self._socket is not None and self.client.socket() is None:
            self._drop_socket()  # paho closed it (connection lost, DISCONNECT sent)

    def _write(self) -> None:
        self._write_scheduled = False
        if self.client.socket() is not None:
            self.client.loop_write()

    def _arm_misc(self) -> None:
        if self._loop is not None:
            self._misc_timer = self._loop.call_later(self.misc_interval, self._misc)

    def _misc(self) -> None:
        self._misc_timer = None
        if self.client.socket() is None:
            self._drop_socket()
            return
        self.client.loop_misc()
        if self.client.socket() is not None:
            self._arm_misc()
        else:
            self._drop_socket()

    def _drop_socket(self) -> None:
        if self._misc_timer is not None:
            self._misc_timer.cancel()
            self._misc_timer = None
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()
