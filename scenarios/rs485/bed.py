"""The RS485 line beds (:class:`scenarios.bed.Bed`): one line in a world, our Modbus masters or
OSDP control panels on it, and the device under test.

Two beds of one protocol, each with a Local and a Remote driver:

=========================  =================================================================
:class:`LocalModbusLine`   the slave under test is a standard slave (pymodbus) in the world;
                           virtual time by default
:class:`RemoteModbusLine`  the slave is outside, joined through a bridge; real time
:class:`LocalOsdpLine`     the reader under test is an OSDP reader (libosdp) in the world
:class:`RemoteOsdpLine`    the reader (PD) is outside, joined through a bridge; real time
=========================  =================================================================

``device`` is what the SUT declares for its profile over :data:`BUILTIN_SLAVE` /
:data:`BUILTIN_READER` (``rs485-modbus``: unit, settings and the register map the scenarios
use; ``rs485-osdp``: address, settings, scbk). A remote device also names its bridge (``tcp``:
``"host:port"``, RTU over TCP; ``serial`` or ``pty``: a device path) and may name its side's
``world_control`` URL (``hil serve rs485`` offers one: :mod:`scenarios.rs485.control`) and
``time_scale`` (its world seconds per wall second).

The verbs: ``start()`` puts the device under test on the line (local) or joins the bridge
(remote) and returns its unit or address; ``client(name)`` is one of our masters / control
panels (made with :meth:`ModbusLine.add_master` / :meth:`OsdpLine.add_panel`); ``place(spec)``
a slave (``{"unit": 5}``) or a reader (``{"address": 2, "scbk": "<hex>"}``) on our side of the
line; ``move`` raises :class:`BedError` (a bus has no positions); ``set_power(name, on)`` a node
by name or unit/address; ``inject(fault, **args)``:

====================  ========================================================================
``noise``             ``bit_error_rate``; ``seconds`` for a burst, else until changed
``power_cycle``       Modbus: ``unit`` (default: the slave under test) off for ``off_s`` seconds
``sensor_failure``    Modbus: ``point`` of ``unit`` (default: the slave under test) answers
                      exception 4 from now on
====================  ========================================================================

A person at an OSDP reader: :meth:`OsdpLine.present_card`, ``read_card``, ``press_keys``,
``tamper``; :meth:`OsdpLine.reader_state` is what it shows. Below the protocol stacks,
:meth:`ModbusLine.add_probe` puts a raw sender on the line (:class:`RawPort`). Whatever
concerns a node that is not in this world (the remote device under test) goes to the far
side's world control; without one, or on a local bed, it is a :class:`BedError` naming what
exists.

``write_evidence`` stops every node first (their last records belong to the timeline), then
writes ``trace.jsonl``, the line capture ``rs485-<bus>.log`` (readable hex) and
``rs485-<bus>.pcapng`` (Wireshark: Modbus RTU dissected, OSDP as labelled data) and, for a
remote device with world control, ``sut-world-trace.jsonl``. libosdp is loaded only when an
OSDP bed is made.
"""

from __future__ import annotations

import abc
import asyncio
import inspect
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devices.protocols import modbus_rtu, osdp_frame
from devices.protocols.http_client import HttpClient, HttpError
from devices.rs485.bridges import SerialBridge, TcpBridge
from devices.rs485.deviations import split
from devices.rs485.modbus_master import ModbusMaster
from devices.rs485.modbus_slave import ModbusSlave, standard_slave
from devices.rs485.osdp_values import check_address, check_key
from devices.rs485.raw_port import RawPort
from scenarios.bed import BedError, WorldBed, write_json_lines
from scenarios.captures import LINE as LINE_CAPTURE
from scenarios.captures import EvidenceCaptures
from sim.clock import REAL, VIRTUAL
from sim.rs485 import Rs485Bus
from sim.rs485_capture import Summariser
from sim.uart import LineSettings
from sim.world import World

