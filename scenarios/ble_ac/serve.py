"""``hil serve ble-ac``: the reference access controller, its routers and their simulated
peripherals in real time; the controller's API on a loopback socket so that curl, the vendor's
SDK and the harness itself (as an external SUT) can talk to it.

Follows :mod:`scenarios.serving`: the controller's API listens on ``--port`` (default 8090), the
world-control API (:mod:`scenarios.ble_ac.control`) on ``--control-port`` (default 8091); ``0``
takes a free port and the ``listening`` lines name the ports taken. The routers live inside the
world (each serving its local API at its own in-world address, joined to the controller over
its uplink). The world is ``--scenario`` (a file of :mod:`scenarios.ble_ac.worlds`) or
``--routers`` routers 30 m apart with ``--peripherals`` stock sensors spread over them. The
developer key is ``--client-id``; the secret is ``--secret`` or a fresh one, printed.
``--deviate NAME`` makes the controller misbehave in that named way (:data:`DEVIATIONS`,
:mod:`devices.gateways.ble_ac.deviations`). Only the BLE stack is imported.
"""

from __future__ import annotations

import argparse
import math
import secrets
import sys
from typing import TextIO

from devices.gateways.ble_ac.deviations import DEVIATIONS
from devices.protocols.http_server import serve
from scenarios.ble_ac.bed import DEFAULT_CLIENT_ID, LocalAcBed
from scenarios.ble_ac.control import control_app
from scenarios.ble_ac.worlds import AcScenario, build_bed, load_scenario, populate
from scenarios.serving import (
    ServeOptions,
    announce,
    announce_capture,
    announce_world,
    open_live_capture,
    ready,
    serve_until_stopped,
)
from sim.clock import REAL

DEFAULT_PORT = 8090
DEFAULT_CONTROL_PORT = 8091
DEFAULT_ROUTERS = 3
DEFAULT_PERIPHERALS = 10
SPACING_M = 30.0
CAPTURE = (
    "the BLE air (pcapng, link type 256) as a sniffer and each router heard it, and the in-world "
    "TCP between the controller and its routers (uplinks, relayed router calls); the "
    "controller's own API is on a real socket, not in it (tcpdump -i lo port <api port>)"
)

__all__ = [
    "DEFAULT_CONTROL_PORT",
    "DEFAULT_PORT",
    "DEVIATIONS",
    "add_arguments",
    "default_world",
    "run",
]


def add_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The options only ``hil serve ble-ac`` has."""
    parser.add_argument(
        "--routers",
        type=int,
        default=DEFAULT_ROUTERS,
        metavar="N",
        help=f"routers {SPACING_M:g} m apart, named A, B, C... (without --scenario; "
        "default: %(default)s)",
    )
    parser.add_argument(
        "--peripherals",
        type=int,
        default=DEFAULT_PERIPHERALS,
        metavar="M",
        help="stock heart-rate sensors spread over the routers' area (without --scenario; "
        "default: %(default)s)",
    )
    parser.add_argument(
        "--client-id", default=DEFAULT_CLIENT_ID, help="the developer key (default: %(default)s)"
    )
    parser.add_argument("--secret", help="the developer secret (default: a fresh one, printed)")


def default_world(routers: int, peripherals: int, seed: int) -> AcScenario:
    """``routers`` on a grid and ``peripherals`` spread at random over it."""
    if routers < 1 or peripherals < 0:
        raise ValueError(
            f"--routers {routers} / --peripherals {peripherals} not accepted; accepted: "
            "at least 1 router and 0 or more peripherals"
        )
    side = max(1, math.ceil(math.sqrt(routers)))
    rows = math.ceil(routers / side)
    center = [(side - 1) * SPACING_M / 2, (rows - 1) * SPACING_M / 2]
    radius = max(10.0, math.hypot(*center) + 5.0)
    return AcScenario(
        name="serve",
        seed=seed,
        routers={"grid": {"count": routers, "spacing_m": SPACING_M}},
        peripherals=[
            {
                "template": "standard",
                "count": peripherals,
                "layout": {"kind": "random", "radius_m": radius},
                "center": center,
                "notify_hz": 1.0,
            }
        ]
        if peripherals
        else [],
    )


async def _serve(bed: LocalAcBed, scenario: AcScenario, options: ServeOptions, out: TextIO) -> None:
    url = await bed.start(host=options.host, port=options.port_or(DEFAULT_PORT), real_socket=True)
    control = await serve(
        control_app(bed), bed.world, options.host, options.control_port_or(DEFAULT_CONTROL_PORT)
    )
    try:
        names = await populate(bed, scenario)
        announce(out, "api", url, "BLE access controller, calls under /api")
        announce(out, "control", control.url, "world control")
        announce_capture(out, options, CAPTURE)
        print(f"credentials client_id={bed.client_id} secret={bed.secret}", file=out)
        for name in bed.router_names():
            router = bed.routers[name]
            print(f"  router {name}  {router.mac}  at {list(router.position)}", file=out)
        announce_world(
            out, options, f"{len(names)} peripherals", names, control.url, bed.address_of
        )
        ready(out)
        await serve_until_stopped(options, out)
    finally:
        await control.close()


def run(options: ServeOptions, extra: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Serve until SIGINT/SIGTERM or ``--duration`` wall seconds; 0 when stopped cleanly."""
    scenario = (
        load_scenario(options.scenario)
        if options.scenario
        else default_world(
            getattr(extra, "routers", DEFAULT_ROUTERS),
            getattr(extra, "peripherals", DEFAULT_PERIPHERALS),
            options.seed,
        )
    )
    bed = build_bed(
        scenario,
        clock=REAL,
        seed=options.seed,
        scale=options.scale,
        client_id=getattr(extra, "client_id", DEFAULT_CLIENT_ID),
        secret=getattr(extra, "secret", None) or secrets.token_urlsafe(16),
        deviations=options.deviations,
    )
    capture = open_live_capture(options, bed.world)
    if capture is not None:
        from sim.air_capture import AirCapture  # scapy loads only when capturing
        from sim.ip_capture import IpCapture

        AirCapture(bed.radio, capture, sniffer=True)
        IpCapture(bed.net, capture)
    try:
        bed.run(_serve(bed, scenario, options, out))
    finally:
        bed.close()
        if capture is not None:
            capture.close()
    return 0
