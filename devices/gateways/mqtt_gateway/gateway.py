"""The reference MQTT gateway: BLE peripherals and Modbus slaves of the world, bridged to a
ThingsBoard-style platform over the gateway API (seed 001).

:class:`MqttGateway` joins the parts: the bridges (:mod:`.ble_bridge`, :mod:`.modbus_bridge`)
report devices coming and going, telemetry and attributes; each report becomes a row of the
persistent outbox (:mod:`.outbox`), sent in order by :mod:`.delivery` over the MQTT connection
of :mod:`.uplink`; what the platform sends down (shared attributes, RPC, attribute responses)
goes back to the device's bridge (:mod:`.rpc`). It emits the domain events of :mod:`.events`
and writes trace records (node = the gateway's name; layers ``mqtt``, ``app``, ``hci``,
``gatt``); the access token never appears in either.

Sessions on the platform: after every (re)connection the gateway re-announces each device it
holds (``v1/gateway/connect``), because the platform ended their sessions with the gateway's,
and asks for the shared attributes its mappings write (``v1/gateway/attributes/request``),
because updates made while it was away were not pushed. A device quiet for
``device_refresh_s`` is re-announced too, so its platform session (10 minutes) never expires
while the device is there. A stopping gateway does not announce its devices as gone: the
platform ends their sessions with the gateway's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bumble.utils import EventEmitter

from devices.gateways.mqtt_gateway import events, rpc
from devices.gateways.mqtt_gateway.ble_bridge import BleBridge
from devices.gateways.mqtt_gateway.config import DeviceConfig, GatewayConfig, load_config
from devices.gateways.mqtt_gateway.delivery import Delivery
from devices.gateways.mqtt_gateway.deviations import gateway_deviations
from devices.gateways.mqtt_gateway.errors import ConfigError, NotConnected, RequestTimeout
from devices.gateways.mqtt_gateway.modbus_bridge import ModbusBridge
from devices.gateways.mqtt_gateway.outbox import open_outbox
from devices.gateways.mqtt_gateway.topics import (
    ATTRIBUTES,
    ATTRIBUTES_REQUEST,
    ATTRIBUTES_RESPONSE,
    CONNECT,
    ME_RPC_REQUEST,
    ME_RPC_RESPONSE,
    RPC,
    dumps,
    loads_object,
)
from devices.gateways.mqtt_gateway.uplink import Uplink
from devices.gateways.mqtt_gateway.values import finite

if TYPE_CHECKING:
    from devices.deviations import Deviations
    from devices.gateways.mqtt_gateway.bridge import DeviceBridge
    from devices.gateways.mqtt_gateway.limits import SessionLimits
    from devices.protocols.mqtt.paho_virtual import Dial, ProtocolFactory
    from sim.iplink import IpNetwork
    from sim.radio import Radio
    from sim.rs485 import Rs485Bus
    from sim.world import World


class MqttGateway(EventEmitter):
    """One gateway in ``world``. Build, ``await start()``, later ``await stop()`` (graceful) or
    ``await crash()`` (a process killed: nothing flushed, no DISCONNECT).

    ``net``: reach the platform over this in-world IP network, from host ``host`` (default:
    the gateway's name); without it, over a real TCP connection to ``platform.host:port`` (real
    time). ``radio`` and ``buses`` default to the world's media (``"radio"``,
    ``"rs485/<bus>"``) when the configuration has a ``ble`` or ``modbus`` section.
    """

    def __init__(
        self,
        world: World,
        config: GatewayConfig,
        *,
        net: IpNetwork | None = None,
        radio: Radio | None = None,
        buses: Mapping[str, Rs485Bus] | None = None,
        host: str | None = None,
        deviations: Iterable[str] | Deviations = (),
    ) -> None:
        super().__init__()
        self.world = world
        self.config = config
        self.deviations = gateway_deviations(deviations)
        self.name = config.name
        self.host = host or config.name
        radio, bus = self._media(radio, buses)
        self.uplink = Uplink(
            world,
            config.platform,
            config.client_id,
            config.access_token,
            self._dialer(net),
            self.name,
            self,
            self.deviations,
        )
        in_memory = self.deviations.active("gateway-queue-lost-on-restart")
        self.outbox = open_outbox(":memory:" if in_memory else config.delivery.path)
        try:
            world.add_node(self)
        except ValueError:  # a gateway of this name is still running
            self.outbox.close()
            raise
        self.delivery = Delivery(
            world,
            self.outbox,
            config.delivery,
            self._publish_row,
            self.name,
            self.emit,
            self.deviations,
        )
        self._bridges: list[DeviceBridge] = []
        self._bridge_of: dict[str, DeviceBridge] = {}
        if radio is not None and config.ble is not None:
            ble = BleBridge(world, config.ble, radio, self.name, self)
            self._add_bridge(ble, config.ble.devices)
        if bus is not None and config.modbus is not None:
            modbus = ModbusBridge(world, config.modbus, bus, self.name, self)
            self._add_bridge(modbus, config.modbus.devices)
        self.online: dict[str, DeviceConfig] = {}
        """The devices the gateway holds now, by name."""
        self._heard: dict[str, float] = {}  # device -> when the platform last heard of it
        self._requests: dict[int, tuple[list[str], asyncio.Future[dict[str, Any]]]] = {}
        self._next_request = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._refresh: asyncio.TimerHandle | None = None
        self.running = False
        self.closed = False
        self._final_counters: dict[str, int] | None = None
        self._unannounced: set[str] = set()  # gateway-data-before-connect: connect comes late
        self._first_values: dict[tuple[str, str], Any] = {}  # gateway-values-stale

    def _media(
        self, radio: Radio | None, buses: Mapping[str, Rs485Bus] | None
    ) -> tuple[Radio | None, Rs485Bus | None]:
        """The radio and the bus the configuration needs (None where it needs none)."""
        config, world = self.config, self.world
        if config.ble is not None and config.ble.devices:
            radio = radio or world.media.get("radio")
            if radio is None:
                raise ConfigError("the configuration has BLE devices, but the world has no radio")
        else:
            radio = None
        bus = None
        if config.modbus is not None and config.modbus.devices:
            name = config.modbus.bus
            bus = (buses or {}).get(name) or world.media.get(f"rs485/{name}")
            if bus is None:
                raise ConfigError(f"modbus.bus: the world has no RS485 bus named {name!r}")
        return radio, bus

    def _add_bridge(self, bridge: DeviceBridge, devices: tuple[DeviceConfig, ...]) -> None:
        self._bridges.append(bridge)
        for device in devices:
            self._bridge_of[device.name] = bridge

    def _dialer(self, net: IpNetwork | None) -> Dial:
        host, port = self.config.platform.host, self.config.platform.port
        if net is not None:

            def dial_in_world(factory: ProtocolFactory) -> Any:
                return net.create_connection(factory, host, port, self.host)

            return dial_in_world

        async def dial_tcp(factory: ProtocolFactory) -> Any:
            return await asyncio.get_running_loop().create_connection(factory, host, port)

        return dial_tcp

    # -- life cycle --------------------------------------------------------------------------
    async def start(self) -> None:
        self.running = True
        self.world.trace.emit(
            self.name, "app", "gateway-start", client_id=self.config.client_id,
            queued=len(self.outbox),
        )  # fmt: skip
        self.uplink.start()
        for bridge in self._bridges:
            await bridge.start()
        self._arm_refresh()

    async def stop(self) -> None:
        """Graceful: stop the bridges, send what is queued and wait for its PUBACKs (at most
        ``delivery.drain_s`` twice), DISCONNECT, close the queue. Unsent rows stay in it."""
        if self.closed:
            return
        if self.running:
            self.running = False
            self._stop_timers()
            for bridge in self._bridges:
                await bridge.stop()
            await self.delivery.settle(self.config.delivery.drain_s)
            await self.uplink.stop()
        self._close("stop")

    async def crash(self) -> None:
        """The gateway process dies: no flush, no DISCONNECT; the queue file keeps every row
        not yet acknowledged."""
        if self.closed:
            return
        if self.running:
            self.running = False
            self._stop_timers()
            self.uplink.abort()
            for bridge in self._bridges:
                bridge.abort()
        self._close("crash")

    def _stop_timers(self) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
            self._refresh = None
        for task in self._tasks:
            task.cancel()
        for _keys, future in self._requests.values():
            if not future.done():
                future.set_exception(NotConnected("the gateway is stopping"))

    def _close(self, how: str) -> None:
        self.closed = True
        self.delivery.close()
        self._final_counters = self.outbox.counters()
        self.outbox.close()
        self.world.trace.emit(self.name, "app", f"gateway-{how}")
        self.world.remove_node(self.name)

    # -- what the bridges report (bridge.Reporter) -------------------------------------------
    def device_online(self, device: DeviceConfig) -> None:
        if device.name in self.online:
            return
        self.online[device.name] = device
        self._heard[device.name] = self.world.now
        if self.deviations.active("gateway-data-before-connect"):
            self._unannounced.add(device.name)
        else:
            self._enqueue("connect", device.name, {"device": device.name, "type": device.type})
        self.world.trace.emit(
            self.name, "app", "device-connected", device=device.name, type=device.type
        )
        self.emit(events.DEVICE_CONNECTED, device.name, device.type)
        if device.attribute_updates and self.uplink.ready:
            self._spawn(self._sync_shared(device), f"sync/{device.name}")

    def device_offline(self, device: DeviceConfig, reason: str) -> None:
        if self.online.pop(device.name, None) is None:
            return
        self._heard.pop(device.name, None)
        if not self.deviations.active("gateway-no-disconnect"):
            self._enqueue("disconnect", device.name, {"device": device.name})
        self.world.trace.emit(
            self.name, "app", "device-disconnected", device=device.name, reason=reason
        )
        self.emit(events.DEVICE_DISCONNECTED, device.name, reason)

    def report_telemetry(self, device: DeviceConfig, values: dict[str, Any]) -> None:
        kept = self._finite(device, values)
        if not kept:
            return
        if self.deviations.active("gateway-values-stale"):
            kept = {k: self._first_values.setdefault((device.name, k), v) for k, v in kept.items()}
        ts = self.clock_ms()
        if self.deviations.active("gateway-ts-seconds"):
            ts //= 1000
        self._enqueue("telemetry", device.name, {"ts": ts, "values": kept})
        self._announce_late(device)
        self.emit(events.TELEMETRY, device.name, ts, kept)

    def report_attributes(self, device: DeviceConfig, values: dict[str, Any]) -> None:
        kept = self._finite(device, values)
        if kept:
            self._enqueue("attributes", device.name, kept)
            self._announce_late(device)

    def _announce_late(self, device: DeviceConfig) -> None:
        """gateway-data-before-connect: the connect follows the device's first data."""
        if device.name in self._unannounced:
            self._unannounced.discard(device.name)
            self._enqueue("connect", device.name, {"device": device.name, "type": device.type})

    def claim(self, device: str, secret_key: str = "", duration_ms: int | None = None) -> None:
        """Queue a claim request for ``device`` (``v1/gateway/claim``); both fields optional."""
        body: dict[str, Any] = {"secretKey": secret_key}
        if duration_ms is not None:
            body["durationMs"] = duration_ms
        self._enqueue("claim", device, body)

    def _finite(self, device: DeviceConfig, values: dict[str, Any]) -> dict[str, Any]:
        kept = {k: v for k, v in values.items() if finite(v)}
        if len(kept) != len(values):
            dropped = sorted(set(values) - set(kept))
            self.world.trace.emit(
                self.name, "app", "not-finite-dropped", device=device.name, keys=dropped
            )
        return kept

    def _enqueue(self, kind: str, device: str, body: dict[str, Any]) -> None:
        if self.outbox.closed:
            return
        self.outbox.append(kind, device, body, self.world.now)
        if device in self._heard:
            self._heard[device] = self.world.now
        self.delivery.wake()

    def clock_ms(self) -> int:
        """The world's calendar time in Unix milliseconds (the ``ts`` of telemetry)."""
        return round((self.world.epoch.timestamp() + self.world.now) * 1000)

    # -- the MQTT connection (uplink.UplinkHandler) --------------------------------------------
    def uplink_ready(self, version: int, limits: SessionLimits | None) -> None:
        for device in self.online.values():
            self._announce(device)
        self.delivery.attach(version, limits)
        for device in self.online.values():
            if device.attribute_updates:
                self._spawn(self._sync_shared(device), f"sync/{device.name}")
        self.emit(events.UPLINK_READY, limits)

    def uplink_limits(self, limits: SessionLimits) -> None:
        self.delivery.attach(self.uplink.version, limits)

    def uplink_lost(self, reason: str) -> None:
        self.delivery.detach()
        for _keys, future in self._requests.values():
            if not future.done():
                future.set_exception(NotConnected(f"the MQTT connection ended: {reason}"))
        self.emit(events.UPLINK_LOST, reason)

    def uplink_puback(self, mid: int, reason: int) -> None:
        if not self.delivery.on_puback(mid, reason) and reason >= 0x80:
            self.world.trace.emit(self.name, "mqtt", "direct-refused", mid=mid, reason=reason)

    def uplink_message(self, topic: str, payload: bytes) -> None:
        if topic == RPC:
            self._spawn(self._rpc(payload), "rpc")
        elif topic == ATTRIBUTES:
            self._spawn(self._attributes_pushed(payload), "attributes")
        elif topic == ATTRIBUTES_RESPONSE:
            self._attributes_answered(payload)
        elif topic.startswith(ME_RPC_REQUEST):
            self._own_rpc(topic[len(ME_RPC_REQUEST) :], payload)
        else:
            self.world.trace.emit(self.name, "mqtt", "unexpected-message", topic=topic)

    def _publish_row(self, topic: str, payload: bytes) -> int | None:
        return self.uplink.publish(
            topic, payload, 0 if self.deviations.active("gateway-qos0") else 1
        )

    def _publish_direct(self, topic: str, body: dict[str, Any]) -> int | None:
        """A QoS 1 PUBLISH outside the queue (not kept across connections); None if offline."""
        mid = self.uplink.publish(topic, dumps(body))
        if mid is not None:
            self.delivery.note_direct()
        return mid

    # -- from the platform -------------------------------------------------------------------
    async def _rpc(self, payload: bytes) -> None:
        request = loads_object(payload)
        data = request.get("data") if request else None
        name = request.get("device") if request else None
        if (
            not isinstance(name, str)
            or not isinstance(data, dict)
            or not isinstance(data.get("id"), int)
            or isinstance(data.get("id"), bool)
        ):
            self.world.trace.emit(self.name, "app", "rpc-malformed", payload=payload[:200])
            return
        request_id, method = data["id"], str(data.get("method"))
        self.world.trace.emit(self.name, "app", "rpc", device=name, id=request_id, method=method)
        reply = await rpc.call(
            self.config.device(name), self._bridge_of.get(name), method, data.get("params"), name
        )
        if self.deviations.active("gateway-rpc-slow"):
            await asyncio.sleep(12.0)
        if self.deviations.active("gateway-rpc-wrong-id"):
            request_id += 1
        sent = self._publish_direct(RPC, {"device": name, "id": request_id, "data": reply})
        self.world.trace.emit(
            self.name, "app", "rpc-reply", device=name, id=request_id, data=reply,
            sent=sent is not None,
        )  # fmt: skip
        self.emit(events.RPC_ANSWERED, name, request_id, method, reply)

    async def _attributes_pushed(self, payload: bytes) -> None:
        if self.deviations.active("gateway-shared-ignored"):
            return
        update = loads_object(payload)
        name = update.get("device") if update else None
        data = update.get("data") if update else None
        if not isinstance(name, str) or not isinstance(data, dict):
            self.world.trace.emit(self.name, "app", "attributes-malformed", payload=payload[:200])
            return
        await self._apply(name, data)

    async def _apply(self, name: str, data: dict[str, Any]) -> None:
        device, bridge = self.config.device(name), self._bridge_of.get(name)
        if device is None or bridge is None:
            self.world.trace.emit(self.name, "app", "attributes-unknown-device", device=name)
            return
        applied, errors, ignored = await rpc.apply_attributes(device, bridge, data)
        self.world.trace.emit(
            self.name, "app", "attributes-applied", device=name, applied=applied, errors=errors,
            ignored=ignored,
        )  # fmt: skip
        self.emit(events.ATTRIBUTES_APPLIED, name, applied, errors)

    async def _sync_shared(self, device: DeviceConfig) -> None:
        keys = [p.name for p in device.attribute_updates]
        try:
            values = await self.request_attributes(device.name, keys, client=False)
        except (NotConnected, RequestTimeout) as exc:
            self.world.trace.emit(
                self.name, "app", "attributes-sync-failed", device=device.name, error=str(exc)
            )
            return
        if values and device.name in self.online:
            await self._apply(device.name, values)

    async def request_attributes(
        self, device: str, keys: list[str], client: bool = False, timeout: float = 5.0
    ) -> dict[str, Any]:
        """Ask the platform for ``device``'s attributes (``client`` or shared scope); the keys
        it has, with their values. Raises NotConnected or RequestTimeout."""
        if not keys:
            return {}
        self._next_request += 1
        request_id = self._next_request
        if self.deviations.active("gateway-attr-request-id-reused"):
            request_id = 1
        body: dict[str, Any] = {"id": request_id, "device": device, "client": client}
        if len(keys) == 1:
            body["key"] = keys[0]
        else:
            body["keys"] = list(keys)
        future: asyncio.Future[dict[str, Any]] = self.world.loop.create_future()
        self._requests[request_id] = (list(keys), future)
        try:
            if self._publish_direct(ATTRIBUTES_REQUEST, body) is None:
                raise NotConnected("the gateway has no MQTT connection to the platform now")
            try:
                return await asyncio.wait_for(future, timeout)
            except TimeoutError:
                raise RequestTimeout(
                    f"no answer to attribute request {request_id} for {device!r} in {timeout:g} s"
                ) from None
        finally:
            self._requests.pop(request_id, None)

    def _attributes_answered(self, payload: bytes) -> None:
        answer = loads_object(payload)
        request_id = answer.get("id") if answer else None
        pending = self._requests.get(request_id) if isinstance(request_id, int) else None
        if answer is None or pending is None:
            self.world.trace.emit(self.name, "app", "attributes-response-unexpected")
            return
        keys, future = pending
        values = answer.get("values")
        if isinstance(values, dict):
            result = dict(values)
        elif "value" in answer and len(keys) == 1:
            result = {keys[0]: answer["value"]}
        else:
            result = {}
        if not future.done():
            future.set_result(result)

    def _own_rpc(self, request_id: str, payload: bytes) -> None:
        """An RPC to the gateway device itself: none is offered; say so."""
        request = loads_object(payload) or {}
        method = request.get("method")
        reply = {"error": f"the gateway offers no RPC method {method!r}"}
        self._publish_direct(f"{ME_RPC_RESPONSE}{request_id}", reply)

    # -- keeping device sessions alive -------------------------------------------------------
    def _arm_refresh(self) -> None:
        # Checked ten times per period: a device is re-announced at most 1.1 periods after the
        # platform last heard of it (540 s at most: its session lives 600 s).
        period = self.config.device_refresh_s / 10
        self._refresh = self.world.loop.call_later(period, self._refresh_sessions)

    def _refresh_sessions(self) -> None:
        now = self.world.now
        if self.uplink.ready:
            for device in list(self.online.values()):
                if now - self._heard[device.name] >= self.config.device_refresh_s:
                    self._announce(device)
        self._arm_refresh()

    def _announce(self, device: DeviceConfig) -> None:
        """``v1/gateway/connect`` now, outside the queue (a session refresh, not data)."""
        if device.name in self._unannounced:  # gateway-data-before-connect
            return
        payload = {"device": device.name, "type": device.type}
        if self._publish_direct(CONNECT, payload) is not None:
            self._heard[device.name] = self.world.now

    # -- helpers -----------------------------------------------------------------------------
    def _spawn(self, coro: Any, what: str) -> None:
        task = self.world.spawn(coro, name=f"{self.name}/{what}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def connected(self) -> bool:
        """Whether the MQTT connection is up and ready."""
        return self.uplink.ready

    def stats(self) -> dict[str, Any]:
        """Queue and delivery figures: rows waiting, in flight, the outbox's counters
        (``delivered``, ``dead_lettered``, ``refused_0x..``, ``possible_duplicates``)."""
        if self._final_counters is not None:
            return dict(self._final_counters)
        return {
            "queued": len(self.outbox),
            "in_flight": self.delivery.in_flight,
            "connections": self.uplink.connections,
            "devices_online": sorted(self.online),
            **self.outbox.counters(),
        }


def build_gateway(
    world: World,
    config: GatewayConfig | str | Path,
    *,
    net: IpNetwork | None = None,
    radio: Radio | None = None,
    buses: Mapping[str, Rs485Bus] | None = None,
    host: str | None = None,
    deviations: Iterable[str] | Deviations = (),
) -> MqttGateway:
    """A gateway from a configuration file (or an already parsed configuration); not started.
    ``deviations``: ways it misbehaves on purpose (:mod:`.deviations`)."""
    parsed = config if isinstance(config, GatewayConfig) else load_config(config)
    return MqttGateway(
        world, parsed, net=net, radio=radio, buses=buses, host=host, deviations=deviations
    )
