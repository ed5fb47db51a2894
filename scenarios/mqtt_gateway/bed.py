"""The MQTT gateway system's beds (:class:`scenarios.bed.Bed`), one protocol for both roles the
harness can judge (DESIGN "Roles"):

==========================  =====================================================================
SUT = a **gateway**         the harness is the platform above it (our emulator, recording every
                            packet) and the devices below it (Modbus meters on an RS485 line,
                            BLE peripherals on the radio)
:class:`LocalGatewayBed`    our reference gateway (:mod:`devices.gateways.mqtt_gateway`) in one
                            world with everything else, virtual time
:class:`RemoteGatewayBed`   an outside gateway process (:mod:`scenarios.mqtt_gateway.outside`)
                            in front of our meters (RTU over TCP on loopback) and our platform
                            (MQTT on loopback), real time
SUT = a **platform**        the harness is the gateways (paho clients, each recording its own
                            wire) and the devices behind them
:class:`LocalPlatformBed`   our platform emulator (:mod:`devices.cloud.mqtt_platform`) in one
                            world with the harness gateways, virtual time
:class:`RemotePlatformBed`  an outside platform's MQTT endpoint, real time; its control API
                            (when declared) to provision gateways and read what it stored
==========================  =====================================================================

The verbs (the same on every bed): ``start()``; ``client(name)``: in the gateway role the
harness's platform control (:mod:`~scenarios.mqtt_gateway.platform_control`), in the platform
role a harness gateway (``await bed.gateway(name, tenant, version)`` makes one); ``place(spec)``:
a meter ``{"unit": 3}`` or a BLE peripheral ``{"ble": {"index": 2, "position": [..]}}`` (gateway
role), a device behind a harness gateway ``{"device": "Device A", "gateway": "gw-1"}`` (platform
role: the gateway announces it); ``move`` (BLE peripherals of a local gateway bed);
``set_power``; ``inject(fault, **args)``:

=====================  ========================================================================
``broker_outage``      the platform stops accepting MQTT and ends every connection for
                       ``seconds`` (gateway role; the local platform bed too)
``partition``          the path between ``target`` (a gateway; default the SUT) and the
                       platform drops every packet for ``seconds`` (virtual beds only)
``gateway_restart``    the gateway stops gracefully, stays down ``down_s`` (default 1), starts
                       again (platform role: a harness gateway disconnects and reconnects)
``gateway_crash``      the same, killed without a word
``platform_restart``   the platform closes and starts again on its database (local beds and
                       the gateway role)
=====================  ========================================================================

Every fault blocks until it is over and lands in the trace (layer ``fault``). ``write_evidence``
writes ``trace.jsonl``, ``mqtt.jsonl`` (every packet, :mod:`~scenarios.mqtt_gateway.transcript`),
and per role ``modbus.jsonl`` (what the sniffer heard the gateway read and write), the gateway's
queue counters or the outside process's logs, and ``findings.json`` (what the steps judged).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import secrets
import shutil
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from devices.cloud.mqtt_platform import Platform, PlatformConfig
from devices.gateways.mqtt_gateway import MqttGateway, build_gateway, parse_config
from devices.protocols import modbus_rtu
from devices.rs485.bridges import TcpBridge
from devices.rs485.modbus_slave import ModbusSlave
from scenarios.bed import BedError, WorldBed, write_json_lines
from scenarios.captures import AIR, IP, EvidenceCaptures
from scenarios.captures import LINE as LINE_PCAP
from scenarios.mqtt_gateway.continuity import Continuity, judge_continuity
from scenarios.mqtt_gateway.harness_gateway import V5, Dial, HarnessGateway
from scenarios.mqtt_gateway.platform_control import HttpControl, LocalControl, PlatformControl
from scenarios.mqtt_gateway.slaves import LineSniffer, meter_slave
from scenarios.mqtt_gateway.transcript import Blackout, Transcript
from scenarios.mqtt_gateway.worlds import (
    DEFAULT_WORLD,
    FAULTS,
    MqttWorld,
    load_world,
    new_world,
)
from sim.clock import REAL, VIRTUAL
from sim.iplink import IpNetwork
from sim.radio import Radio
from sim.rs485 import Rs485Bus
from sim.world import World

GATEWAY_ROLE, PLATFORM_ROLE = "gateway", "platform"
PLATFORM_HOST, MQTT_PORT = "platform", 1883
LINE = "line"
TELEMETRY = "v1/gateway/telemetry"

# What the harness must know of a gateway under test (its `mqtt-gateway` endpoint declares the
# same keys): the name it has at the platform, the meters it bridges and what it calls their
# points. The builtin values are those of worlds/gateway-room.yaml.
BUILTIN_GATEWAY: dict[str, Any] = {
    "gateway": "gw-1",
    "meters": [{"name": "Meter 1", "unit": 1}, {"name": "Meter 2", "unit": 2}],
    "ticks_key": "ticks",
    "setpoint_key": "setpoint",
    "serial_key": "serial",
    "rpc_write": "setSetpoint",
    "rpc_read": "getSetpoint",
}


class MqttBed(WorldBed, abc.ABC):
    """What both roles share: the world, the transcript, the platform control, the findings."""

    role: str
    faults = FAULTS
    transcript: Transcript
    findings: dict[str, Any]
    control: PlatformControl | None = None
    pcaps: EvidenceCaptures | None = None

    def _capture(
        self,
        folder: Path | None,
        net: IpNetwork,
        radio: Radio | None = None,
        bus: Rs485Bus | None = None,
    ) -> None:
        """pcapng evidence of this world's media into ``folder``: the in-world TCP (MQTT on
        1883, which Wireshark dissects), the BLE air and the Modbus line when the bed has them."""
        self.pcaps = EvidenceCaptures(self.world, folder)
        ip = self.pcaps.open("ip.pcapng", IP)
        if ip is None:
            return
        from sim.ip_capture import IpCapture  # scapy loads only when capturing

        IpCapture(net, ip)
        if radio is not None and (air := self.pcaps.open("air.pcapng", AIR)) is not None:
            from sim.air_capture import AirCapture

            AirCapture(radio, air)
        if bus is not None and (line := self.pcaps.open(f"rs485-{LINE}.pcapng", LINE_PCAP)):
            from sim.rs485_pcap import BusPcap

            BusPcap(bus, line, "mbrtu", "Modbus RTU", modbus_rtu.summarise)

    def platform_control(self) -> PlatformControl:
        if self.control is None:
            raise BedError(
                "this SUT declares no control_url (with an admin_key), so the harness cannot "
                "provision gateways or read what the platform stored"
            )
        return self.control

    @abc.abstractmethod
    async def start(self) -> Any: ...

    async def inject(self, fault: str, **args: Any) -> None:
        if fault not in self.faults:
            await super().inject(fault, **args)
            return
        target = str(args.get("target") or self._default_target(fault))
        details = {k: v for k, v in args.items() if k != "target"}
        self.world.trace.emit(target, "fault", fault, **details)
        await self._inject(fault, target, args)

    def _default_target(self, fault: str) -> str:
        return PLATFORM_HOST

    @abc.abstractmethod
    async def _inject(self, fault: str, target: str, args: dict[str, Any]) -> None: ...

    def note(self, name: str, value: Any) -> None:
        """Keep a finding of the scenario for the evidence (``findings.json``)."""
        self.findings[name] = value

    def write_evidence(self, folder: Path) -> dict[str, str]:
        files = super().write_evidence(folder)
        write_json_lines(folder / "mqtt.jsonl", self.transcript.rows)
        files["mqtt.jsonl"] = "MQTT transcript"
        if self.pcaps is not None:
            files.update(self.pcaps.write_evidence(folder))
        if self.findings:
            text = json.dumps(self.findings, indent=2, sort_keys=True, default=str)
            (folder / "findings.json").write_text(text + "\n", encoding="utf-8")
            files["findings.json"] = "findings"
        return files


def _seconds(args: dict[str, Any], key: str, default: float | None = None) -> float:
    value = args.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise BedError(f"{key} must be a number of seconds >= 0, got {value!r}")
    return float(value)


# ==============================================================================================
# SUT = a gateway
# ==============================================================================================


class Refusals:
    """The harness platform's planned refusals: the next ``count`` PUBLISHes on ``topic`` are
    answered ``reason`` instead of being handled (:attr:`Platform.intercept`). A ``sticky``
    refusal is the platform's verdict on the content: any later message carrying one of the
    refused message's entries (a device and its data) is refused the same way, as the same
    bytes would be by a real platform that cannot read them."""

    def __init__(self) -> None:
        self.plan: list[list[Any]] = []  # [topic, reason, remaining, sticky]
        self.poison: dict[tuple[str, str, str], int] = {}  # (topic, device, entry) -> reason

    def add(self, topic: str, reason: int, count: int, sticky: bool = False) -> None:
        self.plan.append([topic, reason, count, sticky])

    def __call__(self, _client: Any, message: Any) -> int | None:
        entries = _entries(message.payload) if self.poison or self.plan else []
        for device, entry in entries:
            reason = self.poison.get((message.topic, device, entry))
            if reason is not None:
                return reason
        for planned in self.plan:
            if planned[0] == message.topic and planned[2] > 0:
                planned[2] -= 1
                if planned[3]:
                    for device, entry in entries:
                        self.poison[(message.topic, device, entry)] = int(planned[1])
                return int(planned[1])
        return None


def _entries(payload: bytes) -> list[tuple[str, str]]:
    """(device, canonical JSON of one of its entries) of a gateway API payload."""
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return []
    if not isinstance(body, dict):
        return []
    found = []
    for device, value in body.items():
        for entry in value if isinstance(value, list) else [value]:
            found.append((str(device), json.dumps(entry, sort_keys=True)))
    return found


class GatewayBed(MqttBed, abc.ABC):
    """The harness's platform and meters around a gateway under test."""

    role = GATEWAY_ROLE

    def __init__(
        self,
        world: World,
        profile: Mapping[str, Any],
        work_dir: Path | None = None,
        platform_deviations: tuple[str, ...] = (),
    ) -> None:
        self.world = world
        self.platform_config = PlatformConfig(deviations=tuple(platform_deviations))
        self.profile: dict[str, Any] = {**BUILTIN_GATEWAY, **dict(profile)}
        # the harness's platform keeps its database apart, for this bed only; ``work_dir`` holds
        # what the SUT keeps (a gateway's queue, an outside process's files)
        self._platform_dir = Path(tempfile.mkdtemp(prefix="hil-mqtt-platform-"))
        self._owns_dir = work_dir is None
        self.work_dir = work_dir or Path(tempfile.mkdtemp(prefix="hil-mqtt-"))
        self.transcript = Transcript.new(lambda: self.world.now)
        self.findings = {}
        self.refusals = Refusals()
        self.blackouts: list[Blackout] = []
        self.bus = Rs485Bus(world, LINE)
        self.sniffer = LineSniffer(self.bus)
        self.meters: dict[int, ModbusSlave] = {}
        self.platform = self._new_platform()
        self.control = LocalControl(self.platform)
        self.token = self.platform.add_gateway(self.gateway_name)
        self._stopped = False

    # -- the profile -------------------------------------------------------------------------
    @property
    def gateway_name(self) -> str:
        return str(self.profile["gateway"])

    def meter_names(self) -> dict[int, str]:
        return {int(m["unit"]): str(m["name"]) for m in self.profile["meters"]}

    def device_of_unit(self, unit: int) -> str:
        try:
            return self.meter_names()[unit]
        except KeyError:
            raise BedError(
                f"the gateway under test bridges no meter at unit {unit}; it bridges "
                f"{', '.join(f'{n} (unit {u})' for u, n in self.meter_names().items())}"
            ) from None

    def unit_of(self, device: str) -> int:
        for unit, name in self.meter_names().items():
            if name == device:
                return unit
        raise BedError(
            f"the gateway under test bridges no meter named {device!r}; it bridges "
            f"{', '.join(self.meter_names().values())}"
        )

    def key(self, what: str) -> str:
        """The declared name of a point or method (``ticks_key``, ``rpc_write``...)."""
        try:
            return str(self.profile[what])
        except KeyError:
            raise BedError(f"the gateway under test declares no {what!r}") from None

    # -- the platform ----------------------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return self._platform_dir / "platform.sqlite"

    def _new_platform(self) -> Platform:
        platform = Platform(self.world, self.db_path, self.platform_config)
        platform.server.transcript = self.transcript.server_hook()
        platform.intercept = self.refusals
        return platform

    @abc.abstractmethod
    async def _listen(self) -> None:
        """Accept MQTT connections (again) where the gateway looks for the platform."""

    async def _platform_down(self) -> None:
        await self.platform.server.close()

    def refuse(self, topic: str, reason: int, count: int = 1, sticky: bool = False) -> None:
        """The next ``count`` PUBLISHes on ``topic`` are answered ``reason`` (a failure code);
        ``sticky``: and so is every later one carrying their content (:class:`Refusals`)."""
        self.refusals.add(topic, reason, count, sticky)

    def client(self, name: str | None = None) -> PlatformControl:
        if name is not None:
            raise BedError(
                f"the harness has one platform around a gateway under test; got client({name!r})"
            )
        return self.platform_control()

    # -- meters --------------------------------------------------------------------------------
    async def place(self, spec: dict[str, Any]) -> Any:
        if "unit" in spec:
            return await self._place_meter(spec)
        raise BedError(f"{type(self).__name__} places meters {{'unit': 1-247}}; got {spec!r}")

    async def _place_meter(self, spec: dict[str, Any]) -> int:
        unit = spec.get("unit")
        if isinstance(unit, bool) or not isinstance(unit, int) or not 1 <= unit <= 247:
            raise BedError(f"a meter's unit must be 1-247, got {unit!r}")
        if unit in self.meters:
            return unit
        overrides = {k: v for k, v in spec.items() if k not in ("unit", "name")}
        try:
            slave = ModbusSlave(self.world, self.bus, meter_slave(unit, **overrides))
        except (TypeError, ValueError) as exc:
            raise BedError(f"meter {spec!r} not accepted: {exc}") from None
        await slave.start()
        self.meters[unit] = slave
        return unit

    async def place_declared_meters(self) -> None:
        for unit in self.meter_names():
            await self._place_meter({"unit": unit})

    def _meter(self, name: str | int) -> ModbusSlave:
        unit = name if isinstance(name, int) else self._unit_or_name(name)
        try:
            return self.meters[unit]
        except KeyError:
            placed = ", ".join(map(str, sorted(self.meters))) or "none"
            raise BedError(f"no meter at unit {unit} on the line (units: {placed})") from None

    def _unit_or_name(self, name: str) -> int:
        return int(name) if name.isdigit() else self.unit_of(name)

    async def set_power(self, name: str, on: bool) -> None:
        meter = self._meter(name)
        await (meter.start() if on else meter.stop())

    # -- faults ----------------------------------------------------------------------------------
    def _default_target(self, fault: str) -> str:
        return self.gateway_name if fault.startswith("gateway") else PLATFORM_HOST

    async def _inject(self, fault: str, target: str, args: dict[str, Any]) -> None:
        start = self.now
        if fault != "partition":
            self.blackouts.append(Blackout(fault, start, start))
        if fault == "broker_outage":
            seconds = _seconds(args, "seconds", 30.0)
            await self._platform_down()
            await asyncio.sleep(seconds)
            await self._listen()
        elif fault == "platform_restart":
            down = _seconds(args, "down_s", 1.0)
            await self.platform.close()
            await asyncio.sleep(down)
            self.platform = self._new_platform()
            self.control = LocalControl(self.platform)
            await self._listen()
        elif fault in ("gateway_restart", "gateway_crash"):
            await self._restart_gateway(fault == "gateway_crash", _seconds(args, "down_s", 1.0))
        elif fault == "partition":
            seconds = _seconds(args, "seconds", 30.0)
            self.blackouts.append(Blackout(fault, start, start + seconds, silent=True))
            await self._partition(seconds)

    @abc.abstractmethod
    async def _restart_gateway(self, crash: bool, down_s: float) -> None: ...

    async def _partition(self, seconds: float) -> None:
        raise BedError(f"{type(self).__name__} cannot partition its SUT's link")

    # -- judging -----------------------------------------------------------------------------------
    def continuity(self, settle_s: float = 5.0) -> Continuity:
        """Every reading the gateway took from the meters (``ticks`` values the sniffer heard
        it read, up to ``settle_s`` ago) against those the platform accepted."""
        key = self.key("ticks_key")
        until = self.now - settle_s
        sent = {
            name: [value for _t, value in self.sniffer.ticks(unit, until)]
            for unit, name in self.meter_names().items()
        }
        received: list[tuple[str, Any]] = []
        unconfirmed: list[tuple[str, Any]] = []
        for publish in self.transcript.accepted_publishes(TELEMETRY):
            confirmed = self.transcript.ack_confirmed(publish, self.blackouts)
            for device, value in readings(publish.get("payload"), key):
                received.append((device, value))
                if not confirmed:
                    unconfirmed.append((device, value))
        return judge_continuity(sent, received, unconfirmed)

    # -- the end ---------------------------------------------------------------------------------
    async def _stop_world(self) -> None:
        """Stop the SUT, the meters and the platform (each bed adds its own first)."""
        for meter in self.meters.values():
            await meter.stop()
        await self.platform.close()

    def stop(self) -> None:
        if self._stopped or self.world.closed:
            return
        self._stopped = True
        self.run(self._stop_world())
        self.sniffer.close()

    def write_evidence(self, folder: Path) -> dict[str, str]:
        self.stop()
        files = super().write_evidence(folder)
        write_json_lines(folder / "modbus.jsonl", self.sniffer.rows())
        files["modbus.jsonl"] = "register reads and writes heard on the line"
        return files

    def close(self) -> None:
        try:
            self.stop()
        except Exception:  # closing must not mask the scenario's own outcome
            pass
        finally:
            super().close()
            shutil.rmtree(self._platform_dir, ignore_errors=True)
            if self._owns_dir:
                shutil.rmtree(self.work_dir, ignore_errors=True)


