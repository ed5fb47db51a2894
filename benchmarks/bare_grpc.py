"""Bare-stack baseline for Connect Master: grpcio calls on an in-process ``grpc.aio`` server over
insecure loopback, the handler answering a ready message: what a gRPC call costs before any
gateway logic, TLS or world runs.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc


async def _calls(
    service: str, method: str, request: Any, response: Any, calls: int, warm_up: int
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
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
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
    service: str, method: str, request: Any, response: Any, calls: int = 1000, warm_up: int = 50
) -> float:
    """CPU microseconds per unary call of ``service``/``method`` answering ``response`` (the
    whole process's, grpc's poller thread included)."""
    seconds = asyncio.run(_calls(service, method, request, response, calls, warm_up))
    return seconds / calls * 1e6
