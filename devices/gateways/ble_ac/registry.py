"""The routers registered with the controller and their online/offline state.

A router's agent (:mod:`.agent`) joins the controller over its uplink and then echoes every
``echo_interval_s``; a router whose uplink stays quiet for ``dead_interval_s`` is offline
(``ap_state`` event). A join from a router that is online with another boot marker is a router
that restarted faster than the dead interval: it goes offline and online again, so clients learn
that its links and streams are gone. Times follow the seed's examples: ``time`` (registration)
in milliseconds, ``online_time`` / ``offline_time`` in seconds since the Unix epoch (the world's
calendar), ``uptime`` in seconds.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bumble.utils import EventEmitter

from devices.deviations import NO_DEVIATIONS, Deviations
from devices.gateways.ble_ac.deviations import SLOW_OFFLINE_S
from devices.gateways.ble_ac.errors import RouterOffline, UnknownRouter
from devices.gateways.ble_ac.events import AP_STATE

if TYPE_CHECKING:
    from sim.world import World

ONLINE = "online"
OFFLINE = "offline"


@dataclass
class HubRecord:
    """One router as the controller knows it."""

    mac: str
    record_id: str  # the seed's "_id"
    name: str
    model: str
    version: str
    ip: str
    localip: str
    registered_ms: int  # the seed's "time"
    capacity: int = 22  # connections it can hold (chips x per chip)
    chips: int = 2
    boot: float = 0.0  # the router's boot marker (world time it started)
    status: str = OFFLINE
    online_time: int = 0
    offline_time: int = 0
    online_at_ms: int = 0
    offline_at_ms: int = 0
    uptime_s: float = 0.0  # as of last_seen
    last_seen: float = 0.0  # world time of the last join or echo
    group: str = ""
    position: str = ""
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)  # connected nodes
    timer: asyncio.TimerHandle | None = None

    @property
    def online(self) -> bool:
        return self.status == ONLINE

    def uptime(self, now: float) -> int:
        """Seconds since the router booted, as of ``now`` (frozen while offline)."""
        return int(self.uptime_s + (now - self.last_seen if self.online else 0.0))


class Registry(EventEmitter):
    """Routers by MAC; emits ``ap_state`` (:class:`HubRecord`) on every online/offline change."""

    def __init__(
        self,
        world: World,
        name: str = "ac",
        echo_interval_s: float = 5.0,
        dead_interval_s: float = 15.0,
        deviations: Deviations = NO_DEVIATIONS,
    ) -> None:
        super().__init__()
        if dead_interval_s <= echo_interval_s:
            raise ValueError("dead_interval_s must be longer than echo_interval_s")
        self.world = world
        self.name = name
        self.echo_interval_s = echo_interval_s
        self.dead_interval_s = dead_interval_s
        self.deviations = deviations
        self.records: dict[str, HubRecord] = {}
        self._ids = world.rng(f"{name}/record-ids")

    # -- what the uplink says ---------------------------------------------------------------
    def join(self, info: dict[str, Any]) -> HubRecord:
        """A router's agent joined (``info`` checked by the caller: mac, name, model, version,
        ip, localip, uptime, boot, capacity, chips)."""
        mac = info["mac"]
        record = self.records.get(mac)
        if record is None:
            record = self.records[mac] = HubRecord(
                mac=mac,
                record_id=f"{self._ids.getrandbits(96):024x}",
                name=info["name"],
                model=info["model"],
                version=info["version"],
                ip=info["ip"],
                localip=info["localip"],
                registered_ms=self._ms(),
            )
            self._trace("hub-registered", mac=mac, ip=record.ip)
        restarted = record.online and record.boot != info["boot"]
        if restarted:
            self._set(record, OFFLINE, why="restarted")
        record.name, record.model, record.version = info["name"], info["model"], info["version"]
        record.ip, record.localip = info["ip"], info["localip"]
        record.capacity, record.chips, record.boot = info["capacity"], info["chips"], info["boot"]
        self._heard(record, float(info["uptime"]))
        if not record.online:
            record.devices.clear()
            self._set(record, ONLINE, why="joined")
        return record

    def echo(self, mac: str, uptime: float, boot: float) -> bool:
        """A router's echo; False when the router must join (again) first."""
        record = self.records.get(mac)
        if record is None or not record.online or record.boot != boot:
            return False
        self._heard(record, uptime)
        return True

    def _heard(self, record: HubRecord, uptime: float) -> None:
        record.uptime_s = uptime
        record.last_seen = self.world.now
        if record.timer is not None:
            record.timer.cancel()
        dead_s = self.dead_interval_s
        if self.deviations.active("router-offline-slow"):
            dead_s += SLOW_OFFLINE_S
        record.timer = self.world.loop.call_later(dead_s, self._expire, record)

    def _expire(self, record: HubRecord) -> None:
        record.timer = None
        if record.online:
            self._set(record, OFFLINE, why="uplink-silent")

    def _set(self, record: HubRecord, status: str, why: str) -> None:
        if status == ONLINE:
            record.online_time = self._seconds()
            record.online_at_ms = self._ms()
        else:
            record.uptime_s = record.uptime(self.world.now)  # frozen from now on
            record.last_seen = self.world.now
            record.offline_time = self._seconds()
            record.offline_at_ms = self._ms()
            if record.timer is not None:
                record.timer.cancel()
                record.timer = None
        record.status = status
        self._trace(f"hub-{status}", mac=record.mac, why=why)
        self.emit(AP_STATE, record)

    # -- lookups -----------------------------------------------------------------------------
    def get(self, mac: str) -> HubRecord:
        record = self.records.get(mac.upper())
        if record is None:
            raise UnknownRouter(
                mac,
                f"no router {mac} is registered with this controller; registered: "
                f"{', '.join(sorted(self.records)) or 'none'}",
            )
        return record

    def online_record(self, mac: str) -> HubRecord:
        record = self.get(mac)
        if not record.online:
            raise RouterOffline(
                mac,
                f"router {record.mac} is offline since {record.offline_time} (its uplink has "
                f"been silent for more than {self.dead_interval_s:g} s); retry once it is "
                "online (GET /api/cassia/hubs/<mac> or the hubStatus stream tells)",
            )
        return record

    def online_records(self) -> list[HubRecord]:
        return [r for r in self.records.values() if r.online]

    def close(self) -> None:
        for record in self.records.values():
            if record.timer is not None:
                record.timer.cancel()
                record.timer = None

    # -- clocks ------------------------------------------------------------------------------
    def _seconds(self) -> int:
        return int(self.world.datetime().timestamp())

    def _ms(self) -> int:
        return int(self.world.datetime().timestamp() * 1000)

    def _trace(self, event: str, **details: Any) -> None:
        self.world.trace.emit(self.name, "ac", event, **details)