def readings(payload: Any, key: str) -> list[tuple[str, Any]]:
    """``(device, value of key)`` for every entry of a telemetry payload carrying ``key``:
    ``{device: [{"ts", "values": {...}}, ...]}`` or plain value maps."""
    found: list[tuple[str, Any]] = []
    if not isinstance(payload, dict):
        return found
    for device, entries in payload.items():
        for entry in entries if isinstance(entries, list) else [entries]:
            if not isinstance(entry, dict):
                continue
            values = entry.get("values") if "values" in entry else entry
            if isinstance(values, dict) and key in values:
                found.append((str(device), values[key]))
    return found


class LocalGatewayBed(GatewayBed):
    """Our reference gateway with the world's meters and BLE peripherals and the harness's
    platform, all in one world (virtual time by default).

    ``world_file``: a :mod:`~scenarios.mqtt_gateway.worlds` name or path (the gateway's
    configuration, its meters and peripherals); ``deviations``: names the reference gateway is
    told to misbehave in (``gateway-*``), ``platform_deviations`` the same for the platform
    (``hil serve mqtt-gateway`` only: a harness judging a gateway never misbehaves itself);
    ``broker`` and ``token``: the gateway talks to that outside platform over TCP instead;
    ``modbus``: the line is joined to an outside one over RTU-over-TCP (its meters) instead of
    the world's own meters.
    """

    def __init__(
        self,
        seed: int = 1,
        clock: str = VIRTUAL,
        scale: float = 1.0,
        world_file: str | Path = DEFAULT_WORLD,
        work_dir: Path | None = None,
        keep_trace: bool = True,
        deviations: tuple[str, ...] = (),
        platform_deviations: tuple[str, ...] = (),
        broker: tuple[str, int] | None = None,
        token: str | None = None,
        modbus: tuple[str, int] | None = None,
        capture_dir: Path | None = None,
    ) -> None:
        self.scenario: MqttWorld = load_world(world_file)
        world = new_world(seed, clock, scale, keep_trace)
        self.net = IpNetwork(world)
        self.radio = Radio(world)
        meters = [
            {"name": str(m.get("name") or f"Meter {m['unit']}"), "unit": int(m["unit"])}
            for m in self.scenario.meters
        ]
        profile = {"gateway": self.scenario.gateway_name, "meters": meters}
        super().__init__(world, profile, work_dir, platform_deviations)
        self.deviations = deviations
        self.broker = broker
        self.modbus = modbus
        if token is not None:
            self.token = token
        self.peripherals: dict[str, Any] = {}
        self.gateway: MqttGateway | None = None
        self.bridge: TcpBridge | None = None
        self.generations = 0
        self._tcp: tuple[str, int] | None = None
        self._capture(capture_dir, self.net, self.radio, self.bus)

    async def _listen(self) -> None:
        self.platform.listen(self.net, PLATFORM_HOST, MQTT_PORT)
        if self._tcp is not None:
            await self.platform.listen_tcp(*self._tcp)

    async def serve_mqtt(self, host: str, port: int) -> int:
        """The harness's platform on a real socket too (``hil serve mqtt-gateway``); the port
        taken. Outages and restarts take it down and bring it back on the same port."""
        port = await self.platform.listen_tcp(host, port)
        self._tcp = (host, port)
        return port

    def gateway_config(self) -> Any:
        doc = json.loads(json.dumps(self.scenario.gateway))  # a deep copy
        doc.setdefault("gateway", {})
        doc["gateway"].update(name=self.gateway_name, access_token=self.token)
        host, port = self.broker or (PLATFORM_HOST, MQTT_PORT)
        doc.setdefault("platform", {}).update(host=host, port=port)
        doc.setdefault("delivery", {})["path"] = str(self.work_dir / "gateway-outbox.sqlite")
        return parse_config(doc)

    def _new_gateway(self) -> MqttGateway:
        self.generations += 1
        return build_gateway(
            self.world,
            self.gateway_config(),
            net=None if self.broker else self.net,
            deviations=self.deviations,
        )

    async def start(self) -> str:
        """The platform listens, the declared meters and peripherals are placed (or, with
        ``modbus``, the line is joined to an outside one over RTU-over-TCP), the gateway
        starts; returns the gateway's name."""
        self.platform.listen(self.net, PLATFORM_HOST, MQTT_PORT)
        if self.modbus is not None:
            self.bridge = TcpBridge(self.bus, "modbus-tcp")
            await self.bridge.dial(*self.modbus)
        else:
            await self.place_declared_meters()
        for spec in self.scenario.peripherals:
            await self.place({"ble": spec})
        self.gateway = self._new_gateway()
        await self.gateway.start()
        for fault in self.scenario.faults:
            self.world.spawn(self._fault_at(dict(fault)), name=f"fault/{fault['action']}")
        return self.gateway_name

    async def _fault_at(self, fault: dict[str, Any]) -> None:
        """A fault of the world file, at its time."""
        await asyncio.sleep(max(0.0, float(fault.pop("at")) - self.now))
        await self.inject(str(fault.pop("action")), **fault)

    async def place(self, spec: dict[str, Any]) -> Any:
        if "ble" in spec:
            return await self._place_peripheral(dict(spec["ble"]))
        return await super().place(spec)

    async def _place_peripheral(self, spec: dict[str, Any]) -> str:
        from devices.ble.peripheral import add_peripheral

        name = str(spec.pop("name", ""))
        index = spec.pop("index", 1)
        position = tuple(spec.pop("position", (3.0, 0.0, 0.0)))
        if name in self.peripherals:
            return self.peripherals[name].address
        try:
            peripheral = await add_peripheral(self, int(index), position=position, **spec)
        except (TypeError, ValueError) as exc:
            raise BedError(f"peripheral {spec!r} not accepted: {exc}") from None
        self.peripherals[name or peripheral.name] = peripheral
        return peripheral.address

    async def move(self, name: str, position: list[float]) -> None:
        if name not in self.peripherals:
            await super().move(name, position)
        self.peripherals[name].move(tuple(position))

    async def set_power(self, name: str, on: bool) -> None:
        peripheral = self.peripherals.get(name)
        if peripheral is None:
            await super().set_power(name, on)
        else:
            await (peripheral.power_on() if on else peripheral.power_off())

    def claim(self, device: str, secret_key: str = "", duration_ms: int | None = None) -> None:
        """The gateway offers ``device`` for claiming (``v1/gateway/claim``)."""
        if self.gateway is None:
            raise BedError("the gateway is not started")
        self.gateway.claim(device, secret_key, duration_ms)

    async def _restart_gateway(self, crash: bool, down_s: float) -> None:
        if self.gateway is not None:
            await (self.gateway.crash() if crash else self.gateway.stop())
        await asyncio.sleep(down_s)
        self.gateway = self._new_gateway()
        await self.gateway.start()

    async def _partition(self, seconds: float) -> None:
        host = self.gateway.host if self.gateway is not None else self.gateway_name
        self.net.partition(host, PLATFORM_HOST)
        await asyncio.sleep(seconds)
        self.net.partition(host, PLATFORM_HOST, False)

    async def _stop_world(self) -> None:
        if self.gateway is not None and not self.gateway.closed:
            self.note("gateway_queue", self.gateway.stats())
            await self.gateway.stop()
        for peripheral in self.peripherals.values():
            await peripheral.power_off()
        if self.bridge is not None:
            await self.bridge.close()
        await super()._stop_world()


