"""The real gRPC wire: the same servicers on ``grpc.aio`` servers over loopback TCP + TLS.

Decision (virtual vs real): grpc.aio drives its C-core completion queue from a poller thread of
its own and keeps wall-clock deadlines, so it can never run in virtual time. It is used in real
mode only (``hil serve connect-master``, an external SUT): the servers are created on the
world's asyncio loop, the poller thread only hands finished operations back to that loop, and
every servicer still runs on the loop, so the world stays single-threaded where it matters.
Virtual-time scenarios reach the very same servicer objects through :class:`rpc.VirtualStub`.

Security as on real gateways (facts sheet): the device gateway's ``Connect`` is server-side TLS
only; the master's ``ConnectMaster`` + ``Login`` require mutual TLS with a certificate from the
shared root, then the JWT from Login as call metadata ``token``. gRPC's TLS (BoringSSL) refuses
Ed25519 handshake signatures, so the wire's leaf certificates are ECDSA (``pki`` ``grpc_wire``).
"""

from __future__ import annotations

from typing import Any

import grpc

from devices.gateways.connect_master.connect_service import ConnectServicer
from devices.gateways.connect_master.device_gateway import DeviceGateway
from devices.gateways.connect_master.master import MasterGateway
from devices.gateways.connect_master.master_service import ConnectMasterServicer, LoginServicer
from devices.gateways.connect_master.protos import (
    connect_master_pb2_grpc,
    connect_pb2_grpc,
    login_pb2_grpc,
)
from devices.protocols.x509 import Credential


async def serve_master(
    master: MasterGateway, credential: Credential, host: str = "127.0.0.1", port: int = 4010
) -> tuple[grpc.aio.Server, int]:
    """ConnectMaster + Login with mutual TLS; (started server, bound port)."""
    server = grpc.aio.server()
    connect_master_pb2_grpc.add_ConnectMasterServicer_to_server(
        ConnectMasterServicer(master), server
    )
    login_pb2_grpc.add_LoginServicer_to_server(LoginServicer(master), server)
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
    connect_pb2_grpc.add_ConnectServicer_to_server(ConnectServicer(gateway), server)
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
