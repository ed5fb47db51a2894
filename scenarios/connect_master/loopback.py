"""The master of a real-time :class:`~scenarios.connect_master.bed.LocalCmBed` served in this
process over the real gRPC wire: ``grpc.aio`` on loopback with mutual TLS, as
``hil serve connect-master`` serves it, with a client certificate per tenant. What the fuzz
campaigns (:mod:`scenarios.connect_master.fuzz`) and the wire's security tests talk to.

Server and clients share the world's loop (grpc.aio binds to the loop that first uses it), so
everything here runs inside ``bed.run``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import grpc

from devices.gateways.connect_master.grpc_wire import master_stubs, secure_channel, serve_master
from devices.gateways.connect_master.master import ADMIN
from devices.protocols.x509 import Credential
from scenarios.connect_master.bed import LocalCmBed
from scenarios.connect_master.client import MasterClient

HOST = "127.0.0.1"


@dataclass
class LoopbackMaster:
    """A served master: its address, a client certificate per identity, the channels opened."""

    bed: LocalCmBed
    server: grpc.aio.Server
    address: str
    credentials: dict[str, Credential]
    channels: list[grpc.aio.Channel] = field(default_factory=list)

    def channel(self, identity: str) -> grpc.aio.Channel:
        """A mutual-TLS channel with ``identity``'s client certificate (a tenant or
        :data:`ADMIN`)."""
        cred = self.credentials[identity]
        channel = secure_channel(
            self.address, self.bed.cm_world.ca.cert_pem, cred.cert_pem, cred.key_pem
        )
        self.channels.append(channel)
        return channel

    def client(self, identity: str) -> MasterClient:
        """``identity``'s client over a channel of its own, not logged in."""
        channel = self.channel(identity)
        return MasterClient(*master_stubs(channel), self.credentials[identity], channel=channel)

    async def close(self) -> None:
        """Close the clients' channels, let the server see their calls end, stop it."""
        for channel in self.channels:
            await channel.close()
        await asyncio.sleep(0.1)
        await self.server.stop(None)


async def serve_loopback(bed: LocalCmBed, port: int = 0) -> LoopbackMaster:
    """Serve ``bed``'s master on loopback (``port`` 0: a free one); the bed must be started and
    run in real time. Client certificates: every tenant of the world, and :data:`ADMIN`."""
    cm = bed.cm_world
    master_cred = cm.ca.issue("master", server=True, grpc_wire=True)
    server, bound = await serve_master(cm.master, master_cred, HOST, port)
    identities = list(dict.fromkeys(s.tenant for s in cm.specs.values())) + [ADMIN]
    credentials = {i: cm.ca.issue(i, grpc_wire=True) for i in identities}
    return LoopbackMaster(bed, server, f"{HOST}:{bound}", credentials)
