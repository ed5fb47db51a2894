"""``hil serve device2``: the Device2 service with its management API, its HTTP and MQTT device
APIs and simulated devices, in real time on loopback sockets, so curl, Exosite's murano-client,
SDKs and the harness itself (as an outside SUT) can talk to it.

Follows :mod:`scenarios.serving`: the management API listens on ``--port`` (default 8090), the
HTTP device API on ``--device-port`` (8091), the MQTT device API on ``--mqtt-port`` (8092),
world control (:mod:`scenarios.device2.control`) on ``--control-port`` (8093); with ``--port
0`` the device ports default to free ports too, and every ``listening`` line names the port
taken. ``--tls`` adds HTTPS and MQTTS device APIs on free ports and writes the authorities
devices need into ``--work-dir``/tls. Devices reach the product at this one address (the Host
header is not checked). ``--deviate NAME`` makes the service misbehave in that named way
(:data:`DEVIATIONS`, :mod:`devices.cloud.device2.deviations`). The world is ``--scenario``
(:mod:`scenarios.device2.worlds`) or ``--devices`` HTTP devices reporting ``temperature``
every 10 s. Only the Device2 stack is imported.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TextIO

from devices.cloud.device2.deviations import DEVIATIONS
from devices.cloud.device2.device_apis import DevicePorts
from devices.protocols.http_server import serve
from scenarios.device2.bed import LocalDevice2Bed
from scenarios.device2.control import control_app
from scenarios.device2.worlds import Device2World, build_bed, load_world, populate
from scenarios.serving import ServeOptions, announce, announce_world, ready, serve_until_stopped
from sim.clock import REAL

DEFAULT_PORT = 8090
DEFAULT_DEVICE_PORT = 8091
DEFAULT_MQTT_PORT = 8092
DEFAULT_CONTROL_PORT = 8093
DEFAULT_DEVICES = 3
__all__ = ["DEFAULT_CONTROL_PORT", "DEFAULT_PORT", "DEVIATIONS", "add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The options only ``hil serve device2`` has."""
    parser.add_argument(
        "--device-port",
        type=int,
        metavar="PORT",
        help=f"the HTTP device API's port (default: {DEFAULT_DEVICE_PORT}; 0 with --port 0)",
    )
    parser.add_argument(
        "--mqtt-port",
        type=int,
        metavar="PORT",
        help=f"the MQTT device API's port (default: {DEFAULT_MQTT_PORT}; 0 with --port 0)",
    )
    parser.add_argument("--product", default="example", help="the product (gateway context)")
    parser.add_argument(
        "--devices",
        type=int,
        default=DEFAULT_DEVICES,
        metavar="N",
        help="HTTP devices reporting temperature every 10 s (without --scenario)",
    )
    parser.add_argument(
        "--tls", action="store_true", help="also serve HTTPS and MQTTS device APIs (free ports)"
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        help="where the database, archive and TLS material live (default: a temporary folder)",
    )


def default_world(count: int, product: str, seed: int) -> Device2World:
    return Device2World(
        name="serve",
        seed=seed,
        product=product,
        resources=[{"alias": "temperature", "format": "number"}],
        devices=[{"fleet": count, "protocol": "http", "within_s": 10.0}] if count else [],
    )


def _ports(options: ServeOptions, extra: argparse.Namespace) -> DevicePorts:
    free = options.port == 0

    def pick(value: int | None, default: int) -> int:
        return value if value is not None else (0 if free else default)

    tls = 0 if getattr(extra, "tls", False) else None
    return DevicePorts(
        management=options.port_or(DEFAULT_PORT),
        http=pick(getattr(extra, "device_port", None), DEFAULT_DEVICE_PORT),
        mqtt=pick(getattr(extra, "mqtt_port", None), DEFAULT_MQTT_PORT),
        https=tls,
        mqtts=tls,
    )


async def _serve(
    bed: LocalDevice2Bed, world: Device2World, options: ServeOptions, out: TextIO
) -> None:
    await bed.start()
    control = await serve(
        control_app(bed), bed.world, options.host, options.control_port_or(DEFAULT_CONTROL_PORT)
    )
    try:
        names = await populate(bed, world)
        announce(out, "api", bed.management_url, f"Device2 management API, product {bed.product}")
        announce(out, "device-http", bed.url("http"), "HTTP device API")
        announce(out, "device-mqtt", bed.url("mqtt").removeprefix("mqtt://"), "MQTT device API")
        apis = bed.apis
        if apis is not None and apis.tls is not None and "https" in apis.ports:
            folder = bed.work_dir / "tls"
            written = apis.tls.write(folder)
            announce(out, "device-https", bed.url("https"), "HTTPS device API")
            announce(out, "device-mqtts", bed.url("mqtts").removeprefix("mqtts://"), "MQTTS")
            print(f"TLS material in {folder}: {', '.join(sorted(written))}", file=out)
        announce(out, "control", control.url, "world control")
        announce_world(out, options, f"{len(names)} devices", names, control.url)
        ready(out)
        await serve_until_stopped(options, out)
    finally:
        await control.close()


def run(options: ServeOptions, extra: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Serve until SIGINT/SIGTERM or ``--duration`` wall seconds; 0 when stopped cleanly."""
    product = getattr(extra, "product", "example")
    world = (
        load_world(options.scenario)
        if options.scenario
        else default_world(getattr(extra, "devices", DEFAULT_DEVICES), product, options.seed)
    )
    given = getattr(extra, "work_dir", None)
    work_dir = Path(given) if given else Path(tempfile.mkdtemp(prefix="hil-device2-"))
    bed = build_bed(
        world,
        clock=REAL,
        seed=options.seed,
        scale=options.scale,
        deviations=options.deviations,
        real_socket=True,
        host=options.host,
        ports=_ports(options, extra),
        work_dir=work_dir,
    )
    try:
        bed.run(_serve(bed, world, options, out))
    finally:
        bed.close()
        if not given:
            shutil.rmtree(work_dir, ignore_errors=True)
    return 0
