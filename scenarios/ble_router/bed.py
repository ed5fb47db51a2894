"""The BLE router's bed (:class:`scenarios.bed.Bed`): the world a BLE router scenario runs in.

* :class:`LocalBleBed`: everything in one process and one world: the radio, the peripherals,
  the reference router (:mod:`devices.gateways.ble_router`) served inside the world's IP
  network (or on a real socket for ``hil serve``); virtual time by default.
* :class:`RemoteBleBed`: the router is a SUT at a URL. The harness's own world runs in real
  time; the peripherals belong to the far side and are driven through its world-control API
  (``hil serve ble-router`` offers one, see :mod:`scenarios.ble_router.control`).

Both follow the shared verbs (``start``, ``client``, ``place``, ``move``, ``set_power``,
``inject``, ``write_evidence``, ``close``) and add the BLE ones every step may use:
``peripheral_state`` (the device's own account: its values, links and the writes it got),
``address_of``, ``type_passkey``, ``air_capture`` (the local bed's sniffer capture, None on the
remote one). Only the remote bed has ``reset`` and
``disconnect_all`` (an outside router outlives scenarios); only the local one has ``distance``,
``router``, ``radio`` and ``peripherals`` (steps that need them check with ``getattr``).

Faults (:meth:`BleBed.inject`, each traced in layer ``fault`` on its target):

==================  ==========================================================================
``power_cycle``     ``target``: a peripheral, ``off_s`` (default 1 s) off, then on again
``reboot_router``   the router crashes and restarts (down for its ``boot_s``; local bed only)
``radio_loss``      ``probability``: the share of radio transmissions lost (local bed only)
==================  ==========================================================================
"""

from __future__ import annotations

import abc
import asyncio
import math
import shutil
import time
from pathlib import Path
from typing import IO, Any

from devices.ble.peripheral import BlePeripheral
from devices.ble.spec import PeripheralSpec
from devices.gateways.ble_router.reboot import reboot
from devices.gateways.ble_router.router import BleRouter
from devices.protocols.http_client import HttpClient, HttpResponse
from devices.protocols.http_server import ServedApp
from scenarios.bed import BedError, HttpTranscript, WorldBed, write_json_lines
from scenarios.captures import AIR, IP, EvidenceCaptures
from sim.capture import BtsnoopWriter
from sim.clock import REAL, VIRTUAL
from sim.iplink import IpNetwork
from sim.radio import Radio, RadioConfig
from sim.world import World

ROUTER_HOST = "router"
ROUTER_PORT = 80


class BleBed(HttpTranscript, WorldBed, abc.ABC):
    """What both BLE router beds offer (see the module docstring)."""

    faults: tuple[str, ...] = ("power_cycle",)
    transcript: list[dict[str, Any]]
    # Scenarios give their devices addresses inside this block (features' allocate_address). A
    # fresh reference router per scenario needs nothing more than block 0; a long-lived
    # external router remembers names, GATT databases and bonds per address, so each remote
    # bed takes a block no earlier scenario (or earlier run) used.
    device_block: int = 0

    @abc.abstractmethod
    async def start(self) -> Any: ...

    @abc.abstractmethod
    def client(self, name: str | None = None) -> HttpClient:
        """An HTTP client of the router's API (every exchange lands in ``transcript``)."""

    @abc.abstractmethod
    async def place(self, spec: dict[str, Any]) -> str:
        """Put a peripheral (a :class:`PeripheralSpec` as a dict) in the world, powered on;
        return its address."""

    @abc.abstractmethod
    async def set_power(self, name: str, on: bool) -> None: ...

    @abc.abstractmethod
    async def peripheral_state(self, name: str) -> dict[str, Any]: ...

    @abc.abstractmethod
    def address_of(self, name: str) -> str: ...

    @abc.abstractmethod
    async def type_passkey(self, name: str, passkey: int) -> None:
        """Someone types ``passkey`` on the peripheral's keyboard (passkey-entry pairing)."""

    async def inject(self, fault: str, **args: Any) -> None:
        if fault not in self.faults:
            return await super().inject(fault, **args)  # BedError naming the faults we have
        target = self._fault_target(fault, args)
        details = {k: v for k, v in args.items() if k != "target"}
        self.world.trace.emit(target, "fault", fault, **details)
        await self._inject(fault, target, args)

    def _fault_target(self, fault: str, args: dict[str, Any]) -> str:
        target = args.get("target")
        if not target:
            raise BedError(f"fault {fault!r} needs a target (a peripheral's name)")
        return str(target)

    async def _inject(self, fault: str, target: str, args: dict[str, Any]) -> None:
        """Do ``fault`` (power_cycle here; beds with more faults extend this)."""
        await self.set_power(target, False)
        await asyncio.sleep(float(args.get("off_s", 1.0)))
        await self.set_power(target, True)

    def air_capture(self) -> Path | None:
        """The air capture so far (pcapng, complete up to now), or None when this bed records
        none (a remote router's air is not ours to sniff)."""
        return None

    def write_evidence(self, folder: Path) -> dict[str, str]:
        """The timeline and ``http.jsonl`` (every exchange with the router's API)."""
        files = super().write_evidence(folder)
        write_json_lines(folder / "http.jsonl", self.transcript)
        files["http.jsonl"] = "transcript"
        return files


