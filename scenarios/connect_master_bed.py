"""The Connect Master world: a master gateway, device gateways, terminals and tenant clients.

Clients reach the master through :class:`rpc.VirtualStub` (in-process, virtual time, real
protobuf encoding): gRPC's C-core keeps wall-clock deadlines and its own threads, so grpcio
sockets are only used in real-time mode (``scenarios.serve_connect_master``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from devices.gateways.connect_master.device_gateway import DeviceGateway
from devices.gateways.connect_master.master import ADMIN, MasterGateway
from devices.gateways.connect_master.master_service import ConnectMasterServicer, LoginServicer
from devices.gateways.connect_master.protos import connect_master_pb2 as mpb
from devices.gateways.connect_master.protos import login_pb2
from devices.gateways.connect_master.rpc import VirtualStub
from devices.gateways.connect_master.uplink import Uplink
from devices.protocols.x509 import CertificateAuthority, Credential
from devices.rs485.osdp_pd import OsdpReader, ReaderSpec
from devices.terminals.search import SearchMedium
from devices.terminals.slave_port import SlavePort
from devices.terminals.terminal import Terminal, TerminalConfig
from sim.clock import VIRTUAL
from sim.iplink import IpNetwork
from sim.rs485 import Rs485Bus
from sim.world import World

T = TypeVar("T")
MASTER_IP = "10.0.100.1"


@dataclass
class GatewaySpec:
    gateway_id: str
    ip: str
    subnet: str
    tenant: str


DEFAULT_GATEWAYS = (
    GatewaySpec("gw-a", "10.0.0.1", "10.0.0.0/24", "tenant-a"),
    GatewaySpec("gw-b", "10.0.1.1", "10.0.1.0/24", "tenant-b"),
)


class MasterClient:
    """A tenant's client: logged in, every call carries the ``token`` metadata."""

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

    async def call(self, rpc: str, **fields: Any) -> Any:
        request = getattr(mpb, f"{rpc}Request")(**fields)
        return await getattr(self.stub, rpc)(request, metadata=self.metadata())

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