class RemoteGatewayBed(GatewayBed):
    """An outside gateway process in front of our meters and our platform, in real time (real
    sockets: no silent partition).

    ``endpoint`` is the SUT's ``mqtt-gateway`` block: ``process`` (how to install, start and
    stop it: :mod:`scenarios.mqtt_gateway.outside`), the profile keys of
    :data:`BUILTIN_GATEWAY` (``gateway``, ``meters``, ``ticks_key``...), ``start_timeout_s``
    (how long it may take to connect, default 60) and ``time_scale``.
    """

    faults = tuple(f for f in FAULTS if f != "partition")

    def __init__(
        self,
        endpoint: Mapping[str, Any],
        seed: int = 1,
        work_dir: Path | None = None,
        keep_trace: bool = True,
    ) -> None:
        if "process" not in endpoint:
            raise BedError(
                "the SUT's mqtt-gateway endpoint declares no process: the harness cannot start "
                "an outside gateway without one"
            )
        self.endpoint = dict(endpoint)
        world = new_world(seed, REAL, float(endpoint.get("time_scale", 1.0)), keep_trace)
        profile = {k: endpoint[k] for k in BUILTIN_GATEWAY if k in endpoint}
        super().__init__(world, profile, work_dir)
        self.host = "127.0.0.1"
        self.port = 0
        self.bridge: TcpBridge | None = None
        self.process: Any = None
        self.start_timeout_s = float(endpoint.get("start_timeout_s", 60.0))

    async def _listen(self) -> None:
        self.port = await self.platform.listen_tcp(self.host, self.port)

    def placeholders(self) -> dict[str, str]:
        """What the process block's ``{placeholders}`` become (besides the ``config_dir`` and
        ``workdir`` of :class:`~scenarios.mqtt_gateway.outside.OutsideGateway`)."""
        assert self.bridge is not None and self.bridge.address is not None
        modbus_host, modbus_port = self.bridge.address
        return {
            "broker_host": self.host,
            "broker_port": str(self.port),
            "token": self.token,
            "modbus_host": str(modbus_host),
            "modbus_port": str(modbus_port),
            "modbus_tcp": f"{modbus_host}:{modbus_port}",
        }

    async def start(self) -> str:
        """Our platform and the meters' bridge listen on loopback, the outside gateway starts
        with their addresses and its token, and has connected."""
        from scenarios.mqtt_gateway.outside import OutsideError, OutsideGateway

        await self._listen()
        self.bridge = TcpBridge(self.bus, "modbus-tcp")
        await self.bridge.listen(self.host, 0)
        await self.place_declared_meters()
        try:
            self.process = OutsideGateway(
                self.endpoint["process"], self.placeholders(), self.work_dir / "outside"
            )
            await self._start_process()
        except OutsideError as exc:
            raise BedError(f"the outside gateway: {exc}") from None
        return self.gateway_name

    def _accepted_since(self, mark: int) -> bool:
        return any(r["type"] == "CONNACK" and r["reason"] == 0 for r in self.transcript.since(mark))

    async def _start_process(self) -> None:
        mark = self.transcript.mark()
        await self.process.start()
        await self.process.wait_ready(connected=lambda: self._accepted_since(mark))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_timeout_s * self.world.loop.scale
        while not self._accepted_since(mark):
            if loop.time() > deadline:
                raise BedError(
                    f"the outside gateway did not connect to the platform within "
                    f"{self.start_timeout_s:g} s (its logs are in the evidence)"
                )
            await asyncio.sleep(0.1)

    async def _restart_gateway(self, crash: bool, down_s: float) -> None:
        await (self.process.kill() if crash else self.process.stop())
        await asyncio.sleep(down_s)
        await self._start_process()

    async def _stop_world(self) -> None:
        if self.process is not None:
            with contextlib.suppress(Exception):
                await self.process.stop()
        if self.bridge is not None:
            await self.bridge.close()
        await super()._stop_world()

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.process is not None:
                self.process.close()

    def write_evidence(self, folder: Path) -> dict[str, str]:
        files = super().write_evidence(folder)
        if self.process is not None:
            for name, path in self.process.logs().items():
                target = folder / name
                if Path(path).is_file() and Path(path).resolve() != target.resolve():
                    shutil.copyfile(path, target)
                    files[name] = "outside gateway log"
        return files


