"""The Connect Master bed (:class:`scenarios.bed.Bed`): the world a connect-master scenario runs
in, with the master gateway as the SUT.

* :class:`LocalCmBed`: the reference master gateway, its device gateways and the scenario's
  terminals in one world (:class:`~scenarios.connect_master.world.ConnectMasterWorld`, virtual
  time by default); clients reach the master through the in-process virtual channel.
* :class:`RemoteCmBed`: a master at ``address`` reached by ``grpc.aio`` with mutual TLS and the
  JWT ``token`` from Login. Terminals and faults go through the far side's world control
  (:mod:`scenarios.connect_master.control`) when it declares one. The harness keeps its own
  world in real time, scaled like the far side's, so "30 seconds pass" means 30 of the far
  side's seconds. Without world control, scenario terminals are bound to the endpoint's
  declared ``devices`` (:mod:`scenarios.connect_master.declared`); the endpoint's
  ``time_scale`` (default 1) then says how fast the far side's clock runs, and :meth:`start`
  undoes what earlier scenarios left on the declared gateway (accept filter emptied, declared
  devices' async connections deleted and their other connections dropped).

Scenario names map onto the SUT's (:meth:`CmBed.gateway`, :meth:`CmBed.tenant`):
``tenant-a``/``gw-a`` are the declared tenant and gateway, ``tenant-b``/``gw-b`` the optional
``other_tenant``, ``administrator`` the optional ``admin`` credentials; ``binding`` turns
scenario device IDs and addresses into the declared devices' (identity otherwise).

Nodes are named by text: a terminal by its device ID (``"1601"``), an RS485 slave reader of a
terminal by ``"<device ID>/<slave ID>"`` (``"1601/5001"``). Terminals are wired to one device
gateway's subnet and have no position, so :meth:`move` raises :class:`BedError`.

Faults (:meth:`CmBed.inject`, each traced in layer ``fault`` on its target):

====================  ========================================================================
``gateway_restart``   ``target``: a device gateway; its process restarts and links to the
                      master again (BedError if it does not within 30 s)
``master_restart``    the master restarts (its database stays) and every gateway links again
``unplug``            ``target``: a terminal; its cable is pulled: packets vanish silently
``replug``            ``target``: a terminal; its cable is plugged in again
====================  ========================================================================
"""

from __future__ import annotations

import abc
import asyncio
import json
import time
from collections.abc import Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import grpc

from devices.gateways.connect_master.device_gateway import DeviceGateway
from devices.gateways.connect_master.grpc_wire import master_stubs, secure_channel
from devices.gateways.connect_master.master import ADMIN
from devices.gateways.connect_master.protos import connect_pb2 as pb
from devices.gateways.connect_master.tokens import redact
from devices.protocols.http_client import HttpClient
from devices.protocols.x509 import Credential
from devices.terminals.terminal import Terminal
from scenarios.bed import BedError, WorldBed, write_json_lines
from scenarios.captures import IP, TLS_KEYS, EvidenceCaptures
from scenarios.connect_master.client import MasterClient
from scenarios.connect_master.declared import DeclaredTerminal, DeviceBinding
from scenarios.connect_master.placement import TerminalSpec
from scenarios.connect_master.world import LINK_WAIT_S, ConnectMasterWorld
from scenarios.connect_master.worlds import GatewaySpec, default_world
from sim.clock import REAL, VIRTUAL
from sim.world import World

T = TypeVar("T")
DEFAULT_TENANT = "tenant-a"
SUBSCRIBE_SETTLE_S = 5.0


def terminal_name(device_id: int) -> str:
    return str(device_id)


def slave_name(device_id: int, slave_id: int) -> str:
    return f"{device_id}/{slave_id}"


def parse_name(name: str | int) -> tuple[int, int | None]:
    """(device ID, slave ID or None) of a node name (see the module docstring)."""
    parts = str(name).split("/")
    if len(parts) > 2 or not all(p.isdigit() for p in parts):
        raise BedError(
            f"node name {name!r} not understood; accepted: a terminal's device ID ('1601') "
            "or '<device ID>/<slave ID>' for an RS485 slave reader ('1601/5001')"
        )
    return int(parts[0]), int(parts[1]) if len(parts) == 2 else None