def peripheral_state(p: BlePeripheral) -> dict[str, Any]:
    """What the world-control API tells of a peripheral, by its own account: ``values`` its
    characteristics hold now (UUID -> hex), ``links`` the connections it holds, ``writes`` every
    write it received."""
    links = len(p.device.connections) if p.powered and p.device is not None else 0
    return {
        "name": p.name,
        "address": p.address,
        "position": list(p.position),
        "powered": p.powered,
        "links": links,
        "notifications_sent": p.notifications_sent,
        "security": p.security.state(),
        "values": {uuid: value.hex().upper() for uuid, value in p.held_values().items()},
        "writes": [{"t": round(t, 6), "uuid": u, "value": v.hex().upper()} for t, u, v in p.writes],
    }


class LocalPeripherals:
    """The peripherals a local BLE world holds (the router's bed and the access controller's):
    placed on the bed's radio and powered on, moved, powered, inspected and taken out by name."""

    world: World
    radio: Radio
    peripherals: dict[str, BlePeripheral]

    async def place(self, spec: dict[str, Any]) -> str:
        parsed = PeripheralSpec.from_dict(spec)
        if parsed.name in self.peripherals:
            raise BedError(f"a peripheral named {parsed.name!r} already exists")
        p = BlePeripheral(self.world, self.radio, parsed)
        self.peripherals[p.name] = p
        await p.power_on()
        return p.address

    async def remove_all(self) -> list[str]:
        """Power off and take out every peripheral; return their names."""
        names = list(self.peripherals)
        for name in names:
            await self.peripherals.pop(name).power_off()
            self.world.remove_node(name)
        return names

    def _get(self, name: str) -> BlePeripheral:
        try:
            return self.peripherals[name]
        except KeyError:
            raise BedError(
                f"no peripheral named {name!r}; the world has "
                f"{', '.join(sorted(self.peripherals)) or 'none'}"
            ) from None

    async def move(self, name: str, position: list[float]) -> None:
        self._get(name).move(tuple(position))

    async def set_power(self, name: str, on: bool) -> None:
        p = self._get(name)
        await (p.power_on() if on else p.power_off())

    async def peripheral_state(self, name: str) -> dict[str, Any]:
        return peripheral_state(self._get(name))


