"""The BLE radio medium: a link for Bumble's virtual controllers, with space in it.

Bumble's stock ``LocalLink`` hands every advertisement to every controller (N² work, stalls near
400 devices), reports a fixed RSSI of -50, sends scan responses that repeat the advertising
data, advertises at 0.625x the requested interval, never ends a connection on supervision
timeout, and never completes a cancelled connection attempt. This module answers each:

* :class:`Radio` is the link. Nodes have positions; RSSI comes from a log-distance path-loss
  model with seeded Gaussian noise; there is a range limit and a loss probability;
  advertisements go only to controllers that scan or initiate; a connection whose peer is out
  of range, blocked or powered off ends on both sides with "connection timeout" once its
  supervision timeout has passed, and data sent meanwhile waits, in order, for the link to come
  back.
* :class:`RadioController` is a Bumble ``Controller`` that advertises every legacy PDU type with
  the standard 0-10 ms advDelay, answers active scans with its real scan-response data, reports
  the radio's RSSI, implements ``HCI_Read_RSSI`` and completes a cancelled connection attempt.

All randomness comes from the world's ``"radio"`` stream, so a seed fixes every draw.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from typing import TYPE_CHECKING, Any

from bumble import core, hci, ll
from bumble.controller import Connection, Controller, LegacyAdvertiser

from sim.fifo import OrderedDelivery

if TYPE_CHECKING:
    import simpy

    from sim.world import World

Position = tuple[float, float, float]

ADV_IND = 0
ADV_DIRECT_IND = 1
ADV_SCAN_IND = 2
ADV_NONCONN_IND = 3
SCAN_RSP = 4
ADV_TYPE_NAMES = {
    ADV_IND: "ADV_IND",
    ADV_DIRECT_IND: "ADV_DIRECT_IND",
    ADV_SCAN_IND: "ADV_SCAN_IND",
    ADV_NONCONN_IND: "ADV_NONCONN_IND",
    SCAN_RSP: "SCAN_RSP",
}
SCANNABLE = (ADV_IND, ADV_SCAN_IND)
CONNECTABLE = (ADV_IND, ADV_DIRECT_IND)


@dataclasses.dataclass
class RadioConfig:
    """The propagation model and the air's imperfections."""

    path_loss_at_1m_db: float = 40.0  # free space at 2.4 GHz
    path_loss_exponent: float = 2.2  # indoor, light clutter
    noise_sigma_db: float = 2.0  # shadowing / fast fading, per reception
    sensitivity_dbm: float = -95.0  # below this nothing is received
    range_m: float = 60.0  # hard limit, whatever the budget says
    adv_delay_max_s: float = 0.010  # advDelay, drawn per advertising event
    loss_probability: float = 0.0  # each advertising PDU / LL transmission attempt
    connection_interval_s: float = 0.030  # used when the link does not say otherwise
    max_retransmissions: int = 50  # a PDU still lost after this many tries is delayed only


@dataclasses.dataclass
class AdvertisingPdu(ll.AdvertisingPdu):
    """One legacy advertising event as it crosses the air (every type, with its scan response)."""

    advertiser_address: hci.Address
    adv_type: int
    data: bytes
    scan_response: bytes = b""
    target_address: hci.Address | None = None


@dataclasses.dataclass
class RadioNode:
    """What the medium knows of one controller."""

    controller: RadioController
    name: str
    position: Position
    tx_power_dbm: float = 0.0
    attenuation_db: float = 0.0
    powered: bool = True
    blocked: bool = False


@dataclasses.dataclass
class LinkState:
    """One LE connection as the medium sees it."""

    central: RadioController
    peripheral: RadioController
    central_address: hci.Address
    peripheral_address: hci.Address
    interval_s: float
    supervision_timeout_s: float
    anchor: float = 0.0  # the first connection event
    wire: OrderedDelivery | None = None  # in-order delivery, set when opened
    held: list[tuple[RadioController, Any]] = dataclasses.field(default_factory=list)
    lost_since: float | None = None
    timer: simpy.Timeout | None = None
    abandoned: bool = False  # one side reset: it will never answer
    capture: Any = None  # what an air capture knows of the link (access address, ...)


