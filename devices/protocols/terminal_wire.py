"""The device protocol of our own design, and the TLS that wraps it when SSL is on.

Frame: ``length (u32, big endian) | kind (u8) | body`` where ``length`` counts the body only
and the body is JSON (terminal <-> device gateway) or a protobuf message (device gateway <->
master). Bodies over :data:`MAX_BODY` are refused as a :class:`FrameError`.

TLS is real: an ``ssl.SSLObject`` over two ``MemoryBIO``s, pumped from the world's loop, over an
in-world stream (``sim.iplink``). No thread, no socket, and the only wall-clock read is
OpenSSL's certificate validity check (certificates are valid 2020-2100, see
:mod:`devices.protocols.x509`). The TLS bytes themselves differ per run (random nonces); the
trace records events, never those bytes.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import struct
from typing import Any

HEADER = struct.Struct(">IB")
MAX_BODY = 1 << 20

# terminal <-> device gateway
HELLO, PING, PONG, CMD, REPLY = 1, 2, 3, 4, 5
# device gateway <-> master gateway
CALL, RESULT, STATUS = 10, 11, 12


class FrameError(ValueError):
    """The peer sent bytes that are not a frame of this protocol."""


class ByteStream:
    """An in-world byte stream, optionally wrapped in TLS with ``start_tls``."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._tls: ssl.SSLObject | None = None
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()

    @property
    def secure(self) -> bool:
        return self._tls is not None

    def peer_cert_der(self) -> bytes | None:
        return self._tls.getpeercert(True) if self._tls is not None else None

    async def start_tls(self, ctx: ssl.SSLContext, server_side: bool) -> None:
        """Run the TLS handshake; ssl.SSLError or ConnectionError when it fails."""
        keylog = self.writer.get_extra_info("tls_keylog")  # an in-world IP capture's key log
        if keylog and ctx.keylog_filename != keylog:
            ctx.keylog_filename = keylog
        self._tls = ctx.wrap_bio(self._in, self._out, server_side=server_side)
        while True:
            try:
                self._tls.do_handshake()
                self._flush()
                return
            except ssl.SSLWantReadError:
                self._flush()
                await self._fill("TLS handshake")

    async def _fill(self, during: str) -> None:
        data = await self.reader.read(65536)
        if not data:
            raise ConnectionError(f"peer closed the connection during {during}")
        self._in.write(data)

    def _flush(self) -> None:
        pending = self._out.read()
        if pending and not self.writer.is_closing():
            self.writer.write(pending)

    async def read_some(self) -> bytes:
        """Some bytes, or b"" at the end of the stream."""
        if self._tls is None:
            return await self.reader.read(65536)
        while True:
            try:
                data = self._tls.read(65536)
                self._flush()
                return data
            except ssl.SSLWantReadError:
                self._flush()
                chunk = await self.reader.read(65536)
                if not chunk:
                    return b""
                self._in.write(chunk)
            except ssl.SSLZeroReturnError:
                return b""

    def write(self, data: bytes) -> None:
        if self.writer.is_closing():
            raise ConnectionError("the connection is closed")
        if self._tls is None:
            self.writer.write(data)
        else:
            self._tls.write(data)
            self._flush()

    def close(self) -> None:
        self.writer.close()

    def abort(self) -> None:
        self.writer.transport.abort()

    @property
    def closing(self) -> bool:
        return self.writer.is_closing()


class FramedLink:
    """Frames over a :class:`ByteStream`."""

    def __init__(self, stream: ByteStream) -> None:
        self.stream = stream
        self._buf = bytearray()

    async def recv(self) -> tuple[int, bytes]:
        """The next frame; ConnectionError at end of stream, FrameError on garbage."""
        while True:
            if len(self._buf) >= HEADER.size:
                length, kind = HEADER.unpack_from(self._buf)
                if length > MAX_BODY:
                    raise FrameError(
                        f"frame body of {length} bytes announced; at most {MAX_BODY} accepted"
                    )
                if len(self._buf) >= HEADER.size + length:
                    body = bytes(self._buf[HEADER.size : HEADER.size + length])
                    del self._buf[: HEADER.size + length]
                    return kind, body
            data = await self.stream.read_some()
            if not data:
                raise ConnectionError("connection closed by peer")
            self._buf += data

    def send(self, kind: int, body: bytes = b"") -> None:
        self.stream.write(HEADER.pack(len(body), kind) + body)

    def send_json(self, kind: int, obj: Any) -> None:
        self.send(kind, json.dumps(obj, sort_keys=True).encode())

    async def recv_json(self) -> tuple[int, dict[str, Any]]:
        kind, body = await self.recv()
        try:
            obj = json.loads(body) if body else {}
        except ValueError as exc:
            raise FrameError(f"frame body is not JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise FrameError(f"frame body must be a JSON object, got {type(obj).__name__}")
        return kind, obj

    def close(self) -> None:
        self.stream.close()