class ConnectMasterBed:
    def __init__(
        self,
        seed: int = 1,
        clock: str = VIRTUAL,
        db_path: Path | str = ":memory:",
        gateways: tuple[GatewaySpec, ...] = DEFAULT_GATEWAYS,
        reconnect_s: float = 30.0,
        keep_trace: bool = True,
    ) -> None:
        self.world = World(seed=seed, clock=clock, keep_trace=keep_trace)
        self.net = IpNetwork(self.world)
        self.search = SearchMedium(self.world)
        self.ca = CertificateAuthority()
        self.specs = {g.gateway_id: g for g in gateways}
        self.db_path = db_path
        self.master_cred = self.ca.issue("master", server=True)
        self.master = self._new_master()
        self.gateways: dict[str, DeviceGateway] = {}
        self.uplinks: dict[str, Uplink] = {}
        self.reconnect_s = reconnect_s
        self.tenant_creds: dict[str, Credential] = {}
        self.terminals: dict[int, Terminal] = {}
        self.slaves: dict[int, dict[int, OsdpReader]] = {}  # terminal -> slave ID -> reader
        for spec in gateways:
            self.master.db.assign(spec.gateway_id, spec.tenant)
            gw = DeviceGateway(
                self.net,
                self.search,
                spec.gateway_id,
                spec.ip,
                [spec.subnet],
                self.ca.cert_pem,
                self.ca.issue(spec.gateway_id, server=True),
                reconnect_s=reconnect_s,
            )
            self.gateways[spec.gateway_id] = gw
            self.uplinks[spec.gateway_id] = Uplink(gw, MASTER_IP)

    def _new_master(self) -> MasterGateway:
        return MasterGateway(self.net, MASTER_IP, self.ca, self.master_cred, self.db_path)

    def run(self, awaitable: Awaitable[T]) -> T:
        return self.world.run(awaitable)

    @property
    def now(self) -> float:
        return self.world.now

    async def start(self) -> None:
        self.master.start()
        for gid, gw in self.gateways.items():
            gw.start()
            self.uplinks[gid].start()
        await self.until(lambda: len(self.master.links) == len(self.gateways), 30.0)

    async def until(self, condition: Any, limit_s: float, step_s: float = 0.1) -> bool:
        deadline = self.world.now + limit_s
        while not condition():
            if self.world.now >= deadline:
                return False
            await asyncio.sleep(step_s)
        return True

    # -- clients -----------------------------------------------------------------------------
    def credential(self, tenant: str) -> Credential:
        if tenant not in self.tenant_creds:
            self.tenant_creds[tenant] = self.ca.issue(tenant)
        return self.tenant_creds[tenant]

    def client(self, tenant: str) -> MasterClient:
        cred = self.credential(tenant)
        stub = VirtualStub(
            ConnectMasterServicer(self.master),
            mpb.DESCRIPTOR.services_by_name["ConnectMaster"],
            cred.cert_pem,
            tenant,
        )
        login = VirtualStub(
            LoginServicer(self.master),
            login_pb2.DESCRIPTOR.services_by_name["Login"],
            cred.cert_pem,
            tenant,
        )
        return MasterClient(stub, login, cred)

    # -- terminals ---------------------------------------------------------------------------
    def add_terminal(
        self,
        device_id: int,
        gateway_id: str,
        host: int,
        slave_readers: dict[int, int] | None = None,
        **config: Any,
    ) -> Terminal:
        """Place and power a terminal. ``slave_readers`` (OSDP address -> slave device ID) gives
        it an RS485 line of its own with those readers powered on it, searched by the
        terminal's slave port; without it, ``rs485_slaves`` is a fixed list."""
        spec = self.specs[gateway_id]
        prefix = spec.ip.rsplit(".", 1)[0]
        cfg = TerminalConfig(
            device_id=device_id,
            ip=f"{prefix}.{host}",
            subnet=spec.subnet,
            server_ip=spec.ip,
            **config,
        )
        port = None
        if slave_readers is not None:
            port = self._slave_line(device_id, slave_readers)
        terminal = Terminal(self.net, self.search, cfg, self.ca.cert_pem, slave_port=port)
        self.terminals[device_id] = terminal
        terminal.power_on()
        return terminal

    def _slave_line(self, device_id: int, readers: dict[int, int]) -> SlavePort:
        bus = Rs485Bus(self.world, f"rs485-t{device_id}", protocol="osdp")
        on_line = self.slaves.setdefault(device_id, {})
        for address, slave_id in sorted(readers.items()):
            if not 1 <= slave_id <= 0xFFFFFFFF:
                raise ValueError(
                    f"slave device ID {slave_id!r} not accepted; accepted: 1..4294967295"
                )
            reader = OsdpReader(
                self.world,
                bus,
                ReaderSpec(address, name=f"t{device_id}-slave-{slave_id}", serial_number=slave_id),
            )
            reader.start()
            on_line[slave_id] = reader
        return SlavePort(self.world, bus, f"terminal-{device_id}-rs485")

    def power_slave(self, device_id: int, slave_id: int, on: bool) -> None:
        """Power an RS485 slave reader of a terminal on or off."""
        readers = self.slaves.get(device_id, {})
        if slave_id not in readers:
            raise KeyError(
                f"terminal {device_id} has no RS485 slave {slave_id}; on its line: "
                f"{sorted(readers) or 'none'}"
            )
        readers[slave_id].start() if on else readers[slave_id].stop()

    def plug(self, device_id: int, plugged: bool) -> None:
        """Pull or replug a terminal's cable: its packets silently vanish (no RST), so only a
        keep-alive can tell that the link is dead."""
        ip = self.terminals[device_id].cfg.ip
        for spec in self.specs.values():
            self.net.partition(ip, spec.ip, not plugged)

    def remove_terminals(self) -> list[int]:
        """Take every terminal out of the world (powered off, gone from search)."""
        removed = sorted(self.terminals)
        for terminal in self.terminals.values():
            terminal.power_off()
            self.search.unregister(terminal.name)
            self.world.remove_node(terminal.name)
        for readers in self.slaves.values():
            for reader in readers.values():
                reader.stop()
                self.world.remove_node(reader.name)
        self.terminals.clear()
        self.slaves.clear()
        return removed

    async def reset_bench(self) -> None:
        """A clean bench between scenarios of one served world: no terminals, no stored
        settings, every device gateway restarted (so no non-DB setting and no pending entry)."""
        self.remove_terminals()
        self.master.db.clear_settings()
        pushes = self.master.pushes
        for gid, gw in self.gateways.items():
            self.restart_gateway(gid)
            gw.pending.clear()
        await self.until(lambda: self.master.pushes >= pushes + len(self.gateways), 30.0)

    # -- faults ------------------------------------------------------------------------------
    def restart_gateway(self, gateway_id: str) -> None:
        self.uplinks[gateway_id].stop()
        self.gateways[gateway_id].stop()
        self.gateways[gateway_id].start()
        self.uplinks[gateway_id].start()

    def restart_master(self) -> None:
        self.master.stop()
        self.master = self._new_master()
        self.master.start()

    def admin(self) -> MasterClient:
        return self.client(ADMIN)

    def close(self) -> None:
        self.world.close()
