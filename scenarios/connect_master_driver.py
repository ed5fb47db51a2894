"""What the connect-master steps drive: the builtin world in-process, or an external master
gateway over the real gRPC wire. Both give the same :class:`MasterClient` interface.

* :class:`LocalCm`: a :class:`ConnectMasterBed` (virtual time by default); clients reach the
  master through :class:`rpc.VirtualStub`.
* :class:`RemoteCm`: a master at ``address`` reached by ``grpc.aio`` with mutual TLS and the
  JWT ``token`` from Login; terminals and faults go through the far side's world control
  (:mod:`scenarios.cm_control`) when it declares one. The harness keeps its own world in real
  time (scaled like the far side's, so "30 seconds pass" means 30 of the far side's seconds).
  Without world control, scenario terminals are bound to the endpoint's declared ``devices``
  (:mod:`scenarios.cm_declared`); the endpoint's ``time_scale`` (default 1) then says how fast
  the far side's clock runs, and each scenario starts by undoing what earlier ones left on the
  declared gateway (accept filter emptied, declared devices' async connections deleted and
  their other connections dropped).

Scenario names map onto the SUT's: ``tenant-a``/``gw-a`` are the declared tenant and gateway,
``tenant-b``/``gw-b`` the optional ``other_tenant``, ``admin`` the optional ``admin``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Coroutine, Mapping
from pathlib import Path
from typing import Any, TypeVar

import grpc

from devices.gateways.connect_master.grpc_wire import master_stubs, secure_channel
from devices.gateways.connect_master.protos import connect_pb2 as pb
from devices.protocols.http_client import HttpClient
from devices.protocols.x509 import Credential
from scenarios.cm_declared import DeclaredTerminal, DeviceBinding
from scenarios.connect_master_bed import DEFAULT_GATEWAYS, ConnectMasterBed, MasterClient
from sim.clock import REAL
from sim.world import World

T = TypeVar("T")
SUBSCRIBE_SETTLE_S = 5.0


class CmError(RuntimeError):
    """The harness cannot do what a step asks of this SUT (names what is missing)."""


class LocalCm:
    """The builtin master gateway, device gateways and terminals in one world."""

    remote = False

    def __init__(self, bed: ConnectMasterBed) -> None:
        self.bed = bed
        self.world = bed.world
        self.binding = DeviceBinding([])  # scenario IDs and addresses are the real ones
        self.unix_start: int | None = int(bed.world.epoch.timestamp() + bed.now)

    def run(self, awaitable: Awaitable[T]) -> T:
        return self.bed.run(awaitable)

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        return self.world.spawn(coro)

    def client(self, tenant: str) -> MasterClient:
        return self.bed.client(tenant)

    def gateway(self, name: str) -> str:
        return name

    def add_terminal(self, device_id: int, gateway: str, host: int, **config: Any) -> None:
        self.bed.add_terminal(device_id, gateway, host, **config)

    def power(self, device_id: int, on: bool) -> None:
        t = self.bed.terminals[device_id]
        t.power_on() if on else t.power_off()

    def plug(self, device_id: int, plugged: bool) -> None:
        self.bed.plug(device_id, plugged)

    def power_slave(self, device_id: int, slave_id: int, on: bool) -> None:
        self.bed.power_slave(device_id, slave_id, on)

    def search_slaves(self, device_id: int) -> list[int]:
        return self.run(self.bed.terminals[device_id].search_slaves())

    def tenant(self, name: str) -> str:
        return name

    def pass_time(self, seconds: float) -> None:
        self.world.run_for(seconds)

    async def subscribed(self, call: Any) -> None:
        await asyncio.sleep(0)

    def restart_gateway(self, gateway: str) -> None:
        pushes = self.bed.master.pushes
        self.bed.restart_gateway(gateway)
        self.run(self.bed.until(lambda: self.bed.master.pushes > pushes, 30.0))

    def restart_master(self) -> None:
        self.bed.restart_master()
        self.run(self.bed.until(lambda: len(self.bed.master.links) == len(self.bed.gateways), 30.0))

    def max_sessions(self, device_id: int) -> int:
        return self.bed.terminals[device_id].max_sessions

    def write_evidence(self, folder: Path) -> None:
        (folder / "trace.jsonl").write_text(self.world.trace.dump(), encoding="utf-8")

    def close(self) -> None:
        self.bed.close()


def _read(path: Any, what: str) -> bytes:
    if not path:
        raise CmError(f"the connect-master endpoint declares no {what!r} file")
    try:
        return Path(str(path)).read_bytes()
    except OSError as exc:
        raise CmError(f"connect-master endpoint {what} {path}: {exc}") from None


class RemoteCm:
    """An external master gateway over the real gRPC wire."""

    remote = True

    def __init__(
        self,
        endpoint: Mapping[str, Any],
        seed: int = 1,
        devices: list[DeclaredTerminal] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.address = str(endpoint.get("address") or "")
        if not self.address:
            raise CmError("the connect-master endpoint declares no 'address' (host:port)")
        self.ca = _read(endpoint.get("ca"), "ca")
        self.control_url = str(endpoint.get("world_control") or "")
        self.world = World(seed=seed, clock=REAL)
        self._tenants: dict[str, tuple[str, Credential]] = {
            "tenant-a": (str(endpoint.get("tenant") or ""), self._cred(endpoint, "tenant-a"))
        }
        self._gateways = {"gw-a": str(endpoint.get("gateway") or "gw-a")}
        other = endpoint.get("other_tenant")
        if isinstance(other, Mapping):
            self._tenants["tenant-b"] = (
                str(other.get("tenant") or ""),
                self._cred(other, "other_tenant"),
            )
            self._gateways["gw-b"] = str(other.get("gateway") or "gw-b")
        admin = endpoint.get("admin")
        if isinstance(admin, Mapping):
            self._tenants["admin"] = ("admin", self._cred(admin, "admin"))
        self._channels: list[grpc.aio.Channel] = []
        self.binding = DeviceBinding(devices or [])
        self.far_start = 0.0
        # Unix time of the far side at the start; unknown without world control (a served
        # simulation's calendar need not be the wall clock's).
        self.unix_start: int | None = None if devices and not self.control_url else int(time.time())
        if self.control_url:
            far = self.run(self._control("GET", "/world"))
            self.world.loop.scale = float(far.get("scale") or 1.0)
            self.run(self._control("POST", "/world/reset"))
            far = self.run(self._control("GET", "/world"))
            self.far_start, self.unix_start = float(far["time"]), int(far["unix"])
        elif devices:
            self.world.loop.scale = _time_scale(endpoint.get("time_scale", 1))
            self.run(self._reset_declared())

    @staticmethod
    def _cred(block: Mapping[str, Any], where: str) -> Credential:
        return Credential(
            _read(block.get("cert"), f"{where}.cert"), _read(block.get("key"), f"{where}.key")
        )

    def run(self, awaitable: Awaitable[T]) -> T:
        return self.world.run(awaitable)

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        return self.world.spawn(coro)

    def client(self, tenant: str) -> MasterClient:
        if tenant not in self._tenants:
            raise CmError(
                f"the SUT declares no credentials for scenario tenant {tenant!r}; "
                f"declared: {sorted(self._tenants)}"
            )
        cred = self._tenants[tenant][1]
        channel = secure_channel(self.address, self.ca, cred.cert_pem, cred.key_pem)
        self._channels.append(channel)
        return MasterClient(*master_stubs(channel), cred, channel=channel)

    def gateway(self, name: str) -> str:
        return self._gateways.get(name, name)

    async def _control(self, method: str, path: str, body: Any = None) -> Any:
        if not self.control_url:
            raise CmError(
                "this SUT declares no world_control endpoint, so the harness cannot "
                "place or power terminals or restart gateways (declared devices "
                "only stand in for placed terminals)"
            )
        client = HttpClient(self.control_url, default_timeout=120.0)
        response = await client.request(method, path, json_body=body)
        if response.status >= 400:
            raise CmError(f"world control {method} {path} -> {response.status}: {response.text}")
        return response.json()

    async def _reset_declared(self) -> None:
        """Undo what earlier scenarios left on the declared gateway and devices."""
        client = self.client("tenant-a")
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

    def add_terminal(self, device_id: int, gateway: str, host: int, **config: Any) -> None:
        if not self.control_url and self.binding.devices:
            self._bind(device_id, gateway, host, **config)
            return
        body = {
            "deviceID": device_id,
            "gateway": self.gateway(gateway),
            "host": host,
            "mode": config.get("mode", 0),
            "ssl": config.get("ssl", False),
            "rs485Slaves": config.get("rs485_slaves", []),
        }
        self.run(self._control("POST", "/world/terminals", body))

    def _bind(self, device_id: int, gateway: str, host: int, **config: Any) -> None:
        spec = DEFAULT_GATEWAYS[0]
        if gateway != spec.gateway_id or config.get("rs485_slaves"):
            raise CmError(
                f"declared devices stand behind {spec.gateway_id!r} (the declared "
                f"gateway) without RS485 slaves; terminal {device_id} asks for "
                f"{gateway!r}, slaves {config.get('rs485_slaves') or []}"
            )
        scenario_ip = f"{spec.ip.rsplit('.', 1)[0]}.{host}"
        try:
            self.binding.bind(
                device_id, scenario_ip, int(config.get("mode", 0)), bool(config.get("ssl", False))
            )
        except ValueError as exc:
            raise CmError(str(exc)) from None

    def power(self, device_id: int, on: bool) -> None:
        self.run(self._control("POST", f"/world/terminals/{device_id}/power", {"on": on}))

    def plug(self, device_id: int, plugged: bool) -> None:
        self.run(self._control("POST", f"/world/terminals/{device_id}/cable", {"plugged": plugged}))

    def power_slave(self, device_id: int, slave_id: int, on: bool) -> None:
        raise CmError(
            "the world-control API has no RS485 slave readers yet; scenarios tagged "
            "@needs:rs485-slave-bus run against the builtin world only"
        )

    def search_slaves(self, device_id: int) -> list[int]:
        raise CmError(
            "the world-control API cannot start a terminal's RS485 slave search yet; "
            "scenarios tagged @needs:rs485-slave-bus run against the builtin world only"
        )

    def tenant(self, name: str) -> str:
        return self._tenants[name][0] if name in self._tenants else name

    def pass_time(self, seconds: float) -> None:
        self.world.run_for(seconds)

    async def subscribed(self, call: Any) -> None:
        # Our master sends initial metadata once the subscription is live; another master may
        # send it with the first change only, so wait a bounded while.
        try:
            await asyncio.wait_for(call.initial_metadata(), SUBSCRIBE_SETTLE_S)
        except TimeoutError:
            pass

    def restart_gateway(self, gateway: str) -> None:
        reply = self.run(self._control("POST", f"/world/gateways/{self.gateway(gateway)}/restart"))
        if not reply.get("reconnected"):
            raise CmError(f"gateway {gateway!r} did not reconnect to the master after restart")

    def restart_master(self) -> None:
        self.run(self._control("POST", "/world/master/restart"))

    def max_sessions(self, device_id: int) -> int:
        return int(self.run(self._control("GET", f"/world/terminals/{device_id}"))["maxSessions"])

    def write_evidence(self, folder: Path) -> None:
        if not self.control_url:
            return
        try:
            rows = self.run(self._control("GET", f"/world/trace?since={self.far_start}"))
        except Exception:  # evidence is best effort; the scenario's outcome stands
            return
        (folder / "sut-world-trace.jsonl").write_text(
            "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows), encoding="utf-8"
        )

    def close(self) -> None:
        for channel in self._channels:
            self.run(channel.close())
        self.world.close()


def _time_scale(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise CmError(
            f"connect-master endpoint time_scale {value!r} not accepted; accepted: a "
            "number > 0 (far-side seconds per wall second, 1 for real equipment)"
        )
    return float(value)


CmDriver = LocalCm | RemoteCm
