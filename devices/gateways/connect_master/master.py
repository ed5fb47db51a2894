"""The master gateway: device gateways dial in, the database re-pushes the ``*DB`` settings on
every (re)connection, status changes fan out to subscribers, tenants are kept apart.

Login tokens (:mod:`tokens`) are signed with a key from :mod:`secrets`, never from the world's
seed, and are bound to the client certificate they were issued over.

The administrator tenant is :data:`ADMIN` (``administrator``, as the vendor's quick starts name
it): LoginAdmin takes its certificate, and its own token reaches every gateway.

No service lists the gateways: the wire facts sheet names the packages ``gsdk.connect``,
``gsdk.connect_master``, ``gsdk.err``, ``gsdk.device`` and ``gsdk.login`` only, with no
``gsdk.gateway`` (no ``gateway.GetList``), so a tenant names its gateways by the IDs it was given
and learns of an unknown one from the NOT_FOUND answer, which lists the tenant's own.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc

from devices.deviations import Deviations
from devices.gateways.connect_master import uplink
from devices.gateways.connect_master.deviations import cm_deviations
from devices.gateways.connect_master.errors import CallError
from devices.gateways.connect_master.master_db import MasterDatabase
from devices.gateways.connect_master.protos import connect_pb2 as pb
from devices.gateways.connect_master.rpc import message_class
from devices.gateways.connect_master.tokens import TokenAuthority, redact
from devices.protocols import terminal_wire as wire
from devices.protocols.x509 import CertificateAuthority, Credential, peer_common_name, tls_context

if TYPE_CHECKING:
    from sim.iplink import IpNetwork

ADMIN = "administrator"  # the administrator tenant, as the vendor's quick starts name it
StatusHook = Callable[[str, Any], None]


@dataclass
class GatewayLink:
    gateway_id: str
    link: wire.FramedLink
    calls: dict[int, asyncio.Future[tuple[grpc.StatusCode, str, bytes]]] = field(
        default_factory=dict
    )
    next_id: int = 1
    closed: bool = False


class MasterGateway:
    def __init__(
        self,
        net: IpNetwork,
        ip: str,
        ca: CertificateAuthority,
        credential: Credential,
        db_path: Path | str = ":memory:",
        name: str = "master",
        tokens: TokenAuthority | None = None,
        deviations: Iterable[str] | Deviations = (),
    ) -> None:
        """``tokens``: the authority of an earlier master process of this world (its key and
        revocations survive a restart); a new one by default. ``deviations``: the ways it
        misbehaves on purpose (:mod:`.deviations`; none by default)."""
        self.net = net
        self.deviations = cm_deviations(deviations)
        self.world = net.world
        self.ip = ip
        self.ca = ca
        self.name = name
        self.db = MasterDatabase(db_path)
        self._tls = tls_context(ca.cert_pem, server_side=True, credential=credential)
        self.links: dict[str, GatewayLink] = {}
        self.hooks: list[StatusHook] = []
        self.device_index: dict[int, str] = {}
        self.tokens = tokens or TokenAuthority(self.unix_now)
        self.pushes = 0
        self.running = False
        if name not in self.world.nodes:
            self.world.add_node(self)

    # -- life --------------------------------------------------------------------------------
    def start(self) -> None:
        loop = self.world.loop

        def factory() -> asyncio.Protocol:
            reader = asyncio.StreamReader(loop=loop)
            return asyncio.StreamReaderProtocol(
                reader, lambda r, w: self.world.spawn(self._accept(r, w)), loop=loop
            )

        self.net.listen(self.ip, uplink.MASTER_PORT, factory)
        self.running = True
        self._trace("started", db=Path(self.db.path).name)

    def stop(self) -> None:
        """The master process dies; its database file stays."""
        self.net.unlisten(self.ip, uplink.MASTER_PORT)
        for gl in list(self.links.values()):
            gl.link.stream.abort()
        self.links.clear()
        self.db.close()
        self.running = False
        self._trace("stopped")

    # -- device gateways ---------------------------------------------------------------------
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stream = wire.ByteStream(reader, writer)
        try:
            await asyncio.wait_for(stream.start_tls(self._tls, True), 10.0)
            gateway_id = peer_common_name(stream.peer_cert_der())
            link = wire.FramedLink(stream)
            kind, body = await asyncio.wait_for(link.recv(), 10.0)
            if kind != wire.HELLO or body.decode(errors="replace") != gateway_id:
                raise wire.FrameError(f"HELLO {body!r} does not match certificate {gateway_id!r}")
        except (TimeoutError, ConnectionError, ssl.SSLError, wire.FrameError, OSError) as exc:
            self._trace("gateway-refused", error=f"{type(exc).__name__}: {exc}")
            writer.transport.abort()
            return
        old = self.links.get(gateway_id)
        if old is not None:
            old.link.stream.abort()
        gl = GatewayLink(gateway_id, link)
        self.links[gateway_id] = gl
        self._trace("gateway-connected", gateway=gateway_id)
        self.world.spawn(self._push_db(gl))
        try:
            while True:
                kind, body = await link.recv()
                if kind == wire.RESULT:
                    call_id, code, details, payload = uplink.decode_result(body)
                    fut = gl.calls.pop(call_id, None)
                    if fut is not None and not fut.done():
                        fut.set_result((code, details, payload))
                elif kind == wire.STATUS:
                    change = uplink.parse_status(body)
                    self.device_index[change.deviceID] = gateway_id
                    for hook in list(self.hooks):
                        hook(gateway_id, change)
        except (ConnectionError, ssl.SSLError, wire.FrameError, OSError) as exc:
            self._trace("gateway-lost", gateway=gateway_id, error=str(exc))
        finally:
            gl.closed = True
            for fut in gl.calls.values():
                if not fut.done():
                    fut.set_result(
                        (
                            grpc.StatusCode.UNAVAILABLE,
                            f"gateway {gateway_id!r} disconnected during the call",
                            b"",
                        )
                    )
            if self.links.get(gateway_id) is gl:
                del self.links[gateway_id]

    async def _push_db(self, gl: GatewayLink) -> None:
        """The DB settings, pushed on every (re)connection of a device gateway."""
        gid = gl.gateway_id
        try:
            infos = self.db.async_list(gid)
            if self.deviations.active("db-async-not-pushed"):
                infos = []
            if infos:
                await self.call(
                    gid, "AddAsyncConnection", pb.AddAsyncConnectionRequest(connectInfos=infos)
                )
            f = self.db.get_filter(gid)
            if self.deviations.active("db-filter-not-pushed"):
                f = None
            if f is not None:
                await self.call(gid, "SetAcceptFilter", pb.SetAcceptFilterRequest(filter=f))
            slaves = self.db.slave_list(gid)
            if self.deviations.active("db-slaves-not-pushed"):
                slaves = []
            if slaves:
                await self.call(
                    gid, "SetSlaveDevice", pb.SetSlaveDeviceRequest(slaveDeviceInfos=slaves)
                )
        except CallError as exc:
            self._trace("db-push-failed", gateway=gid, error=exc.message)
            return
        self.pushes += 1
        self._trace(
            "db-pushed", gateway=gid, devices=len(infos), filter=f is not None, slaves=len(slaves)
        )

    async def call(self, gateway_id: str, rpc: str, request: Any) -> Any:
        """Run a ``gsdk.connect`` rpc on a connected device gateway; CallError on failure."""
        gl = self.links.get(gateway_id)
        if gl is None or gl.closed:
            raise CallError(
                grpc.StatusCode.UNAVAILABLE,
                f"gateway {gateway_id!r} is not connected to the master",
            )
        frame = uplink.encode_call(gl.next_id, rpc, request.SerializeToString())
        if len(frame) > wire.MAX_BODY:
            raise CallError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"the request is {len(frame)} bytes once forwarded to gateway {gateway_id!r}; "
                f"accepted: at most {wire.MAX_BODY} bytes (split it into smaller calls)",
            )
        call_id = gl.next_id
        gl.next_id += 1
        fut: asyncio.Future[tuple[grpc.StatusCode, str, bytes]] = self.world.loop.create_future()
        gl.calls[call_id] = fut
        try:
            gl.link.send(wire.CALL, frame)
        except ConnectionError as exc:
            gl.calls.pop(call_id, None)
            raise CallError(grpc.StatusCode.UNAVAILABLE, str(exc)) from None
        code, details, payload = await fut
        if code != grpc.StatusCode.OK:
            raise CallError(code, details)
        method = uplink.SERVICE.methods_by_name[rpc]
        try:
            return message_class(method.output_type).FromString(payload)
        except Exception:  # DecodeError: the gateway's answer is not what it should be
            raise CallError(
                grpc.StatusCode.UNAVAILABLE,
                f"gateway {gateway_id!r} answered {rpc} with bytes that are not a "
                f"{method.output_type.full_name}",
            ) from None

    # -- tenants and tokens ------------------------------------------------------------------
    def unix_now(self) -> int:
        return int(self.world.epoch.timestamp() + self.world.now)

    def visible_gateways(self, tenant_id: str) -> list[str]:
        return self.db.gateways_of(tenant_id)

    def _trace(self, event: str, **details: Any) -> None:
        clean = {k: redact(v) if isinstance(v, str) else v for k, v in details.items()}
        self.world.trace.emit(self.name, "app", event, **clean)