class LocalBleBed(LocalPeripherals, BleBed):
    """One world with the reference router and the peripherals the scenario places.

    ``router`` holds :class:`BleRouter` keyword arguments (chips, boot_s, credentials...);
    ``capture_dir`` records each router chip's HCI traffic there as ``hci-chip<i>.btsnoop``,
    the air as ``air.pcapng`` (:mod:`sim.air_capture`) and the in-world IP links (the
    harness's HTTP/SSE with the router) as ``ip.pcapng`` (:mod:`sim.ip_capture`).
    """

    faults = ("power_cycle", "reboot_router", "radio_loss")

    def __init__(
        self,
        seed: int = 1,
        clock: str = VIRTUAL,
        scale: float = 1.0,
        trace_path: Path | None = None,
        radio: RadioConfig | None = None,
        router: dict[str, Any] | None = None,
        keep_trace: bool = True,
        capture_dir: Path | None = None,
    ) -> None:
        self.capture_dir = capture_dir
        self._captures: list[IO[bytes]] = []
        self.world = World(
            seed=seed, clock=clock, scale=scale, trace_path=trace_path, keep_trace=keep_trace
        )
        self.radio = Radio(self.world, radio)
        self.net = IpNetwork(self.world)
        self.router = BleRouter(self.world, self.radio, **(router or {}))
        self.peripherals: dict[str, BlePeripheral] = {}
        self.transcript = []
        self._served: ServedApp | None = None
        self.pcaps = EvidenceCaptures(self.world, capture_dir)
        air, ip = self.pcaps.open("air.pcapng", AIR), self.pcaps.open("ip.pcapng", IP)
        if air is not None and ip is not None:
            from sim.air_capture import AirCapture  # scapy loads only when capturing
            from sim.ip_capture import IpCapture

            AirCapture(self.radio, air)
            IpCapture(self.net, ip)

    async def start(
        self, host: str = ROUTER_HOST, port: int = ROUTER_PORT, real_socket: bool = False
    ) -> str:
        """Power the router on and serve its API (inside the world, or on a real socket with
        ``port=0`` for a free one); return its URL."""
        await self.router.start()
        if self.capture_dir is not None:
            self._capture_router_hci(self.capture_dir)
        self._served = await self.router.serve(
            net=None if real_socket else self.net, host=host, port=port
        )
        return self._served.url

    def _capture_router_hci(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for chip in self.router.central.chips:
            output = (folder / f"hci-chip{chip.index}.btsnoop").open("wb")
            self._captures.append(output)
            chip.host.snooper = BtsnoopWriter(output, self.world.datetime)

    @property
    def captures(self) -> list[Path]:
        return [Path(f.name) for f in self._captures]

    def air_capture(self) -> Path | None:
        """The air capture so far (flushed), or None when the bed captures nothing."""
        writer = self.pcaps.writers.get("air.pcapng")
        if writer is None or writer.output is None or self.capture_dir is None:
            return None
        writer.output.flush()
        return self.capture_dir / "air.pcapng"

    @property
    def base_url(self) -> str:
        if self._served is None:
            raise BedError("the router is not serving yet: call start() first")
        return self._served.url

    def client(self, name: str | None = None) -> HttpClient:
        _one_client(name)
        in_world = self._served is not None and self._served.net is not None
        return HttpClient(
            self.base_url,
            connect=self.net.open_connection if in_world else None,
            recorder=self.transcript.append,
        )

    def address_of(self, name: str) -> str:
        return self._get(name).address

    async def type_passkey(self, name: str, passkey: int) -> None:
        try:
            self._get(name).security.type_passkey(passkey)
        except ValueError as exc:
            raise BedError(str(exc)) from None

    def distance(self, name: str) -> float:
        return math.dist(self._get(name).position, self.router.position)

    def _fault_target(self, fault: str, args: dict[str, Any]) -> str:
        if fault == "reboot_router":
            return self.router.name
        if fault == "radio_loss":
            return self.radio.name
        return super()._fault_target(fault, args)

    async def _inject(self, fault: str, target: str, args: dict[str, Any]) -> None:
        if fault == "reboot_router":
            await reboot(self.router, reason="fault")
        elif fault == "radio_loss":
            probability = args.get("probability")
            if not isinstance(probability, int | float) or not 0.0 <= probability <= 1.0:
                raise BedError(f"radio_loss probability must be 0..1, got {probability!r}")
            self.radio.config.loss_probability = float(probability)
        else:
            await super()._inject(fault, target, args)

    async def stop(self) -> None:
        """Stop serving, power the router off and close the HCI captures."""
        if self._served is not None:
            await self._served.close()
            self._served = None
        await self.router.stop()
        for output in self._captures:
            output.close()
        self.pcaps.close()

    def write_evidence(self, folder: Path) -> dict[str, str]:
        """Also the router's HCI captures (``hci-chip<i>.btsnoop``) and, with a capture folder,
        the air (``air.pcapng``) and the in-world IP links (``ip.pcapng``), complete: the
        router stops first."""
        files = super().write_evidence(folder)
        self.run(self.stop())
        for capture in self.captures:
            if capture.parent.resolve() != folder.resolve():
                shutil.copyfile(capture, folder / capture.name)
            files[capture.name] = "btsnoop"
        files.update(self.pcaps.write_evidence(folder))
        return files


def _one_client(name: str | None) -> None:
    if name is not None:
        raise BedError(f"a BLE router has one API and one kind of client; got client({name!r})")


_last_block = 0


def _fresh_block() -> int:
    """A device-address block (1-65535) unused by this process and, with high likelihood, by
    recent runs: real-time runs need no reproducible addresses, only fresh ones."""
    global _last_block
    if _last_block == 0:
        _last_block = int(time.time() * 10) % 0xFF00
    _last_block = _last_block % 0xFFFF + 1
    return _last_block


class RemotePeripherals:
    """The peripherals of a remote BLE bed, a router's or an access controller's: placed, moved,
    powered and read through the far side's world control
    (:func:`scenarios.ble_router.control.peripheral_routes`, the same routes on both)."""

    control_url: str | None
    _addresses: dict[str, str]

    def _control(self) -> HttpClient:
        if not self.control_url:
            raise BedError(
                "this SUT declares no world_control endpoint, so the harness cannot place, "
                "move or power peripherals, nor act on the world"
            )
        return HttpClient(self.control_url)

    async def _call(self, method: str, path: str, body: Any = None) -> HttpResponse:
        response = await self._control().request(method, path, json_body=body)
        if response.status >= 400:
            raise BedError(f"world control {method} {path} -> {response.status}: {response.text}")
        return response

    async def place(self, spec: dict[str, Any]) -> str:
        address = str((await self._call("POST", "/world/peripherals", spec)).json()["address"])
        self._addresses[str(spec["name"])] = address
        return address

    async def move(self, name: str, position: list[float]) -> None:
        await self._call("POST", f"/world/peripherals/{name}/position", {"position": position})

    async def set_power(self, name: str, on: bool) -> None:
        await self._call("POST", f"/world/peripherals/{name}/power", {"on": on})

    async def peripheral_state(self, name: str) -> dict[str, Any]:
        return dict((await self._call("GET", f"/world/peripherals/{name}")).json())

    def address_of(self, name: str) -> str:
        try:
            return self._addresses[name]
        except KeyError:
            raise BedError(f"no peripheral named {name!r} was placed by this scenario") from None


class RemoteBleBed(RemotePeripherals, BleBed):
    """A router at a URL; peripherals driven through the far side's world-control API.

    ``scale`` is the far side's world seconds per wall second: 1 for a physical router; a
    simulated one (``hil serve ble-router --scale 4``) may run faster, and the harness's clock
    must then run at the same pace so that every wait and timeout means the same on both sides.
    """

    def __init__(
        self,
        base_url: str,
        control_url: str | None,
        seed: int = 1,
        trace_path: Path | None = None,
        scale: float = 1.0,
    ) -> None:
        self.world = World(seed=seed, clock=REAL, scale=scale, trace_path=trace_path)
        self.device_block = _fresh_block()
        self.base_url = base_url
        self.control_url = control_url
        self.transcript = []
        self._addresses: dict[str, str] = {}
        self._far_start: float | None = None

    async def start(self) -> None:
        """Reach the router and reset the far side (no links, no peripherals); the evidence
        starts here: the transcript is emptied and the far side's clock noted."""
        await self.reset()
        self.transcript.clear()
        self._far_start = await self._far_side_time()

    def client(self, name: str | None = None) -> HttpClient:
        _one_client(name)
        return HttpClient(self.base_url, recorder=self.transcript.append)

    async def type_passkey(self, name: str, passkey: int) -> None:
        await self._call("POST", f"/world/peripherals/{name}/passkey", {"passkey": passkey})

    async def disconnect_all(self, patience_s: float = 5.0) -> None:
        """Leave the router with no connection and no bond with this scenario's peripherals
        (the next scenario may place a peripheral at the same address), through its own API.
        Housekeeping between scenarios, not part of one: not in the transcript."""
        router = HttpClient(self.base_url)
        for address in self._addresses.values():
            await router.request("DELETE", f"/management/nodes/{address}/bond", timeout=5)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + patience_s
        while True:
            listing = await router.request(
                "GET", "/gap/nodes", {"connection_state": "connected"}, timeout=5
            )
            nodes = listing.json().get("nodes", []) if listing.status == 200 else []
            if not nodes:
                return
            if loop.time() >= deadline:
                raise BedError(
                    f"the router still lists {len(nodes)} connected nodes "
                    f"after {patience_s:g} s of disconnecting them"
                )
            for node in nodes:
                await router.request("DELETE", f"/gap/nodes/{node['id']}/connection", timeout=5)
            await asyncio.sleep(0.2)

    async def reset(self) -> None:
        """Start the next scenario from the same place: the router holds no links and the far
        side no peripherals. Links are closed through the router's API first, since a
        powered-off peripheral's link only ends at the supervision timeout."""
        await self.disconnect_all()
        if self.control_url:
            await self._call("DELETE", "/world/peripherals")

    async def _far_side_time(self) -> float | None:
        if not self.control_url:
            return None
        try:
            response = await HttpClient(self.control_url).request("GET", "/world", timeout=5)
            return float(response.json()["time"])
        except Exception:  # evidence is best effort; the scenario's own outcome decides
            return None

    async def _far_side_trace(self, since: float) -> list[dict[str, Any]]:
        assert self.control_url
        response = await HttpClient(self.control_url).request(
            "GET", "/world/trace", params={"since": f"{since:.6f}"}, timeout=10
        )
        rows = response.json()
        return rows if isinstance(rows, list) else []

    def write_evidence(self, folder: Path) -> dict[str, str]:
        """Also ``sut-world-trace.jsonl``: the far side's timeline since :meth:`start`."""
        files = super().write_evidence(folder)
        if self._far_start is not None:
            try:
                rows = self.run(self._far_side_trace(self._far_start))
                write_json_lines(folder / "sut-world-trace.jsonl", rows)
                files["sut-world-trace.jsonl"] = "far-side timeline"
            except Exception:  # best effort, see above
                pass
        return files

    def close(self) -> None:
        """Leave the router without connections (``start`` of the next scenario does so again;
        this keeps a SUT clean after the last one too), then release the world."""
        if not self.world.closed:
            try:
                self.run(self.disconnect_all(patience_s=3.0))
            except Exception:  # a router that cannot even list its connections failed already
                pass
        super().close()
