"""A BLE peripheral node: a Bumble host and a :class:`~sim.radio.RadioController` on the radio,
advertising and serving the GATT database its :class:`~devices.ble.spec.PeripheralSpec` names.

Notification rates are SimPy processes of the world; the notifications themselves go out
through Bumble's GATT server, over the simulated link. Values that change over time follow their
model's ticks (tick n at power-on + n periods), applied when the value is looked at (a read, a
notification, a write): the same values as a process per value would set, without an event per
tick for the thousands of advertisers nobody reads.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from bumble import att, hci
from bumble.device import AdvertisingType, Device
from bumble.gatt import Characteristic, CharacteristicValue, Descriptor, Service
from bumble.keys import KeyStore, MemoryKeyStore
from bumble.transport import Transport, open_transport

from devices.ble.att_permissions import permissions_for, refuse_unpermitted_writes
from devices.ble.host import new_device
from devices.ble.security import PeripheralSecurity
from devices.ble.spec import CharacteristicSpec, PeripheralSpec, ValueModel, standard_peripheral
from sim.radio import Radio, RadioController

if TYPE_CHECKING:
    from sim.world import World

_GATT_SERVER_LOG = logging.getLogger("bumble.gatt_server")
GAP_CHARACTERISTICS = ("2A00", "2A01")  # Device Name, Appearance: served by Bumble's GAP
_ADVERTISING_TYPES = {
    0: AdvertisingType.UNDIRECTED_CONNECTABLE_SCANNABLE,
    1: AdvertisingType.DIRECTED_CONNECTABLE_LOW_DUTY,
    2: AdvertisingType.UNDIRECTED_SCANNABLE,
    3: AdvertisingType.UNDIRECTED,
}


@dataclass(slots=True)
class _Evolution:
    """One value under its model since power-on at ``started``: tick n, at ``started`` + n
    periods, sets the model's value for n (a random walk takes one step a tick)."""

    model: ValueModel
    started: float
    rng: random.Random | None  # a random walk's own stream
    ticks: int = 0  # ticks applied so far
    x: float = 0.0

    def advance(self, now: float) -> bytes | None:
        """The value after every tick due by ``now``; None when no new tick is due."""
        model = self.model
        # a tick falls due at its time, not a rounding error later
        due = int((now - self.started) / model.period_s + 1e-9) + 1
        if due <= self.ticks:
            return None
        n = due - 1
        if model.kind == "counter":
            x = model.start + n * model.step
        elif model.kind == "sine":
            x = model.start + model.amplitude * math.sin(2 * math.pi * n / 60.0)
        else:  # random_walk: every missed step, in order
            assert self.rng is not None
            for _ in range(due - self.ticks):
                self.x += self.rng.uniform(-model.step, model.step)
            x = self.x
        self.ticks = due
        return model.encode(x)


