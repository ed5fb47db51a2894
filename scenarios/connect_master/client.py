"""A tenant's client of the master gateway, the same whether the master is in this world
(:class:`~devices.gateways.connect_master.rpc.VirtualStub`) or outside (a ``grpc.aio`` channel
with mutual TLS)."""

from __future__ import annotations

from typing import Any

from devices.gateways.connect_master.protos import connect_master_pb2 as mpb
from devices.gateways.connect_master.protos import login_pb2
from devices.protocols.x509 import Credential


class MasterClient:
    """A tenant's client: after :meth:`login`, every call carries the ``token`` metadata."""

    def __init__(self, stub: Any, login: Any, credential: Credential, channel: Any = None) -> None:
        self.stub = stub
        self.login_stub = login
        self.credential = credential
        self.channel = channel  # a grpc.aio channel on the real wire; None in-process
        self.token = ""

    async def login(self) -> str:
        reply = await self.login_stub.Login(
            login_pb2.LoginRequest(tenantCert=self.credential.cert_pem.decode())
        )
        self.token = reply.jwtToken
        return self.token

    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("token", self.token),) if self.token else ()

    @staticmethod
    def request(rpc: str, **fields: Any) -> Any:
        """The ``ConnectMaster`` request message of ``rpc`` with ``fields``."""
        return getattr(mpb, f"{rpc}Request")(**fields)

    async def call(self, rpc: str, **fields: Any) -> Any:
        return await getattr(self.stub, rpc)(self.request(rpc, **fields), metadata=self.metadata())

    async def raw_call(self, path: str, payload: bytes) -> bytes:
        """A unary call by method path with a hand-encoded request; the raw answer."""
        if self.channel is None:
            return bytes(await self.stub.raw_unary(path, payload, self.metadata()))
        call = self.channel.unary_unary(path)  # no (de)serialisers: bytes in, bytes out
        return bytes(await call(payload, metadata=self.metadata()))

    def subscribe(self, queue_size: int = 0) -> Any:
        return self.stub.SubscribeStatus(
            mpb.SubscribeStatusRequest(queueSize=queue_size), metadata=self.metadata()
        )
