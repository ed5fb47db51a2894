"""What every simulated Device2 device shares: who it is, how it authenticates, what it saw,
and the values it reports.

A device notes each thing that happens to it as a :class:`Happening` (world time, what,
details): provisioned, connected, sending (a write on its way), wrote (the service acknowledged
it), received, acknowledged, refused, stopped. Tests and
evidence read :attr:`SimDevice.log`; nothing else of a device is reached from outside.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from devices.protocols.x509 import Credential
from sim.world import World

AUTH_KINDS = ("token", "password", "certificate")
Values = Callable[[int, float], Mapping[str, Any]]
"""The values a device reports at its ``n``-th report, at world time ``t``."""


@dataclass(frozen=True)
class DeviceSpec:
    """One device: its identity (None: it asks the service for one), its authentication,
    its in-world IP address and (MQTT) its client id."""

    identity: str | None
    auth: str = "token"
    password: str | None = None
    certificate: Credential | None = None
    ip: str = "192.0.2.10"
    client_id: str = ""

    def __post_init__(self) -> None:
        if self.auth not in AUTH_KINDS:
            raise ValueError(f"auth {self.auth!r} not accepted; accepted: {', '.join(AUTH_KINDS)}")
        if self.auth == "password" and not self.password:
            raise ValueError("password auth needs a password (at least 20 bytes)")
        if self.auth == "certificate" and self.certificate is None:
            raise ValueError("certificate auth needs a client certificate")


@dataclass(frozen=True)
class Happening:
    at: float
    what: str
    detail: dict[str, Any] = field(default_factory=dict)


class Refusal(Exception):
    """The service said no: ``what`` was refused with ``code`` (an HTTP status or a CONNACK /
    MQTT reason) and ``message``."""

    def __init__(self, what: str, code: int, message: str = "") -> None:
        super().__init__(f"{what} refused ({code}): {message}".rstrip(": "))
        self.what, self.code, self.message = what, code, message


def temperature(rng: random.Random, alias: str = "temperature") -> Values:
    """A reading drifting around 21 °C, drawn from ``rng`` (the world's seeded stream)."""

    def values(n: int, _t: float) -> Mapping[str, Any]:
        return {alias: round(21.0 + rng.uniform(-0.5, 0.5) + 0.01 * n, 2)}

    return values


class SimDevice:
    """Identity, credentials and log, common to the HTTP and MQTT devices."""

    protocol = ""

    def __init__(self, world: World, spec: DeviceSpec) -> None:
        self.world = world
        self.spec = spec
        self.identity: str | None = spec.identity
        self.token: str | None = None
        self.log: list[Happening] = []
        self.applied: dict[str, str] = {}
        """The ``set`` values the device received and acted on, by alias."""
        self.stopped: Refusal | None = None
        self.auto_ack = True
        """Acknowledge each received ``set`` by writing it back (the device API's rule)."""

    def note(self, what: str, **detail: Any) -> None:
        self.log.append(Happening(round(self.world.now, 6), what, detail))

    def seen(self, what: str) -> list[Happening]:
        return [h for h in self.log if h.what == what]

    def _default_values(self) -> Values:
        return temperature(self.world.rng(f"device2/{self.protocol}/{self.spec.ip}"))

    async def every(self, period_s: float, cycles: int | None, act: Callable[[int], Any]) -> None:
        """``await act(n)`` for n = 0, 1, ... every ``period_s`` of world time (``cycles``
        times, or for ever)."""
        n = 0
        while cycles is None or n < cycles:
            await act(n)
            n += 1
            if cycles is None or n < cycles:
                await asyncio.sleep(period_s)
