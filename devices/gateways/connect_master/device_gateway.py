"""The device gateway: connections to terminals in both directions, the accept filter, the
pending list, slaves and status changes (the business logic behind the ``Connect`` service).

After-disconnection behaviours (seed, "Disconnection"): a device added with Connect is dropped
for good; an async device is dialled again after ``reconnect_s``; a device-to-server device
redials by itself unless the accept filter no longer admits it. A second connection for a
device that already has one is refused (closed at once): a device never holds two connections
(a known fault of real gateways during async reconnection).

Non-persistent state (managed devices, filter, slaves) is cleared whenever a new session with
the master gateway begins (``reset``): that is how settings made with the non-DB calls are lost
on reconnect, exactly as the seed warns; the master then pushes its ``*DB`` settings.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import grpc

from devices.deviations import Deviations
from devices.gateways.connect_master.deviations import cm_deviations
from devices.gateways.connect_master.errors import (
    CallError,
    check_ids,
    check_ip,
    check_port,
    invalid,
    not_found,
    quote_ids,
)
from devices.gateways.connect_master.protos import connect_pb2 as pb
from devices.gateways.connect_master.sessions import TerminalSession, check_hello
from devices.protocols import terminal_wire as wire
from devices.protocols.x509 import Credential, tls_context
from devices.terminals.search import SearchMedium
from devices.terminals.terminal import D2S_PORT, KEEPALIVE_S, SSL_PORT

if TYPE_CHECKING:
    from sim.iplink import IpNetwork

RECONNECT_S = 30.0
HELLO_TIMEOUT_S = 5.0
SYNC, ASYNC, D2S = "sync", "async", "d2s"
StatusListener = Callable[[int, int], None]
_UNAVAILABLE = grpc.StatusCode.UNAVAILABLE
_ALREADY_EXISTS = grpc.StatusCode.ALREADY_EXISTS
_FAILED_PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION


@dataclass
class Managed:
    device_id: int
    origin: str
    ip: str = ""
    port: int = 0
    use_ssl: bool = False
    type: int = 0
    mode: int = 0
    status: int = pb.DISCONNECTED
    session: TerminalSession | None = None
    task: asyncio.Task[None] | None = None

    def info(self) -> Any:
        return pb.DeviceInfo(
            deviceID=self.device_id,
            connectionMode=self.mode,
            IPAddr=self.ip,
            port=self.port,
            status=self.status,
            autoReconnect=self.origin == ASYNC,
            useSSL=self.use_ssl,
            type=self.type,
        )


@dataclass
class Pending:
    device_id: int
    ip: str
    last_try: int
    type: int


@dataclass
class DialError(Exception):
    status: int
    reason: str


@dataclass
class Filter:
    allow_all: bool = False
    device_ids: list[int] = field(default_factory=list)
    ip_addrs: list[str] = field(default_factory=list)
    subnet_masks: list[str] = field(default_factory=list)

    @classmethod
    def from_pb(cls, f: Any) -> Filter:
        ips = [check_ip(a, "AcceptFilter.IPAddrs entry") for a in f.IPAddrs]
        masks = [check_ip(m, "AcceptFilter.subnetMasks entry") for m in f.subnetMasks]
        if masks and len(masks) != len(ips):
            raise invalid(
                f"AcceptFilter has {len(ips)} IPAddrs but {len(masks)} subnetMasks; "
                "give one mask per address or none"
            )
        if 0 in f.deviceIDs:
            raise invalid("AcceptFilter.deviceIDs contains 0; accepted: 1..4294967295")
        return cls(f.allowAll, list(dict.fromkeys(f.deviceIDs)), ips, masks)

    def to_pb(self) -> Any:
        return pb.AcceptFilter(
            allowAll=self.allow_all,
            deviceIDs=self.device_ids,
            IPAddrs=self.ip_addrs,
            subnetMasks=self.subnet_masks,
        )

    def admits(self, device_id: int, ip: str) -> bool:
        if self.allow_all or device_id in self.device_ids:
            return True
        for i, addr in enumerate(self.ip_addrs):
            mask = self.subnet_masks[i] if self.subnet_masks else "255.255.255.255"
            if ipaddress.IPv4Address(ip) in ipaddress.IPv4Network(f"{addr}/{mask}", strict=False):
                return True
        return False


class DeviceGateway:
    def __init__(
        self,
        net: IpNetwork,
        search: SearchMedium,
        gateway_id: str,
        ip: str,
        subnets: list[str],
        ca_pem: bytes,
        credential: Credential,
        reconnect_s: float = RECONNECT_S,
        keepalive_s: float = KEEPALIVE_S,
        deviations: Iterable[str] | Deviations = (),
    ) -> None:
        """``deviations``: the ways it misbehaves on purpose (:mod:`.deviations`; none by
        default)."""
        self.net = net
        self.deviations = cm_deviations(deviations)
        self._held: list[tuple[int, int]] = []  # status-changes-reordered: changes held back
        self.stuck = False  # stuck-after-unclean-close: no connection is made any more
        self.world = net.world
        self.search_medium = search
        self.gateway_id = gateway_id
        self.name = f"dg-{gateway_id}"
        self.ip = ip
        self.subnets = subnets
        self.ca_pem = ca_pem
        self.credential = credential
        self.reconnect_s = reconnect_s
        self.keepalive_s = keepalive_s
        self._tls_server = tls_context(
            ca_pem, server_side=True, credential=credential, require_peer=False
        )
        self.devices: dict[int, Managed] = {}
        self.pending: dict[int, Pending] = {}
        self.filter = Filter()
        self.slaves: dict[int, tuple[list[int], list[int]]] = {}
        self.listeners: list[StatusListener] = []
        self.running = False
        self.status_log: list[tuple[float, int, int]] = []
        self.duplicates_refused = 0
        self.world.add_node(self)

    # -- life --------------------------------------------------------------------------------
    def start(self) -> None:
        if self.running:
            return
        self.running = True
        loop = self.world.loop
        for port, tls in ((D2S_PORT, False), (SSL_PORT, True)):

            def factory(tls: bool = tls) -> asyncio.Protocol:
                reader = asyncio.StreamReader(loop=loop)
                return asyncio.StreamReaderProtocol(
                    reader, lambda r, w: self.world.spawn(self._inbound(r, w, tls)), loop=loop
                )

            self.net.listen(self.ip, port, factory)
        self._trace("started")

    def stop(self) -> None:
        """The gateway process dies: every connection and every setting is gone."""
        if not self.running:
            return
        self.running = False
        for port in (D2S_PORT, SSL_PORT):
            self.net.unlisten(self.ip, port)
        self.reset(emit=False)
        self.net.reset_host(self.ip)
        self._trace("stopped")

    def reset(self, emit: bool = True) -> None:
        """Forget every non-persistent setting (a new master session, or a restart)."""
        for m in list(self.devices.values()):
            self._drop(m, "reset", emit=emit)
        self.devices.clear()
        self.filter = Filter()
        self.slaves.clear()
        self._trace("reset")

    # -- status ------------------------------------------------------------------------------
    def unix_now(self) -> int:
        return int(self.world.epoch.timestamp() + self.world.now)

    def _status(self, device_id: int, status: int) -> None:
        m = self.devices.get(device_id)
        if m is not None:
            m.status = status
        self.status_log.append((self.world.now, device_id, status))
        self._trace("status", device=device_id, status=pb.Status.Name(status))
        if status == pb.DISCONNECTED:
            if self.deviations.active("status-disconnected-missing"):
                return
            if self.deviations.active("status-changes-reordered"):
                self._held.append((device_id, status))
                return
        for listener in list(self.listeners):
            listener(device_id, status)
        held = [c for c in self._held if c[0] == device_id]
        self._held = [c for c in self._held if c[0] != device_id]
        for change in held:
            for listener in list(self.listeners):
                listener(*change)

    # -- dialling ----------------------------------------------------------------------------
    async def _dial(self, ip: str, port: int, use_ssl: bool) -> TerminalSession:
        fail = pb.TLS_CANNOT_CONNECT if use_ssl else pb.TCP_CANNOT_CONNECT
        if use_ssl and self.deviations.active("ssl-failure-status-swapped"):
            fail = pb.TCP_CANNOT_CONNECT
        if self.stuck:
            raise DialError(fail, "the gateway makes no connections any more")
        try:
            reader, writer = await asyncio.wait_for(
                self.net.open_connection(ip, port, client_host=self.ip), HELLO_TIMEOUT_S
            )
        except (OSError, TimeoutError) as exc:
            raise DialError(fail, f"TCP connection to {ip}:{port} failed: {exc}") from None
        return await self._handshake(reader, writer, use_ssl, fail)

    async def _handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, use_ssl: bool, fail: int
    ) -> TerminalSession:
        stream = wire.ByteStream(reader, writer)
        link = wire.FramedLink(stream)
        try:
            if use_ssl:
                await asyncio.wait_for(stream.start_tls(self._tls_server, True), HELLO_TIMEOUT_S)
            kind, hello = await asyncio.wait_for(link.recv_json(), HELLO_TIMEOUT_S)
            check_hello(kind, hello)
        except (TimeoutError, ConnectionError, wire.FrameError, ssl.SSLError, OSError) as exc:
            writer.transport.abort()
            what = "TLS" if use_ssl else "device protocol"
            raise DialError(fail, f"{what} handshake failed: {type(exc).__name__}: {exc}") from None
        dead_after = 4 if self.deviations.active("dead-link-slow") else 2
        return TerminalSession(self.world.loop, link, hello, self.keepalive_s, dead_after)

    def _attach(self, m: Managed, session: TerminalSession) -> bool:
        """Make ``session`` the device's connection; refuse it if one is already live."""
        if m.session is not None and not m.session.closed.is_set():
            self.duplicates_refused += 1
            self._trace("duplicate-refused", device=m.device_id)
            session.close("duplicate connection refused")
            return False
        m.session = session
        m.type, m.mode = session.type, session.mode
        tls = session.ssl and not self.deviations.active("tls-reported-as-tcp")
        self._status(m.device_id, pb.TLS_CONNECTED if tls else pb.TCP_CONNECTED)
        wanted = self.slaves.get(m.device_id)
        if wanted:
            self.world.spawn(self._push_slaves(session, wanted))
        return True

    async def _push_slaves(
        self, session: TerminalSession, wanted: tuple[list[int], list[int]]
    ) -> None:
        try:
            await session.command("set-slaves", rs485=wanted[0], wiegand=wanted[1])
        except ConnectionError:
            pass

    def _drop(self, m: Managed, reason: str, emit: bool = True) -> None:
        if m.task is not None and m.task is not asyncio.current_task(self.world.loop):
            m.task.cancel()
            m.task = None
        if m.session is not None:
            m.session.close(reason)
        if emit and m.status != pb.DISCONNECTED:
            self._status(m.device_id, pb.DISCONNECTED)

    async def _watch(self, m: Managed, session: TerminalSession) -> None:
        await session.closed.wait()
        if m.session is session:
            m.session = None
            self._trace("disconnected", device=m.device_id, reason=session.close_reason)
            unclean = session.close_reason == "keep-alive timeout"
            if unclean and self.deviations.active("stuck-after-unclean-close"):
                self.stuck = True
            if self.devices.get(m.device_id) is m:
                self._status(m.device_id, pb.DISCONNECTED)
                if m.origin == SYNC and not self.deviations.active("sync-device-kept"):
                    del self.devices[m.device_id]

    # -- Connect -----------------------------------------------------------------------------
    async def connect(self, ip: str, port: int, use_ssl: bool) -> int:
        check_ip(ip)
        check_port(port)
        try:
            session = await self._dial(ip, port, use_ssl)
        except DialError as exc:
            raise CallError(
                _UNAVAILABLE, f"cannot connect to {ip}:{port} (useSSL={use_ssl}): {exc.reason}"
            ) from None
        existing = self.devices.get(session.device_id)
        m = existing or Managed(session.device_id, SYNC, ip, port, use_ssl)
        if existing is None:
            self.devices[m.device_id] = m
        if not self._attach(m, session):
            raise CallError(_ALREADY_EXISTS, f"device {m.device_id} is already connected")
        self.world.spawn(self._watch(m, session))
        return m.device_id

    # -- async -------------------------------------------------------------------------------
    def add_async(self, infos: list[Any]) -> None:
        if not infos:
            raise invalid("connectInfos is empty; give at least one AsyncConnectInfo")
        seen: set[int] = set()
        for info in infos:
            if info.deviceID == 0:
                raise invalid("AsyncConnectInfo.deviceID is 0; accepted: 1..4294967295")
            if info.deviceID in seen:
                raise invalid(
                    f"device {info.deviceID} appears twice in connectInfos; accepted: each "
                    "deviceID once"
                )
            seen.add(info.deviceID)
            check_ip(info.IPAddr)
            check_port(info.port)
        taken = [
            i.deviceID
            for i in infos
            if i.deviceID in self.devices and self.devices[i.deviceID].origin != ASYNC
        ]
        if taken:
            raise CallError(
                _ALREADY_EXISTS,
                f"devices {quote_ids(taken)} are already managed by another "
                "connection (Connect or device-to-server); disconnect them first",
            )
        for info in infos:
            old = self.devices.get(info.deviceID)
            if old is not None and (old.ip, old.port, old.use_ssl) == (
                info.IPAddr,
                info.port,
                info.useSSL,
            ):
                continue
            if old is not None:
                self._drop(old, "async connection replaced")
            m = Managed(info.deviceID, ASYNC, info.IPAddr, info.port, info.useSSL)
            self.devices[m.device_id] = m
            m.task = self.world.spawn(self._async_loop(m), name=f"{self.name}-{m.device_id}")

    async def _async_loop(self, m: Managed) -> None:
        connected = 0  # connections this device had
        while self.devices.get(m.device_id) is m:
            try:
                session = await self._dial(m.ip, m.port, m.use_ssl)
            except DialError as exc:
                self._trace("dial-failed", device=m.device_id, reason=exc.reason)
                self._status(m.device_id, exc.status)
            else:
                if session.device_id != m.device_id:
                    session.close("wrong device")
                    self._trace("wrong-device", expected=m.device_id, got=session.device_id)
                    self._status(m.device_id, pb.TCP_CANNOT_CONNECT)
                elif self._attach(m, session):
                    connected += 1
                    duplicate = self.deviations.active("async-duplicate-connections")
                    if duplicate and connected > 1:
                        self.world.spawn(self._leak_duplicate(m))
                    await self._watch(m, session)
                    if self.deviations.active("async-reconnect-never"):
                        return
            await asyncio.sleep(self.reconnect_s)

    async def _leak_duplicate(self, m: Managed) -> None:
        """async-duplicate-connections: a second connection the gateway opens and forgets."""
        try:
            session = await self._dial(m.ip, m.port, m.use_ssl)
        except DialError:
            return
        self._trace("duplicate-opened", device=session.device_id)

    def delete_async(self, ids: list[int]) -> None:
        ids = check_ids(ids)
        unknown = [i for i in ids if i not in self.devices or self.devices[i].origin != ASYNC]
        if unknown:
            raise not_found(
                f"deviceIDs: devices {quote_ids(unknown)} are not asynchronous connections of "
                f"gateway {self.gateway_id!r}; accepted: devices added with AddAsyncConnection"
            )
        for i in ids:
            m = self.devices.pop(i)
            if self.deviations.active("async-delete-keeps-connection") and m.task is not None:
                m.task.cancel()  # the dialling stops, the live connection is forgotten
                continue
            self._drop(m, "deleted", emit=False)
            if m.status != pb.DISCONNECTED:
                m.status = pb.DISCONNECTED
                self._status(i, pb.DISCONNECTED)

    # -- device-to-server --------------------------------------------------------------------
    async def _inbound(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tls: bool
    ) -> None:
        peer_ip = writer.get_extra_info("peername")[0]
        fail = pb.TLS_CANNOT_CONNECT if tls else pb.TCP_CANNOT_CONNECT
        try:
            session = await self._handshake(reader, writer, tls, fail)
        except DialError as exc:
            self._trace("inbound-failed", peer=peer_ip, reason=exc.reason)
            return
        did = session.device_id
        if not self.filter.admits(did, peer_ip):
            self.pending[did] = Pending(did, peer_ip, self.unix_now(), session.type)
            session.close("not in the accept filter")
            self._trace("not-allowed", device=did, peer=peer_ip)
            self._status(did, pb.TLS_NOT_ALLOWED if tls else pb.TCP_NOT_ALLOWED)
            return
        if not self.deviations.active("pending-kept-after-accept"):
            self.pending.pop(did, None)
        m = self.devices.get(did)
        if m is None or m.origin != D2S:
            if m is not None:
                session.close(f"device {did} is managed by a {m.origin} connection")
                return
            m = Managed(did, D2S, peer_ip, SSL_PORT if tls else D2S_PORT, tls)
            self.devices[did] = m
        m.ip, m.use_ssl = peer_ip, tls
        if self._attach(m, session):
            await self._watch(m, session)

    def set_filter(self, f: Any) -> None:
        self.filter = Filter.from_pb(f)
        self._trace(
            "accept-filter", allow_all=self.filter.allow_all, devices=self.filter.device_ids
        )
        if self.deviations.active("filter-removal-ignored"):
            return
        for m in list(self.devices.values()):
            if m.origin == D2S and not self.filter.admits(m.device_id, m.ip):
                del self.devices[m.device_id]
                self._drop(m, "removed from the accept filter")

    def pending_list(self) -> list[Any]:
        zero = self.deviations.active("pending-last-try-zero")
        kept = self.deviations.active("pending-kept-after-accept")
        return [
            pb.PendingDeviceInfo(
                deviceID=p.device_id, IPAddr=p.ip, lastTry=0 if zero else p.last_try, type=p.type
            )
            for p in sorted(self.pending.values(), key=lambda p: p.device_id)
            if kept or not self.filter.admits(p.device_id, p.ip)
        ]

    # -- disconnection -----------------------------------------------------------------------
    def disconnect(self, ids: list[int]) -> None:
        ids = check_ids(ids)
        unknown = [i for i in ids if i not in self.devices]
        if unknown:
            raise not_found(
                f"deviceIDs: devices {quote_ids(unknown)} are not managed by gateway "
                f"{self.gateway_id!r}; accepted: IDs listed by GetDeviceList"
            )
        for i in ids:
            self._disconnect(self.devices[i])

    def disconnect_all(self) -> None:
        for m in list(self.devices.values()):
            self._disconnect(m)

    def _disconnect(self, m: Managed) -> None:
        if m.session is not None:
            m.session.close("Disconnect")  # _watch reports DISCONNECTED, drops sync devices
        elif m.origin == SYNC:
            self.devices.pop(m.device_id, None)

    def device_list(self) -> list[Any]:
        infos = [m.info() for m in sorted(self.devices.values(), key=lambda m: m.device_id)]
        for info in infos:
            if self.deviations.active("device-list-autoreconnect-wrong"):
                info.autoReconnect = not info.autoReconnect
            if self.deviations.active("device-list-address-missing"):
                info.IPAddr = ""
        return infos

    # -- commands on connected devices -------------------------------------------------------
    def session_of(self, device_id: int) -> TerminalSession:
        m = self.devices.get(device_id)
        if m is None or m.session is None or m.session.closed.is_set():
            raise not_found(
                f"device {device_id} is not connected to gateway {self.gateway_id!r}; accepted: "
                "a device GetDeviceList shows as TCP_CONNECTED or TLS_CONNECTED"
            )
        return m.session

    async def command(self, device_id: int, op: str, **args: Any) -> None:
        session = self.session_of(device_id)
        try:
            reply = await session.command(op, **args)
        except ConnectionError as exc:
            raise CallError(_UNAVAILABLE, str(exc)) from None
        if not reply.get("ok"):
            raise CallError(_FAILED_PRECONDITION, str(reply.get("error")))

    async def set_connection_mode(self, device_id: int, mode: int) -> None:
        if mode not in (pb.SERVER_TO_DEVICE, pb.DEVICE_TO_SERVER):
            raise invalid(
                f"connectionMode {mode} not accepted; accepted: 0 SERVER_TO_DEVICE, "
                "1 DEVICE_TO_SERVER"
            )
        if self.deviations.active("set-mode-not-sent"):
            self.session_of(device_id)
            return
        await self.command(device_id, "set-mode", mode=mode, serverIP=self.ip)

    async def set_ssl(self, device_id: int, on: bool) -> None:
        enable_ignored = on and self.deviations.active("ssl-enable-not-sent")
        if enable_ignored or (not on and self.deviations.active("ssl-disable-not-sent")):
            self.session_of(device_id)
            return
        await self.command(device_id, "set-ssl", on=on)

    async def search(self, timeout_ms: int) -> list[Any]:
        if not 1 <= timeout_ms <= 60000:
            raise invalid(f"timeout {timeout_ms} ms not accepted; accepted: 1..60000 ms")
        found: dict[int, Any] = {}
        for subnet in self.subnets:
            for r in await self.search_medium.search(self.ip, subnet, timeout_ms / 1000.0):
                d2s = r["connectionMode"] == pb.DEVICE_TO_SERVER
                if d2s and self.deviations.active("search-misses-device-to-server"):
                    continue
                found[r["deviceID"]] = pb.SearchDeviceInfo(
                    deviceID=r["deviceID"],
                    type=r["type"],
                    useDHCP=r["useDHCP"],
                    connectionMode=r["connectionMode"],
                    IPAddr=r["IPAddr"],
                    port=r["port"],
                    useSSL=r["useSSL"],
                    serverAddr=r["serverAddr"],
                )
        return [found[k] for k in sorted(found)]

    # -- slaves ------------------------------------------------------------------------------
    async def set_slaves(self, infos: list[Any]) -> None:
        if not infos:
            raise invalid("slaveDeviceInfos is empty; give at least one SlaveDeviceInfo")
        for info in infos:
            if info.deviceID == 0:
                raise invalid("SlaveDeviceInfo.deviceID is 0; accepted: 1..4294967295")
        for info in {i.deviceID: i for i in infos}.values():  # the last entry per device wins
            wanted = (list(info.rs485SlaveDeviceIDs), list(info.wiegandSlaveDeviceIDs))
            m = self.devices.get(info.deviceID)
            live = m is not None and m.session is not None and not m.session.closed.is_set()
            if live and not self.deviations.active("set-slaves-not-sent"):
                await self.command(info.deviceID, "set-slaves", rs485=wanted[0], wiegand=wanted[1])
            self.slaves[info.deviceID] = wanted

    async def slave_list(self) -> list[Any]:
        """The slaves assigned to each device; a connected device is asked which of them it
        still has (a slave gone from its RS485 line drops out), a disconnected one reports what
        was assigned."""
        infos = []
        for d, (r, w) in sorted(self.slaves.items()):
            m = self.devices.get(d)
            asked = not self.deviations.active("get-slaves-not-asked")
            if asked and m is not None and m.session is not None and not m.session.closed.is_set():
                try:
                    reply = await m.session.command("get-slaves")
                except ConnectionError:
                    reply = {}
                if reply.get("ok"):
                    r, w = list(reply.get("rs485") or []), list(reply.get("wiegand") or [])
            infos.append(
                pb.SlaveDeviceInfo(deviceID=d, rs485SlaveDeviceIDs=r, wiegandSlaveDeviceIDs=w)
            )
        return infos

    def _trace(self, event: str, **details: Any) -> None:
        self.world.trace.emit(self.name, "app", event, **details)