# ==============================================================================================
# SUT = a platform
# ==============================================================================================


class PlatformBed(MqttBed, abc.ABC):
    """The harness's gateways (and the devices behind them) in front of a platform."""

    role = PLATFORM_ROLE

    def __init__(self, world: World) -> None:
        self.world = world
        self.transcript = Transcript.new(lambda: self.world.now)
        self.findings = {}
        self.gateways: dict[str, HarnessGateway] = {}
        self.devices: dict[str, str] = {}  # device -> the harness gateway it is behind
        self.suffix = ""

    def name(self, base: str) -> str:
        """The name a scenario's ``base`` name has on this platform: the same locally; with a
        per-bed suffix on a long-lived outside platform, so scenarios never meet each other's
        gateways and devices."""
        return base + self.suffix

    @abc.abstractmethod
    def _dial(self, gateway: str) -> Dial: ...

    @abc.abstractmethod
    async def _token(self, name: str, tenant: str) -> str: ...

    async def gateway(
        self, name: str = "gw-1", tenant: str = "default", version: int = V5
    ) -> HarnessGateway:
        """The harness gateway ``name`` (made, with its token, the first time)."""
        found = self.gateways.get(name)
        if found is not None:
            return found
        token = await self._token(self.name(name), tenant)
        gw = HarnessGateway(
            self.world, name, token, self._dial(name), self.transcript, version, tenant
        )
        self.gateways[name] = gw
        return gw

    def client(self, name: str | None = None) -> HarnessGateway:
        if name is None and self.gateways:
            return next(iter(self.gateways.values()))
        if name not in self.gateways:
            made = ", ".join(self.gateways) or "none"
            raise BedError(f"no harness gateway named {name!r}; made so far: {made}")
        return self.gateways[name]

    async def place(self, spec: dict[str, Any]) -> str:
        """A device behind a harness gateway: it announces it (``v1/gateway/connect``)."""
        device, gateway = spec.get("device"), spec.get("gateway", "gw-1")
        if not isinstance(device, str) or not device:
            raise BedError(f"a device needs a name: {{'device': 'Device A'}}, got {spec!r}")
        gw = self.client(str(gateway))
        body: dict[str, Any] = {"device": self.name(device)}
        if spec.get("type"):
            body["type"] = spec["type"]
        reason = await gw.send("v1/gateway/connect", body)
        if reason != 0:
            raise BedError(f"the platform answered {reason!r} to the connect of {device!r}")
        self.devices[device] = str(gateway)
        return device

    async def set_power(self, name: str, on: bool) -> None:
        gateway = self.devices.get(name)
        if gateway is None:
            raise BedError(f"no device named {name!r} was placed by this scenario")
        topic = "v1/gateway/connect" if on else "v1/gateway/disconnect"
        await self.client(gateway).send(topic, {"device": self.name(name)})

    def _default_target(self, fault: str) -> str:
        if fault.startswith("gateway") or fault == "partition":
            return next(iter(self.gateways), "gw-1")
        return PLATFORM_HOST

    async def _inject(self, fault: str, target: str, args: dict[str, Any]) -> None:
        if fault in ("gateway_restart", "gateway_crash"):
            gw = self.client(target)
            if fault == "gateway_crash":
                gw.drop()
            else:
                await gw.disconnect()
            await asyncio.sleep(_seconds(args, "down_s", 1.0))
            await gw.connect()
        else:
            await self._platform_fault(fault, target, args)

    async def _platform_fault(self, fault: str, target: str, args: dict[str, Any]) -> None:
        raise BedError(f"{type(self).__name__} cannot partition its SUT's link")

    async def stop_gateways(self) -> None:
        for gw in self.gateways.values():
            gw.drop()

    def close(self) -> None:
        if not self.world.closed:
            with contextlib.suppress(Exception):
                self.run(self.stop_gateways())
        super().close()


