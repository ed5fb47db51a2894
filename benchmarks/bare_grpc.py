"""Bare-stack baselines for Connect Master: grpcio calls on an in-process ``grpc.aio`` server over
loopback, the handler answering a ready message: what a gRPC call costs before any gateway
logic or world runs. Insecure, or with mutual TLS as our real wire has it (the same kind of
keys: ECDSA P-256 leaves under one root), so the real wire is compared with its like.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc


def _mutual_tls() -> tuple[grpc.ServerCredentials, grpc.ChannelCredentials]:
    from devices.protocols.x509 import CertificateAuthority

    ca = CertificateAuthority()
    server = ca.issue("bare-server", server=True, grpc_wire=True)
    client = ca.issue("bare-client", grpc_wire=True)
    return (
        grpc.ssl_server_credentials(
            [(server.key_pem, server.cert_pem)],
            root_certificates=ca.cert_pem,
            require_client_auth=True,
        ),
        grpc.ssl_channel_credentials(ca.cert_pem, client.key_pem, client.cert_pem),
    )


async def _calls(
    service: str,
    method: str,
    request: Any,
    response: Any,
    calls: int,
    warm_up: int,
    mutual_tls: bool = False,
) -> float:
    def handle(_request: Any, _context: Any) -> Any:
        return response

    handler = grpc.unary_unary_rpc_method_handler(
        handle,
        request_deserializer=type(request).FromString,
        response_serializer=type(response).SerializeToString,
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(service, {method: handler}),)
    )
    if mutual_tls:
        server_creds, channel_creds = _mutual_tls()
        port = server.add_secure_port("127.0.0.1:0", server_creds)
        channel = grpc.aio.secure_channel(
            f"127.0.0.1:{port}",
            channel_creds,
            options=[("grpc.ssl_target_name_override", "localhost")],
        )
    else:
        port = server.add_insecure_port("127.0.0.1:0")
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    await server.start()
    try:
        async with channel:
            call = channel.unary_unary(
                f"/{service}/{method}",
                request_serializer=type(request).SerializeToString,
                response_deserializer=type(response).FromString,
            )
            for _ in range(warm_up):
                await call(request)
            started = time.process_time()
            for _ in range(calls):
                await call(request)
            return time.process_time() - started
    finally:
        await server.stop(None)


def bare_grpc_call_us(
    service: str,
    method: str,
    request: Any,
    response: Any,
    calls: int = 1000,
    warm_up: int = 50,
    mutual_tls: bool = False,
) -> float:
    """CPU microseconds per unary call of ``service``/``method`` answering ``response`` (the
    whole process's, grpc's poller thread included)."""
    seconds = asyncio.run(
        _calls(service, method, request, response, calls, warm_up, mutual_tls=mutual_tls)
    )
    return seconds / calls * 1e6