if TYPE_CHECKING:
    from devices.rs485.osdp_cp import OsdpControlPanel, PdConfig
    from devices.rs485.osdp_pd import OsdpReader

LINE = "line"
MODBUS_PROFILE = "rs485-modbus"
OSDP_PROFILE = "rs485-osdp"
# How much longer a master waits for a reply in real time (see ``add_master``).
REAL_TIME_TIMEOUT_FACTOR = 5.0

# The builtin slave under test (a standard_slave) and the register map scenarios use; an
# external SUT declares the same keys in its `rs485-modbus` endpoint.
BUILTIN_SLAVE: dict[str, Any] = {
    "unit": 1,
    "settings": "9600 8N1",
    "coil": 0,
    "discrete_input": 0,
    "input": 0,
    "writable_register": 10,
    "bad_address": 1000,
    "limited_register": 0,
    "out_of_range_value": 5000,
    "unsupported_function": 22,
}
# The builtin reader under test; an external SUT declares the same keys in `rs485-osdp` (scbk
# may be left out for a PD without a secure channel).
BUILTIN_READER: dict[str, Any] = {
    "address": 1,
    "settings": "9600 8N1",
    "scbk": "000102030405060708090a0b0c0d0e0f",
}

Closer = Callable[[], Any]  # may return an awaitable


def slave_state(slave: ModbusSlave) -> dict[str, Any]:
    """A slave as world control shows it."""
    return {
        "kind": "modbus-slave",
        "name": slave.name,
        "unit": slave.spec.unit,
        "powered": slave.powered,
        "requests": slave.requests,
        "failed_points": sorted(slave.failed),
    }


def reader_state(reader: OsdpReader) -> dict[str, Any]:
    """A reader as a person (and world control) sees it: powered, LEDs, buzzer, text."""
    state = reader.state
    return {
        "kind": "osdp-reader",
        "name": reader.name,
        "address": reader.spec.address,
        "powered": reader.powered,
        "secure": reader.sc_active(),
        "led": state.led_colour(0),
        "leds": {str(led): dict(value) for led, value in state.leds.items()},
        "buzzer": dict(state.buzzer),
        "beeps": state.beeps,
        "text": state.text,
    }


def _number(name: str | int, what: str, accepted: range) -> int:
    try:
        value = int(name)
    except (TypeError, ValueError):
        value = -1
    if value not in accepted:
        raise BedError(
            f"{what} {name!r} not accepted; accepted: {accepted.start} to {accepted.stop - 1}"
        )
    return value


