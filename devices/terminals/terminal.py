"""An access-control terminal on the in-world IP network (the device side of the Connect API).

Server-to-device: it listens on its device port (51211) and the gateway dials it.
Device-to-server: it dials its server address (port 51212, or 51213 with SSL) and retries every
``retry_s`` after a failure or a lost connection. Either way the terminal is the TLS *client*
when SSL is on: it validates the gateway's certificate against the shared root (seed: "The
device will use the root certificate to validate the certificate of the gateway").

Session (``wire`` frames, JSON bodies): the terminal sends HELLO {deviceID, type, mode, ssl};
then answers PING with PONG and CMD {op, ...} with REPLY {ok, error?}. A terminal that hears
nothing for two keep-alive periods drops the connection. Changing the connection mode or SSL
restarts its network, closing the session, as real terminals do.

RS485 slaves: a terminal with a :class:`~devices.terminals.slave_port.SlavePort` searches its
RS485 line at power-on (and whenever :meth:`Terminal.search_slaves` is called) and knows the
slaves that answer there; one without a port carries a fixed list (``rs485_slaves``), as do the
Wiegand slaves. CMD ``set-slaves`` registers only slaves it knows (a real terminal's slaves must
be registered before SetSlaveDevice, seed "Slave"); ``get-slaves`` reports the registered ones
still found, so a slave gone from the line drops out of GetSlaveDevice.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from devices.protocols import terminal_wire as wire
from devices.terminals.search import SEARCH_MAGIC, SearchMedium

if TYPE_CHECKING:
    from devices.terminals.slave_port import SlavePort
    from sim.iplink import IpNetwork

DEVICE_PORT, D2S_PORT, SSL_PORT = 51211, 51212, 51213
SERVER_TO_DEVICE, DEVICE_TO_SERVER = 0, 1
KEEPALIVE_S = 32.0


@dataclass
class TerminalConfig:
    device_id: int
    ip: str
    subnet: str = "10.0.0.0/24"
    type: int = 0x0E  # CORESTATION_40
    port: int = DEVICE_PORT
    mode: int = SERVER_TO_DEVICE
    server_ip: str = ""
    ssl: bool = False
    use_dhcp: bool = False
    rs485_slaves: list[int] = field(default_factory=list)
    wiegand_slaves: list[int] = field(default_factory=list)
    retry_s: float = 10.0

    def server_port(self) -> int:
        return SSL_PORT if self.ssl else D2S_PORT


class Terminal:
    def __init__(
        self,
        net: IpNetwork,
        search: SearchMedium,
        config: TerminalConfig,
        ca_pem: bytes,
        name: str | None = None,
        slave_port: SlavePort | None = None,
    ) -> None:
        if slave_port is not None and config.rs485_slaves:
            raise ValueError(
                f"terminal {config.device_id}: give RS485 slaves either as a fixed "
                f"list ({config.rs485_slaves}) or as a slave port, not both"
            )
        self.net = net
        self.slave_port = slave_port
        self.world = net.world
        self.cfg = config
        self.name = name or f"terminal-{config.device_id}"
        self._ca_pem = ca_pem
        self._tls: ssl.SSLContext | None = None
        self.powered = False
        self.sessions = 0
        self.max_sessions = 0
        self.sessions_total = 0
        self.active_rs485: list[int] = []
        self.active_wiegand: list[int] = []
        self._writers: set[asyncio.StreamWriter] = set()
        self._dialer: asyncio.Task[None] | None = None
        self._listening: tuple[str, int] | None = None
        search.register(self.name, lambda: self.cfg.ip, self._on_search)
        self.world.add_node(self)

    # -- power and network -------------------------------------------------------------------
    def power_on(self) -> None:
        if self.powered:
            return
        self.powered = True
        self._trace("power-on", mode=self.cfg.mode, ssl=self.cfg.ssl, ip=self.cfg.ip)
        self._start_network()
        if self.slave_port is not None:
            self.slave_port.search()

    def power_off(self) -> None:
        if not self.powered:
            return
        self.powered = False
        self._trace("power-off")
        self._stop_network(abort=True)
        if self.slave_port is not None:
            self.slave_port.stop()

    def move(self, ip: str, subnet: str, server_ip: str | None = None) -> None:
        """Re-address the terminal (another subnet); its network restarts."""
        self._stop_network(abort=True)
        self.cfg.ip, self.cfg.subnet = ip, subnet
        if server_ip is not None:
            self.cfg.server_ip = server_ip
        self._trace("moved", ip=ip, subnet=subnet)
        if self.powered:
            self._start_network()

    def _start_network(self) -> None:
        if self.cfg.mode == SERVER_TO_DEVICE:
            loop = self.world.loop

            def factory() -> asyncio.Protocol:
                reader = asyncio.StreamReader(loop=loop)
                return asyncio.StreamReaderProtocol(reader, self._accepted, loop=loop)

            self.net.listen(self.cfg.ip, self.cfg.port, factory)
            self._listening = (self.cfg.ip, self.cfg.port)
        else:
            self._dialer = self.world.spawn(self._dial_loop(), name=f"{self.name}-dial")

    # -- RS485 slaves ------------------------------------------------------------------------
    def rs485_found(self) -> list[int]:
        """The RS485 slaves this terminal knows: found on its line, or its fixed list."""
        if self.slave_port is None:
            return list(self.cfg.rs485_slaves)
        return sorted(self.slave_port.found()) if self.powered else []

    async def search_slaves(self) -> list[int]:
        """Search the RS485 line now (the installer's "search slaves"); the slaves found."""
        if self.slave_port is None or not self.powered:
            return self.rs485_found()
        await self.slave_port.search()
        return self.rs485_found()

    def _stop_network(self, abort: bool) -> None:
        if self._listening is not None:
            self.net.unlisten(*self._listening)
            self._listening = None
        if self._dialer is not None:
            self._dialer.cancel()
            self._dialer = None
        for w in list(self._writers):
            if abort:
                w.transport.abort()
            else:
                w.close()

    def _restart_network(self) -> None:
        self._stop_network(abort=False)
        if self.powered:
            self._start_network()

    # -- sessions ----------------------------------------------------------------------------
    def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.world.spawn(self._session(reader, writer, "inbound"), name=f"{self.name}-in")

    async def _dial_loop(self) -> None:
        while self.powered and self.cfg.mode == DEVICE_TO_SERVER:
            try:
                reader, writer = await self.net.open_connection(
                    self.cfg.server_ip, self.cfg.server_port(), client_host=self.cfg.ip
                )
            except OSError as exc:
                self._trace("dial-failed", server=self.cfg.server_ip, error=str(exc))
            else:
                await self._session(reader, writer, "outbound")
            await asyncio.sleep(self.cfg.retry_s)

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            from devices.protocols.x509 import tls_context

            self._tls = tls_context(self._ca_pem, server_side=False)
        return self._tls

    async def _session(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, direction: str
    ) -> None:
        self._writers.add(writer)
        self.sessions += 1
        self.sessions_total += 1
        self.max_sessions = max(self.max_sessions, self.sessions)
        if self.sessions > 1:
            self._trace("duplicate-connection", sessions=self.sessions)
        peer = writer.get_extra_info("peername")
        self._trace("session-open", direction=direction, peer=peer[0] if peer else "")
        stream = wire.ByteStream(reader, writer)
        reason = "closed"
        try:
            if self.cfg.ssl:
                await asyncio.wait_for(stream.start_tls(self._tls_context(), False), 10.0)
            link = wire.FramedLink(stream)
            link.send_json(
                wire.HELLO,
                {
                    "deviceID": self.cfg.device_id,
                    "type": self.cfg.type,
                    "mode": self.cfg.mode,
                    "ssl": self.cfg.ssl,
                },
            )
            while True:
                kind, msg = await asyncio.wait_for(link.recv_json(), 2 * KEEPALIVE_S)
                if kind == wire.PING:
                    link.send(wire.PONG)
                elif kind == wire.CMD:
                    reply, restart = self._command(msg)
                    link.send_json(wire.REPLY, reply)
                    if restart:
                        reason = "network restart"
                        self.world.loop.call_soon(self._restart_network)
                        break
                else:
                    link.send_json(
                        wire.REPLY,
                        {
                            "ok": False,
                            "error": f"frame kind {kind} not accepted; accepted: PING, CMD",
                        },
                    )
        except TimeoutError:
            reason = "keep-alive timeout"
        except (ConnectionError, wire.FrameError, ssl.SSLError, OSError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
        finally:
            self.sessions -= 1
            self._writers.discard(writer)
            if not writer.is_closing():
                writer.close()
            self._trace("session-closed", direction=direction, reason=reason)

    def _command(self, msg: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Carry out one CMD; (reply, restart network afterwards)."""
        op = msg.get("op")
        if op == "get-config":
            return {"ok": True, "config": self.describe()}, False
        if op == "set-mode":
            mode = msg.get("mode")
            if mode not in (SERVER_TO_DEVICE, DEVICE_TO_SERVER):
                return {
                    "ok": False,
                    "error": f"connection mode {mode!r} not accepted; "
                    "accepted: 0 (SERVER_TO_DEVICE), 1 (DEVICE_TO_SERVER)",
                }, False
            server_ip = msg.get("serverIP") or self.cfg.server_ip
            changed = mode != self.cfg.mode
            self.cfg.mode, self.cfg.server_ip = mode, str(server_ip)
            self._trace("set-mode", mode=mode)
            return {"ok": True}, changed
        if op == "set-ssl":
            on = bool(msg.get("on"))
            changed = on != self.cfg.ssl
            self.cfg.ssl = on
            self._trace("set-ssl", on=on)
            return {"ok": True}, changed
        if op == "set-slaves":
            rs485, wiegand = msg.get("rs485") or [], msg.get("wiegand") or []
            if (
                not isinstance(rs485, list)
                or not isinstance(wiegand, list)
                or not all(isinstance(s, int) and not isinstance(s, bool) for s in rs485 + wiegand)
            ):
                return {
                    "ok": False,
                    "error": f"slave lists rs485={rs485!r:.80} wiegand={wiegand!r:.80} "
                    "not accepted; accepted: lists of device IDs",
                }, False
            found = self.rs485_found()
            unknown = [s for s in rs485 if s not in found] + [
                s for s in wiegand if s not in self.cfg.wiegand_slaves
            ]
            if unknown:
                where = "found on the RS485 bus of" if self.slave_port else "registered on"
                more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
                return {
                    "ok": False,
                    "error": f"slave devices {unknown[:10]}{more} are not {where} "
                    f"device {self.cfg.device_id}; found: RS485 {found}, Wiegand "
                    f"{self.cfg.wiegand_slaves}",
                }, False
            self.active_rs485, self.active_wiegand = list(rs485), list(wiegand)
            self._trace("set-slaves", rs485=rs485, wiegand=wiegand)
            return {"ok": True}, False
        if op == "get-slaves":
            found = self.rs485_found()
            return {
                "ok": True,
                "rs485": [s for s in self.active_rs485 if s in found],
                "wiegand": list(self.active_wiegand),
                "found": found,
            }, False
        return {
            "ok": False,
            "error": f"op {op!r} not accepted; accepted: get-config, "
            "set-mode, set-ssl, set-slaves, get-slaves",
        }, False

    # -- search ------------------------------------------------------------------------------
    def _on_search(self, datagram: bytes) -> bytes | None:
        if not self.powered or datagram != SEARCH_MAGIC:
            return None
        return json.dumps(self.describe(), sort_keys=True).encode()

    def describe(self) -> dict[str, Any]:
        return {
            "deviceID": self.cfg.device_id,
            "type": self.cfg.type,
            "useDHCP": self.cfg.use_dhcp,
            "connectionMode": self.cfg.mode,
            "IPAddr": self.cfg.ip,
            "port": self.cfg.port,
            "useSSL": self.cfg.ssl,
            "serverAddr": self.cfg.server_ip,
            "subnet": str(ipaddress.ip_network(self.cfg.subnet, strict=False)),
            "rs485": self.rs485_found(),
            "wiegand": list(self.cfg.wiegand_slaves),
        }

    def _trace(self, event: str, **details: Any) -> None:
        self.world.trace.emit(self.name, "app", event, **details)
