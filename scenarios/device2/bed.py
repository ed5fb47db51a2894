"""The Device2 bed (:class:`scenarios.bed.Bed`): the world a Device2 scenario runs in.

* :class:`LocalDevice2Bed`: the reference service (:mod:`devices.cloud.device2`) with its
  management API and device APIs (HTTP, MQTT, both over TLS too) in one world, virtual time by
  default; the simulated devices connect to the product's ``fqdn`` over in-world links. With
  ``real_socket`` every API listens on a real socket instead (``hil serve device2``).
* :class:`RemoteDevice2Bed`: an outside service at its base URLs (management API, HTTP device
  API, MQTT ``host:port``), in real time; the simulated devices run in the harness's world and
  dial real sockets. A declared world-control URL (``hil serve device2`` offers one) lets the
  bed reset the far side per scenario, restart the service and lay archive files.

Both follow the shared verbs: ``start``, ``client`` (``None``/``"service"``: the management API
client, :class:`~devices.cloud.device2.client.Device2Client`; a device's name: that simulated
device), ``place`` (a device spec, :mod:`scenarios.device2.placement`; returns its identity),
``set_power`` (a device on: it runs its schedule; off: it stops and drops its connection),
``inject``, ``write_evidence``, ``close``; ``move`` raises :class:`BedError` (no positions).
Besides: ``events`` (every gateway event the management API streamed since ``start``),
``device_report(name)``, ``service_now_us()`` (the service's clock) and ``archive(day,
points)`` (a daily archive file for the restore operations; its URL).

Faults (:meth:`Device2Bed.inject`, each traced in layer ``fault``):

===================  ========================================================================
``service_restart``  the service stops and starts again on the same database (devices
                     reconnect); local bed, or remote with world control
``partition``        ``target``: a device; its link to the service is cut (``seconds``: for
                     that long, else until ``heal``); local bed only
``heal``             ``target``: a device; its link works again
===================  ========================================================================
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from devices.cloud.device2.client import Device2Client
from devices.cloud.device2.deviations import apply_deviations
from devices.cloud.device2.device_apis import Device2Apis, DevicePorts, serve_device2_apis
from devices.cloud.device2.device_clients import HttpDevice, MqttDevice
from devices.cloud.device2.device_config import DeviceApiConfig
from devices.cloud.device2.serving import DEFAULT_PRODUCT
from devices.protocols.http_client import HttpClient, SseStream
from scenarios.bed import BedError, HttpTranscript, WorldBed, write_json_lines
from scenarios.captures import IP, TLS_KEYS, EvidenceCaptures
from scenarios.device2.placement import Placed, Placement, PlacementError, SocketNet
from scenarios.device2.transcript import MqttTranscript
from sim.clock import REAL, VIRTUAL
from sim.iplink import IpNetwork
from sim.world import World

MANAGEMENT_HOST = "device2"
US = 1_000_000
# The longest one step of a reset may take (world seconds) before it is given up.
RESET_STEP_S = 10.0


class Device2Bed(HttpTranscript, WorldBed, abc.ABC):
    """What both Device2 beds offer (see the module docstring)."""

    faults: tuple[str, ...] = ()
    product: str = DEFAULT_PRODUCT
    transcript: list[dict[str, Any]]
    devices: dict[str, Placed]
    events: list[dict[str, Any]]

    def _init_common(self, product: str) -> None:
        self.product = product
        self.transcript = []
        self.devices = {}
        self.events = []
        self._stream: SseStream | None = None
        self._listener: asyncio.Task[None] | None = None

    # -- the management API -------------------------------------------------------------
    @abc.abstractmethod
    def _management_http(self, recorded: bool = True) -> HttpClient: ...

    def client(self, name: str | None = None) -> Any:
        """The management API client (``None`` or ``"service"``), or the simulated device
        placed as ``name``."""
        if name in (None, "service"):
            return Device2Client(self._management_http(), self.product)
        return self._placed(str(name)).device

    async def _listen_events(self) -> None:
        """Collect the gateway events the management API streams (SSE) into ``events``."""
        await self._stop_listening()
        stream = Device2Client(self._management_http(recorded=False), self.product).events()
        await stream.open()
        if stream.status != 200:
            raise BedError(
                f"the management API refused the event stream: {stream.status} "
                f"{stream.body[:200]!r}"
            )
        self._stream = stream

        async def pump() -> None:
            while (event := await stream.next()) is not None:
                try:
                    self.events.append(json.loads(event.data))
                except ValueError:
                    self.events.append({"type": event.event, "unparsed": event.data})

        self._listener = self.world.spawn(pump(), "device2/events")

    async def _stop_listening(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None

    # -- devices --------------------------------------------------------------------------
    @abc.abstractmethod
    def _make_device(self, placement: Placement) -> HttpDevice | MqttDevice: ...

    async def place(self, spec: Mapping[str, Any]) -> str | None:
        """Put a simulated device in the world (powered on unless ``powered`` is false);
        its identity (None when it will ask the service for one)."""
        try:
            placement = Placement.from_dict(spec)
        except PlacementError as exc:
            raise BedError(f"device spec refused: {exc}") from None
        if placement.name in self.devices:
            raise BedError(f"a device named {placement.name!r} is placed already")
        placed = Placed(placement, self._make_device(placement), self.world)
        self.devices[placement.name] = placed
        if placement.powered:
            placed.power_on()
        return placement.identity

    def _placed(self, name: str) -> Placed:
        try:
            return self.devices[name]
        except KeyError:
            raise BedError(
                f"no device named {name!r}; placed: {', '.join(sorted(self.devices)) or 'none'}"
            ) from None

    async def set_power(self, name: str, on: bool) -> None:
        placed = self._placed(name)
        if on:
            placed.power_on()
        else:
            await placed.power_off()

    async def device_report(self, name: str) -> dict[str, Any]:
        """The device's own account: identity, powered, what it applied, its log."""
        return self._placed(name).report()

    async def remove_devices(self) -> list[str]:
        """Power every device off and forget it; their names."""
        names = list(self.devices)
        for name in names:
            await self.devices.pop(name).power_off()
        return names

    # -- time -----------------------------------------------------------------------------
    @abc.abstractmethod
    async def service_now_us(self) -> int:
        """The service's clock now, µs since the epoch."""

    # -- faults ---------------------------------------------------------------------------
    async def inject(self, fault: str, **args: Any) -> None:
        if fault not in self.faults:
            return await super().inject(fault, **args)
        target = str(args.get("target") or "service")
        details = {k: v for k, v in args.items() if k != "target"}
        self.world.trace.emit(target, "fault", fault, **details)
        await self._inject(fault, args)

    async def _inject(self, fault: str, args: dict[str, Any]) -> None:
        raise BedError(f"{type(self).__name__} cannot inject {fault!r}")

    @abc.abstractmethod
    async def archive(self, day: str, points: list[dict[str, Any]]) -> str:
        """Lay a daily archive file (``YYYY-MM-DD``) where the service's restoreTime reads it;
        a URL restoreUrl accepts for the same file."""

    # -- evidence -------------------------------------------------------------------------
    def write_evidence(self, folder: Path) -> dict[str, str]:
        """The timeline, ``http.jsonl`` (the management API), ``device-http.jsonl`` (every HTTP
        device's exchanges), ``devices.jsonl`` (each device's own log), ``events.jsonl``."""
        files = super().write_evidence(folder)
        write_json_lines(folder / "http.jsonl", self.transcript)
        files["http.jsonl"] = "transcript"
        device_http = [
            {"device": name, **row}
            for name, placed in self.devices.items()
            if isinstance(placed.device, HttpDevice)
            for row in placed.device.transcript
        ]
        if device_http:
            write_json_lines(folder / "device-http.jsonl", device_http)
            files["device-http.jsonl"] = "transcript"
        if self.devices:
            write_json_lines(folder / "devices.jsonl", (p.report() for p in self.devices.values()))
            files["devices.jsonl"] = "device logs"
        write_json_lines(folder / "events.jsonl", self.events)
        files["events.jsonl"] = "gateway events"
        return files

    async def _stop_devices(self) -> None:
        for placed in self.devices.values():
            with contextlib.suppress(Exception):
                await placed.power_off()
        await self._stop_listening()


