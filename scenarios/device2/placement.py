"""Simulated Device2 devices as a bed places them: the spec a scenario (or world control, or a
world file) gives, and the running device it becomes.

A placement spec is a mapping::

    {"name": "d1",                  # the bed's name for it (required)
     "identity": "dev1",            # null: the device asks the service to generate one
     "protocol": "http",            # http | mqtt
     "auth": "token",               # token | password | certificate (certificate: local bed)
     "password": "...",             # password auth: at least 20 bytes
     "ip": "192.0.2.10",            # its address in the world
     "period_s": 10, "cycles": null,  # report every period_s, cycles times (null: for ever)
     "alias": "temperature",        # the resource it reports
     "start": 1, "step": 1,         # values start + n*step (no start: a drifting temperature)
     "watch": ["config_io"],        # HTTP: aliases it long-polls for sets (MQTT gets pushes)
     "delay_s": 0,                  # waits this long after power-on before it starts
     "powered": true}               # false: placed, switched off

A device runs its own schedule once powered (:class:`Placed`): provision, then report and take
sets; power off cancels it and drops its connection. :class:`SocketNet` lets the same devices
dial real sockets (an outside service) instead of in-world links.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from devices.cloud.device2.device_clients import (
    DeviceSpec,
    HttpDevice,
    MqttDevice,
    SimDevice,
    temperature,
)
from devices.cloud.device2.device_clients.common import AUTH_KINDS, Values
from sim.world import World

PROTOCOLS = ("http", "mqtt")
MAX_NAME = 64


class PlacementError(ValueError):
    """A placement spec that cannot be used; the message names the field and what is accepted."""


@dataclass(frozen=True)
class Placement:
    """One device as a scenario describes it (see the module docstring)."""

    name: str
    identity: str | None
    protocol: str = "http"
    auth: str = "token"
    password: str | None = None
    ip: str = "192.0.2.10"
    period_s: float = 10.0
    cycles: int | None = None
    alias: str = "temperature"
    start: float | None = None
    step: float = 1.0
    watch: tuple[str, ...] = ()
    delay_s: float = 0.0
    powered: bool = True
    client_id: str = ""

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> Placement:
        if not isinstance(spec, Mapping):
            raise PlacementError(f"a device spec is a mapping, got {spec!r}")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(spec) - known)
        if unknown:
            raise PlacementError(
                f"unknown field(s) {', '.join(unknown)}; accepted: {', '.join(sorted(known))}"
            )
        name = spec.get("name")
        if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME or "/" in name:
            raise PlacementError(
                f"name must be a text of 1 to {MAX_NAME} characters without '/', got {name!r}"
            )
        identity = spec.get("identity", name)
        _check(
            identity is None or (isinstance(identity, str) and identity),
            "identity",
            identity,
            "a non-empty text or null",
        )
        _choice(spec, "protocol", PROTOCOLS)
        _choice(spec, "auth", AUTH_KINDS)
        for key in ("period_s", "delay_s", "step"):
            if key in spec:
                _check(_number(spec[key]) and spec[key] >= 0, key, spec[key], "a number >= 0")
        if "start" in spec:
            _check(
                spec["start"] is None or _number(spec["start"]),
                "start",
                spec["start"],
                "a number or null",
            )
        cycles = spec.get("cycles")
        _check(
            cycles is None
            or (isinstance(cycles, int) and not isinstance(cycles, bool) and cycles >= 0),
            "cycles",
            cycles,
            "a whole number or null",
        )
        watch = spec.get("watch", [])
        _check(
            isinstance(watch, list) and all(isinstance(a, str) and a for a in watch),
            "watch",
            watch,
            "a list of aliases",
        )
        for key in ("ip", "alias", "client_id"):
            if key in spec:
                _check(isinstance(spec[key], str), key, spec[key], "a text")
        if "powered" in spec:
            _check(isinstance(spec["powered"], bool), "powered", spec["powered"], "true or false")
        password = spec.get("password")
        if spec.get("auth") == "password":
            _check(
                isinstance(password, str) and len(password.encode()) >= 20,
                "password",
                password,
                "a text of at least 20 bytes for password auth",
            )
        values = {k: v for k, v in spec.items() if k in known}
        values["watch"] = tuple(watch)
        values["identity"] = identity
        return cls(**values)

    def values(self, world: World) -> Values:
        """What the device reports at its n-th report."""
        if self.start is None:
            return temperature(world.rng(f"device2/{self.name}"), self.alias)
        start, step, alias = self.start, self.step, self.alias

        def counted(n: int, _t: float) -> Mapping[str, Any]:
            value = start + n * step
            return {alias: int(value) if float(value).is_integer() else value}

        return counted

    def spec(self, certificate: Any = None) -> DeviceSpec:
        return DeviceSpec(
            self.identity,
            auth=self.auth,
            password=self.password,
            certificate=certificate,
            ip=self.ip,
            client_id=self.client_id,
        )


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check(ok: bool, key: str, value: Any, accepted: str) -> None:
    if not ok:
        raise PlacementError(f"{key} is {value!r}; accepted: {accepted}")


def _choice(spec: Mapping[str, Any], key: str, choices: tuple[str, ...]) -> None:
    if key in spec:
        _check(spec[key] in choices, key, spec[key], "one of " + ", ".join(choices))


@dataclass
class Placed:
    """A placed device and the task running its schedule while it is powered."""

    placement: Placement
    device: HttpDevice | MqttDevice
    world: World
    task: asyncio.Task[None] | None = None
    powered_at: list[float] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.placement.name

    @property
    def powered(self) -> bool:
        return self.task is not None and not self.task.done()

    def power_on(self) -> None:
        if self.powered:
            return
        self.powered_at.append(self.world.now)
        self.device.note("powered", on=True)
        self.task = self.world.spawn(self._run(), f"device2/{self.name}")

    async def _run(self) -> None:
        p = self.placement
        if p.delay_s:
            await asyncio.sleep(p.delay_s)
        self.device.note("started")
        values = p.values(self.world)
        if isinstance(self.device, HttpDevice):
            await self.device.run(p.period_s, values, watch=p.watch, cycles=p.cycles)
        else:
            await self.device.run(p.period_s, values, cycles=p.cycles)

    async def power_off(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None
        if isinstance(self.device, MqttDevice):
            self.device.link.close()
        self.device.note("powered", on=False)

    def report(self) -> dict[str, Any]:
        """What the device tells of itself: who it is, what it did, what it was refused."""
        d = self.device
        return {
            "name": self.name,
            "identity": d.identity,
            "protocol": self.placement.protocol,
            "powered": self.powered,
            "provisioned": d.token is not None or bool(d.seen("provisioned")),
            "applied": dict(d.applied),
            "stopped": None
            if d.stopped is None
            else {"code": d.stopped.code, "what": d.stopped.what},
            "log": [{"t": h.at, "what": h.what, **h.detail} for h in d.log],
        }


def written_values(device: SimDevice, sent: bool = False) -> list[tuple[float, dict[str, Any]]]:
    """Every write the service acknowledged to ``device`` (with ``sent``: every write it sent,
    acknowledged or not): (world time, values)."""
    if sent:
        return [(h.at, dict(h.detail["values"])) for h in device.log if h.what == "sending"]
    return [
        (h.at, dict(h.detail["values"]))
        for h in device.log
        if h.what == "wrote" and h.detail.get("status", 204) in (200, 204)
    ]


class SocketNet:
    """The two dialling calls of :class:`sim.iplink.IpNetwork` on real sockets, so the
    simulated devices can talk to an outside service (their in-world address is not used)."""

    async def open_connection(
        self, host: str, port: int, client_host: str = "", limit: int = 2**16
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(host, port, limit=limit)

    async def create_connection(
        self, factory: Any, host: str, port: int, client_host: str = ""
    ) -> tuple[asyncio.BaseTransport, Any]:
        return await asyncio.get_running_loop().create_connection(factory, host, port)
