"""The Connect Master world: a master gateway, device gateways, terminals (with their RS485
slave readers) and tenant clients, all in one :class:`~sim.world.World` (the local bed's
internals, also what ``hil serve connect-master`` serves).

Clients reach the master through :class:`rpc.VirtualStub` (in-process, virtual time, real
protobuf encoding): gRPC's C-core keeps wall-clock deadlines and its own threads, so grpcio
sockets are only used in real-time mode (:mod:`scenarios.connect_master.serve`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devices.gateways.connect_master.deviations import cm_deviations
from devices.gateways.connect_master.device_gateway import DeviceGateway
from devices.gateways.connect_master.master import MasterGateway
from devices.gateways.connect_master.master_service import ConnectMasterServicer, LoginServicer
from devices.gateways.connect_master.protos import connect_master_pb2 as mpb
from devices.gateways.connect_master.protos import login_pb2
from devices.gateways.connect_master.rpc import VirtualStub
from devices.gateways.connect_master.tokens import TokenAuthority
from devices.gateways.connect_master.uplink import Uplink
from devices.protocols.x509 import CertificateAuthority, Credential
from devices.terminals.search import SearchMedium
from devices.terminals.terminal import Terminal, TerminalConfig
from scenarios.connect_master.client import MasterClient
from scenarios.connect_master.placement import TerminalSpec
from scenarios.connect_master.worlds import GatewaySpec, default_world
from sim.iplink import IpNetwork
from sim.rs485 import Rs485Bus
from sim.world import World

if TYPE_CHECKING:
    from devices.rs485.osdp_pd import OsdpReader
    from devices.terminals.slave_port import SlavePort

MASTER_IP = "10.0.100.1"
LINK_WAIT_S = 30.0  # how long a (re)started gateway or master may take to link up


class ConnectMasterWorld:
    """The nodes of one Connect Master world, on ``world`` (which the caller owns); the master
    and every device gateway misbehave in the named ``deviations`` (:mod:`devices.gateways.
    connect_master.deviations`), restarts included."""

    def __init__(
        self,
        world: World,
        db_path: Path | str = ":memory:",
        gateways: tuple[GatewaySpec, ...] | None = None,
        reconnect_s: float | None = None,
        deviations: Iterable[str] = (),
    ) -> None:
        self.deviations = cm_deviations(deviations)
        default = default_world()
        gateways = default.gateways if gateways is None else gateways
        self.world = world
        self.net = IpNetwork(world)
        self.search = SearchMedium(world)
        self.ca = CertificateAuthority()
        self.specs = {g.gateway_id: g for g in gateways}
        self.db_path = db_path
        self.master_cred = self.ca.issue("master", server=True)
        self.tokens: TokenAuthority | None = None  # the master's, kept across its restarts
        self.master = self._new_master()
        self.gateways: dict[str, DeviceGateway] = {}
        self.uplinks: dict[str, Uplink] = {}
        self.reconnect_s = default.reconnect_s if reconnect_s is None else reconnect_s
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
                reconnect_s=self.reconnect_s,
                deviations=self.deviations,
            )
            self.gateways[spec.gateway_id] = gw
            self.uplinks[spec.gateway_id] = Uplink(gw, MASTER_IP)

    def _new_master(self) -> MasterGateway:
        """A master process; its token key and revocations are those of the processes before
        it, as a key store on disk would keep them (its tokens survive its restart)."""
        master = MasterGateway(
            self.net,
            MASTER_IP,
            self.ca,
            self.master_cred,
            self.db_path,
            tokens=self.tokens,
            deviations=self.deviations,
        )
        self.tokens = master.tokens
        return master

    async def start(self) -> bool:
        """Start the master and every device gateway; whether all linked up in time."""
        self.master.start()
        for gid, gw in self.gateways.items():
            gw.start()
            self.uplinks[gid].start()
        return await self.until(self.all_linked, LINK_WAIT_S)

    def all_linked(self) -> bool:
        return len(self.master.links) == len(self.gateways)

    async def until(
        self, condition: Callable[[], bool], limit_s: float, step_s: float = 0.1
    ) -> bool:
        """Poll ``condition`` every ``step_s`` of world time; False after ``limit_s``."""
        deadline = self.world.now + limit_s
        while not condition():
            if self.world.now >= deadline:
                return False
            await asyncio.sleep(step_s)
        return True

    def describe(self) -> dict[str, Any]:
        """Time, gateways (with their link to the master) and terminals."""
        return {
            "time": self.world.now,
            "unix": self.master.unix_now(),
            "seed": self.world.seed,
            "clock": self.world.clock_mode,
            "scale": self.world.loop.scale,
            "gateways": {
                g: {
                    "ip": s.ip,
                    "subnet": s.subnet,
                    "tenant": s.tenant,
                    "connected": g in self.master.links,
                }
                for g, s in self.specs.items()
            },
            "terminals": sorted(self.terminals),
        }

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
        )
        login = VirtualStub(
            LoginServicer(self.master),
            login_pb2.DESCRIPTOR.services_by_name["Login"],
            cred.cert_pem,
        )
        return MasterClient(stub, login, cred)

    # -- terminals ---------------------------------------------------------------------------
    def add_terminal(self, spec: TerminalSpec) -> Terminal:
        """Place and power a terminal. With ``slave_readers`` it gets an RS485 line of its own
        with those OSDP readers powered on it, searched by the terminal's slave port; without,
        ``rs485_slaves`` is a fixed list."""
        if spec.device_id in self.terminals:
            raise ValueError(f"deviceID {spec.device_id} is already a terminal of this world")
        gateway = self.specs[spec.gateway]
        cfg = TerminalConfig(
            device_id=spec.device_id,
            ip=gateway.host_ip(spec.host),
            subnet=gateway.subnet,
            server_ip=gateway.ip,
            mode=spec.mode,
            ssl=spec.ssl,
            rs485_slaves=list(spec.rs485_slaves),
        )
        port = self._slave_line(spec.device_id, spec.slave_readers) if spec.slave_readers else None
        terminal = Terminal(self.net, self.search, cfg, self.ca.cert_pem, slave_port=port)
        self.terminals[spec.device_id] = terminal
        terminal.power_on()
        return terminal

    def _slave_line(self, device_id: int, readers: dict[int, int]) -> SlavePort:
        # The OSDP stack (libosdp) loads with the first slave reader only, so a world without
        # any (``hil serve connect-master``) never imports it.
        from devices.rs485.osdp_pd import OsdpReader, ReaderSpec
        from devices.terminals.slave_port import SlavePort

        bus = Rs485Bus(self.world, f"rs485-t{device_id}")  # OSDP nodes: no addressed delivery
        on_line = self.slaves.setdefault(device_id, {})
        for address, slave_id in sorted(readers.items()):
            reader = OsdpReader(
                self.world,
                bus,
                ReaderSpec(address, name=f"t{device_id}-slave-{slave_id}", serial_number=slave_id),
            )
            reader.start()
            on_line[slave_id] = reader
        return SlavePort(self.world, bus, f"terminal-{device_id}-rs485")

    def terminal(self, device_id: int) -> Terminal:
        if device_id not in self.terminals:
            raise KeyError(f"no terminal {device_id}; placed: {sorted(self.terminals) or 'none'}")
        return self.terminals[device_id]

    def terminal_state(self, device_id: int) -> dict[str, Any]:
        """A terminal's configuration, power and session counters."""
        t = self.terminal(device_id)
        return {
            **t.describe(),
            "powered": t.powered,
            "sessions": t.sessions,
            "maxSessions": t.max_sessions,
            "sessionsTotal": t.sessions_total,
        }

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
        ip = self.terminal(device_id).cfg.ip
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
        await self.until(lambda: self.master.pushes >= pushes + len(self.gateways), LINK_WAIT_S)

    # -- faults ------------------------------------------------------------------------------
    def restart_gateway(self, gateway_id: str) -> None:
        self.uplinks[gateway_id].stop()
        self.gateways[gateway_id].stop()
        self.gateways[gateway_id].start()
        self.uplinks[gateway_id].start()

    async def restart_gateway_and_wait(self, gateway_id: str) -> bool:
        """Restart a device gateway; whether it linked to the master again (the master's push
        of its DB settings is the sign) within :data:`LINK_WAIT_S`."""
        pushes = self.master.pushes
        self.restart_gateway(gateway_id)
        return await self.until(lambda: self.master.pushes > pushes, LINK_WAIT_S)

    def restart_master(self) -> None:
        self.master.stop()
        self.master = self._new_master()
        self.master.start()