class LineBed(WorldBed, abc.ABC):
    """What every RS485 bed shares: the world, the line, stopping nodes, the evidence."""

    profile: str = ""  # the conformance profile whose endpoint declares the device
    faults: tuple[str, ...] = ("noise",)
    summarise: Summariser | None = None
    # what the line pcap tells Wireshark: the dissector for a frame, or (none) a Protocol
    # column label for frames it shows as data (sim.rs485_pcap)
    wireshark_dissector: str | None = None
    protocol_label: str = ""
    builtin: Mapping[str, Any] = {}

    def __init__(
        self,
        device: Mapping[str, Any] | None = None,
        *,
        seed: int = 1,
        clock: str = VIRTUAL,
        scale: float = 1.0,
        keep_trace: bool = True,
        world: World | None = None,
        line: str = LINE,
        capture_dir: Path | None = None,
        deviations: Sequence[str] = (),
    ) -> None:
        """``deviations``: the ways the device under test misbehaves on purpose, when this world
        places it (:mod:`devices.rs485.deviations`; ``hil selfcheck``)."""
        self.modbus_deviations, self.osdp_deviations = split(deviations)
        self.device: dict[str, Any] = {**self.builtin, **dict(device or {})}
        try:
            settings = LineSettings.parse(str(self.device["settings"]))
        except ValueError as exc:
            raise BedError(f"the declared line settings: {exc}") from None
        self._owns_world = world is None
        self.world = world or World(seed=seed, clock=clock, scale=scale, keep_trace=keep_trace)
        self.bus = Rs485Bus(
            self.world, line, settings, capture_dir=capture_dir, summarise=self.summarise
        )
        self.pcaps = EvidenceCaptures(self.world, capture_dir)
        line_pcap = self.pcaps.open(f"rs485-{line}.pcapng", LINE_CAPTURE)
        if line_pcap is not None:
            from sim.rs485_pcap import BusPcap  # scapy loads only when capturing

            BusPcap(
                self.bus, line_pcap, self.wireshark_dissector, self.protocol_label, self.summarise
            )
        self._closers: list[Closer] = []
        self._stopped = False

    # -- the device under test (each driver) ----------------------------------------------------
    @property
    @abc.abstractmethod
    def sut(self) -> int:
        """The device under test's unit id or address."""

    @abc.abstractmethod
    def sut_spec(self) -> dict[str, Any]:
        """What :meth:`place` needs to put the device under test on the line."""

    @abc.abstractmethod
    async def start(self) -> int: ...

    @abc.abstractmethod
    async def place(self, spec: dict[str, Any]) -> int: ...

    async def _far_side(
        self, missing: str, method: str, path: str, body: dict[str, Any] | None = None
    ) -> Any:
        """A node that is not in this world: nowhere to go (a remote bed asks the far side)."""
        raise BedError(missing)

    def nodes(self) -> list[dict[str, Any]]:
        """The nodes placed in this world, as world control shows them."""
        return []

    # -- faults --------------------------------------------------------------------------------
    async def inject(self, fault: str, **args: Any) -> None:
        if fault != "noise":
            return await super().inject(fault, **args)
        ber = args.get("bit_error_rate")
        try:
            if args.get("seconds") is None:
                self.bus.set_noise(ber)
            else:
                self.bus.noise_burst(ber, float(args["seconds"]))
        except ValueError as exc:
            raise BedError(str(exc)) from None

    # -- the end -------------------------------------------------------------------------------
    def add_closer(self, close: Closer) -> None:
        """Something to stop with the bed (last added, first stopped)."""
        self._closers.append(close)

    def stop(self) -> None:
        """Stop every node and bridge (last added first), then close the line's capture."""
        if self._stopped:
            return
        self._stopped = True
        try:
            for close in reversed(self._closers):
                result = close()
                if inspect.isawaitable(result) and not self.world.closed:
                    self.world.run(result)
        finally:
            self.bus.close()
            self.pcaps.close()

    def write_evidence(self, folder: Path) -> dict[str, str]:
        self.stop()
        files = super().write_evidence(folder)
        capture = self.bus.capture
        if capture is not None:
            target = folder / capture.path.name
            if capture.path.resolve() != target.resolve():
                shutil.copyfile(capture.path, target)
            files[target.name] = "capture"
        files.update(self.pcaps.write_evidence(folder))
        return files

    def close(self) -> None:
        try:
            self.stop()
        finally:
            if self._owns_world:
                super().close()


# -- Modbus RTU -------------------------------------------------------------------------------


