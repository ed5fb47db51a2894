"""What the controller's routers hear of each device: RSSI samples per (device, router) over a
sliding window of world time. Positioning and auto-selection both rank routers by the mean RSSI
of the window (plain mean in dBm: fading averages out over a few advertising events).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass
class Heard:
    """Samples of one device at one router: (world time, RSSI dBm)."""

    samples: deque[tuple[float, int]] = field(default_factory=deque)
    addr_type: str = "public"


class RssiTable:
    """device -> router -> :class:`Heard`, keeping ``window_s`` of samples."""

    def __init__(self, now: Callable[[], float], window_s: float = 10.0) -> None:
        self.now = now
        self.window_s = window_s
        self._heard: dict[str, dict[str, Heard]] = {}
        self.samples = 0

    def clear(self) -> None:
        self._heard.clear()

    def observe(self, router: str, device: str, rssi: int, addr_type: str) -> None:
        routers = self._heard.get(device)
        if routers is None:
            routers = self._heard[device] = {}
        heard = routers.get(router)
        if heard is None:
            heard = routers[router] = Heard()
        now = self.now()
        samples = heard.samples
        samples.append((now, rssi))
        heard.addr_type = addr_type
        horizon = now - self.window_s
        while samples[0][0] < horizon:
            samples.popleft()
        self.samples += 1

    def means(self, device: str, since: float | None = None) -> dict[str, float]:
        """Mean RSSI per router over the window (only samples after ``since`` when given)."""
        horizon = self.now() - self.window_s
        if since is not None:
            horizon = max(horizon, since)
        out = {}
        for router, heard in self._heard.get(device, {}).items():
            recent = [rssi for t, rssi in heard.samples if t >= horizon]
            if recent:
                out[router] = sum(recent) / len(recent)
        return out

    def first_heard(self, device: str, since: float | None = None) -> float | None:
        """When the window's (or ``since``'s) first sample of ``device`` was taken."""
        horizon = self.now() - self.window_s
        if since is not None:
            horizon = max(horizon, since)
        times = [
            t
            for heard in self._heard.get(device, {}).values()
            for t, _rssi in heard.samples
            if t >= horizon
        ]
        return min(times) if times else None

    def best(self, device: str) -> tuple[str, float] | None:
        """The router hearing ``device`` strongest over the window, with its mean."""
        means = self.means(device)
        if not means:
            return None
        router = max(sorted(means), key=lambda r: means[r])
        return router, means[router]

    def addr_type(self, device: str) -> str | None:
        latest: tuple[float, str] | None = None
        for heard in self._heard.get(device, {}).values():
            if heard.samples and (latest is None or heard.samples[-1][0] > latest[0]):
                latest = (heard.samples[-1][0], heard.addr_type)
        return latest[1] if latest else None

    def devices(self) -> Iterable[str]:
        """Devices with samples in the window (the stale ones are forgotten on the way)."""
        horizon = self.now() - self.window_s
        for device in sorted(self._heard):
            routers = self._heard[device]
            if any(h.samples and h.samples[-1][0] >= horizon for h in routers.values()):
                yield device
            elif all(not h.samples or h.samples[-1][0] < horizon for h in routers.values()):
                del self._heard[device]