class Radio:
    """The medium and Bumble link: positions, propagation, delivery, supervision."""

    def __init__(self, world: World, config: RadioConfig | None = None, name: str = "radio"):
        self.world = world
        self.config = config or RadioConfig()
        self.name = name
        self.rng = world.rng(name)
        self.nodes: dict[RadioController, RadioNode] = {}
        self._by_address: dict[hci.Address, RadioController] = {}
        self._listeners: list[RadioController] = []  # scanning or initiating
        self._links: dict[tuple[RadioController, RadioController], LinkState] = {}
        self.adv_pdus = 0
        self.adv_deliveries = 0
        # An air capture (sim.air_capture.AirCapture) is told what crosses the air; it never
        # draws from the world's random streams, so capturing changes nothing.
        self.capture: Any = None
        world.add_medium(name, self)

    # -- placement ---------------------------------------------------------------------------
    def attach(
        self, controller: RadioController, name: str, position: Position, tx_power_dbm: float = 0.0
    ) -> RadioNode:
        node = RadioNode(controller, name, _pos(position), tx_power_dbm)
        self.nodes[controller] = node
        self._index(controller)
        return node

    def node_of(self, controller: RadioController) -> RadioNode:
        return self.nodes[controller]

    def move(self, controller: RadioController, position: Position) -> None:
        node = self.nodes[controller]
        node.position = _pos(position)
        self.world.trace.emit(node.name, "radio", "moved", position=list(node.position))
        self._reevaluate(controller)

    def set_power(self, controller: RadioController, powered: bool) -> None:
        node = self.nodes[controller]
        node.powered = powered
        self.world.trace.emit(node.name, "radio", "powered" if powered else "unpowered")
        self._reevaluate(controller)

    def set_blocked(
        self, controller: RadioController, blocked: bool, attenuation_db: float | None = None
    ) -> None:
        node = self.nodes[controller]
        node.blocked = blocked
        if attenuation_db is not None:
            node.attenuation_db = attenuation_db
        self._reevaluate(controller)

    # -- propagation -------------------------------------------------------------------------
    def distance(self, a: RadioController, b: RadioController) -> float:
        pa, pb = self.nodes[a].position, self.nodes[b].position
        return math.dist(pa, pb)

    def mean_rssi(self, tx: RadioController, rx: RadioController) -> float:
        """Received power without noise (dBm) from ``tx`` at ``rx``."""
        n_tx, n_rx = self.nodes[tx], self.nodes[rx]
        d = max(self.distance(tx, rx), 0.1)
        loss = self.config.path_loss_at_1m_db + 10.0 * self.config.path_loss_exponent * math.log10(
            d
        )
        return n_tx.tx_power_dbm - loss - n_tx.attenuation_db - n_rx.attenuation_db

    def reachable(self, tx: RadioController, rx: RadioController) -> bool:
        """Whether a transmission from ``tx`` can be heard at ``rx`` at all (before noise)."""
        n_tx, n_rx = self.nodes.get(tx), self.nodes.get(rx)
        if n_tx is None or n_rx is None:
            return False
        if not (n_tx.powered and n_rx.powered) or n_tx.blocked or n_rx.blocked:
            return False
        if self.distance(tx, rx) > self.config.range_m:
            return False
        return self.mean_rssi(tx, rx) >= self.config.sensitivity_dbm

    def sample_rssi(self, tx: RadioController, rx: RadioController) -> int:
        """One received signal strength reading (integer dBm, as HCI reports it)."""
        value = self.mean_rssi(tx, rx) + self.rng.gauss(0.0, self.config.noise_sigma_db)
        return max(-127, min(20, round(value)))

    def _lost(self) -> bool:
        p = self.config.loss_probability
        return p > 0.0 and self.rng.random() < p

    # -- the Bumble link interface -----------------------------------------------------------
    def add_controller(self, controller: Controller) -> None:
        # Controllers join through attach(); Bumble's constructor calls this too.
        pass

    def remove_controller(self, controller: Controller) -> None:
        assert isinstance(controller, RadioController)
        for key in [k for k in self._links if controller in k]:
            self._drop_link(key)
        self.nodes.pop(controller, None)
        self._by_address = {a: c for a, c in self._by_address.items() if c is not controller}
        if controller in self._listeners:
            self._listeners.remove(controller)

    def on_address_changed(self, controller: Controller) -> None:
        assert isinstance(controller, RadioController)
        if controller in self.nodes:
            self._index(controller)

    def _index(self, controller: RadioController) -> None:
        for address in (controller.public_address, controller.random_address):
            if address != hci.Address.ANY and address.address_bytes != bytes(6):
                self._by_address[address] = controller

    def find_le_controller(self, address: hci.Address) -> Controller | None:
        c = self._by_address.get(address)
        if c is not None:
            return c
        for link in self._links.values():  # a connection's own address
            if link.central_address == address:
                return link.central
            if link.peripheral_address == address:
                return link.peripheral
        return None

    def listening_changed(self, controller: RadioController) -> None:
        listening = controller.le_scan_enable or controller.pending_le_connection is not None
        if listening and controller not in self._listeners:
            self._listeners.append(controller)
        elif not listening and controller in self._listeners:
            self._listeners.remove(controller)

    def send_advertising_pdu(self, sender: Controller, packet: ll.AdvertisingPdu) -> None:
        assert isinstance(sender, RadioController)
        loop = asyncio.get_running_loop()
        if isinstance(packet, ll.ConnectInd):
            target = self._by_address.get(packet.advertiser_address)
            if target is not None and self.reachable(sender, target):
                self._open_link(sender, target, packet)
                if self.capture is not None:
                    self.capture.connect_ind(sender, target, self._links[(sender, target)], packet)
                loop.call_soon(target.on_ll_advertising_pdu, packet)
            return
        if not isinstance(packet, AdvertisingPdu) or not self.nodes[sender].powered:
            return
        self.adv_pdus += 1
        if self.capture is not None:
            self.capture.transmitted(sender, packet)
        for rx in self._listeners:
            if rx is sender or not self.reachable(sender, rx) or self._lost():
                continue
            rssi = self.sample_rssi(sender, rx)
            self.adv_deliveries += 1
            if self.capture is not None:
                self.capture.advertising(sender, rx, packet, rssi)
            # Air time is negligible; the receiver's controller hands the report to its host
            # through the loop, so delivering here directly costs no ordering.
            rx.on_radio_advertisement(sender, packet, rssi)

    def scan_request(
        self, scanner: RadioController, advertiser: RadioController, packet: AdvertisingPdu
    ) -> None:
        """An active scanner asks for the scan response; it comes back if the air allows."""
        if (
            self.reachable(scanner, advertiser)
            and self.reachable(advertiser, scanner)
            and not self._lost()
            and not self._lost()
        ):
            rssi = self.sample_rssi(advertiser, scanner)
            if self.capture is not None:
                self.capture.scan_exchange(scanner, advertiser, packet, rssi)
            asyncio.get_running_loop().call_soon(
                scanner.on_radio_scan_response, advertiser, packet, rssi
            )

    def send_acl_data(
        self,
        sender: Controller,
        destination_address: hci.Address,
        transport: core.PhysicalTransport,
        data: bytes,
    ) -> None:
        assert isinstance(sender, RadioController)
        if transport != core.PhysicalTransport.LE:
            return
        link = self._link_for(sender, destination_address)
        if link is None:
            return
        source = link.central_address if sender is link.central else link.peripheral_address
        self._transmit(link, sender, ("acl", source, data))

    def send_ll_control_pdu(
        self, sender_address: hci.Address, receiver_address: hci.Address, packet: ll.ControlPdu
    ) -> None:
        link = self._link_between(sender_address, receiver_address)
        if link is None:
            return
        sender = link.central if link.central_address == sender_address else link.peripheral
        self._transmit(link, sender, ("ctrl", sender_address, packet))
        if isinstance(packet, ll.TerminateInd):
            link.held.clear()

    def send_lmp_packet(self, *_args: Any) -> None:
        raise core.InvalidArgumentError("the simulated radio carries LE only")

    # -- connections -------------------------------------------------------------------------
    def _open_link(
        self, central: RadioController, peripheral: RadioController, packet: ll.ConnectInd
    ) -> None:
        interval = packet.interval * 1.25e-3 or self.config.connection_interval_s
        timeout = max(packet.timeout * 10e-3, 6 * interval)
        # transmitWindowOffset + transmitWindowSize: the first event falls 1.25 ms + up to one
        # interval after the CONNECT_IND.
        anchor = self.world.now + 1.25e-3 + self.rng.uniform(0.0, interval)
        link = LinkState(
            central,
            peripheral,
            packet.initiator_address,
            packet.advertiser_address,
            interval,
            timeout,
            anchor=anchor,
            wire=OrderedDelivery(asyncio.get_running_loop()),
        )
        self._links[(central, peripheral)] = link
        self.world.trace.emit(
            self.nodes[central].name,
            "ll",
            "link-open",
            peer=self.nodes[peripheral].name,
            interval_ms=interval * 1e3,
            supervision_ms=timeout * 1e3,
        )

    def _link_for(self, sender: RadioController, peer: hci.Address) -> LinkState | None:
        for (c, p), link in self._links.items():
            if c is sender and link.peripheral_address == peer:
                return link
            if p is sender and link.central_address == peer:
                return link
        return None

    def _link_between(self, a: hci.Address, b: hci.Address) -> LinkState | None:
        for link in self._links.values():
            if {link.central_address, link.peripheral_address} == {a, b}:
                return link
        return None

    def link_of(self, controller: RadioController, peer: hci.Address) -> LinkState | None:
        return self._link_for(controller, peer)

    def _connected(self, link: LinkState) -> bool:
        return (
            not link.abandoned
            and self.reachable(link.central, link.peripheral)
            and self.reachable(link.peripheral, link.central)
        )

    def abandon(self, controller: RadioController, peer: hci.Address) -> None:
        """``controller`` forgot the link without a word (an HCI reset): the peer keeps it until
        its supervision timeout."""
        link = self._link_for(controller, peer)
        if link is not None:
            link.abandoned = True
            self._start_supervision(link)

    def _transmit(self, link: LinkState, sender: RadioController, item: Any) -> None:
        """Deliver at the next connection event, in order; retransmit on loss; hold when lost."""
        if link.lost_since is not None or not self._connected(link):
            link.held.append((sender, item))
            self._start_supervision(link)
            return
        retries = 0
        while retries < self.config.max_retransmissions and self._lost():
            retries += 1
        receiver = link.peripheral if sender is link.central else link.central
        assert link.wire is not None
        link.wire.push(
            self._next_event(link) + link.interval_s * retries, self._deliver, link, receiver, item
        )

    def _next_event(self, link: LinkState) -> float:
        """The first connection event after now: a PDU waits for it (then a retransmission
        costs one more interval each)."""
        now = self.world.now
        if now < link.anchor:
            return link.anchor
        events = math.floor((now - link.anchor) / link.interval_s) + 1
        return link.anchor + events * link.interval_s

    def _deliver(self, link: LinkState, receiver: RadioController, item: Any) -> None:
        if self._links.get((link.central, link.peripheral)) is not link:
            if item[0] != "ctrl" or not isinstance(item[2], ll.TerminateInd):
                return
        if self.capture is not None:
            self.capture.data(link, receiver, item)
        kind, source, payload = item
        if kind == "acl":
            receiver.on_link_acl_data(source, core.PhysicalTransport.LE, payload)
        else:
            receiver.on_ll_control_pdu(source, payload)

    def _reevaluate(self, controller: RadioController) -> None:
        for link in list(self._links.values()):
            if controller not in (link.central, link.peripheral):
                continue
            if self._connected(link):
                self._restore(link)
            else:
                self._start_supervision(link)

    def _start_supervision(self, link: LinkState) -> None:
        if link.lost_since is not None:
            return
        link.lost_since = self.world.now
        link.timer = self.world.at(link.supervision_timeout_s, self._supervision_expired, link)

    def _restore(self, link: LinkState) -> None:
        if link.lost_since is None:
            return
        link.lost_since = None
        _disarm(link.timer)
        link.timer = None
        held, link.held = link.held, []
        for sender, item in held:
            self._transmit(link, sender, item)

    def _supervision_expired(self, link: LinkState) -> None:
        key = (link.central, link.peripheral)
        if self._links.get(key) is not link or link.lost_since is None:
            return
        self.world.trace.emit(
            self.nodes[link.central].name,
            "ll",
            "supervision-timeout",
            peer=self.nodes[link.peripheral].name,
        )
        self._drop_link(key)
        reason = hci.HCI_ErrorCode.CONNECTION_TIMEOUT_ERROR
        for side, peer in (
            (link.central, link.peripheral_address),
            (link.peripheral, link.central_address),
        ):
            connection = side.le_connections.get(peer)
            if (
                connection is not None
                and self.nodes.get(side, None) is not None
                and self.nodes[side].powered
            ):
                side.on_le_disconnected(connection, reason)
            elif connection is not None:
                del side.le_connections[peer]

    def _drop_link(self, key: tuple[RadioController, RadioController]) -> None:
        link = self._links.pop(key, None)
        if link is not None:
            _disarm(link.timer)

    def link_closed(self, controller: RadioController, peer: hci.Address) -> None:
        """A controller ended a connection itself (terminate sent or received).

        What is already queued on the link (data sent before the LL_TERMINATE_IND, and the
        terminate itself) still crosses the air first; the link goes once that has drained.
        """
        link = self._link_for(controller, peer)
        if link is None:
            return
        if link.wire is not None and len(link.wire):
            link.wire.push(self.world.now, self._drop_if_current, link)
        else:
            self._drop_link((link.central, link.peripheral))

    def _drop_if_current(self, link: LinkState) -> None:
        key = (link.central, link.peripheral)
        if self._links.get(key) is link:
            self._drop_link(key)

    def connected_pairs(self) -> list[tuple[str, str]]:
        return [(self.nodes[c].name, self.nodes[p].name) for c, p in self._links]


