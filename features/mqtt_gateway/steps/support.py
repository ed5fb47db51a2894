"""What the MQTT steps share: the scenario's context, step text with JSON in it, waiting in
world time, and device names as the SUT knows them.

Scenarios name their devices ``Device A``, ``Device B``...; on a long-lived outside platform
each bed gives them a suffix of its own (:meth:`PlatformBed.name`), and :meth:`Ctx.named`
rewrites every such name inside a payload, keys included, so a step can still compare payloads
with the seed's examples.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import parse as _parse
from pytest_bdd import parsers

from features.steps.text import TYPES
from scenarios.mqtt_gateway.bed import GatewayBed, MqttBed, PlatformBed
from scenarios.mqtt_gateway.platform_control import RpcOutcome

DEVICE_NAME = re.compile(r"^Device [A-Z0-9]+$")


@_parse.with_pattern(r"[\[{].*[\]}]")
def _json(text: str) -> Any:
    return json.loads(text)


@_parse.with_pattern(r"0x[0-9A-Fa-f]{2}")
def _hex(text: str) -> int:
    return int(text, 16)


def mqtt_step(pattern: str) -> parsers.parse:
    """A step pattern with the shared types (:func:`features.steps.text.step_text`) plus
    ``{x:J}`` (inline JSON) and ``{x:X}`` (a reason code like ``0x99``)."""
    return parsers.parse(pattern, extra_types={**TYPES, "J": _json, "X": _hex})


@dataclass
class Ctx:
    """One scenario's state."""

    bed: MqttBed
    answers: list[Any] = field(default_factory=list)  # the platform's answers, last last
    connacks: dict[str, int] = field(default_factory=dict)
    rpc: RpcOutcome | None = None
    rpc_mark: int = 0  # the transcript's length when the last RPC was sent
    mark: int = 0  # the transcript's length when the last fault or change began
    since_t: float = 0.0  # the world time a change the Then steps look at began
    refused_at: int = 0  # the transcript's length when refusals were planned

    @property
    def platform_bed(self) -> PlatformBed:
        if not isinstance(self.bed, PlatformBed):
            raise TypeError(f"a platform-role step on {type(self.bed).__name__}")
        return self.bed

    @property
    def gateway_bed(self) -> GatewayBed:
        if not isinstance(self.bed, GatewayBed):
            raise TypeError(f"a gateway-role step on {type(self.bed).__name__}")
        return self.bed

    def named(self, value: Any) -> Any:
        """``value`` with every scenario device name as the SUT knows it."""
        bed = self.bed
        if not isinstance(bed, PlatformBed):
            return value
        if isinstance(value, str):
            return bed.name(value) if DEVICE_NAME.match(value) else value
        if isinstance(value, dict):
            return {self.named(k): self.named(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.named(v) for v in value]
        return value

    def run(self, coro: Any) -> Any:
        return self.bed.run(coro)

    def wait_until(self, probe: Callable[[], Any], seconds: float, step: float = 0.1) -> Any:
        """``probe()`` once truthy, checked every ``step`` world seconds for ``seconds``; the
        last (falsy) value if it never became true."""

        async def poll() -> Any:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + seconds
            while True:
                value = probe()
                if value or loop.time() >= deadline:
                    return value
                await asyncio.sleep(step)

        return self.run(poll())

    def wait_async(self, probe: Callable[[], Any], seconds: float, step: float = 0.5) -> Any:
        """As :meth:`wait_until`, for an async ``probe``."""

        async def poll() -> Any:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + seconds
            while True:
                value = await probe()
                if value or loop.time() >= deadline:
                    return value
                await asyncio.sleep(step)

        return self.run(poll())


def names(text: str) -> list[str]:
    """``"a", "b" and "c"`` -> [a, b, c]."""
    return re.findall(r'"([^"]*)"', text)