class CmBed(WorldBed, abc.ABC):
    """What both Connect Master beds offer (see the module docstring)."""

    faults: tuple[str, ...] = ("gateway_restart", "master_restart", "unplug", "replug")
    remote: bool
    binding: DeviceBinding
    reconnect_s: float  # the device gateways' async reconnect interval
    unix_start: int | None  # the SUT's Unix time at the start (None: unknown)

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        return self.world.spawn(coro)

    @abc.abstractmethod
    async def start(self) -> None: ...

    @abc.abstractmethod
    def client(self, name: str | None = None) -> MasterClient:
        """A client of the master for tenant ``name`` (``tenant-a`` by default), not logged in."""

    @abc.abstractmethod
    async def place(self, spec: dict[str, Any]) -> int:
        """Put a terminal (:mod:`scenarios.connect_master.placement`) in the world, powered on;
        return its device ID."""

    @abc.abstractmethod
    async def set_power(self, name: str, on: bool) -> None: ...

    @abc.abstractmethod
    async def terminal_state(self, device_id: int) -> dict[str, Any]:
        """Its configuration, power and session counters (``maxSessions``: the most
        connections it ever held at once)."""

    @abc.abstractmethod
    async def search_slaves(self, device_id: int) -> list[int]:
        """The terminal searches its RS485 line; the slave IDs it found."""

    @abc.abstractmethod
    async def subscribed(self, call: Any) -> None:
        """Until a status subscription is live (or a bounded while)."""

    @abc.abstractmethod
    def status_log(self, gateway: str) -> list[tuple[float, int, int]]:
        """The device gateway's own (world time, device ID, status) log: the ground truth of
        the status stream, known in the builtin world only."""

    def gateway(self, name: str) -> str:
        """The SUT's ID of scenario gateway ``name``."""
        return name

    def tenant(self, name: str) -> str:
        """The SUT's ID of scenario tenant ``name``."""
        return name

    async def move(self, name: str, position: list[float]) -> None:
        raise BedError(
            f"terminal {name!r} has no position: a terminal is wired to one device gateway's "
            "subnet and does not move"
        )

    async def inject(self, fault: str, **args: Any) -> None:
        if fault not in self.faults:
            return await super().inject(fault, **args)  # BedError naming the faults we have
        target = "master" if fault == "master_restart" else args.get("target")
        if target is None or target == "":
            raise BedError(f"fault {fault!r} needs a target (a gateway or a terminal)")
        details = {k: v for k, v in args.items() if k != "target"}
        self.world.trace.emit(str(target), "fault", fault, **details)
        await self._inject(fault, str(target))

    @abc.abstractmethod
    async def _inject(self, fault: str, target: str) -> None: ...


