"""Router auto-selection (the seed's Router Auto-Selection API): the controller picks the
router that connects a device, "based on RSSI, gateway load, and gateway capabilities".

* **Switch** (``ap-select-switch``): on, every router scans passively for the controller with
  the switch's ``scan_params`` (a ``scan/selection`` stream, :mod:`.uplinks`), and each report
  adds an RSSI sample of its device at its router (:class:`~.rssi_table.RssiTable`, 10 s
  window); off, those scans stop, their samples are forgotten, the devices it connected are
  no longer watched, and the connect API is refused.
* **Choice**: the candidates are the online routers of ``aps`` (``*``: all) that heard the
  device and have room (fewer connections than chips x connections per chip: capability).
  Among those whose mean RSSI is within ``RSSI_MARGIN_DB`` (6 dB) of the strongest, the least
  loaded (connections / capacity) wins, then the strongest; the others follow by RSSI. Each is
  asked in turn (``POST /gap/nodes/<device>/connection`` with the address type its scans showed)
  until one connects or ``timeout`` runs out. A device not heard yet is waited for; once heard,
  ``SETTLE_S`` more lets the other routers report it too.
* **RSSI rule** (``rssi``, ``rssi_interval``): the controller watches the link's RSSI on its
  router (``GET /gap/rssi?rssi=<threshold>&rssi_interval=<ms>&filter_mac=<device>``, readings
  below the threshold); after ``LOW_READINGS`` (5) consecutive low readings it disconnects the
  device.
* **Roaming** (``random=1``): when the device's link ends for any reason but the disconnect API
  (the RSSI rule, link loss, its router going offline), the controller connects it again
  through the best router that hears it from then on, and keeps trying while it is not
  connected. Without roaming the device is left disconnected.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from devices.deviations import NO_DEVIATIONS, Deviations
from devices.gateways.ble_ac.deviations import without_rssi_filter
from devices.gateways.ble_ac.errors import (
    AcError,
    InvalidRequest,
    NoRouterAvailable,
    RouterRefused,
    RouterUnreachable,
    SelectionOff,
    UnknownDevice,
)
from devices.gateways.ble_ac.events import AP_STATE, CONNECTION_STATE
from devices.gateways.ble_ac.positioning import scan_device
from devices.gateways.ble_ac.rssi_table import RssiTable
from devices.gateways.ble_router.params import parse_flag, parse_int, parse_mac, shown
from devices.protocols.http_client import HttpError

if TYPE_CHECKING:
    from devices.gateways.ble_ac.registry import HubRecord, Registry
    from devices.gateways.ble_ac.uplinks import Uplinks
    from sim.world import World

SELECTION_SCAN = "selection"
RSSI_MARGIN_DB = 6.0
SETTLE_S = 1.5
LOW_READINGS = 5
RETRY_S = 1.0


@dataclass(frozen=True)
class ConnectRequest:
    """``POST /api/aps/connections/connect``, checked."""

    device: str
    aps: tuple[str, ...] | None  # None: every online router ("*")
    timeout_s: float = 10.0
    roaming: bool = False
    rssi: int | None = None
    rssi_interval_ms: int = 1000
    discovergatt: bool = True


def parse_connect(body: dict[str, Any]) -> ConnectRequest:
    """The connect body (:class:`InvalidRequest` or ``InvalidParameter`` naming what is wrong)."""
    devices = body.get("devices")
    if not isinstance(devices, list) or len(devices) != 1:
        raise InvalidRequest(
            f"devices={shown(devices)} is not accepted; expected a list of exactly one device MAC "
            '(the seed: "Only one device MAC address can be added")'
        )
    device = parse_mac(devices[0], "device")
    aps = parse_aps(body.get("aps"))
    timeout = parse_int(
        "timeout", body.get("timeout", 10000), 1000, 20000, "a timeout in ms from 1000 to 20000"
    )
    rssi = body.get("rssi")
    return ConnectRequest(
        device=device,
        aps=aps,
        timeout_s=timeout / 1000.0,
        roaming=parse_flag("random", body.get("random", 0)),
        rssi=None if rssi is None else parse_int("rssi", rssi, -127, 20, "dBm from -127 to 20"),
        rssi_interval_ms=parse_int(
            "rssi_interval",
            body.get("rssi_interval", 1000),
            100,
            3_600_000,
            "an interval in ms from 100 to 3600000",
        ),
        discovergatt=parse_flag("discovergatt", body.get("discovergatt", 1)),
    )


def parse_aps(raw: Any) -> tuple[str, ...] | None:
    """``aps``: a list of router MACs, or ``*`` (alone or as the list's only entry): None."""
    if raw == "*" or raw == ["*"]:
        return None
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise InvalidRequest(
            f'aps={shown(raw)} is not accepted; expected a list of router MACs or "*" for every '
            "online router"
        )
    return tuple(dict.fromkeys(parse_mac(mac, "aps entry") for mac in raw))


@dataclass
class Managed:
    """A device the controller connected through auto-selection."""

    request: ConnectRequest
    router: str | None = None
    low: int = 0
    last_low: float = float("-inf")
    task: asyncio.Task[None] | None = None
    moves: int = 0


class Selection:
    """The auto-selection switch, its RSSI table and the devices it connected."""

    def __init__(
        self,
        world: World,
        registry: Registry,
        uplinks: Uplinks,
        window_s: float = 10.0,
        deviations: Deviations = NO_DEVIATIONS,
    ) -> None:
        self.world = world
        self.deviations = deviations
        self.registry = registry
        self.uplinks = uplinks
        self.enabled = False
        self.query: dict[str, str] = {}
        self.table = RssiTable(lambda: world.now, window_s)
        self.managed: dict[str, Managed] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        uplinks.on_scan(self._on_scan)
        uplinks.on(CONNECTION_STATE, self._on_state)
        registry.on(AP_STATE, self._on_ap_state)

    # -- the switch --------------------------------------------------------------------------
    def switch(self, on: bool, query: dict[str, str]) -> None:
        """On (again, with ``query``), or off: then the scans stop, what they heard is
        forgotten and the devices auto-selection connected are left as they are, no longer
        watched (no RSSI rule, no roaming)."""
        self.enabled = on
        self.query = dict(query) if on else {}
        for mac in self.registry.records:
            self._scan(mac)
        if not on:
            self.table.clear()
            for device in list(self.managed):
                self._forget(device)
        self._trace("selection-switch", flag=int(on), scan_params=self.query)

    def _scan(self, mac: str) -> None:
        if self.enabled:
            query = self.query
            if self.deviations.active("selection-filter-rssi-ignored"):
                query = without_rssi_filter(query)
            self.uplinks.want_scan(mac, SELECTION_SCAN, query)
        else:
            self.uplinks.drop(mac, f"scan/{SELECTION_SCAN}")

    def _on_ap_state(self, record: HubRecord) -> None:
        if record.online:
            if self.enabled and self.uplinks.wanted(record.mac, f"scan/{SELECTION_SCAN}") is None:
                self._scan(record.mac)
            return
        for device, managed in list(self.managed.items()):
            if managed.router == record.mac:  # its router is gone: so is its link, for us
                self._link_ended(device, managed, "router-offline")

    def _on_scan(self, ap: str, report: dict[str, Any], purpose: str) -> None:
        if purpose != SELECTION_SCAN:
            return
        device = scan_device(report)
        rssi = report.get("rssi")
        if device is not None and isinstance(rssi, int):
            self.table.observe(ap, device[0], rssi, device[1])

    # -- connect -----------------------------------------------------------------------------
    async def connect(self, request: ConnectRequest) -> str:
        """Connect ``request.device`` through the best candidate; return that router's MAC."""
        if not self.enabled:
            raise SelectionOff(
                "auto-selection is off; switch it on first: POST /api/aps/ap-select-switch "
                '{"flag":1}'
            )
        for mac in request.aps or ():
            self.registry.get(mac)  # UnknownRouter for a MAC that is not registered
        device = request.device
        current = self.managed.get(device)
        if current is not None and current.router is not None:
            return current.router
        if current is not None:  # roaming already: this request replaces that one
            self._forget(device)
        loop = asyncio.get_running_loop()
        router = await self._select_and_connect(request, loop.time() + request.timeout_s, None)
        managed = self.managed[device] = Managed(request, router)
        self._watch(device, managed)
        return router

    async def _select_and_connect(
        self, request: ConnectRequest, deadline: float, since: float | None
    ) -> str:
        loop = asyncio.get_running_loop()
        device = request.device
        answers: list[str] = []
        heard_at: float | None = None
        while (left := deadline - loop.time()) > 0:
            ranked = self.rank(request, since)
            if not ranked:
                await asyncio.sleep(min(0.2, left))
                continue
            if heard_at is None:
                heard_at = loop.time()
                first = self.table.first_heard(device, since)
                wait = SETTLE_S - (heard_at - first) if first is not None else 0.0
                if wait > 0:  # just heard: let the other routers report it too
                    await asyncio.sleep(min(wait, max(0.0, deadline - loop.time() - 1.0)))
                    ranked = self.rank(request, since) or ranked
            self._trace(
                "selection-rank",
                device=device,
                ranked=ranked,
                rssi={k: round(v, 1) for k, v in self.table.means(device, since).items()},
            )
            for ap in ranked:
                left = deadline - loop.time()
                if left < 0.2:
                    break
                try:
                    await self._connect_via(ap, request, left)
                except (AcError, HttpError) as exc:
                    answers.append(f"{ap}: {getattr(exc, 'message', str(exc))}")
                    continue
                self._trace("selection-connected", device=device, router=ap)
                return ap
            await asyncio.sleep(min(0.5, max(0.0, deadline - loop.time())))
        if heard_at is None:
            scope = "any router" if request.aps is None else "any of " + ", ".join(request.aps)
            raise UnknownDevice(
                f"{device} was not heard by {scope} within {request.timeout_s:g} s (auto-"
                "selection scans passively with the switch's scan_params); nothing was connected"
            )
        raise NoRouterAvailable(
            f"no router could connect {device} within {request.timeout_s:g} s: "
            + ("; ".join(answers[-6:]) or "every candidate was full or offline")
        )

    def rank(self, request: ConnectRequest, since: float | None = None) -> list[str]:
        """Candidate routers for ``request`` in the order they will be asked."""
        means = self.table.means(request.device, since)
        candidates = []
        for ap, rssi in means.items():
            record = self.registry.records.get(ap)
            if record is None or not record.online:
                continue
            if request.aps is not None and ap not in request.aps:
                continue
            if len(record.devices) >= record.capacity:
                continue
            candidates.append((ap, rssi, len(record.devices) / record.capacity))
        if not candidates:
            return []
        strongest = max(rssi for _ap, rssi, _load in candidates)
        close = sorted(
            (c for c in candidates if c[1] >= strongest - RSSI_MARGIN_DB),
            key=lambda c: (c[2], -c[1], c[0]),
        )
        rest = sorted(
            (c for c in candidates if c[1] < strongest - RSSI_MARGIN_DB),
            key=lambda c: (-c[1], c[0]),
        )
        return [c[0] for c in close + rest]

    async def _connect_via(self, ap: str, request: ConnectRequest, left_s: float) -> None:
        record = self.registry.online_record(ap)
        client = self.uplinks.client(record)
        timeout_ms = max(200, min(20000, int(left_s * 1000)))
        body = {
            "type": self.table.addr_type(request.device) or "public",
            "timeout": str(timeout_ms),
            "discovergatt": int(request.discovergatt),
        }
        lock = self._locks.setdefault(ap, asyncio.Lock())
        async with lock:  # the router's serial rule: one connection request at a time
            try:
                response = await client.request(
                    "POST",
                    f"/gap/nodes/{request.device}/connection",
                    json_body=body,
                    timeout=timeout_ms / 1000.0 + 5.0,
                )
            except HttpError as exc:
                raise RouterUnreachable(f"{ap} did not answer: {exc}") from None
        if response.status != 200:
            raise RouterRefused(ap, response.status, f"{response.status} {response.text[:160]}")
        record.devices.setdefault(request.device, {"id": request.device})

    # -- after the connection ----------------------------------------------------------------
    def _watch(self, device: str, managed: Managed) -> None:
        request = managed.request
        if request.rssi is None or managed.router is None:
            return
        managed.low, managed.last_low = 0, float("-inf")
        self.uplinks.want(
            managed.router,
            f"rssi/{device}",
            "/gap/rssi",
            {
                "rssi": str(request.rssi),
                "rssi_interval": str(request.rssi_interval_ms),
                "filter_mac": device,
            },
            self._on_rssi,
        )

    def _on_rssi(self, ap: str, event: dict[str, Any]) -> None:
        device = str(event.get("id", "")).upper()
        managed = self.managed.get(device)
        if managed is None or managed.router != ap:
            return
        now = self.world.now
        interval = managed.request.rssi_interval_ms / 1000.0
        managed.low = managed.low + 1 if now - managed.last_low <= 1.5 * interval else 1
        managed.last_low = now
        if managed.low == LOW_READINGS:
            self._trace("selection-rssi-low", device=device, router=ap, rssi=event.get("rssi"))
            self.world.spawn(self._drop_link(ap, device), name=f"ac/rssi-rule/{device}")

    async def _drop_link(self, ap: str, device: str) -> None:
        try:
            record = self.registry.online_record(ap)
            await self.uplinks.client(record).request(
                "DELETE", f"/gap/nodes/{device}/connection", timeout=10.0
            )
        except (AcError, HttpError) as exc:
            self._trace("selection-rssi-disconnect-failed", device=device, error=str(exc)[:200])

    def _on_state(self, ap: str, device: str, state: str) -> None:
        managed = self.managed.get(device)
        if managed is not None and managed.router == ap and state == "disconnected":
            self._link_ended(device, managed, "disconnected")

    def _link_ended(self, device: str, managed: Managed, why: str) -> None:
        if managed.router is not None:
            self.uplinks.drop(managed.router, f"rssi/{device}")
        left = managed.router
        managed.router = None
        if not managed.request.roaming or self.deviations.active("roaming-not-reselected"):
            self.managed.pop(device, None)
            self._trace("selection-released", device=device, router=left, why=why)
            return
        self._trace("selection-roaming", device=device, left=left, why=why)
        if managed.task is None or managed.task.done():
            managed.task = self.world.spawn(self._roam(device, managed), name=f"ac/roam/{device}")

    async def _roam(self, device: str, managed: Managed) -> None:
        since = self.world.now
        request = managed.request
        while self.managed.get(device) is managed and managed.router is None:
            holder = self.holder(device)
            if holder is not None:
                managed.router = holder
            else:
                loop = asyncio.get_running_loop()
                try:
                    managed.router = await self._select_and_connect(
                        request, loop.time() + request.timeout_s, since
                    )
                except AcError:
                    await asyncio.sleep(RETRY_S)
                    continue
            managed.moves += 1
            self._trace("selection-roamed", device=device, router=managed.router)
            self._watch(device, managed)

    def holder(self, device: str) -> str | None:
        """The online router that holds a link to ``device``, as far as the controller knows."""
        for record in self.registry.online_records():
            if device in record.devices:
                return record.mac
        return None

    # -- disconnect --------------------------------------------------------------------------
    async def disconnect(self, device: str) -> str:
        """End ``device``'s link (no roaming after this); return the router that held it."""
        managed = self._forget(device)
        router = (managed.router if managed else None) or self.holder(device)
        if router is None:
            raise UnknownDevice(f"{device} is not connected through any router of this controller")
        record = self.registry.online_record(router)
        try:
            response = await self.uplinks.client(record).request(
                "DELETE", f"/gap/nodes/{device}/connection"
            )
        except HttpError as exc:
            raise RouterUnreachable(f"{router} did not answer: {exc}") from None
        if response.status != 200:
            raise RouterRefused(
                router, response.status, f"{router} answered {response.status}: {response.text}"
            )
        self._trace("selection-disconnected", device=device, router=router)
        return router

    def _forget(self, device: str) -> Managed | None:
        managed = self.managed.pop(device, None)
        if managed is not None:
            if managed.task is not None:
                managed.task.cancel()
            if managed.router is not None:
                self.uplinks.drop(managed.router, f"rssi/{device}")
        return managed

    def close(self) -> None:
        for device in list(self.managed):
            self._forget(device)

    def _trace(self, event: str, **details: Any) -> None:
        self.world.trace.emit(self.registry.name, "ac", event, **details)
