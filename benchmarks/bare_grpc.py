"""Bare-stack baselines for Connect Master: grpcio calls on an in-process ``grpc.aio`` server over
loopback, the handler answering a ready message: what a gRPC call costs before any gateway
logic or world runs. Insecure, or with mutual TLS as our real wire has it (the same kind of
keys: ECDSA P-256 leaves under one root), so the real wire is compared with its like.

The handler is a coroutine, as our servicers are: grpc.aio runs a plain function on a thread
pool instead, which costs about 60 µs more a call and would flatter the comparison.
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


async def _serve(
    service: str, method: str, handle: Any, request: Any, response: Any, mutual_tls: bool
) -> tuple[grpc.aio.Server, Any]:
    """A started server answering ``method`` with ``handle``; a stub to call it with."""
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
    call = channel.unary_unary(
        f"/{service}/{method}",
        request_serializer=type(request).SerializeToString,
        response_deserializer=type(response).FromString,
    )
    return server, (channel, call)


async def _calls(
    service: str,
    method: str,
    request: Any,
    response: Any,
    calls: int,
    warm_up: int,
    mutual_tls: bool = False,
    relay: bool = False,
) -> float:
    async def answer(_request: Any, _context: Any) -> Any:
        return response

    servers, channels = [], []
    handle = answer
    if relay:  # a second server behind the first, as a device gateway behind the master
        far, (far_channel, far_call) = await _serve(
            service, method, answer, request, response, mutual_tls
        )
        servers.append(far)
        channels.append(far_channel)

        async def handle(relayed: Any, _context: Any) -> Any:
            return await far_call(relayed)

    near, (channel, call) = await _serve(service, method, handle, request, response, mutual_tls)
    servers.append(near)
    channels.append(channel)
    try:
        for _ in range(warm_up):
            await call(request)
        started = time.process_time()
        for _ in range(calls):
            await call(request)
        return time.process_time() - started
    finally:
        for each in channels:
            await each.close()
        for server in servers:
            await server.stop(None)


def bare_grpc_call_us(
    service: str,
    method: str,
    request: Any,
    response: Any,
    calls: int = 1000,
    warm_up: int = 50,
    mutual_tls: bool = False,
    relay: bool = False,
) -> float:
    """CPU microseconds per unary call of ``service``/``method`` answering ``response`` (the
    whole process's, grpc's poller thread included); with ``relay``, the server answers by
    making the same call to a second server of the same kind."""
    seconds = asyncio.run(
        _calls(service, method, request, response, calls, warm_up, mutual_tls, relay)
    )
    return seconds / calls * 1e6