class ModbusLine(LineBed):
    """Our Modbus masters poll the slave under test (and any slaves the scenario places)."""

    profile = MODBUS_PROFILE
    faults = ("noise", "power_cycle", "sensor_failure")
    summarise = staticmethod(modbus_rtu.summarise)
    wireshark_dissector = "mbrtu"  # Wireshark's Modbus RTU dissector, called by name
    builtin = BUILTIN_SLAVE

    def __init__(self, device: Mapping[str, Any] | None = None, **options: Any) -> None:
        super().__init__(device, **options)
        self.masters: dict[str, ModbusMaster] = {}
        self.slaves: dict[int, ModbusSlave] = {}
        self.probes: dict[str, RawPort] = {}
        self.add_closer(self._stop_nodes)

    @property
    def sut(self) -> int:
        return _number(self.device["unit"], "the declared unit", range(1, 248))

    unit = sut

    def sut_spec(self) -> dict[str, Any]:
        return {"unit": self.sut}

    def declared(self, key: str) -> int:
        """A number of the SUT's declared register map (``coil``, ``writable_register``...)."""
        try:
            return int(self.device[key])
        except KeyError:
            raise BedError(
                f"the SUT's {self.profile} endpoint declares no {key!r}; "
                f"declared: {', '.join(sorted(self.device))}"
            ) from None

    # -- masters -------------------------------------------------------------------------------
    async def add_master(
        self,
        name: str,
        timeout: float = 0.5,
        retries: int = 2,
        settings: LineSettings | None = None,
    ) -> ModbusMaster:
        """A pymodbus master on the line (``settings``: its own UART, the line's by default).

        In real time (an outside slave behind a bridge, another process, a loaded machine) a
        reply can be late by scheduling alone, so the timeout is stretched by
        :data:`REAL_TIME_TIMEOUT_FACTOR`: a scenario's tight virtual-time timeout must not turn
        a busy CI machine into a deaf slave, and masters keep their timeouts' ratios (two
        masters with equal timeouts would retry in step and collide forever).
        """
        if name in self.masters:
            raise BedError(f"a master named {name!r} is already on the line")
        if self.world.clock_mode == REAL:
            timeout *= REAL_TIME_TIMEOUT_FACTOR
        master = ModbusMaster(self.world, self.bus, name, timeout, retries, settings)
        await master.start()
        self.masters[name] = master
        return master

    def client(self, name: str | None = None) -> ModbusMaster:
        if name is None and self.masters:
            return next(iter(self.masters.values()))
        if name not in self.masters:
            raise BedError(
                f"no master named {name!r} on the line; masters: "
                f"{', '.join(self.masters) or 'none'}"
            )
        return self.masters[name]

    def add_probe(self, name: str) -> RawPort:
        """A raw sender on the line: frames exactly as given, below what a master sends (runt
        frames, bad CRCs, reserved function codes), and every frame it hears."""
        if name in self.probes or name in self.masters:
            raise BedError(f"a node named {name!r} is already on the line")
        probe = RawPort(self.bus, name)
        self.probes[name] = probe
        self.add_closer(probe.close)
        return probe

    def probe(self, name: str) -> RawPort:
        if name not in self.probes:
            raise BedError(
                f"no raw sender named {name!r} on the line; raw senders: "
                f"{', '.join(self.probes) or 'none'}"
            )
        return self.probes[name]

    # -- slaves --------------------------------------------------------------------------------
    async def place(self, spec: dict[str, Any]) -> int:
        """A standard slave at ``spec["unit"]`` (other keys override its spec: ``name``,
        ``functions``, ``response_delay``...); a unit already placed is left as it is."""
        unit = _number(spec.get("unit"), "Modbus unit id", range(1, 248))
        if unit in self.slaves:
            return unit
        overrides = {k: v for k, v in spec.items() if k != "unit"}
        if isinstance(overrides.get("functions"), list):
            overrides["functions"] = tuple(overrides["functions"])
        try:
            deviations = self.modbus_deviations if unit == self.sut else ()
            slave = ModbusSlave(
                self.world, self.bus, standard_slave(unit, **overrides), deviations=deviations
            )
        except TypeError as exc:
            raise BedError(f"slave spec {spec!r} not accepted: {exc}") from None
        except ValueError as exc:  # a bad field, or a node of that name exists
            raise BedError(str(exc)) from None
        await slave.start()
        self.slaves[unit] = slave
        return unit

    def _unit_of(self, name: str | int) -> int:
        for unit, slave in self.slaves.items():
            if slave.name == name:
                return unit
        return _number(name, "slave (a unit id or a placed slave's name)", range(1, 248))

    def _missing(self, unit: int) -> str:
        units = ", ".join(map(str, sorted(self.slaves))) or "none"
        return f"no slave with unit {unit} in this world (slaves: {units})"

    async def set_power(self, name: str | int, on: bool) -> None:
        unit = self._unit_of(name)
        slave = self.slaves.get(unit)
        if slave is None:
            await self._far_side(
                self._missing(unit), "POST", f"/world/slaves/{unit}/power", {"on": on}
            )
        elif on:
            await slave.start()
        else:
            await slave.stop()

    async def inject(self, fault: str, **args: Any) -> None:
        if fault == "power_cycle":  # returns once the slave is off; it comes back later
            unit = self._unit_of(args.get("unit", self.sut))
            off_s = float(args.get("off_s", 1.0))
            await self.set_power(unit, False)
            self.world.spawn(self._power_on_after(unit, off_s), name="power-cycle")
        elif fault == "sensor_failure":
            unit = self._unit_of(args.get("unit", self.sut))
            point = str(args["point"])
            slave = self.slaves.get(unit)
            if slave is None:
                await self._far_side(
                    self._missing(unit), "POST", f"/world/slaves/{unit}/points/{point}/failure"
                )
            else:
                try:
                    slave.fail_point(point)
                except KeyError as exc:
                    raise BedError(str(exc.args[0])) from None
        else:
            await super().inject(fault, **args)

    async def _power_on_after(self, unit: int, off_s: float) -> None:
        await asyncio.sleep(off_s)
        await self.set_power(unit, True)

    def nodes(self) -> list[dict[str, Any]]:
        return [slave_state(s) for s in self.slaves.values()]

    async def _stop_nodes(self) -> None:
        for master in self.masters.values():
            await master.stop()
        for slave in self.slaves.values():
            await slave.stop()