class LocalDevice2Bed(Device2Bed):
    """The reference service and its devices in one world.

    ``settings`` are the product's initial settings (partial); ``config`` the device APIs'
    choices (:class:`DeviceApiConfig`); ``work_dir`` holds the database and the archive (a
    temporary folder, removed at close, when not given). ``deviations`` make the service
    misbehave in those named ways (:mod:`devices.cloud.device2.deviations`).
    """

    faults = ("service_restart", "partition", "heal")

    def __init__(
        self,
        seed: int = 1,
        clock: str = VIRTUAL,
        scale: float = 1.0,
        trace_path: Path | None = None,
        keep_trace: bool = True,
        work_dir: Path | None = None,
        product: str = DEFAULT_PRODUCT,
        settings: Mapping[str, Any] | None = None,
        config: DeviceApiConfig | None = None,
        deviations: tuple[str, ...] = (),
        real_socket: bool = False,
        host: str = "127.0.0.1",
        ports: DevicePorts | None = None,
        capture_dir: Path | None = None,
    ) -> None:
        self._init_common(product)
        self.world = World(
            seed=seed, clock=clock, scale=scale, trace_path=trace_path, keep_trace=keep_trace
        )
        self.net = IpNetwork(self.world)
        self.pcaps = EvidenceCaptures(self.world, capture_dir)
        if (ip := self.pcaps.open("ip.pcapng", IP)) is not None:
            from sim.ip_capture import IpCapture  # scapy loads only when capturing

            IpCapture(self.net, ip, keylog=self.pcaps.path("tls.keylog", TLS_KEYS))
        self._own_dir = work_dir is None
        self.work_dir = Path(tempfile.mkdtemp(prefix="device2-")) if work_dir is None else work_dir
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.work_dir / "device2.db"
        self.archive_dir = self.work_dir / "archive"
        self.settings = dict(settings or {})
        self.real_socket = real_socket
        self.host = host
        if real_socket:  # devices outside reach every product at this one address
            config = config or DeviceApiConfig(check_host=False, default_product=product)
            ports = ports or DevicePorts(management=0, http=0, mqtt=0)
        self.config = config or DeviceApiConfig()
        self.ports = ports or DevicePorts.in_world()
        self.deviations = tuple(deviations)
        self.apis: Device2Apis | None = None
        self.mqtt_transcript = MqttTranscript(lambda: self.world.now)
        self.restarts = 0

    # -- serving --------------------------------------------------------------------------
    async def start(self) -> str:
        """Serve the service and its APIs; the management API's URL."""
        await self._serve()
        await self._listen_events()
        return self.management_url

    async def _serve(self) -> None:
        self.apis = await serve_device2_apis(
            self.world,
            self.db_path,
            net=None if self.real_socket else self.net,
            host=self.host,
            ports=self.ports,
            products=(self.product,),
            settings=self.settings or None,
            archive_dir=self.archive_dir,
            config=self.config,
            management_host=MANAGEMENT_HOST,
        )
        if self.deviations:
            apply_deviations(self.apis, self.deviations)
        self.apis.mqtt.server.transcript = self.mqtt_transcript.hook()
        if self.real_socket:  # the next start (a restart) takes the same ports
            self.ports = DevicePorts(**{k: self.apis.ports.get(k) for k in _KINDS})

    def _apis(self) -> Device2Apis:
        if self.apis is None:
            raise BedError("the service is not serving: call start() first")
        return self.apis

    @property
    def management_url(self) -> str:
        return self._apis().url("management")

    def url(self, kind: str) -> str:
        """Where ``kind`` (management, http, https, mqtt, mqtts) listens."""
        return self._apis().url(kind)

    @property
    def gateway(self) -> Any:
        """The domain side of the product (the benchmark's exactness checks read it)."""
        return self._apis().service.gateway(self.product)

    def _management_http(self, recorded: bool = True) -> HttpClient:
        return HttpClient(
            self.management_url,
            connect=None if self.real_socket else self.net.open_connection,
            recorder=self.transcript.append if recorded else None,
        )

    async def service_now_us(self) -> int:
        return int(self._apis().service.clock.now_us())

    # -- devices --------------------------------------------------------------------------
    def _make_device(self, placement: Placement) -> HttpDevice | MqttDevice:
        apis = self._apis()
        net: Any = SocketNet() if self.real_socket else self.net
        host = self.host if self.real_socket else apis.device_host
        context = None
        if placement.auth != "certificate":
            spec = placement.spec()
        else:
            if apis.tls is None or placement.identity is None:
                raise BedError(
                    "certificate devices need the TLS listeners (https/mqtts) and an identity"
                )
            credential = apis.tls.device_certificate(placement.identity)
            spec, context = placement.spec(credential), apis.tls.client_context(credential)
        secure = context is not None
        if placement.protocol == "http":
            return HttpDevice(
                self.world,
                net,
                host,
                spec,
                port=apis.port("https" if secure else "http"),
                tls_context=context,
                server_name=apis.device_host if secure else None,
                identity_header=self.config.identity_header,
                publish_as_header=self.config.publish_as_header,
            )
        return MqttDevice(
            self.world,
            net,
            host,
            spec,
            port=apis.port("mqtts" if secure else "mqtt"),
            tls_context=context,
            server_name=apis.device_host if secure else None,
            publish_as_prefix=self.config.publish_as_prefix,
        )

    # -- faults ---------------------------------------------------------------------------
    async def _inject(self, fault: str, args: dict[str, Any]) -> None:
        if fault == "service_restart":
            await self.restart_service(float(args.get("down_s", 0.0)))
            return
        placed = self._placed(str(args.get("target")))
        ip, host = placed.placement.ip, self._apis().device_host
        if self.real_socket:
            raise BedError("a partition needs in-world links; this bed serves real sockets")
        if fault == "heal":
            self.net.partition(ip, host, False)
            return
        self.net.partition(ip, host, True)
        seconds = args.get("seconds")
        if seconds is not None:

            async def heal_later() -> None:
                await asyncio.sleep(float(seconds))
                self.net.partition(ip, host, False)

            self.world.spawn(heal_later(), f"device2/heal/{placed.name}")

    async def restart_service(self, down_s: float = 0.0) -> None:
        """Stop every API and the service, then start them again on the same database."""
        await self._stop_listening()
        await self._apis().close()
        self.apis = None
        if down_s:
            await asyncio.sleep(down_s)
        await self._serve()
        self.restarts += 1
        await self._listen_events()

    async def reset(self) -> None:
        """Start the next scenario from nothing: no devices, and the service on a fresh
        database (the product with its initial settings) and an empty archive."""
        # bounded: a teardown that hangs must not hang the world-control API that asked for it
        await asyncio.wait_for(self.remove_devices(), RESET_STEP_S)
        await asyncio.wait_for(self._stop_listening(), RESET_STEP_S)
        if self.apis is not None:
            await asyncio.wait_for(self.apis.close(), RESET_STEP_S)
            self.apis = None
        for path in self.work_dir.glob(f"{self.db_path.name}*"):
            path.unlink()
        shutil.rmtree(self.archive_dir, ignore_errors=True)
        self.events.clear()
        self.transcript.clear()
        self.mqtt_transcript.rows.clear()
        await self._serve()
        await self._listen_events()

    async def archive(self, day: str, points: list[dict[str, Any]]) -> str:
        path = self.archive_dir / self.product / f"{day}.ndjson"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_lines(path, points)
        return path.resolve().as_uri()

    # -- evidence and closing -------------------------------------------------------------
    def write_evidence(self, folder: Path) -> dict[str, str]:
        """Also ``mqtt.jsonl``: every MQTT packet the service's device API saw."""
        files = super().write_evidence(folder)
        if self.mqtt_transcript.rows:
            write_json_lines(folder / "mqtt.jsonl", self.mqtt_transcript.rows)
            files["mqtt.jsonl"] = "MQTT transcript"
        files.update(self.pcaps.write_evidence(folder))  # the in-world TCP (HTTP, MQTT)
        return files

    async def stop(self) -> None:
        await self._stop_devices()
        if self.apis is not None:
            await self.apis.close()
            self.apis = None

    def close(self) -> None:
        super().close()  # the service stopped, the world released
        if self._own_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)


