"""``hil serve ble-router``: the reference router and its simulated peripherals in real time, on
loopback sockets, so curl, SDKs and the harness itself (as an external SUT) can talk to it.

Follows :mod:`scenarios.serving`: the router API listens on ``--port`` (default 8080), the
world-control API (:mod:`scenarios.ble_router.control`) on ``--control-port`` (default 8081);
``0`` takes a free port and the ``listening`` lines name the ports taken. The world runs on the
wall clock, ``--scale`` times faster; ``--duration`` is wall seconds. The world is
``--scenario`` (a file of :mod:`scenarios.ble_router.worlds`) or ``--peripherals`` stock
sensors on a ring around the router. ``--deviate NAME`` makes the router misbehave in that
named way (:data:`DEVIATIONS`, :mod:`devices.gateways.ble_router.deviations`). Only the BLE
stack is imported.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from devices.gateways.ble_router.deviations import DEVIATIONS
from devices.protocols.http_server import serve
from scenarios.ble_router.bed import LocalBleBed
from scenarios.ble_router.control import control_app
from scenarios.ble_router.worlds import Scenario, build_bed, load_scenario, populate
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

DEFAULT_PORT = 8080
DEFAULT_CONTROL_PORT = 8081
DEFAULT_PERIPHERALS = 5
CAPTURE = (
    "the BLE air (pcapng, link type 256): every advertising PDU as a sniffer on channel 37 "
    "hears it, and every PDU as each receiver heard it; the router's HTTP API is on a real "
    "socket, not in it (tcpdump -i lo port <api port> sees that)"
)
__all__ = ["DEFAULT_CONTROL_PORT", "DEFAULT_PORT", "DEVIATIONS", "add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The options only ``hil serve ble-router`` has."""
    parser.add_argument(
        "--peripherals",
        type=int,
        default=DEFAULT_PERIPHERALS,
        help="stock heart-rate sensors on a 3 m ring around the router (without --scenario)",
    )


def default_world(count: int, seed: int) -> Scenario:
    """``count`` stock sensors on a 3 m ring, notifying at 1 Hz once subscribed."""
    return Scenario(
        name="serve",
        seed=seed,
        peripherals=[
            {
                "template": "standard",
                "count": count,
                "layout": {"kind": "ring", "radius_m": 3.0},
                "notify_hz": 1.0,
            }
        ]
        if count
        else [],
    )


async def _serve(bed: LocalBleBed, scenario: Scenario, options: ServeOptions, out: TextIO) -> None:
    router_url = await bed.start(
        host=options.host, port=options.port_or(DEFAULT_PORT), real_socket=True
    )
    control = await serve(
        control_app(bed), bed.world, options.host, options.control_port_or(DEFAULT_CONTROL_PORT)
    )
    try:
        names = await populate(bed, scenario)
        announce(out, "api", router_url, f"BLE router {bed.router.mac}")
        announce(out, "control", control.url, "world control")
        announce_world(
            out, options, f"{len(names)} peripherals", names, control.url, bed.address_of
        )
        announce_capture(out, options, CAPTURE)
        ready(out)
        await serve_until_stopped(options, out)
    finally:
        await control.close()


def run(options: ServeOptions, extra: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Serve until SIGINT/SIGTERM or ``--duration`` wall seconds; 0 when stopped cleanly."""
    scenario = (
        load_scenario(options.scenario)
        if options.scenario
        else default_world(getattr(extra, "peripherals", DEFAULT_PERIPHERALS), options.seed)
    )
    bed = build_bed(
        scenario,
        clock=REAL,
        seed=options.seed,
        scale=options.scale,
        deviations=options.deviations,
    )
    capture = open_live_capture(options, bed.world)
    if capture is not None:
        from sim.air_capture import AirCapture

        AirCapture(bed.radio, capture, sniffer=True)
    try:
        bed.run(_serve(bed, scenario, options, out))
    finally:
        bed.close()
        if capture is not None:
            capture.close()
    return 0