# -- OSDP -------------------------------------------------------------------------------------


class OsdpLine(LineBed):
    """Our OSDP control panels poll the reader under test (and any readers the scenario
    places)."""

    profile = OSDP_PROFILE
    summarise = staticmethod(osdp_frame.summarise)
    protocol_label = "OSDP"  # Wireshark has no OSDP dissector: data, labelled
    builtin = BUILTIN_READER

    def __init__(self, device: Mapping[str, Any] | None = None, **options: Any) -> None:
        super().__init__(device, **options)
        self.readers: dict[int, OsdpReader] = {}
        self.panels: dict[str, OsdpControlPanel] = {}

    @property
    def sut(self) -> int:
        try:
            return check_address(self.device["address"])
        except ValueError as exc:
            raise BedError(f"the declared address: {exc}") from None

    address = sut

    @property
    def scbk(self) -> bytes | None:
        """The reader under test's secure channel base key, if it declares one."""
        return check_key(self.device.get("scbk"), "the declared scbk")

    def sut_spec(self) -> dict[str, Any]:
        return {"address": self.sut, "scbk": self.scbk}

    # -- control panels ------------------------------------------------------------------------
    def add_panel(self, name: str, pds: list[PdConfig]) -> OsdpControlPanel:
        """A libosdp control panel polling ``pds`` on the line."""
        from devices.rs485.osdp_cp import OsdpControlPanel

        if name in self.panels:
            raise BedError(f"a control panel named {name!r} is already on the line")
        panel = OsdpControlPanel(self.world, self.bus, pds, name)
        self.panels[name] = panel
        self.add_closer(panel.stop)
        return panel

    def client(self, name: str | None = None) -> OsdpControlPanel:
        if name is None and self.panels:
            return next(iter(self.panels.values()))
        if name not in self.panels:
            raise BedError(
                f"no control panel named {name!r} on the line; panels: "
                f"{', '.join(self.panels) or 'none'}"
            )
        return self.panels[name]

    # -- readers -------------------------------------------------------------------------------
    async def place(self, spec: dict[str, Any]) -> int:
        """A reader at ``spec["address"]`` with ``spec.get("scbk")`` (other keys: its
        :class:`ReaderSpec` fields); an address already placed is left as it is."""
        from devices.rs485.osdp_pd import OsdpReader, ReaderSpec

        address = _number(spec.get("address"), "OSDP address", range(0, 127))
        if address in self.readers:
            return address
        fields = {k: v for k, v in spec.items() if k != "address"}
        try:
            deviations = self.osdp_deviations if address == self.sut else ()
            reader = OsdpReader(
                self.world, self.bus, ReaderSpec(address, **fields), deviations=deviations
            )
        except TypeError as exc:
            raise BedError(f"reader spec {spec!r} not accepted: {exc}") from None
        except ValueError as exc:  # a bad field, or a node of that name exists
            raise BedError(str(exc)) from None
        reader.start()
        self.readers[address] = reader
        self.add_closer(reader.stop)
        return address

    def _address_of(self, name: str | int) -> int:
        for address, reader in self.readers.items():
            if reader.name == name:
                return address
        return _number(name, "reader (an address or a placed reader's name)", range(0, 127))

    def _missing(self, address: int) -> str:
        found = ", ".join(map(str, sorted(self.readers))) or "none"
        return f"no reader at address {address} in this world (readers: {found})"

    async def _at_reader(
        self, name: str | int, act: Callable[[OsdpReader], Any], route: str, body: dict[str, Any]
    ) -> Any:
        """``act`` on the reader if it is in this world, else ask the far side's ``route``."""
        address = self._address_of(name)
        reader = self.readers.get(address)
        if reader is not None:
            try:
                return act(reader)
            except ValueError as exc:
                raise BedError(str(exc)) from None
        return await self._far_side(
            self._missing(address), "POST", f"/world/readers/{address}/{route}", body
        )

    async def set_power(self, name: str | int, on: bool) -> None:
        await self._at_reader(name, lambda r: r.start() if on else r.stop(), "power", {"on": on})

    async def present_card(self, name: str | int, facility: int, card: int) -> bool:
        """A 26-bit Wiegand card (facility code and card number) at the reader."""
        from devices.rs485.osdp_pd import wiegand26

        try:
            data = wiegand26(facility, card)
        except ValueError as exc:
            raise BedError(str(exc)) from None
        body = {"card": data.hex(), "format": "wiegand", "bits": 26}
        return bool(
            await self._at_reader(name, lambda r: r.present_card(facility, card), "card", body)
        )

    async def read_card(
        self, name: str | int, data: bytes, bits: int | None = None, card_format: str = "wiegand"
    ) -> bool:
        """Any card read at the reader (see :meth:`OsdpReader.read_card`)."""
        body = {"card": data.hex(), "format": card_format, "bits": bits}
        return bool(
            await self._at_reader(
                name, lambda r: r.read_card(data, bits, card_format), "card", body
            )
        )

    async def press_keys(self, name: str | int, keys: str) -> bool:
        return bool(
            await self._at_reader(name, lambda r: r.press_keys(keys), "keypad", {"keys": keys})
        )

    async def tamper(self, name: str | int, tampered: bool = True) -> bool:
        return bool(
            await self._at_reader(
                name, lambda r: r.tamper(tampered), "tamper", {"tampered": tampered}
            )
        )

    async def reader_state(self, name: str | int) -> dict[str, Any]:
        """What the reader shows (:func:`reader_state`), here or on the far side."""
        address = self._address_of(name)
        reader = self.readers.get(address)
        if reader is not None:
            return reader_state(reader)
        world = await self._far_side(self._missing(address), "GET", "/world")
        for node in world.get("nodes", []):
            if node.get("kind") == "osdp-reader" and node.get("address") == address:
                return dict(node)
        raise BedError(f"the far side's world has no reader at address {address}")

    def nodes(self) -> list[dict[str, Any]]:
        return [reader_state(r) for r in self.readers.values()]