class BlePeripheral:
    """One peripheral of the world. Create, then ``await power_on()``."""

    def __init__(self, world: World, radio: Radio, spec: PeripheralSpec) -> None:
        self.world = world
        self.radio = radio
        self.spec = spec
        self.name = spec.name
        self.position = tuple(spec.position)
        self.controller: RadioController | None = None
        self._transport: Transport | None = None  # set when on a real controller
        self.device: Device | None = None
        self.powered = False
        self.keystore: KeyStore = MemoryKeyStore()  # survives power cycles, like flash
        self.security = PeripheralSecurity(world, spec.name, spec.security)
        self.values: dict[int, bytes] = {}  # characteristic index -> value (see _value)
        self._evolving: dict[int, _Evolution] = {}  # index -> model, while powered
        self.writes: list[tuple[float, str, bytes]] = []  # (t, uuid, value) received
        self.notifications_sent = 0
        # (world time, value) of every notification / indication handed to the stack, kept
        # only when a measurement asks for it (set to a list): latency = receipt - send time
        self.send_log: list[tuple[float, bytes]] | None = None
        self._characteristics: list[tuple[CharacteristicSpec, Characteristic]] = []
        self._generation = 0
        world.add_node(self)

    @property
    def address(self) -> str:
        return self.spec.address_text

    # -- power -------------------------------------------------------------------------------
    async def power_on(self) -> None:
        if self.powered:
            return
        self._generation += 1
        self._retire_controller()
        config_address = (
            self.spec.address
            if not self.spec.address.is_public
            else hci.Address("C0:00:00:00:00:01")
        )
        if self.spec.hci_transport:
            # A real controller (a USB dongle, a serial HCI board, ...): the world must run in
            # real time, and the controller's own radio decides what the air does.
            self._transport = await open_transport(self.spec.hci_transport)
            device = new_device(
                self.name, config_address, self._transport.source, self._transport.sink
            )
        else:
            public = self.spec.address if self.spec.address.is_public else None
            self.controller = RadioController(
                self.name,
                self.radio,
                self.position,
                public_address=public,
                tx_power_dbm=self.spec.tx_power_dbm,
            )
            device = new_device(self.name, config_address, self.controller, self.controller)
        device.keystore = self.keystore
        self.security.install(device)
        self.device = device
        self._build_gatt(device)
        await device.power_on()
        own = (
            hci.OwnAddressType.PUBLIC if self.spec.address.is_public else hci.OwnAddressType.RANDOM
        )
        await device.start_advertising(
            advertising_type=_ADVERTISING_TYPES[self.spec.adv_type],
            own_address_type=own,
            auto_restart=self.spec.adv_type in (0, 1),
            advertising_data=self.spec.ad_data,
            scan_response_data=self.spec.scan_response,
            advertising_interval_min=self.spec.adv_interval_ms,
            advertising_interval_max=self.spec.adv_interval_ms,
        )
        self.powered = True
        self.world.trace.emit(self.name, "world", "power-on", address=self.address)
        self._start_processes()

    async def power_off(self) -> None:
        """Cut the power: no more radio, links drop by supervision timeout on the far side."""
        if not self.powered:
            return
        self.powered = False
        self._generation += 1
        for key in list(self._evolving):
            self._value(key)  # the ticks due until now, and no more
        self._evolving.clear()
        if self._transport is not None:
            # A real controller cannot be unplugged from here: reset it (it stops advertising
            # and drops its links without a word, as a power cut would) and let it go.
            if self.device is not None:
                await self.device.host.send_command(hci.HCI_Reset_Command())
            await self._transport.close()
            self._transport = None
        elif self.controller is not None:
            self.controller.le_legacy_advertiser.stop()
            self.radio.set_power(self.controller, False)
        self.world.trace.emit(self.name, "world", "power-off")

    def _retire_controller(self) -> None:
        """Before powering on again: the previous (unpowered) controller leaves the radio
        once its links have timed out; a link still pending keeps it until then."""
        old = self.controller
        if old is not None and not old.le_connections:
            self.radio.remove_controller(old)

    def move(self, position: tuple[float, ...]) -> None:
        if self.spec.hci_transport:
            raise ValueError(
                f"{self.name} is on a real radio ({self.spec.hci_transport}); "
                "the harness cannot move it: carry it"
            )
        self.position = tuple(float(v) for v in position)
        if self.controller is not None:
            self.radio.move(self.controller, self.position)

    # -- GATT --------------------------------------------------------------------------------
    def _build_gatt(self, device: Device) -> None:
        self._characteristics = []
        services = []
        index = 0
        for service_spec in self.spec.services:
            chars = []
            for cs in service_spec.characteristics:
                key = index
                index += 1
                self.values[key] = cs.value  # RAM: a power cycle resets it
                value = CharacteristicValue(
                    read=self._reader(key), write=self._writer(key, str(cs.uuid))
                )
                descriptors = [
                    Descriptor(uuid, Descriptor.READABLE, v) for uuid, v in cs.descriptors
                ]
                char = Characteristic(
                    cs.uuid,
                    Characteristic.Properties(cs.properties),
                    permissions_for(cs.properties),
                    value,
                    descriptors,
                )
                chars.append(char)
                self._characteristics.append((cs, char))
            services.append(Service(service_spec.uuid, chars))
        device.add_services(services)
        refuse_unpermitted_writes(device.gatt_server.attributes)  # GAP's Device Name too

    def _value(self, key: int) -> bytes:
        """The value now: its model's ticks due by now applied first."""
        evolving = self._evolving.get(key)
        if evolving is not None:
            value = evolving.advance(self.world.now)
            if value is not None:
                self.values[key] = value
        return self.values[key]

    def _reader(self, key: int) -> Any:
        return lambda _connection: self._value(key)

    def _writer(self, key: int, uuid: str) -> Any:
        def write(_connection: Any, value: bytes) -> None:
            self._value(key)  # ticks before the write do not overwrite it later
            self.values[key] = bytes(value)
            self.writes.append((self.world.now, uuid, bytes(value)))
            self.world.trace.emit(self.name, "gatt", "written", uuid=uuid, value=bytes(value))

        return write

    def held_values(self) -> dict[str, bytes]:
        """Every characteristic's value now, by UUID (``2A37``, or the 128-bit form): the spec's,
        then the GAP ones the stack serves itself (Device Name 2A00, Appearance 2A01)."""
        held: dict[str, bytes] = {}
        for key, (cs, _char) in enumerate(self._characteristics):
            held.setdefault(cs.uuid.to_hex_str(), self._value(key))
        for uuid in GAP_CHARACTERISTICS:
            try:
                held.setdefault(uuid, self.value_of(uuid))
            except KeyError:  # powered off before its first power-on: no GATT server yet
                pass
        return held

    def value_of(self, uuid: str) -> bytes:
        """The value a characteristic holds now: one of the spec's, or one the stack serves
        itself (GAP's Device Name 2A00 and Appearance 2A01)."""
        for key, (cs, _char) in enumerate(self._characteristics):
            if str(cs.uuid).upper() == uuid.upper() or cs.uuid.to_hex_str().upper() == uuid.upper():
                return self._value(key)
        for attribute in self.device.gatt_server.attributes if self.device else ():
            if isinstance(attribute, Characteristic) and _same_uuid(attribute.uuid, uuid):
                value = attribute.value
                return value if isinstance(value, bytes) else attribute.encode_value(value)
        raise KeyError(f"{self.name} has no characteristic {uuid}")

    # -- time-varying values and notifications (SimPy processes) ----------------------------
    def _start_processes(self) -> None:
        generation = self._generation
        self._evolving.clear()
        for key, (cs, char) in enumerate(self._characteristics):
            model = cs.model
            if model is not None and model.kind != "constant":
                rng = (
                    self.world.rng(f"{self.name}/value/{key}")
                    if model.kind == "random_walk"
                    else None
                )
                self._evolving[key] = _Evolution(model, self.world.now, rng, x=model.start)
                self._value(key)  # tick 0
            if cs.notify_hz > 0 and cs.properties & 0x30:
                self.world.process(
                    self._notify(key, cs, char, generation), f"{self.name}/notify/{key}"
                )

    def _notify(
        self,
        key: int,
        cs: CharacteristicSpec,
        char: Characteristic,  # type: ignore[no-untyped-def]
        generation: int,
    ):
        period = 1.0 / cs.notify_hz
        indicate = not (cs.properties & 0x10)
        while self._generation == generation:
            yield self.world.timeout(period)
            if self._generation != generation or self.device is None:
                return
            device = self.device
            if not device.connections:
                continue
            value = self._value(key)
            if self.send_log is not None:
                self.send_log.append((self.world.now, value))
            if not indicate and _notify_now(device, char, value):
                self.notifications_sent += 1
                continue
            coro = (
                device.indicate_subscribers(char, value)
                if indicate
                else device.notify_subscribers(char, value)
            )
            self.world.spawn(self._send(coro), name=f"{self.name}/notify")

    async def _send(self, coro: Any) -> None:
        try:
            await coro
            self.notifications_sent += 1
        except (asyncio.CancelledError, Exception):  # a link dropped mid-send: nothing to do
            pass


