"""BLE peripherals bridged to the platform through a Bumble central of the gateway's own on the
world's radio (:class:`~sim.radio.RadioController` + a Bumble host and ``Device``).

* The central scans all the time (passive unless ``active_scan``). An advertisement from a
  configured address that is not connected starts a connection (one attempt at a time, as a
  controller allows); a failed attempt is simply tried again at the next advertisement.
* Once connected: GATT discovery, then the device counts as *connected*
  (``v1/gateway/connect``), its attribute characteristics are read (client attributes), its
  ``notify`` telemetry characteristics are subscribed (notification or indication, whichever
  the characteristic offers) and its ``poll_s`` ones read periodically. Each value is decoded
  by its entry and reported with the time it arrived.
* A lost link (supervision timeout: out of range, powered off, blocked) makes it
  *disconnected*; the central reconnects when the device advertises again.
* Reads and writes for RPCs and shared attributes are GATT reads and writes (with or without
  response, per entry), each bounded by ``op_timeout_s``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bumble import att, core, hci
from bumble.core import UUID
from bumble.device import Connection, Device, Peer

from devices.ble.host import new_device
from devices.gateways.mqtt_gateway.config import Characteristic, DeviceConfig, Point
from devices.gateways.mqtt_gateway.errors import DeviceFailure, DeviceOffline
from devices.gateways.mqtt_gateway.values import CodecError
from sim.radio import RadioController

if TYPE_CHECKING:
    from bumble.gatt_client import CharacteristicProxy

    from devices.gateways.mqtt_gateway.bridge import Reporter
    from devices.gateways.mqtt_gateway.config import BleSettings
    from sim.radio import Radio
    from sim.world import World

# A powered-off central leaves the radio once its links have timed out on the far side.
_RETIRE_AFTER_S = 5.0


@dataclass
class _Link:
    device: DeviceConfig
    connection: Connection
    peer: Peer
    online: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def _key(address: hci.Address) -> tuple[bytes, bool]:
    return address.address_bytes, address.is_public


class BleBridge:
    def __init__(
        self, world: World, settings: BleSettings, radio: Radio, node: str, reporter: Reporter
    ) -> None:
        self.world = world
        self.settings = settings
        self.radio = radio
        self.node = node
        self._reporter = reporter
        self._wanted = {_key(d.address): d for d in settings.devices if d.address is not None}
        self._links: dict[str, _Link] = {}
        self._connecting: str | None = None
        self._stopping = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self.controller: RadioController | None = None
        self.device: Device | None = None

    def is_online(self, device: str) -> bool:
        link = self._links.get(device)
        return link is not None and link.online

    # -- life cycle --------------------------------------------------------------------------
    async def start(self) -> None:
        s = self.settings
        self.controller = RadioController(f"{self.node}/ble", self.radio, s.position)
        device = new_device(
            f"{self.node}-ble", hci.Address(s.address), self.controller, self.controller
        )
        device.on("advertisement", self._on_advertisement)
        await device.power_on()
        await device.start_scanning(active=s.active_scan, filter_duplicates=False)
        self.device = device
        self.world.trace.emit(self.node, "hci", "ble-central-on", address=s.address)

    async def stop(self) -> None:
        """Disconnect every link (quietly: a stopping gateway reports no device as gone)."""
        self._stopping = True
        self._cancel_tasks()
        for link in list(self._links.values()):
            try:
                await asyncio.wait_for(link.connection.disconnect(), 2.0)
            except (Exception, asyncio.TimeoutError):  # noqa: UP041 - both names on 3.11
                pass
        self._power_off()

    def abort(self) -> None:
        """The gateway dies: the radio goes silent; peers notice at their supervision timeout."""
        self._stopping = True
        self._cancel_tasks()
        self._power_off()

    def _cancel_tasks(self) -> None:
        for link in self._links.values():
            for task in link.tasks:
                task.cancel()
        for task in self._tasks:
            task.cancel()

    def _power_off(self) -> None:
        controller = self.controller
        if controller is None:
            return
        controller.le_scan_enable = False
        controller.pending_le_connection = None
        self.radio.listening_changed(controller)
        self.radio.set_power(controller, False)
        self.world.trace.emit(self.node, "hci", "ble-central-off")

        def retire() -> None:
            if controller.le_connections:
                self.world.loop.call_later(_RETIRE_AFTER_S, retire)
            else:
                self.radio.remove_controller(controller)

        self.world.loop.call_later(_RETIRE_AFTER_S, retire)

    # -- connecting --------------------------------------------------------------------------
    def _on_advertisement(self, advertisement: Any) -> None:
        if self._stopping or self._connecting is not None:
            return
        device = self._wanted.get(_key(advertisement.address))
        if device is None or device.name in self._links or not advertisement.is_connectable:
            return
        self._connecting = device.name
        self._spawn(self._connect(device), f"connect/{device.name}")

    async def _connect(self, device: DeviceConfig) -> None:
        assert self.device is not None and device.address is not None
        try:
            self.world.trace.emit(self.node, "hci", "connect", device=device.name)
            connection = await self.device.connect(
                device.address,
                own_address_type=hci.OwnAddressType.RANDOM,
                timeout=self.settings.connect_timeout_s,
            )
        except (core.BaseBumbleError, asyncio.TimeoutError) as exc:  # noqa: UP041
            self.world.trace.emit(
                self.node, "hci", "connect-failed", device=device.name, error=repr(exc)
            )
            return
        finally:
            self._connecting = None
        link = _Link(device, connection, Peer(connection))
        self._links[device.name] = link
        connection.on("disconnection", lambda reason: self._on_disconnection(link, reason))
        try:
            await asyncio.wait_for(self._discover(link), self.settings.op_timeout_s * 4)
        except (core.BaseBumbleError, att.ATT_Error, asyncio.TimeoutError) as exc:  # noqa: UP041
            self.world.trace.emit(
                self.node, "gatt", "discovery-failed", device=device.name, error=repr(exc)
            )
            await self._drop(link)
            if self._links.get(device.name) is link:  # never heard of its end: forget it
                del self._links[device.name]
            return
        if self._links.get(device.name) is not link:
            return  # the link dropped meanwhile
        link.online = True
        self._reporter.device_online(device)
        await self._read_attributes(link)
        for point in device.telemetry:
            if point.notify:
                await self._subscribe(link, point)
            elif point.poll_s is not None:
                link.tasks.append(
                    self._spawn(self._poll(link, point), f"poll/{device.name}/{point.name}")
                )

    async def _discover(self, link: _Link) -> None:
        await link.peer.discover_services()
        for service in link.peer.services:
            await link.peer.discover_characteristics(service=service)

    async def _drop(self, link: _Link) -> None:
        try:
            await asyncio.wait_for(link.connection.disconnect(), 2.0)
        except (Exception, asyncio.TimeoutError):  # noqa: UP041
            pass

    def _on_disconnection(self, link: _Link, reason: int) -> None:
        device = link.device
        if self._links.get(device.name) is not link:
            return
        del self._links[device.name]
        for task in link.tasks:
            task.cancel()
        try:
            reason_name = hci.HCI_Constant.error_name(reason)
        except Exception:
            reason_name = f"0x{reason:02X}"
        self.world.trace.emit(
            self.node, "hci", "disconnected", device=device.name, reason=reason_name
        )
        if link.online and not self._stopping:
            self._reporter.device_offline(device, f"BLE link lost ({reason_name})")

    # -- values ------------------------------------------------------------------------------
    async def _read_attributes(self, link: _Link) -> None:
        values: dict[str, Any] = {}
        for point in link.device.attributes:
            try:
                values[point.name] = await self.read(link.device, point)
            except (DeviceFailure, DeviceOffline, CodecError) as exc:
                self.world.trace.emit(
                    self.node, "gatt", "attribute-read-failed", device=link.device.name,
                    key=point.name, error=str(exc),
                )  # fmt: skip
        if values and link.online:
            self._reporter.report_attributes(link.device, values)

    async def _subscribe(self, link: _Link, point: Point) -> None:
        def on_value(value: bytes) -> None:
            if link.online and self._links.get(link.device.name) is link:
                self._report(link, point, bytes(value))

        try:
            char = self._characteristic(link, point)
            await asyncio.wait_for(link.peer.subscribe(char, on_value), self.settings.op_timeout_s)
        except (DeviceFailure, core.BaseBumbleError, att.ATT_Error, asyncio.TimeoutError) as exc:  # noqa: UP041
            self.world.trace.emit(
                self.node, "gatt", "subscribe-failed", device=link.device.name, key=point.name,
                error=repr(exc),
            )  # fmt: skip

    async def _poll(self, link: _Link, point: Point) -> None:
        assert point.poll_s is not None
        while True:
            try:
                char = self._characteristic(link, point)
                value = await self._gatt(link, "read", link.peer.read_value(char))
                self._report(link, point, bytes(value))
            except DeviceFailure as exc:
                self.world.trace.emit(
                    self.node, "gatt", "poll-failed", device=link.device.name, key=point.name,
                    error=str(exc),
                )  # fmt: skip
            await asyncio.sleep(point.poll_s)

    def _report(self, link: _Link, point: Point, value: bytes) -> None:
        try:
            decoded = point.codec.decode_bytes(value)
        except CodecError as exc:
            self.world.trace.emit(
                self.node, "gatt", "decode-failed", device=link.device.name, key=point.name,
                error=str(exc),
            )  # fmt: skip
            return
        self._reporter.report_telemetry(link.device, {point.name: decoded})

    async def read(self, device: DeviceConfig, point: Point) -> Any:
        link = self._link(device)
        char = self._characteristic(link, point)
        value = await self._gatt(link, f"read of {_target(point).uuid}", link.peer.read_value(char))
        return point.codec.decode_bytes(bytes(value))

    async def write(self, device: DeviceConfig, point: Point, value: Any) -> None:
        link = self._link(device)
        target = _target(point)
        data = point.codec.encode_bytes(value)
        char = self._characteristic(link, point)
        await self._gatt(
            link,
            f"write to {target.uuid}",
            link.peer.write_value(char, data, with_response=target.with_response),
        )
        self.world.trace.emit(
            self.node, "gatt", "written", device=device.name, key=point.name, value=data,
            response=target.with_response,
        )  # fmt: skip

    def _link(self, device: DeviceConfig) -> _Link:
        link = self._links.get(device.name)
        if link is None or not link.online:
            raise DeviceOffline(f"device {device.name!r} ({device.address}) is not connected")
        return link

    def _characteristic(self, link: _Link, point: Point) -> CharacteristicProxy[bytes]:
        target = _target(point)
        service = UUID(target.service) if target.service else None
        found = link.peer.get_characteristics_by_uuid(UUID(target.uuid), service)
        if not found:
            where = f" in service {target.service}" if target.service else ""
            raise DeviceFailure(
                f"device {link.device.name!r} has no characteristic {target.uuid}{where}"
            )
        return found[0]

    async def _gatt(self, link: _Link, what: str, procedure: Any) -> Any:
        name = link.device.name
        try:
            return await asyncio.wait_for(procedure, self.settings.op_timeout_s)
        except att.ATT_Error as exc:
            raise DeviceFailure(
                f"{what} on {name!r}: the device answered {exc.error_name} "
                f"(ATT error 0x{exc.error_code:02X})"
            ) from None
        except (asyncio.TimeoutError, TimeoutError):  # noqa: UP041
            raise DeviceFailure(f"{what} on {name!r}: the device did not answer") from None
        except (core.BaseBumbleError, asyncio.CancelledError) as exc:
            if isinstance(exc, asyncio.CancelledError):
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
            raise DeviceFailure(f"{what} on {name!r} failed: {exc!r}") from None

    def _spawn(self, coro: Any, what: str) -> asyncio.Task[Any]:
        task = self.world.spawn(coro, name=f"{self.node}/ble/{what}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def _target(point: Point) -> Characteristic:
    assert isinstance(point.target, Characteristic)
    return point.target