# -- the drivers ------------------------------------------------------------------------------


class LocalLine(LineBed):
    """The device under test is ours, in this world: ``start()`` places it."""

    async def start(self) -> int:
        return await self.place(self.sut_spec())


class RemoteLine(LineBed):
    """The device under test is outside: joined through the bridge its endpoint names, in real
    time at its ``time_scale``; its own world (if any) through its ``world_control``."""

    def __init__(
        self,
        device: Mapping[str, Any],
        *,
        seed: int = 1,
        keep_trace: bool = True,
        capture_dir: Path | None = None,
    ) -> None:
        scale = device.get("time_scale", 1.0)
        if not isinstance(scale, int | float) or isinstance(scale, bool) or scale <= 0:
            raise BedError(f"time_scale {scale!r} not accepted; accepted: a number > 0")
        super().__init__(
            device,
            seed=seed,
            clock=REAL,
            scale=float(scale),
            keep_trace=keep_trace,
            capture_dir=capture_dir,
        )
        self.control_url: str | None = self.device.get("world_control")
        self._joined = False
        self._far_since: float | None = None

    async def start(self) -> int:
        if not self._joined:
            self._joined = True
            self.add_closer(await self._join())
            if self.control_url:
                world = await self._far_side("the far side's world", "GET", "/world")
                self._far_since = float(world.get("time", 0.0))
        return self.sut

    async def _join(self) -> Closer:
        device = self.device
        if "tcp" in device:
            host, _, port = str(device["tcp"]).rpartition(":")
            tcp = TcpBridge(self.bus, "sut-bridge")
            await tcp.dial(host, int(port))
            return tcp.close
        if "serial" in device or "pty" in device:
            path = str(device.get("serial") or device["pty"])
            return SerialBridge(self.bus, path, "sut-bridge").close
        raise BedError(
            f"the SUT's {self.profile} endpoint names no bridge; accepted keys: "
            "tcp (host:port), serial or pty (a device path)"
        )

    async def _far_side(
        self, missing: str, method: str, path: str, body: dict[str, Any] | None = None
    ) -> Any:
        if not self.control_url:
            raise BedError(
                f"{missing}, and the SUT declares no world_control endpoint to reach its side"
            )
        try:
            response = await HttpClient(self.control_url).request(
                method, path, json_body=body, timeout=10
            )
        except HttpError as exc:
            raise BedError(f"world control {method} {path}: {exc}") from None
        if response.status >= 400:
            raise BedError(f"world control {method} {path} -> {response.status}: {response.text}")
        return response.json()

    def write_evidence(self, folder: Path) -> dict[str, str]:
        files = super().write_evidence(folder)
        if self._far_since is not None and not self.world.closed:
            try:
                rows = self.world.run(
                    self._far_side(
                        "the far side's trace",
                        "GET",
                        f"/world/trace?since={self._far_since}",
                    )
                )
            except BedError:  # evidence is best effort; the scenario's outcome stands
                return files
            write_json_lines(folder / "sut-world-trace.jsonl", rows)
            files["sut-world-trace.jsonl"] = "timeline of the SUT's world"
        return files


class LocalModbusLine(LocalLine, ModbusLine):
    """The slave under test is a standard slave in this world (virtual time by default)."""


class RemoteModbusLine(RemoteLine, ModbusLine):
    """The slave under test is outside, behind the declared bridge (real time)."""


class LocalOsdpLine(LocalLine, OsdpLine):
    """The reader under test is an OSDP reader in this world: virtual time when libosdp runs on
    the world's clock (:mod:`devices.rs485.osdp_clock`), else real time."""

    def __init__(
        self, device: Mapping[str, Any] | None = None, *, clock: str = VIRTUAL, **options: Any
    ) -> None:
        from devices.rs485 import osdp_clock  # loads libosdp, on the world's clock if it can

        super().__init__(device, clock=clock if osdp_clock.ON_WORLD_CLOCK else REAL, **options)


class RemoteOsdpLine(RemoteLine, OsdpLine):
    """The reader under test is outside, behind the declared bridge (real time)."""