def _notify_now(device: Device, char: Characteristic, value: bytes) -> bool:
    """Notify ``value`` on every connection whose client enabled notifications for ``char``,
    right now: the PDU Bumble's GATT server would send, through its own send path. False (and
    nothing sent) when Bumble must do it itself: debug logging is on, or a connection has
    enhanced ATT bearers.

    Bumble's ``notify_subscribers`` makes a task per subscriber, waits on them, and formats
    each PDU for a debug line whether or not it is logged: under a notification load that costs
    more than the notification."""
    if _GATT_SERVER_LOG.isEnabledFor(logging.DEBUG):
        return False
    connections = list(device.connections.values())
    channels = device.l2cap_channel_manager.le_coc_channels
    if any(channels.get(connection.handle) for connection in connections):
        return False
    server = device.gatt_server
    encoded = char.encode_value(value)
    for connection in connections:
        cccd = server.subscribers.get(connection, {}).get(char.handle)
        if cccd and len(cccd) == 2 and cccd[0] & 0x01:
            pdu = att.ATT_Handle_Value_Notification(
                attribute_handle=char.handle, attribute_value=encoded[: connection.att_mtu - 3]
            )
            server.send_gatt_pdu(connection, bytes(pdu))
    return True


def _same_uuid(held: Any, asked: str) -> bool:
    wanted = asked.upper().replace("-", "")
    return wanted in (str(held).upper().replace("-", ""), held.to_hex_str().upper())


class OnRadio(Protocol):
    """Where peripherals can be placed: a world and its radio (a test bed, for instance)."""

    @property
    def world(self) -> World: ...

    @property
    def radio(self) -> Radio: ...


async def start_peripheral(place: OnRadio, spec: PeripheralSpec | dict[str, Any]) -> BlePeripheral:
    """A peripheral built from its description (a :class:`PeripheralSpec` or its dict form)
    on ``place``'s radio, powered on."""
    parsed = spec if isinstance(spec, PeripheralSpec) else PeripheralSpec.from_dict(spec)
    peripheral = BlePeripheral(place.world, place.radio, parsed)
    await peripheral.power_on()
    return peripheral


async def add_peripheral(place: OnRadio, index: int, **standard: Any) -> BlePeripheral:
    """The stock sensor number ``index`` (:func:`~devices.ble.spec.standard_peripheral`, with
    its keyword arguments: position, notify_hz, advertising or security fields, spec_changes)
    on ``place``'s radio, powered on."""
    return await start_peripheral(place, standard_peripheral(index, **standard))
