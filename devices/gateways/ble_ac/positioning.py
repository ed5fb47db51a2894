"""Room-based positioning (the seed's Positioning API): the closest router of each device, from
the RSSI its routers' scans report (any scan the controller relays or holds: the combined
stream's, auto-selection's, or a router-addressed scan stream through the controller; the seed:
"Before calling any positioning APIs, please call scan API for the related gateways").

* by device: the router with the highest mean RSSI over the last ``window_s`` (10 s) of world
  time; a device no router heard in that window is not located.
* by router: the devices whose closest router it is.

Beyond the seed (``?detail=1`` on ``by-device/<mac>``): the mean RSSI at each router, the
distance the path-loss model gives for it (log-distance, the inverse of the radio's model:
``d = 10 ** ((tx - rssi - PL(1 m)) / (10 n))``) and a weighted-centroid estimate of the
device's position from the routers whose positions the controller was told (weights 1/d²).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from devices.deviations import NO_DEVIATIONS, Deviations
from devices.gateways.ble_ac.deviations import STALE_SETTLE_S
from devices.gateways.ble_ac.errors import UnknownDevice
from devices.gateways.ble_ac.rssi_table import RssiTable

if TYPE_CHECKING:
    from devices.gateways.ble_ac.registry import Registry
    from devices.gateways.ble_ac.uplinks import Uplinks
    from sim.world import World


@dataclass(frozen=True)
class PathLoss:
    """The log-distance model the distance estimate inverts (the radio's defaults)."""

    tx_power_dbm: float = 0.0
    path_loss_at_1m_db: float = 40.0
    exponent: float = 2.2

    def distance_m(self, rssi: float) -> float:
        loss = self.tx_power_dbm - rssi
        return 10.0 ** ((loss - self.path_loss_at_1m_db) / (10.0 * self.exponent))


def scan_device(report: dict[str, Any]) -> tuple[str, str] | None:
    """(MAC, address type) a router scan report names, if well formed."""
    bdaddrs = report.get("bdaddrs")
    if isinstance(bdaddrs, list) and bdaddrs and isinstance(bdaddrs[0], dict):
        mac = bdaddrs[0].get("bdaddr")
        if isinstance(mac, str):
            return mac.upper(), str(bdaddrs[0].get("bdaddrType", "public"))
    return None


class Positioning:
    """Closest router per device, from every scan report the controller sees."""

    def __init__(
        self,
        world: World,
        registry: Registry,
        uplinks: Uplinks,
        window_s: float = 10.0,
        path_loss: PathLoss | None = None,
        deviations: Deviations = NO_DEVIATIONS,
    ) -> None:
        self.registry = registry
        self.deviations = deviations
        self._located: dict[str, str] = {}  # position-stale-after-move: device -> its router
        self.table = RssiTable(lambda: world.now, window_s)
        self.path_loss = path_loss or PathLoss()
        self.positions: dict[str, tuple[float, float, float]] = {}
        uplinks.on_scan(self.observe)

    def observe(self, ap: str, report: dict[str, Any], _purpose: str = "") -> None:
        device = scan_device(report)
        rssi = report.get("rssi")
        if device is not None and isinstance(rssi, int):
            self.table.observe(ap, device[0], rssi, device[1])
            if self.deviations.active("position-stale-after-move"):
                self._stick(device[0])

    def _stick(self, device: str) -> None:
        """Keep ``device`` at the router that located it once settled (its first
        ``STALE_SETTLE_S``), for as long as that router still hears it."""
        first = self.table.first_heard(device) or 0.0
        located = self._located.get(device)
        settling = self.table.now() - first < STALE_SETTLE_S
        if located is None or located not in self.table.means(device) or settling:
            best = self.table.best(device)
            if best is not None:
                self._located[device] = best[0]

    def _closest(self, device: str) -> tuple[str, float] | None:
        best = self.table.best(device)
        located = self._located.get(device)
        if best is not None and located is not None and located in self.table.means(device):
            return located, best[1]
        return best

    def by_device(self, mac: str) -> str:
        best = self._closest(mac.upper())
        if best is None:
            raise UnknownDevice(
                f"no router heard {mac.upper()} in the last {self.table.window_s:g} s; open a "
                "scan on the routers around it first (POST /api/aps/scan/open or a scan stream)"
            )
        return best[0]

    def by_device_all(self) -> dict[str, str]:
        out = {}
        for device in self.table.devices():
            best = self._closest(device)
            if best is not None:
                out[device] = best[0]
        return out

    def by_ap(self, hub: str) -> list[str]:
        mac = self.registry.get(hub).mac
        return sorted(d for d, h in self.by_device_all().items() if h == mac)

    def by_ap_all(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {mac: [] for mac in sorted(self.registry.records)}
        for device, hub in self.by_device_all().items():
            out.setdefault(hub, []).append(device)
        return out

    def detail(self, mac: str) -> dict[str, Any]:
        """The extension answer: per-router mean RSSI and distance, and a position estimate."""
        device = mac.upper()
        hub = self.by_device(device)
        means = self.table.means(device)
        routers = {
            ap: {"rssi": round(rssi, 1), "distance_m": round(self.path_loss.distance_m(rssi), 2)}
            for ap, rssi in sorted(means.items())
        }
        out: dict[str, Any] = {"hubMac": hub, "routers": routers}
        placed = [
            (self.positions[ap], v["distance_m"])
            for ap, v in routers.items()
            if ap in self.positions
        ]
        if placed:
            weights = [1.0 / max(d, 0.1) ** 2 for _p, d in placed]
            total = sum(weights)
            out["position"] = [
                round(sum(w * p[i] for w, (p, _d) in zip(weights, placed, strict=True)) / total, 2)
                for i in range(3)
            ]
        return out

    def place_router(self, mac: str, position: tuple[float, ...]) -> None:
        values = [float(v) for v in position] + [0.0] * (3 - len(position))
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"router position {position!r} is not finite")
        self.positions[mac.upper()] = (values[0], values[1], values[2])
