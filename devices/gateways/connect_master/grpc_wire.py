"""The real gRPC wire: the same servicers on ``grpc.aio`` servers over loopback TCP + TLS.

Decision (virtual vs real): grpc.aio drives its C-core completion queue from a poller thread of
its own and keeps wall-clock deadlines, so it can never run in virtual time. It is used in real
mode only (``hil serve connect-master``, an external SUT): the servers are created on the
world's asyncio loop, the poller thread only hands finished operations back to that loop, and
every servicer still runs on the loop, so the world stays single-threaded where it matters.
Virtual-time scenarios reach the very same servicer objects through :class:`rpc.VirtualStub`.

Security as on real gateways (facts sheet): the device gateway's ``Connect`` is server-side TLS
only; the master's ``ConnectMaster`` + ``Login`` require mutual TLS with a certificate from the
shared root, then the JWT from Login as call metadata ``token``, which must have been issued over
the same client certificate (the servicer reads it from ``context.auth_context()``). gRPC's TLS
(BoringSSL) refuses Ed25519 handshake signatures, so the wire's leaf certificates are ECDSA
(``pki`` ``grpc_wire``).

Requests arrive as bytes and are parsed by :func:`add_service`'s handlers, not by grpcio's
deserializer: grpcio answers a deserializer failure with a bare UNKNOWN, ours is
INVALID_ARGUMENT naming the message it expected (:func:`rpc.parse_request`), as in the virtual
channel.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from devices.gateways.connect_master.connect_service import ConnectServicer
from devices.gateways.connect_master.device_gateway import DeviceGateway
from devices.gateways.connect_master.errors import CallError
from devices.gateways.connect_master.master import MasterGateway
from devices.gateways.connect_master.master_service import ConnectMasterServicer, LoginServicer
from devices.gateways.connect_master.protos import connect_master_pb2 as mpb
from devices.gateways.connect_master.protos import (
    connect_master_pb2_grpc,
    login_pb2,
    login_pb2_grpc,
)
from devices.gateways.connect_master.protos import connect_pb2 as pb
from devices.gateways.connect_master.rpc import parse_request
from devices.protocols.x509 import Credential

MASTER_SERVICES = (
    mpb.DESCRIPTOR.services_by_name["ConnectMaster"],
    login_pb2.DESCRIPTOR.services_by_name["Login"],
)
GATEWAY_SERVICE = pb.DESCRIPTOR.services_by_name["Connect"]


def _serialize(message: Any) -> bytes:
    return bytes(message.SerializeToString())


def _method_handler(servicer: Any, method: MethodDescriptor) -> grpc.RpcMethodHandler:
    """grpcio's handler for one rpc of ``servicer``, taking the request as raw bytes."""
    handler = getattr(servicer, method.name)

    async def parsed(payload: bytes, context: grpc.aio.ServicerContext) -> Any:
        try:
            return parse_request(method, payload)
        except CallError as exc:
            await context.abort(exc.code, exc.message)

    if method.server_streaming:

        async def stream(payload: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            async for item in handler(await parsed(payload, context), context):
                yield item

        return grpc.unary_stream_rpc_method_handler(stream, response_serializer=_serialize)

    async def unary(payload: bytes, context: grpc.aio.ServicerContext) -> Any:
        return await handler(await parsed(payload, context), context)

    return grpc.unary_unary_rpc_method_handler(unary, response_serializer=_serialize)


def add_service(server: grpc.aio.Server, servicer: Any, service: ServiceDescriptor) -> None:
    """Serve every rpc of ``service`` from ``servicer`` (requests parsed by us, see above)."""
    handlers = {m.name: _method_handler(servicer, m) for m in service.methods}
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(service.full_name, handlers),)
    )


async def serve_master(
    master: MasterGateway, credential: Credential, host: str = "127.0.0.1", port: int = 4010
) -> tuple[grpc.aio.Server, int]:
    """ConnectMaster + Login with mutual TLS; (started server, bound port)."""
    server = grpc.aio.server()
    add_service(server, ConnectMasterServicer(master), MASTER_SERVICES[0])
    add_service(server, LoginServicer(master), MASTER_SERVICES[1])
    creds = grpc.ssl_server_credentials(
        [(credential.key_pem, credential.cert_pem)],
        root_certificates=master.ca.cert_pem,
        require_client_auth=True,
    )
    bound = server.add_secure_port(f"{host}:{port}", creds)
    await server.start()
    return server, bound


async def serve_gateway(
    gateway: DeviceGateway, credential: Credential, host: str = "127.0.0.1", port: int = 4000
) -> tuple[grpc.aio.Server, int]:
    """A device gateway's Connect service, server-side TLS only (no login)."""
    server = grpc.aio.server()
    add_service(server, ConnectServicer(gateway), GATEWAY_SERVICE)
    creds = grpc.ssl_server_credentials([(credential.key_pem, credential.cert_pem)])
    bound = server.add_secure_port(f"{host}:{port}", creds)
    await server.start()
    return server, bound


def secure_channel(
    address: str,
    ca_pem: bytes,
    cert_pem: bytes | None = None,
    key_pem: bytes | None = None,
    server_name: str = "",
) -> grpc.aio.Channel:
    """A client channel trusting ``ca_pem``; with a client certificate for mutual TLS.

    ``server_name`` overrides the name checked against the server certificate (ours name
    ``localhost`` and ``127.0.0.1``).
    """
    options: list[tuple[str, Any]] = []
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))
    creds = grpc.ssl_channel_credentials(ca_pem, key_pem, cert_pem)
    return grpc.aio.secure_channel(address, creds, options=options)


def master_stubs(channel: grpc.aio.Channel) -> tuple[Any, Any]:
    """(ConnectMaster stub, Login stub) on one channel."""
    return (connect_master_pb2_grpc.ConnectMasterStub(channel), login_pb2_grpc.LoginStub(channel))