class LocalPlatformBed(PlatformBed):
    """Our platform emulator and the harness gateways in one world (virtual time by default)."""

    def __init__(
        self,
        seed: int = 1,
        clock: str = VIRTUAL,
        scale: float = 1.0,
        config: PlatformConfig | None = None,
        work_dir: Path | None = None,
        keep_trace: bool = True,
        deviations: tuple[str, ...] = (),
        capture_dir: Path | None = None,
    ) -> None:
        super().__init__(new_world(seed, clock, scale, keep_trace))
        self.net = IpNetwork(self.world)
        self._capture(capture_dir, self.net)
        self.config = replace(config or PlatformConfig(), deviations=tuple(deviations))
        self._owns_dir = work_dir is None
        self.work_dir = work_dir or Path(tempfile.mkdtemp(prefix="hil-mqtt-"))
        self.platform = self._new_platform()
        self.control = LocalControl(self.platform)

    def _new_platform(self) -> Platform:
        return Platform(self.world, self.work_dir / "platform.sqlite", self.config)

    async def start(self) -> str:
        self.platform.listen(self.net, PLATFORM_HOST, MQTT_PORT)
        return f"{PLATFORM_HOST}:{MQTT_PORT}"

    def _dial(self, gateway: str) -> Dial:
        net, host = self.net, f"h-{gateway}"

        def dial(factory: Any) -> Any:
            return net.create_connection(factory, PLATFORM_HOST, MQTT_PORT, host)

        return dial

    async def _token(self, name: str, tenant: str) -> str:
        return self.platform.add_gateway(name, tenant)

    async def _platform_fault(self, fault: str, target: str, args: dict[str, Any]) -> None:
        if fault == "partition":
            seconds = _seconds(args, "seconds", 30.0)
            self.net.partition(f"h-{target}", PLATFORM_HOST)
            await asyncio.sleep(seconds)
            self.net.partition(f"h-{target}", PLATFORM_HOST, False)
        elif fault == "broker_outage":
            await self.platform.server.close()
            await asyncio.sleep(_seconds(args, "seconds", 30.0))
            self.platform.listen(self.net, PLATFORM_HOST, MQTT_PORT)
        else:  # platform_restart
            await self.platform.close()
            await asyncio.sleep(_seconds(args, "down_s", 1.0))
            self.platform = self._new_platform()
            self.control = LocalControl(self.platform)
            self.platform.listen(self.net, PLATFORM_HOST, MQTT_PORT)

    def close(self) -> None:
        if not self.world.closed:
            with contextlib.suppress(Exception):
                self.run(self.stop_gateways())
                self.run(self.platform.close())
        super().close()
        if self._owns_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)