class JitteredAdvertiser(LegacyAdvertiser):
    """Legacy advertising done as the spec says: interval in 0.625 ms units plus 0-10 ms
    advDelay per event, every PDU type, the scan response carried along."""

    def _on_timer_fired(self) -> None:
        self.send_advertising_data()
        ctrl = self.controller
        assert isinstance(ctrl, RadioController)
        interval = max(self.advertising_interval_min, 0x20) * 0.000625
        delay = interval + ctrl.radio.rng.uniform(0.0, ctrl.radio.config.adv_delay_max_s)
        self.timer_handle = asyncio.get_running_loop().call_later(delay, self._on_timer_fired)

    def start(self) -> None:
        self.stop()
        self.enabled = True
        ctrl = self.controller
        assert isinstance(ctrl, RadioController)
        first = ctrl.radio.rng.uniform(0.0, ctrl.radio.config.adv_delay_max_s)
        self.timer_handle = asyncio.get_running_loop().call_later(first, self._on_timer_fired)

    def send_advertising_data(self) -> None:
        if not self.enabled:
            return
        target = self.peer_address if self.advertising_type == ADV_DIRECT_IND else None
        adv_type = self.advertising_type
        if adv_type == 4:  # HCI's high-duty-cycle directed type: same PDU on air
            adv_type = ADV_DIRECT_IND
        self.controller.send_advertising_pdu(
            AdvertisingPdu(
                advertiser_address=self.address,
                adv_type=adv_type,
                data=bytes(self.advertising_data),
                scan_response=bytes(self.scan_response_data),
                target_address=target,
            )
        )