class LocalCmBed(CmBed):
    """The builtin master gateway, device gateways and terminals in one world.

    ``capture_dir`` records the in-world IP links there as ``ip.pcapng``
    (:mod:`sim.ip_capture`): terminal <-> device gateway streams (the device protocol, TLS
    when SSL is on, its secrets in ``tls.keylog``) and device gateway <-> master uplinks. The
    tenants' gRPC calls to the master cross no wire in virtual time (the in-process
    ``VirtualStub``): what they did is in ``trace.jsonl`` and the status streams' evidence.
    ``deviations``: the ways the master and its device gateways misbehave on purpose
    (:mod:`devices.gateways.connect_master.deviations`; ``hil selfcheck``).
    """

    remote = False

    def __init__(
        self,
        seed: int = 1,
        clock: str = VIRTUAL,
        scale: float = 1.0,
        db_path: Path | str = ":memory:",
        gateways: tuple[GatewaySpec, ...] | None = None,
        reconnect_s: float | None = None,
        keep_trace: bool = True,
        capture_dir: Path | None = None,
        deviations: Sequence[str] = (),
    ) -> None:
        self.world = World(seed=seed, clock=clock, scale=scale, keep_trace=keep_trace)
        self.cm_world = ConnectMasterWorld(
            self.world, db_path, gateways, reconnect_s, deviations=deviations
        )
        self.pcaps = EvidenceCaptures(self.world, capture_dir)
        ip = self.pcaps.open("ip.pcapng", IP)
        if ip is not None:
            from sim.ip_capture import IpCapture  # scapy loads only when capturing

            IpCapture(self.cm_world.net, ip, keylog=self.pcaps.path("tls.keylog", TLS_KEYS))
        self.reconnect_s = self.cm_world.reconnect_s
        self.binding = DeviceBinding([])  # scenario IDs and addresses are the real ones
        self.unix_start = int(self.world.epoch.timestamp() + self.world.now)

    async def start(self) -> None:
        if not await self.cm_world.start():
            raise BedError(
                f"device gateways {sorted(self.cm_world.gateways)} did not all link to the "
                f"master within {LINK_WAIT_S:g} s"
            )

    def client(self, name: str | None = None) -> MasterClient:
        return self.cm_world.client(name or DEFAULT_TENANT)

    async def place(self, spec: dict[str, Any]) -> int:
        try:
            parsed = TerminalSpec.from_dict(spec, self.cm_world.specs)
            return self.cm_world.add_terminal(parsed).cfg.device_id
        except ValueError as exc:
            raise BedError(str(exc)) from None

    def _terminal(self, device_id: int) -> Terminal:
        try:
            return self.cm_world.terminal(device_id)
        except KeyError as exc:
            raise BedError(exc.args[0]) from None

    async def set_power(self, name: str, on: bool) -> None:
        device_id, slave_id = parse_name(name)
        if slave_id is None:
            terminal = self._terminal(device_id)
            terminal.power_on() if on else terminal.power_off()
            return
        try:
            self.cm_world.power_slave(device_id, slave_id, on)
        except KeyError as exc:
            raise BedError(exc.args[0]) from None

    async def terminal_state(self, device_id: int) -> dict[str, Any]:
        self._terminal(device_id)
        return self.cm_world.terminal_state(device_id)

    async def search_slaves(self, device_id: int) -> list[int]:
        return await self._terminal(device_id).search_slaves()

    async def subscribed(self, call: Any) -> None:
        await asyncio.sleep(0)  # the virtual stream is live once its task ran

    def status_log(self, gateway: str) -> list[tuple[float, int, int]]:
        return list(self._device_gateway(gateway).status_log)

    def _device_gateway(self, gateway: str) -> DeviceGateway:
        if gateway not in self.cm_world.gateways:
            raise BedError(
                f"no device gateway {gateway!r}; the world has {sorted(self.cm_world.gateways)}"
            )
        return self.cm_world.gateways[gateway]

    async def _inject(self, fault: str, target: str) -> None:
        world = self.cm_world
        if fault == "gateway_restart":
            self._device_gateway(target)
            if not await world.restart_gateway_and_wait(target):
                raise BedError(f"gateway {target!r} did not reconnect to the master after restart")
        elif fault == "master_restart":
            world.restart_master()
            if not await world.until(world.all_linked, LINK_WAIT_S):
                raise BedError("the device gateways did not link to the restarted master")
        else:
            device_id, _ = parse_name(target)
            self._terminal(device_id)
            world.plug(device_id, fault == "replug")

    def write_evidence(self, folder: Path) -> dict[str, str]:
        """Also ``ip.pcapng`` and ``tls.keylog`` when the bed captures (``capture_dir``)."""
        files = super().write_evidence(folder)
        files.update(self.pcaps.write_evidence(folder))
        return files

    def close(self) -> None:
        self.pcaps.close()
        super().close()


def _read(path: Any, what: str) -> bytes:
    if not path:
        raise BedError(f"the connect-master endpoint declares no {what!r} file")
    try:
        return Path(str(path)).read_bytes()
    except OSError as exc:
        raise BedError(f"connect-master endpoint {what} {path}: {exc}") from None


def _cred(block: Mapping[str, Any], where: str) -> Credential:
    return Credential(
        _read(block.get("cert"), f"{where}.cert"), _read(block.get("key"), f"{where}.key")
    )