class RemotePlatformBed(PlatformBed):
    """An outside platform's MQTT endpoint, in real time (the harness can restart or crash only
    its own gateways).

    ``endpoint`` is the SUT's ``mqtt-gateway`` block: ``mqtt`` (host:port), ``tls`` (and ``ca``,
    a PEM file to trust), ``gateways`` (declared ``{name, token, tenant}``), ``control_url`` and
    ``admin_key`` (our control API: gateways are then provisioned per scenario), ``time_scale``.
    """

    faults = ("gateway_restart", "gateway_crash")

    def __init__(self, endpoint: Mapping[str, Any], seed: int = 1, keep_trace: bool = True):
        super().__init__(new_world(seed, REAL, float(endpoint.get("time_scale", 1.0)), keep_trace))
        self.endpoint = dict(endpoint)
        mqtt = str(endpoint.get("mqtt", ""))
        host, _, port = mqtt.rpartition(":")
        if not host or not port.isdigit():
            raise BedError(f"the SUT's mqtt endpoint must be host:port, got {mqtt!r}")
        self.host, self.port = host.strip("[]"), int(port)
        self.declared = {
            str(g["name"]): dict(g) for g in endpoint.get("gateways") or () if "name" in g
        }
        url, key = endpoint.get("control_url"), endpoint.get("admin_key")
        if url and key:
            self.control = HttpControl(str(url), str(key))
            self.suffix = f" ~{secrets.token_hex(3)}"

    def name(self, base: str) -> str:
        if base in self.declared:
            return base
        return super().name(base)

    async def start(self) -> str:
        return f"{self.host}:{self.port}"

    def _ssl(self) -> ssl.SSLContext | None:
        if not self.endpoint.get("tls"):
            return None
        context = ssl.create_default_context(cafile=self.endpoint.get("ca"))
        return context

    def _dial(self, gateway: str) -> Dial:
        host, port, context = self.host, self.port, self._ssl()

        async def dial(factory: Any) -> Any:
            loop = asyncio.get_running_loop()
            return await loop.create_connection(factory, host, port, ssl=context)

        return dial

    async def _token(self, name: str, tenant: str) -> str:
        declared = self.declared.get(name)
        if declared is not None:
            return str(declared["token"])
        if self.control is None:
            raise BedError(
                f"the SUT declares no gateway named {name!r} (declared: "
                f"{', '.join(self.declared) or 'none'}) and no control_url to create one"
            )
        return await self.control.add_gateway(name, tenant)
