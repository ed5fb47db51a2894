"""The router's BLE central: scanning shared by the open scan subscriptions, connections, the
GATT cache, notifications and connection states, RSSI. It speaks BLE only: it raises the
domain errors of :mod:`.errors` and emits the events of :mod:`.events` (a Bumble
``EventEmitter``); the API (:mod:`.api`, :mod:`.event_streams`) turns them into HTTP answers
and SSE streams.

* **Scanning** is reference-counted per chip by the scan subscriptions: a chip scans while at
  least one subscription wants it, actively if any of them asked for active scanning
  (changing the scan type restarts the scan). Scan responses (evtType 4) go only to
  subscriptions that asked for active scanning. Each subscription filters on its own
  (:mod:`.scan_filter`), including its duplicate filter; the controller never filters
  duplicates.
* **Names**: a report carries the name of its own packet, else the name the same device showed
  in another packet (remembered router-wide), else ``(unknown)``.
* **Connections** follow the seed's serial rule: one connection attempt at a time per router;
  a second one while the first runs is refused (:class:`~.errors.Busy`). A connection uses
  the chip asked for, else the chip with the fewest connections; each chip holds at most
  ``max_connections_per_chip`` links.
* **Notifications**: every Handle Value Notification / Indication received on any handle of
  any link is emitted as a ``notification`` event (the peer only sends them after a client
  wrote 0100 / 0200 to a CCCD); indications are confirmed.
* **GATT cache**: discovery results are kept per device; ``discovergatt=1`` (default) lets a
  later connection reuse them, ``discovergatt=0`` makes the next discovery read the device.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bumble import att, core, hci
from bumble.device import Connection, ConnectionParametersPreferences
from bumble.utils import EventEmitter

from devices.gateways.ble_router.chip import Chip, chip_address
from devices.gateways.ble_router.errors import (
    AttError,
    BleError,
    Busy,
    ChipFull,
    ChipOff,
    LinkLost,
    NotConnected,
    ProcedureFailed,
    Timeout,
    UnknownAttribute,
)
from devices.gateways.ble_router.events import (
    CONNECTION_STATE,
    NOTIFICATION,
    SCAN_REPORT,
    STOPPED,
)
from devices.gateways.ble_router.gatt import (
    GattCharacteristic,
    GattDatabase,
    GattService,
    discover,
)
from devices.gateways.ble_router.pairing import RouterPairing
from devices.gateways.ble_router.scan_filter import AdInfo, ScanFilter, parse_ad

_GATT_CLIENT_LOG = logging.getLogger("bumble.gatt_client")
NOTIFICATION_OPCODE = att.Opcode.ATT_HANDLE_VALUE_NOTIFICATION

if TYPE_CHECKING:
    from devices.deviations import Deviations
    from sim.radio import Position, Radio
    from sim.world import World

ADDRESS_TYPES = ("public", "random")
DEFAULT_MTU = 247
# The seed's example conn_params: intervals in ms, supervision timeout in ms.
CONN_PARAMS = {
    "type": 0,
    "latency": 0,
    "conn_min_intval": 7.5,
    "conn_max_intval": 30,
    "supvtimeout": 1000,
    "scan_window": 30,
    "scan_intval": 60,
}
_SEEN_LIMIT = 100_000
_AD_CACHE_LIMIT = 20_000
# How the deviations of :mod:`.deviations` bend time and numbers.
DEVIANT_RSSI_OFFSET = 20
DEVIANT_CONNECT_LATE_S = 3.0
DEVIANT_DEAD_LINK_S = 10.0
DEVIANT_LOST_WINDOW_S = 10.0
DEVIANT_DROP_EVERY = 20
DEVIANT_RECONNECT_FOR_S = 60.0


class ProcedureCancelled(Exception):
    """A BLE procedure was cancelled under us (its link dropped)."""


@dataclass(slots=True)
class SeenDevice:
    """A device the router has heard: its address as text and the name it advertises."""

    mac: str
    addr_type: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ScanReport:
    """One advertising report that passed a subscription's filters, received at world time
    ``at`` on chip ``chip``."""

    chip: int
    evt_type: int
    mac: str
    addr_type: str
    name: str | None
    data: bytes
    rssi: int
    at: float


class ScanSubscription(EventEmitter):
    """One scan subscription's wishes and its own state (duplicates, report interval); emits
    ``scan_report`` for every report it lets through.

    ``duplicates``: each device and evtType once (per ``duplicates_period_s`` when given);
    ``report_interval_s``: hold reports and emit, once per interval, the latest of each device
    and evtType."""

    def __init__(
        self,
        world: World,
        scan_filter: ScanFilter,
        *,
        active: bool,
        chips: tuple[int, ...],
        duplicates: bool = False,
        duplicates_period_s: float | None = None,
        report_interval_s: float | None = None,
    ) -> None:
        super().__init__()
        self.world = world
        self.filter = scan_filter
        self.match_all = scan_filter.empty
        self.active = active
        self.chips = chips
        self.duplicates = duplicates
        self.duplicates_period_s = duplicates_period_s
        self.report_interval_s = report_interval_s
        self.opened_at = world.now
        self.closed = False
        self._seen: set[tuple[str, int]] = set()
        self._epoch = 0
        self._pending: dict[tuple[str, int], ScanReport] = {}
        self._timer: asyncio.TimerHandle | None = None
        self.matched = 0

    def start(self) -> None:
        """Begin (the central calls this when it takes the subscription): duplicate periods
        and report intervals count from now."""
        self.opened_at = self.world.now
        if self.report_interval_s and self._timer is None and not self.closed:
            self._timer = self.world.loop.call_later(self.report_interval_s, self._flush)

    def offer(
        self, chip: int, evt_type: int, dev: SeenDevice, ad: AdInfo, data: bytes, rssi: int
    ) -> None:
        if evt_type == 4 and not self.active:
            return
        if not self.match_all and not self.filter.match(
            evt_type, dev.mac, dev.name, data, rssi, ad.uuids
        ):
            return
        if self.duplicates:
            if self.duplicates_period_s:
                epoch = int((self.world.now - self.opened_at) / self.duplicates_period_s)
                if epoch != self._epoch:
                    self._epoch = epoch
                    self._seen.clear()
            key = (dev.mac, evt_type)
            if key in self._seen:
                return
            self._seen.add(key)
        self.matched += 1
        report = ScanReport(
            chip, evt_type, dev.mac, dev.addr_type, dev.name, data, rssi, self.world.now
        )
        if self.report_interval_s:
            self._pending[(dev.mac, evt_type)] = report  # the latest per device and type
        else:
            self.emit(SCAN_REPORT, report)

    def _flush(self) -> None:
        pending, self._pending = self._pending, {}
        for report in pending.values():
            self.emit(SCAN_REPORT, report)
        if not self.closed and self.report_interval_s:
            self._timer = self.world.loop.call_later(self.report_interval_s, self._flush)

    def close(self) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


@dataclass
class NodeLink:
    """A connected node."""

    mac: str
    addr_type: str
    chip: Chip
    connection: Connection
    connected_at: float
    mtu: int = 23
    gatt: GattDatabase | None = None
    gatt_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    notifications: int = 0
    indications: int = 0
    closing: bool = False
    reconnection: bool = False  # the device had a link to the router before this one
    reads: dict[int, bytes] = field(default_factory=dict)  # deviation gatt-read-stale
    held: tuple[int, bytes, str] | None = None  # deviation notifications-reordered


class Central(EventEmitter):
    """Everything BLE the router does, on one or two chips (its events: :mod:`.events`)."""

    def __init__(
        self,
        world: World,
        radio: Radio,
        node_name: str,
        mac: str,
        position: Position,
        chips: int,
        max_connections_per_chip: int,
        deviations: Deviations,
    ) -> None:
        super().__init__()
        self.world = world
        self.name = node_name
        self.deviations = deviations
        self.max_connections_per_chip = max_connections_per_chip
        self.radio = radio
        self.mac = mac
        self.position = position
        self.chip_count = chips
        self.chip_addresses = [chip_address(mac, i) for i in range(chips)]
        # Bumble controllers need a running loop: the chips are built by power_on().
        self.chips: list[Chip] = []
        self._scan_subs: list[list[ScanSubscription]] = [[] for _ in range(chips)]
        self._scan_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._seen: dict[tuple[bytes, int], SeenDevice] = {}
        self._names: dict[str, str] = {}  # mac -> last advertised name
        self._ad_cache: dict[bytes, AdInfo] = {}
        self.links: dict[str, NodeLink] = {}
        self.linked_before: set[str] = set()  # devices that had a link (NodeLink.reconnection)
        self.connecting: str | None = None
        self.gatt_cache: dict[str, GattDatabase] = {}
        self.trace_notifications = False
        self.pairing = RouterPairing(self)  # SMP: pending pairings, bonds
        self._kept_keys: list[Any] = []  # key stores carried over a reboot
        self._retired: list[Chip] = []  # powered-off chips still holding links
        self.adv_reports = 0
        self.notifications_received = 0

    # -- power ------------------------------------------------------------------------------
    async def power_on(self) -> None:
        if not self.chips:
            self.chips = [
                Chip(i, self.name, self.mac, self.radio, self.position, self._on_adv)
                for i in range(self.chip_count)
            ]
            for chip, keys in zip(self.chips, self._kept_keys, strict=False):
                chip.device.keystore = keys  # bonds live in flash: a reboot keeps them
            self._retire_old_chips()
        for chip in self.chips:
            self.pairing.attach(chip)
            await chip.power_on()
            self.world.trace.emit(
                self.name, "hci", "chip-on", chip=chip.index, address=chip.address
            )

    def power_off(self) -> None:
        """The chips lose power (a reboot, see :mod:`.reboot`): links end with no word on the
        air (peers notice at their supervision timeout), scanning and advertising stop, every
        subscription ends (``stopped``), and what the router held in RAM (links, the pending
        connect, the GATT cache) is gone. The next :meth:`power_on` builds fresh chips at the same
        addresses; the chips' key stores (bonds) carry over."""
        self._end_subscriptions()
        self._kept_keys = [chip.device.keystore for chip in self.chips]
        for chip in self.chips:
            controller = chip.controller
            controller.le_legacy_advertiser.stop()
            controller.le_scan_enable = False
            controller.pending_le_connection = None
            self.radio.listening_changed(controller)
            self.radio.set_power(controller, False)
            chip.powered = False
            self.world.trace.emit(self.name, "hci", "chip-off", chip=chip.index)
        self._retired.extend(self.chips)
        self.chips = []
        self.links.clear()
        self.connecting = None
        self.gatt_cache.clear()

    def _retire_old_chips(self) -> None:
        """Take powered-off chips off the radio once their links have timed out."""
        keep = []
        for chip in self._retired:
            if chip.controller.le_connections:
                keep.append(chip)
            else:
                self.radio.remove_controller(chip.controller)
        self._retired = keep

    def _end_subscriptions(self) -> None:
        """End every scan subscription and tell every listener that events stop here."""
        for sub_list in self._scan_subs:
            for sub in sub_list:
                sub.close()
            sub_list.clear()
        self.emit(STOPPED)

    async def shutdown(self) -> None:
        self._end_subscriptions()
        for link in list(self.links.values()):
            try:
                await asyncio.wait_for(self.disconnect(link.mac), 2.0)
            except (Exception, asyncio.TimeoutError):  # noqa: UP041 - both names on 3.11
                pass
        for chip in self.chips:
            if chip.scanning:
                try:
                    await chip.set_scanning(False, False)
                except Exception:
                    pass

    # -- the advertising hot path -----------------------------------------------------------
    def _on_adv(
        self, chip: int, evt_type: int, addr_type: int, addr: bytes, data: bytes, rssi: int
    ) -> None:
        self.adv_reports += 1
        subs = self._scan_subs[chip]
        if not subs:
            return
        if self.deviations.active("scan-rssi-offset"):
            rssi += DEVIANT_RSSI_OFFSET
        key = (addr, addr_type)
        dev = self._seen.get(key)
        if dev is None:
            dev = self._learn(key)
        ad = self._ad_cache.get(data)
        if ad is None:
            if len(self._ad_cache) >= _AD_CACHE_LIMIT:
                self._ad_cache.clear()
            ad = self._ad_cache[data] = parse_ad(data)
        if (
            ad.name is not None
            and evt_type == 4
            and self.deviations.active("scan-response-name-ignored")
        ):
            ad = AdInfo(None, ad.uuids)
        if ad.name is not None and ad.name != dev.name:
            dev.name = ad.name
            if len(self._names) >= _SEEN_LIMIT:
                self._names.clear()
            self._names[dev.mac] = ad.name
        for sub in subs:
            sub.offer(chip, evt_type, dev, ad, data, rssi)

    def _learn(self, key: tuple[bytes, int]) -> SeenDevice:
        if len(self._seen) >= _SEEN_LIMIT:
            self._seen.clear()
        addr, addr_type = key
        mac = ":".join(f"{b:02X}" for b in addr[::-1])
        kind = "random" if addr_type & 1 else "public"
        if self.deviations.active("scan-address-type-wrong"):
            kind = "public"
        dev = self._seen[key] = SeenDevice(mac, kind, self._names.get(mac))
        return dev

    def name_of(self, mac: str) -> str | None:
        return self._names.get(mac)

    # -- scanning ---------------------------------------------------------------------------
    async def subscribe_scan(self, sub: ScanSubscription) -> None:
        sub.start()
        for chip in sub.chips:
            self._scan_subs[chip].append(sub)
        self.world.trace.emit(
            self.name,
            "hci",
            "scan-subscribe",
            chips=list(sub.chips),
            active=sub.active,
            streams=self.scan_subscription_count(),
        )
        await self._own_task(self._update_scanning())

    def unsubscribe_scan(self, sub: ScanSubscription) -> None:
        sub.close()
        for chip in sub.chips:
            if sub in self._scan_subs[chip]:
                self._scan_subs[chip].remove(sub)
        self.world.trace.emit(
            self.name,
            "hci",
            "scan-unsubscribe",
            chips=list(sub.chips),
            streams=self.scan_subscription_count(),
        )
        self._background(self._update_scanning(), "scan")

    def scan_subscription_count(self) -> int:
        return len({id(s) for subs in self._scan_subs for s in subs})

    async def _update_scanning(self) -> None:
        """Bring every chip to what its subscribers want now (one update at a time)."""
        async with self._scan_lock:
            for chip in self.chips:
                subs = self._scan_subs[chip.index]
                enabled = bool(subs)
                active = any(s.active for s in subs) or self.deviations.active("scan-active-on-air")
                if enabled == chip.scanning and (not enabled or active == chip.scan_active):
                    continue
                try:
                    await chip.set_scanning(enabled, active)
                except Exception as exc:  # a failed HCI command must not kill the router
                    self.world.trace.emit(
                        self.name, "hci", "scan-error", chip=chip.index, error=repr(exc)
                    )
                    continue
                self.world.trace.emit(
                    self.name,
                    "hci",
                    "scan-start" if enabled else "scan-stop",
                    chip=chip.index,
                    active=active if enabled else None,
                )

    # -- connections ------------------------------------------------------------------------
    def pick_chip(self, wanted: int | None) -> Chip:
        if not self.chips or not all(c.powered for c in self.chips):
            raise ChipOff("the router's Bluetooth chips are not powered on yet")
        cap = self.max_connections_per_chip
        if wanted is not None:
            chip = self.chips[wanted]
            if chip.connections >= cap:
                raise ChipFull(
                    f"chip {wanted} already has {chip.connections} connections, its "
                    f"maximum is {cap}; disconnect a device or use another chip"
                )
            return chip
        free = [c for c in self.chips if c.connections < cap]
        if not free:
            raise ChipFull(
                f"every chip holds its maximum of {cap} connections "
                f"({cap * len(self.chips)} in all); disconnect a device first"
            )
        return min(free, key=lambda c: (c.connections, c.index))

    async def connect(
        self,
        mac: str,
        addr_type: str,
        timeout_s: float,
        chip: int | None = None,
        mtu: int = 0,
        discovergatt: bool = True,
    ) -> tuple[NodeLink, bool]:
        """Connect (or find the existing link). Returns (link, newly connected).

        The attempt runs to its end (and keeps the router busy) even if the caller that asked
        goes away meanwhile."""
        try:
            return await self._own_task(
                self._connect(mac, addr_type, timeout_s, chip, mtu, discovergatt)
            )
        except ProcedureCancelled:
            raise LinkLost(f"the connection attempt to {mac} was cancelled") from None

    async def _connect(
        self,
        mac: str,
        addr_type: str,
        timeout_s: float,
        chip: int | None,
        mtu: int,
        discovergatt: bool,
    ) -> tuple[NodeLink, bool]:
        existing = self.links.get(mac)
        if existing is not None:
            return existing, False
        if self.connecting is not None:
            raise Busy(
                f"the router is busy connecting to {self.connecting}; connection "
                "requests are handled one at a time (wait for the previous request's "
                "answer, then retry)"
            )
        if chip is None:  # a bonded device reconnects through its chip
            chip = self.pairing.bond_chip(mac)
        chip_obj = self.pick_chip(chip)
        self.connecting = mac
        chip_obj.connecting = True
        address = hci.Address(
            mac,
            hci.Address.PUBLIC_DEVICE_ADDRESS
            if addr_type == "public"
            else hci.Address.RANDOM_DEVICE_ADDRESS,
        )
        self.world.trace.emit(
            self.name,
            "hci",
            "connect",
            peer=mac,
            type=addr_type,
            chip=chip_obj.index,
            timeout_ms=round(timeout_s * 1000),
        )
        started = self.world.now
        try:
            prefs = ConnectionParametersPreferences(
                connection_interval_min=CONN_PARAMS["conn_min_intval"],
                connection_interval_max=CONN_PARAMS["conn_max_intval"],
                max_latency=CONN_PARAMS["latency"],
                supervision_timeout=CONN_PARAMS["supvtimeout"],
            )
            try:
                connection = await self._own_task(
                    chip_obj.device.connect(
                        address,
                        own_address_type=hci.OwnAddressType.PUBLIC,
                        timeout=timeout_s,
                        connection_parameters_preferences={hci.HCI_LE_1M_PHY: prefs},
                    )
                )
            except core.TimeoutError:
                self.world.trace.emit(
                    self.name, "hci", "connect-failed", peer=mac, reason="timeout"
                )
                if self.deviations.active("connect-timeout-late"):
                    await asyncio.sleep(DEVIANT_CONNECT_LATE_S)
                raise Timeout(
                    f"connection to {mac} (type {addr_type}) timed out after "
                    f"{round(timeout_s * 1000)} ms: the device did not answer; check "
                    "that it advertises connectably, is in range and that its "
                    "address type is right"
                ) from None
            except (core.BaseBumbleError, ProcedureCancelled) as exc:
                self.world.trace.emit(
                    self.name, "hci", "connect-failed", peer=mac, reason=repr(exc)
                )
                raise ProcedureFailed(f"connection to {mac} failed: {exc}") from None
            link = NodeLink(mac, addr_type, chip_obj, connection, self.world.now)
            link.reconnection = mac in self.linked_before
            self.linked_before.add(mac)
            self._hook(link)
            self.links[mac] = link
            chip_obj.connections += 1
            if not discovergatt:
                self.gatt_cache.pop(mac, None)
            link.gatt = self.gatt_cache.get(mac)
            try:
                link.mtu = await self._own_task(
                    asyncio.wait_for(connection.gatt_client.request_mtu(mtu or DEFAULT_MTU), 5.0)
                )
            except (Exception, ProcedureCancelled) as exc:  # a peer without MTU exchange
                self.world.trace.emit(self.name, "gatt", "mtu-failed", peer=mac, error=repr(exc))
            self.world.trace.emit(
                self.name,
                "hci",
                "connected",
                peer=mac,
                chip=chip_obj.index,
                handle=connection.handle,
                mtu=link.mtu,
                took_ms=round((self.world.now - started) * 1000, 3),
            )
            await self.pairing.link_up(link)  # a bonded device is re-encrypted
            if self.links.get(mac) is link:
                self.report_state(mac, "connected", chip_obj.index)
                if self.deviations.active("connected-event-duplicated"):
                    self.report_state(mac, "connected", chip_obj.index)
            else:
                raise LinkLost(f"the link to {mac} dropped while it was being set up")
            return link, True
        finally:
            if self.connecting == mac:  # a reboot may have forgotten this attempt
                self.connecting = None
            chip_obj.connecting = False

    def _hook(self, link: NodeLink) -> None:
        connection = link.connection
        client = connection.gatt_client

        def on_notification(pdu: att.ATT_Handle_Value_Notification) -> None:
            link.notifications += 1
            self._deliver(link, pdu.attribute_handle, pdu.attribute_value, "notification")

        def on_indication(pdu: att.ATT_Handle_Value_Indication) -> None:
            link.indications += 1
            self._deliver(link, pdu.attribute_handle, pdu.attribute_value, "indication")
            client.send_confirmation(att.ATT_Handle_Value_Confirmation())

        # Every notification / indication, on any handle, whoever subscribed.
        client.on_att_handle_value_notification = on_notification
        client.on_att_handle_value_indication = on_indication
        dispatch = client.on_gatt_pdu

        def on_gatt_pdu(pdu: att.ATT_PDU) -> None:
            # Bumble's client formats every PDU for a debug line, logged or not; a notification
            # load spends more on that than on the notification: go straight to its handler.
            quiet = not _GATT_CLIENT_LOG.isEnabledFor(logging.DEBUG)
            if quiet and pdu.op_code == NOTIFICATION_OPCODE:
                on_notification(pdu)  # type: ignore[arg-type]
            else:
                dispatch(pdu)

        client.on_gatt_pdu = on_gatt_pdu
        connection.on("disconnection", lambda reason: self._on_disconnected(link, reason))

    def _deliver(self, link: NodeLink, handle: int, value: bytes, data_type: str) -> None:
        self.notifications_received += 1
        if self.trace_notifications:
            self.world.trace.emit(
                self.name, "gatt", data_type, peer=link.mac, handle=handle, value=bytes(value)
            )
        if self.deviations:
            self._deliver_deviant(link, handle, bytes(value), data_type)
            return
        self.emit(NOTIFICATION, link.mac, handle, bytes(value), data_type)

    def _deliver_deviant(self, link: NodeLink, handle: int, value: bytes, data_type: str) -> None:
        """:meth:`_deliver` bent by the notification deviations of :mod:`.deviations`."""
        active = self.deviations.active
        if data_type == "indication" and active("indications-dropped"):
            return
        count = link.notifications + link.indications
        if active("notifications-dropped") and count % DEVIANT_DROP_EVERY == 0:
            return
        lost_window = self.world.now - link.connected_at < DEVIANT_LOST_WINDOW_S
        if link.reconnection and lost_window and active("notifications-lost-after-reconnect"):
            return
        if active("notification-handle-wrong"):
            handle += 1
        if active("notifications-reordered"):
            held, link.held = link.held, None
            if held is None:
                link.held = (handle, value, data_type)
                return
            self.emit(NOTIFICATION, link.mac, handle, value, data_type)
            self.emit(NOTIFICATION, link.mac, *held)
            return
        self.emit(NOTIFICATION, link.mac, handle, value, data_type)
        if active("notifications-duplicated"):
            self.emit(NOTIFICATION, link.mac, handle, value, data_type)

    def _on_disconnected(self, link: NodeLink, reason: int) -> None:
        if self.links.get(link.mac) is not link:
            return
        if not link.closing and self.deviations.active("dead-link-slow"):
            self.world.loop.call_later(DEVIANT_DEAD_LINK_S, self._link_down, link, reason)
            return
        self._link_down(link, reason)

    def _link_down(self, link: NodeLink, reason: int) -> None:
        if self.links.get(link.mac) is not link:
            return
        del self.links[link.mac]
        link.chip.connections -= 1
        self.pairing.link_down(link.mac)
        try:
            reason_name = hci.HCI_Constant.error_name(reason)
        except Exception:
            reason_name = str(reason)
        self.world.trace.emit(
            self.name,
            "hci",
            "disconnected",
            peer=link.mac,
            chip=link.chip.index,
            reason=f"0x{reason:02X}",
            reason_name=reason_name,
            by_request=link.closing,
        )
        if not (link.closing and self.deviations.active("disconnect-event-missing")):
            self.report_state(link.mac, "disconnected", link.chip.index)
        if not link.closing and self.deviations.active("auto-reconnect"):
            self._background(self._reconnect(link.mac, link.addr_type), "auto-reconnect")

    async def _reconnect(self, mac: str, addr_type: str) -> None:
        """(deviation auto-reconnect) Keep trying to connect a lost device for a while."""
        deadline = self.world.now + DEVIANT_RECONNECT_FOR_S
        while self.world.now < deadline and mac not in self.links and self.chips:
            try:
                await self.connect(mac, addr_type, 2.0)
            except BleError:
                await asyncio.sleep(1.0)

    def report_state(self, mac: str, state: str, chip: int) -> None:
        """Emit a ``connection_state`` event: ``connected``, ``disconnected`` or, from a
        procedure that gave up on a device (batch connect), ``connect timeout``."""
        self.emit(CONNECTION_STATE, mac, state, chip)

    def link(self, mac: str) -> NodeLink:
        link = self.links.get(mac)
        if link is None:
            busy = " (a connection attempt to it is in progress)" if self.connecting == mac else ""
            raise NotConnected(
                mac,
                f"device {mac} is not connected{busy}; connect it first with POST "
                f"/gap/nodes/{mac}/connection",
            )
        return link

    async def disconnect(self, mac: str) -> None:
        link = self.link(mac)
        link.closing = True
        self.world.trace.emit(self.name, "hci", "disconnect", peer=mac, chip=link.chip.index)
        if self.deviations.active("disconnect-not-sent"):
            self._link_down(link, hci.HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR)
            return
        try:
            await self._own_task(link.connection.disconnect())
        except (core.BaseBumbleError, ProcedureCancelled) as exc:
            if mac in self.links:
                raise ProcedureFailed(f"disconnecting {mac} failed: {exc}") from None

    # -- GATT -------------------------------------------------------------------------------
    async def database(self, mac: str) -> GattDatabase:
        """The device's GATT database: cached, or discovered now (to the end, even if the
        caller that asked goes away)."""
        link = self.link(mac)
        if link.gatt is not None:
            return link.gatt
        try:
            return await self._own_task(self._database(link))
        except ProcedureCancelled:
            raise LinkLost(f"GATT discovery of {mac} was cancelled") from None

    async def service(self, mac: str, uuid: str) -> GattService:
        """The device's primary service ``uuid`` (full 128-bit form)."""
        service = (await self.database(mac)).service(uuid)
        if service is None:
            raise UnknownAttribute(
                mac, "service", uuid, f"{mac} has no primary service with UUID {uuid}"
            )
        return service

    async def characteristic(self, mac: str, uuid: str) -> GattCharacteristic:
        """The device's characteristic ``uuid`` (full 128-bit form)."""
        char = (await self.database(mac)).characteristic(uuid)
        if char is None:
            raise UnknownAttribute(
                mac, "characteristic", uuid, f"{mac} has no characteristic with UUID {uuid}"
            )
        return char

    async def _database(self, link: NodeLink) -> GattDatabase:
        mac = link.mac
        async with link.gatt_lock:
            if link.gatt is None:
                started = self.world.now
                db = await self._gatt_op(
                    link, "discovery", discover(link.connection.gatt_client, self.world.now)
                )
                link.gatt = self.gatt_cache[mac] = db
                self.world.trace.emit(
                    self.name,
                    "gatt",
                    "discovered",
                    peer=mac,
                    services=len(db.services),
                    attributes=db.attribute_count(),
                    took_ms=round((self.world.now - started) * 1000, 3),
                )
            return link.gatt

    async def read(self, mac: str, handle: int) -> bytes:
        link = self.link(mac)
        read = handle + 1 if self.deviations.active("gatt-read-off-by-one") else handle
        value = await self._gatt_op(
            link, f"read of handle {handle}", link.connection.gatt_client.read_value(read)
        )
        if self.deviations.active("gatt-read-stale"):
            value = link.reads.setdefault(handle, bytes(value))
        self.world.trace.emit(
            self.name, "gatt", "read", peer=mac, handle=handle, value=bytes(value)
        )
        return bytes(value)

    async def write(self, mac: str, handle: int, value: bytes, with_response: bool) -> None:
        link = self.link(mac)
        if self.deviations:
            if self.deviations.active("gatt-write-truncated"):
                value = value[:1]
            dropped = not with_response and self.deviations.active("gatt-write-no-response-dropped")
            if dropped or (value == b"\0\0" and self.deviations.active("cccd-disable-ignored")):
                return
        await self._gatt_op(
            link,
            f"write to handle {handle}",
            link.connection.gatt_client.write_value(handle, value, with_response=with_response),
        )
        self.world.trace.emit(
            self.name, "gatt", "write", peer=mac, handle=handle, value=value, response=with_response
        )
        if self.deviations.active("gatt-write-duplicated"):
            write = link.connection.gatt_client.write_value(handle, value, with_response)
            await self._gatt_op(link, f"write to handle {handle}", write)

    async def rssi(self, mac: str) -> int:
        link = self.link(mac)
        return int(await self._gatt_op(link, "RSSI reading", link.connection.get_rssi()))

    async def _gatt_op(self, link: NodeLink, what: str, coro: Coroutine[Any, Any, Any]) -> Any:
        try:
            return await self._own_task(coro)
        except att.ATT_Error as exc:
            self.world.trace.emit(
                self.name, "gatt", "att-error", peer=link.mac, op=what, error=exc.error_name
            )
            raise AttError(
                exc.error_code,
                str(exc.error_name),
                f"{what} on {link.mac} failed: the device answered "
                f"{exc.error_name} (ATT error 0x{exc.error_code:02X})",
            ) from None
        except (TimeoutError, asyncio.TimeoutError):  # noqa: UP041
            raise Timeout(f"{what} on {link.mac} failed: the device did not answer") from None
        except ProcedureCancelled:
            raise LinkLost(f"{what} on {link.mac} failed: the link was lost") from None
        except core.BaseBumbleError as exc:
            raise ProcedureFailed(f"{what} on {link.mac} failed: {exc}") from None

    async def _own_task(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run a BLE procedure in a task of its own: a caller that goes away must not
        abort it halfway (leaving the controller mid-procedure). If the procedure itself is
        cancelled (Bumble cancels pending requests when a link drops) while our caller is
        not, that is :class:`ProcedureCancelled`."""
        task = self.world.spawn(coro)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if (current is not None and current.cancelling()) or not task.done():
                raise
            raise ProcedureCancelled() from None

    def _background(self, coro: Coroutine[Any, Any, Any], what: str) -> None:
        task = self.world.spawn(coro, name=f"{self.name}/{what}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- what a test bed may ask ------------------------------------------------------------
    def chip_info(self) -> list[dict]:
        out = []
        for i, address in enumerate(self.chip_addresses):
            chip = self.chips[i] if i < len(self.chips) else None
            if chip is None or not chip.powered:
                status, scanning, active, connections = "Off", False, False, 0
            else:
                status = (
                    "Connecting" if chip.connecting else "Scanning" if chip.scanning else "Idle"
                )
                scanning, active, connections = chip.scanning, chip.scan_active, chip.connections
            out.append(
                {
                    "id": str(i),
                    "addr": address,
                    "max": self.max_connections_per_chip,
                    "status": status,
                    "scan_en": "1" if scanning else "0",
                    "scan_type": "1" if scanning and active else "0",
                    "adv_en": "0",
                    "ant": "0",
                    "ver": "7",
                    "connected": connections,
                    "speed": {"rx": 0, "tx": 0},
                }
            )
        return out