def _time_scale(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise BedError(
            f"connect-master endpoint time_scale {value!r} not accepted; accepted: a "
            "number > 0 (far-side seconds per wall second, 1 for real equipment)"
        )
    return float(value)


class RemoteCmBed(CmBed):
    """An external master gateway over the real gRPC wire (``endpoint``: the SUT
    declaration's ``connect-master`` endpoint; ``devices``: its declared terminals)."""

    remote = True

    def __init__(
        self,
        endpoint: Mapping[str, Any],
        seed: int = 1,
        devices: list[DeclaredTerminal] | None = None,
    ) -> None:
        self.address = str(endpoint.get("address") or "")
        if not self.address:
            raise BedError("the connect-master endpoint declares no 'address' (host:port)")
        self.ca = _read(endpoint.get("ca"), "ca")
        self.control_url = str(endpoint.get("world_control") or "")
        self.time_scale = endpoint.get("time_scale", 1)
        self.tenants: dict[str, tuple[str, Credential]] = {
            DEFAULT_TENANT: (str(endpoint.get("tenant") or ""), _cred(endpoint, DEFAULT_TENANT))
        }
        self.gateways = {"gw-a": str(endpoint.get("gateway") or "gw-a")}
        other = endpoint.get("other_tenant")
        if isinstance(other, Mapping):
            self.tenants["tenant-b"] = (
                str(other.get("tenant") or ""),
                _cred(other, "other_tenant"),
            )
            self.gateways["gw-b"] = str(other.get("gateway") or "gw-b")
        admin = endpoint.get("admin")
        if isinstance(admin, Mapping):
            self.tenants[ADMIN] = (ADMIN, _cred(admin, "admin"))
        self.world = World(seed=seed, clock=REAL)
        self.reconnect_s = default_world().reconnect_s
        self.binding = DeviceBinding(devices or [])
        self.channels: list[grpc.aio.Channel] = []
        self.far_start = 0.0
        # The far side's Unix time at the start; unknown without world control (a served
        # simulation's calendar need not be the wall clock's).
        self.unix_start = None if devices and not self.control_url else int(time.time())

    async def start(self) -> None:
        """Reset the far side's world (world control), or undo what earlier scenarios left on
        the declared devices."""
        if self.control_url:
            far = await self._control("GET", "/world")
            self.world.loop.scale = float(far.get("scale") or 1.0)
            await self._control("POST", "/world/reset")
            far = await self._control("GET", "/world")
            self.far_start, self.unix_start = float(far["time"]), int(far["unix"])
        elif self.binding.devices:
            self.world.loop.scale = _time_scale(self.time_scale)
            await self._reset_declared()

    def client(self, name: str | None = None) -> MasterClient:
        tenant = name or DEFAULT_TENANT
        if tenant not in self.tenants:
            raise BedError(
                f"the SUT declares no credentials for scenario tenant {tenant!r}; "
                f"declared: {sorted(self.tenants)}"
            )
        cred = self.tenants[tenant][1]
        channel = secure_channel(self.address, self.ca, cred.cert_pem, cred.key_pem)
        self.channels.append(channel)
        return MasterClient(*master_stubs(channel), cred, channel=channel)

    def gateway(self, name: str) -> str:
        return self.gateways.get(name, name)

    def scenario_gateways(self) -> set[str]:
        """The gateway names scenarios may use: the default world's, and the declared ones'."""
        return {g.gateway_id for g in default_world().gateways} | set(self.gateways)

    def tenant(self, name: str) -> str:
        return self.tenants[name][0] if name in self.tenants else name

    async def _control(self, method: str, path: str, body: Any = None) -> Any:
        if not self.control_url:
            raise BedError(
                "this SUT declares no world_control endpoint, so the harness cannot "
                "place or power terminals or restart gateways (declared devices "
                "only stand in for placed terminals)"
            )
        client = HttpClient(self.control_url, default_timeout=120.0)
        response = await client.request(method, path, json_body=body)
        if response.status >= 400:
            raise BedError(f"world control {method} {path} -> {response.status}: {response.text}")
        return response.json()

    async def _reset_declared(self) -> None:
        """Undo what earlier scenarios left on the declared gateway and devices."""
        client = self.client(DEFAULT_TENANT)
        await client.login()
        gw = self.gateway("gw-a")
        await client.call("SetAcceptFilter", gatewayID=gw, filter=pb.AcceptFilter())
        ours = {d.device_id for d in self.binding.devices}
        listed = (await client.call("GetDeviceList", gatewayID=gw)).deviceInfos
        managed = [d for d in listed if d.deviceID in ours]
        asyncs = [d.deviceID for d in managed if d.autoReconnect]
        if asyncs:
            await client.call("DeleteAsyncConnection", gatewayID=gw, deviceIDs=asyncs)
        for info in managed:
            if not info.autoReconnect:
                try:
                    await client.call("Disconnect", deviceIDs=[info.deviceID])
                except grpc.RpcError as exc:  # a d2s device the emptied filter dropped
                    if exc.code() != grpc.StatusCode.NOT_FOUND:
                        raise

    async def place(self, spec: dict[str, Any]) -> int:
        try:
            parsed = TerminalSpec.from_dict(spec, self.scenario_gateways())
        except ValueError as exc:
            raise BedError(str(exc)) from None
        if parsed.slave_readers:
            raise BedError(
                "the world-control API has no RS485 slave readers yet; scenarios tagged "
                "@needs:rs485-slave-bus run against the builtin world only"
            )
        if not self.control_url and self.binding.devices:
            self._bind(parsed)
        else:
            body = {**parsed.to_dict(), "gateway": self.gateway(parsed.gateway)}
            await self._control("POST", "/world/terminals", body)
        return parsed.device_id

    def _bind(self, spec: TerminalSpec) -> None:
        """Bind a scenario terminal to a declared device (nothing is placed)."""
        gateway = default_world().gateways[0]
        if spec.gateway != gateway.gateway_id or spec.rs485_slaves:
            raise BedError(
                f"declared devices stand behind {gateway.gateway_id!r} (the declared "
                f"gateway) without RS485 slaves; terminal {spec.device_id} asks for "
                f"{spec.gateway!r}, slaves {list(spec.rs485_slaves)}"
            )
        try:
            self.binding.bind(spec.device_id, gateway.host_ip(spec.host), spec.mode, spec.ssl)
        except ValueError as exc:
            raise BedError(str(exc)) from None

    async def set_power(self, name: str, on: bool) -> None:
        device_id, slave_id = parse_name(name)
        if slave_id is not None:
            raise BedError(
                "the world-control API has no RS485 slave readers yet; scenarios tagged "
                "@needs:rs485-slave-bus run against the builtin world only"
            )
        await self._control("POST", f"/world/terminals/{device_id}/power", {"on": on})

    async def terminal_state(self, device_id: int) -> dict[str, Any]:
        return dict(await self._control("GET", f"/world/terminals/{device_id}"))

    async def search_slaves(self, device_id: int) -> list[int]:
        raise BedError(
            "the world-control API cannot start a terminal's RS485 slave search yet; "
            "scenarios tagged @needs:rs485-slave-bus run against the builtin world only"
        )

    async def subscribed(self, call: Any) -> None:
        # Our master sends initial metadata once the subscription is live; another master may
        # send it with the first change only, so wait a bounded while.
        try:
            await asyncio.wait_for(call.initial_metadata(), SUBSCRIBE_SETTLE_S)
        except TimeoutError:
            pass

    def status_log(self, gateway: str) -> list[tuple[float, int, int]]:
        raise BedError(
            "a device gateway's own status log is known in the builtin world only "
            "(scenarios tagged @needs:load)"
        )

    async def _inject(self, fault: str, target: str) -> None:
        if fault == "gateway_restart":
            path = f"/world/gateways/{self.gateway(target)}/restart"
        elif fault == "master_restart":
            path = "/world/master/restart"
        else:
            device_id, _ = parse_name(target)
            plugged = fault == "replug"
            await self._control("POST", f"/world/terminals/{device_id}/cable", {"plugged": plugged})
            return
        reply = await self._control("POST", path)
        if not reply.get("reconnected"):
            what = "the master" if fault == "master_restart" else f"gateway {target!r}"
            raise BedError(f"{what}: the device gateways did not link again after the restart")

    def write_evidence(self, folder: Path) -> dict[str, str]:
        """Also ``sut-world-trace.jsonl``: the far side's timeline over the scenario (world
        control only; best effort)."""
        files = super().write_evidence(folder)
        if self.control_url:
            try:
                rows = self.run(self._control("GET", f"/world/trace?since={self.far_start}"))
            except Exception:  # evidence is best effort; the scenario's outcome stands
                return files
            rows = json.loads(redact(json.dumps(rows)))  # the far side's, tokens never kept
            write_json_lines(folder / "sut-world-trace.jsonl", rows)
            files["sut-world-trace.jsonl"] = "far-side timeline"
        return files

    def close(self) -> None:
        if not self.world.closed:
            for channel in self.channels:
                try:
                    self.run(channel.close())
                except Exception:  # closing must not mask the scenario's own outcome
                    pass
        super().close()
