"""Calling a servicer without grpcio: the virtual-time "channel".

gRPC C-core deadlines are wall-clock and grpcio runs its own threads, so in virtual time no
call may cross a grpcio socket. Every service is therefore a plain servicer class with grpc.aio
signatures (``async def Rpc(self, request, context)``, async generators for server streaming),
and reaches clients two ways:

* here, in-process on the world's loop: the request is serialised, parsed by the server side,
  the servicer runs, the response is serialised and parsed back, so the wire encoding is
  exercised on every call; aborts become :class:`VirtualRpcError` with the same code/details.
  The stub carries its client's certificate, and the servicer sees it in ``auth_context()``
  exactly as grpc reports a mutual-TLS peer, so the master's token-to-certificate binding is
  enforced identically in virtual time;
* on a real ``grpc.aio`` server on loopback (``serve.py``), in real-time mode.

:func:`invoke_unary` is also what carries master -> device-gateway calls over the in-world link.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from devices.gateways.connect_master.errors import CallError, bounded, invalid
from devices.protocols.x509 import pem_common_name

_common_name = functools.lru_cache(maxsize=64)(pem_common_name)  # a client's, parsed once


class VirtualRpcError(grpc.RpcError):
    """What a failed virtual call raises: ``code()`` and ``details()`` like grpc's own."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self._code = code
        self._details = details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


class _Abort(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


class VirtualContext:
    """The part of ``grpc.aio.ServicerContext`` our servicers use. ``peer_cert_pem``: the
    client's certificate; ``auth_context()`` then names its CN, as grpc does for a TLS peer."""

    def __init__(
        self, metadata: Sequence[tuple[str, str]] = (), peer_cert_pem: bytes | None = None
    ) -> None:
        self._metadata = tuple(metadata)
        self._auth: dict[str, list[bytes]] = {}
        if peer_cert_pem is not None:
            self._auth = {
                "transport_security_type": [b"ssl"],
                "x509_common_name": [_common_name(peer_cert_pem).encode()],
                "x509_pem_cert": [peer_cert_pem],
            }

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    def auth_context(self) -> dict[str, list[bytes]]:
        return self._auth

    def peer(self) -> str:
        return "virtual"

    async def abort(self, code: grpc.StatusCode, details: str = "") -> None:
        raise _Abort(code, details)

    async def send_initial_metadata(self, metadata: Sequence[tuple[str, str]] = ()) -> None:
        """Nothing to send in-process; the stream is live once its first step has run."""


def message_class(descriptor: Any) -> Any:
    return message_factory.GetMessageClass(descriptor)


def parse_request(method: MethodDescriptor, payload: bytes) -> Any:
    """The request of ``method`` from its bytes; INVALID_ARGUMENT when they are not one."""
    try:
        return message_class(method.input_type).FromString(payload)
    except Exception as exc:  # DecodeError and friends (bad wire types, bad UTF-8, truncation)
        what = method.input_type.full_name
        reason = str(exc).rsplit(": ", 1)[-1] or type(exc).__name__
        raise invalid(
            f"the request's {len(payload)} bytes do not parse as {what} ({reason}); accepted: "
            f"a protobuf-encoded {what} as the wire facts give it"
        ) from None


async def invoke_unary(
    servicer: Any, method: MethodDescriptor, payload: bytes, context: VirtualContext
) -> tuple[grpc.StatusCode, str, bytes]:
    """Run one unary rpc from its serialised request; (code, details, serialised response).

    A servicer bug never escapes: it becomes UNKNOWN with the exception named, as grpcio does.
    """
    try:
        request = parse_request(method, payload)
    except CallError as exc:
        return exc.code, exc.message, b""
    handler = getattr(servicer, method.name, None)
    if handler is None:
        return grpc.StatusCode.UNIMPLEMENTED, f"method {method.full_name} not implemented", b""
    try:
        response = await handler(request, context)
    except _Abort as abort:
        return abort.code, abort.details, b""
    except Exception as exc:
        return grpc.StatusCode.UNKNOWN, bounded(f"{type(exc).__name__}: {exc}"), b""
    return grpc.StatusCode.OK, "", response.SerializeToString()


class VirtualStub:
    """A stub for ``service`` whose calls go straight to ``servicer`` on the world's loop, made
    by the client holding ``peer_cert_pem`` (None: a client without a certificate).

    ``stub.Rpc(request, metadata=...)`` is awaitable for unary rpcs and an async iterator for
    server-streaming ones, like a ``grpc.aio`` stub.
    """

    def __init__(
        self, servicer: Any, service: ServiceDescriptor, peer_cert_pem: bytes | None = None
    ) -> None:
        self._servicer = servicer
        self._service = service
        self._peer_cert_pem = peer_cert_pem

    def __getattr__(self, name: str) -> Any:
        method = self._service.methods_by_name.get(name)
        if method is None:
            raise AttributeError(f"service {self._service.full_name} has no rpc {name!r}")
        if method.server_streaming:
            return lambda request, metadata=(), timeout=None: self._stream(
                method, request, metadata
            )
        return lambda request, metadata=(), timeout=None: self._unary(method, request, metadata)

    def _context(self, metadata: Sequence[tuple[str, str]]) -> VirtualContext:
        return VirtualContext(metadata, self._peer_cert_pem)

    async def raw_unary(
        self, path: str, payload: bytes, metadata: Sequence[tuple[str, str]] = ()
    ) -> bytes:
        """A unary call by its method path with the request already encoded, as a client that
        has only the wire facts (no message classes) makes it; the encoded answer back."""
        prefix = f"/{self._service.full_name}/"
        method = (
            self._service.methods_by_name.get(path[len(prefix) :])
            if path.startswith(prefix)
            else None
        )
        if method is None or method.server_streaming:
            raise VirtualRpcError(
                grpc.StatusCode.UNIMPLEMENTED,
                f"method {path} is not a unary rpc of {self._service.full_name}",
            )
        code, details, answer = await invoke_unary(
            self._servicer, method, payload, self._context(metadata)
        )
        if code != grpc.StatusCode.OK:
            raise VirtualRpcError(code, details)
        return answer

    async def _unary(
        self, method: MethodDescriptor, request: Any, metadata: Sequence[tuple[str, str]]
    ) -> Any:
        code, details, payload = await invoke_unary(
            self._servicer, method, request.SerializeToString(), self._context(metadata)
        )
        if code != grpc.StatusCode.OK:
            raise VirtualRpcError(code, details)
        return message_class(method.output_type).FromString(payload)

    async def _stream(
        self, method: MethodDescriptor, request: Any, metadata: Sequence[tuple[str, str]]
    ) -> AsyncIterator[Any]:
        parsed = message_class(method.input_type).FromString(request.SerializeToString())
        out = message_class(method.output_type)
        handler = getattr(self._servicer, method.name)
        try:
            async for item in handler(parsed, self._context(metadata)):
                yield out.FromString(item.SerializeToString())
        except _Abort as abort:
            raise VirtualRpcError(abort.code, abort.details) from None