_KINDS = ("management", "http", "https", "mqtt", "mqtts")


class RemoteDevice2Bed(Device2Bed):
    """An outside Device2 service; its devices are the harness's, on real sockets.

    ``service_url`` is the management API's base URL, ``device_url`` the HTTP device API's
    (``http://host:port``), ``mqtt`` the MQTT device API's ``host:port`` (optional);
    ``headers`` go with every management request (credentials of the outside service).
    ``scale``: the far side's world seconds per wall second (1 for a real service).
    """

    def __init__(
        self,
        service_url: str,
        device_url: str,
        mqtt: str | None = None,
        product: str = DEFAULT_PRODUCT,
        control_url: str | None = None,
        headers: Mapping[str, str] | None = None,
        seed: int = 1,
        scale: float = 1.0,
        trace_path: Path | None = None,
    ) -> None:
        self._init_common(product)
        self.world = World(seed=seed, clock=REAL, scale=scale, trace_path=trace_path)
        self.service_url = service_url.rstrip("/")
        self.device_url = device_url.rstrip("/")
        self.mqtt = mqtt
        self.control_url = control_url
        self.headers = dict(headers or {})
        self.faults = ("service_restart",) if control_url else ()

    async def start(self) -> None:
        """Reset the far side through world control (when declared), then listen to its
        events; the evidence starts here."""
        if self.control_url:
            await self._control("POST", "/world/reset")
        self.transcript.clear()
        await self._listen_events()

    def _management_http(self, recorded: bool = True) -> HttpClient:
        return HttpClient(
            self.service_url,
            recorder=self.transcript.append if recorded else None,
            headers=self.headers,
        )

    async def _control(self, method: str, path: str, body: Any = None) -> Any:
        if not self.control_url:
            raise BedError(
                "this SUT declares no world_control endpoint, so the harness cannot "
                f"{method} {path} on the far side"
            )
        response = await HttpClient(self.control_url).request(method, path, json_body=body)
        if response.status >= 400:
            raise BedError(f"world control {method} {path} -> {response.status}: {response.text}")
        return response.json() if response.text else None

    async def service_now_us(self) -> int:
        response = await HttpClient(self.device_url).request("GET", "/timestamp")
        if response.status != 200:
            raise BedError(f"GET {self.device_url}/timestamp -> {response.status}")
        return int(response.text.strip()) * US

    def _make_device(self, placement: Placement) -> HttpDevice | MqttDevice:
        if placement.auth == "certificate":
            raise BedError("certificate devices need the local bed (its device authority)")
        host, _, port = self.device_url.removeprefix("http://").partition(":")
        if placement.protocol == "http":
            return HttpDevice(
                self.world,
                SocketNet(),
                host,
                placement.spec(),
                port=int(port or 80),  # type: ignore[arg-type]
            )
        if not self.mqtt:
            raise BedError("this SUT declares no mqtt endpoint: MQTT devices cannot be placed")
        mqtt_host, _, mqtt_port = self.mqtt.rpartition(":")
        return MqttDevice(
            self.world,
            SocketNet(),
            mqtt_host,
            placement.spec(),
            port=int(mqtt_port),  # type: ignore[arg-type]
        )

    async def _inject(self, fault: str, args: dict[str, Any]) -> None:
        await self._control("POST", f"/world/faults/{fault}", args)
        await self._listen_events()

    async def archive(self, day: str, points: list[dict[str, Any]]) -> str:
        answer = await self._control("POST", "/world/archive", {"day": day, "points": points})
        return str(answer["url"])

    def close(self) -> None:
        if not self.world.closed:
            try:
                self.run(self._stop_devices())
            except Exception:  # closing must not mask the scenario's own outcome
                pass
        super().close()
