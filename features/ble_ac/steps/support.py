"""What the access controller's step modules share: the scenario context (the BLE router's
:class:`~features.ble_router.steps.support.Ctx`, which already holds HTTP answers, SSE stream
recorders and placed peripherals, extended with the controller's routers, tokens and
positions), and small helpers.

Routers are named in steps by the bed's names (``A``, ``B``, ``C``); peripherals are placed
relative to a router (``2 m from router "A"``), on a bearing of their own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from conformance.evidence import expect
from features.ble_router.steps.support import (  # noqa: F401  (re-exported)
    Ctx,
    LastRequest,
    Received,
    StreamRecorder,
    norm_mac,
    query_dict,
    step_text,
)
from scenarios.bed import BedError
from scenarios.ble_ac.bed import AcBed

COMBINED = "combined"
HUB_STATUS = "hubStatus"
# the seed's router status fields (GET /api/cassia/hubs[/<mac>])
HUB_FIELDS = (
    "_id",
    "id",
    "mac",
    "name",
    "group",
    "status",
    "model",
    "version",
    "position",
    "time",
    "ip",
    "localip",
    "uptime",
    "offline_time",
    "online_time",
    "update_status",
    "update_reason",
    "update_version",
    "update_progress",
)


@dataclass
class AcCtx(Ctx):
    """The scenario's state on a controller bed."""

    bed: AcBed  # type: ignore[assignment]
    answers: dict[str, Any] = field(default_factory=dict)  # named answers (token, ...)

    def stream_target(self, recorder: StreamRecorder) -> str:
        return recorder.path  # the relayed stream's query names the router, and maybe a token

    def router_mac(self, name: str) -> str:
        return self.bed.router_mac(name)

    def router_name(self, mac: str) -> str:
        for name in self.bed.router_names():
            if self.bed.router_mac(name) == norm_mac(mac):
                return name
        return mac

    def router_at(self, name: str) -> tuple[float, float, float]:
        position = self.bed.router_position(name)
        if position is None:
            raise BedError(
                f"the SUT does not say where router {name!r} stands; scenarios that place "
                "peripherals near routers need world control"
            )
        return position

    def near(self, router: str, distance: float, bearing: float | None = None) -> list[float]:
        """A point ``distance`` m from ``router`` (on the next free bearing by default)."""
        x0, y0, z0 = self.router_at(router)
        a = math.radians(self.next_bearing() if bearing is None else bearing)
        return [round(x0 + distance * math.cos(a), 6), round(y0 + distance * math.sin(a), 6), z0]

    def refresh_client(self) -> None:
        """The bed's client again (after the bed's token changed)."""
        self.client = self.bed.client()


def status_is(ctx: AcCtx, status: int) -> None:
    response = ctx.response()
    expect(
        response.status == status,
        f"{status}",
        f"{response.status} {response.text[:200]!r}",
        f"{ctx.last.method if ctx.last else ''} {ctx.last.target if ctx.last else ''} "
        f"answered {response.status}, not {status}",
    )


def missing_fields(entry: Any, names: tuple[str, ...]) -> list[str]:
    if not isinstance(entry, dict):
        return list(names)
    return [n for n in names if n not in entry]


def macs_of(names: list[str], ctx: AcCtx) -> list[str]:
    return [ctx.router_mac(n) for n in names]