class RadioController(Controller):
    """A Bumble virtual controller that lives on a :class:`Radio`."""

    # Legacy advertising only: hosts then use the legacy HCI commands, whose report
    # event types are the evtType values the BLE router API exposes.
    le_features = (
        Controller.le_features
        & ~hci.LeFeatureMask.LE_EXTENDED_ADVERTISING
        & ~hci.LeFeatureMask.LE_PERIODIC_ADVERTISING
    )

    def __init__(
        self,
        name: str,
        radio: Radio,
        position: Position,
        public_address: str | hci.Address | None = None,
        tx_power_dbm: float = 0.0,
    ):
        self.radio = radio
        super().__init__(name, link=radio, public_address=public_address)  # type: ignore[arg-type]
        self.le_legacy_advertiser = JitteredAdvertiser(self)
        self.rx_filter_duplicates: set[tuple[hci.Address, int]] = set()
        radio.attach(self, name, position, tx_power_dbm)

    # Bumble formats a debug f-string for every packet even with logging off; skip that work.
    def on_hci_packet(self, packet: hci.HCI_Packet) -> None:
        if isinstance(packet, hci.HCI_Command):
            self.on_hci_command_packet(packet)
        elif isinstance(packet, hci.HCI_AclDataPacket):
            self.on_hci_acl_data_packet(packet)

    def send_hci_packet(self, packet: hci.HCI_Packet) -> None:
        if self.host:
            asyncio.get_running_loop().call_soon(self.host.on_packet, bytes(packet))

    # -- scanning and initiating -------------------------------------------------------------
    def on_hci_le_set_scan_enable_command(self, command: hci.HCI_LE_Set_Scan_Enable_Command):
        result = super().on_hci_le_set_scan_enable_command(command)
        self.rx_filter_duplicates.clear()
        self.radio.listening_changed(self)
        return result

    def on_hci_le_create_connection_command(self, command: hci.HCI_LE_Create_Connection_Command):
        result = super().on_hci_le_create_connection_command(command)
        self.radio.listening_changed(self)
        return result

    def on_hci_le_create_connection_cancel_command(self, _command: Any):
        pending = self.pending_le_connection
        self.pending_le_connection = None
        self.radio.listening_changed(self)
        if pending is not None:
            # The attempt ends with a connection-complete event carrying the cancel status.
            self.send_hci_packet(
                hci.HCI_LE_Connection_Complete_Event(
                    status=hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
                    connection_handle=0,
                    role=hci.Role.CENTRAL,
                    peer_address_type=pending.peer_address_type,
                    peer_address=pending.peer_address,
                    connection_interval=0,
                    peripheral_latency=0,
                    supervision_timeout=0,
                    central_clock_accuracy=0,
                )
            )
            return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.SUCCESS)
        return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.COMMAND_DISALLOWED_ERROR)

    def create_le_connection(self, peer_address: hci.Address) -> None:
        super().create_le_connection(peer_address)
        self.radio.listening_changed(self)

    def on_radio_advertisement(
        self, sender: RadioController, pdu: AdvertisingPdu, rssi: int
    ) -> None:
        if self.le_scan_enable and not self._duplicate(pdu.advertiser_address, pdu.adv_type):
            self._report(pdu.adv_type, pdu.advertiser_address, pdu.data, rssi)
            if self.le_scan_type == 1 and pdu.adv_type in SCANNABLE:
                self.radio.scan_request(self, sender, pdu)
        pending = self.pending_le_connection
        if (
            pending is not None
            and pdu.adv_type in CONNECTABLE
            and pending.peer_address == pdu.advertiser_address
        ):
            self.create_le_connection(pdu.advertiser_address)

    def on_radio_scan_response(
        self, _sender: RadioController, pdu: AdvertisingPdu, rssi: int
    ) -> None:
        if self.le_scan_enable and not self._duplicate(pdu.advertiser_address, SCAN_RSP):
            self._report(SCAN_RSP, pdu.advertiser_address, pdu.scan_response, rssi)

    def _duplicate(self, address: hci.Address, adv_type: int) -> bool:
        if not self.filter_duplicates:
            return False
        key = (address, adv_type)
        if key in self.rx_filter_duplicates:
            return True
        self.rx_filter_duplicates.add(key)
        return False

    def _report(self, event_type: int, address: hci.Address, data: bytes, rssi: int) -> None:
        self.send_hci_packet(
            hci.HCI_LE_Advertising_Report_Event(
                [
                    hci.HCI_LE_Advertising_Report_Event.Report(
                        event_type=event_type,
                        address_type=address.address_type,
                        address=address,
                        data=data,
                        rssi=rssi,
                    )
                ]
            )
        )

    # -- connections -------------------------------------------------------------------------
    def on_hci_reset_command(self, command: hci.HCI_Reset_Command):
        """What a real controller does on reset: stop advertising, scanning and initiating,
        and forget every link at once (the peers find out by supervision timeout)."""
        self.le_legacy_advertiser.stop()
        self.le_scan_enable = False
        self.pending_le_connection = None
        self.radio.listening_changed(self)
        for peer in list(self.le_connections):
            self.radio.abandon(self, peer)
            del self.le_connections[peer]
        return super().on_hci_reset_command(command)

    def on_le_disconnected(self, connection: Connection, reason: int) -> None:
        self.radio.link_closed(self, connection.peer_address)
        super().on_le_disconnected(connection, reason)

    def on_hci_read_rssi_command(self, command: hci.HCI_Read_RSSI_Command):
        connection = self.find_le_connection_by_handle(command.handle)
        if connection is None:
            return hci.HCI_Read_RSSI_ReturnParameters(
                status=hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
                handle=command.handle,
                rssi=127,
            )
        peer = self.radio.find_le_controller(connection.peer_address)
        if not isinstance(peer, RadioController) or not self.radio.reachable(peer, self):
            rssi = 127  # "not available"
        else:
            rssi = self.radio.sample_rssi(peer, self)
        return hci.HCI_Read_RSSI_ReturnParameters(
            status=hci.HCI_ErrorCode.SUCCESS, handle=command.handle, rssi=rssi
        )


def _disarm(timer: simpy.Timeout | None) -> None:
    """Stop a pending SimPy timer from calling back (a processed one has nothing to stop)."""
    if timer is not None and timer.callbacks is not None:
        timer.callbacks.clear()


def _pos(p: Any) -> Position:
    values = [float(v) for v in p]
    if len(values) == 2:
        values.append(0.0)
    if len(values) != 3:
        raise ValueError(f"a position is (x, y) or (x, y, z) in metres, got {p!r}")
    return (values[0], values[1], values[2])
