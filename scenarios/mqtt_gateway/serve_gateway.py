"""``hil serve mqtt-gateway``: the reference MQTT gateway with its simulated devices (meters on an
RS485 line, a BLE heart-rate sensor) in real time, talking to our platform emulator or to an
outside platform.

    hil serve mqtt-gateway [--port 1883] [--control-port 8091] [--scenario gateway-room]
    hil serve mqtt-gateway --broker HOST:PORT --token TOKEN [--modbus HOST:PORT]

Follows :mod:`scenarios.serving`. Without ``--broker`` the gateway talks to the harness's own
platform, which also listens for MQTT on ``--port`` (default 1883; other gateways and clients
may join it) and serves its control API on ``--platform-control-port`` (0: a free port; the
admin key is printed). With ``--broker`` the gateway connects there with ``--token`` (or the
variable ``--token-env`` names). Its queue is kept in ``--state-dir`` (across restarts, as a
real gateway's storage), else in a temporary folder. ``--modbus HOST:PORT`` joins the
gateway's RS485 line to an outside one over RTU-over-TCP (a harness's meters; the world's own
meters are then not placed): that is how this gateway serves as an outside gateway SUT (with
``--state-dir`` for restarts). The world-control API
(:mod:`scenarios.mqtt_gateway.control`) listens on ``--control-port`` (default 8091). The world
is ``--scenario`` (:mod:`scenarios.mqtt_gateway.worlds`, default ``gateway-room``).
``--deviate NAME`` makes the gateway (``gateway-*``) or its platform (``platform-*``) misbehave
(:data:`DEVIATIONS`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from devices.protocols.http_server import serve
from scenarios.bed import BedError
from scenarios.mqtt_gateway.bed import LocalGatewayBed
from scenarios.mqtt_gateway.control import control_app
from scenarios.mqtt_gateway.deviations import DEVIATIONS, split
from scenarios.mqtt_gateway.worlds import DEFAULT_WORLD
from scenarios.serving import ServeOptions, announce, announce_world, ready, serve_until_stopped
from sim.clock import REAL

DEFAULT_PORT = 1883
DEFAULT_CONTROL_PORT = 8091
__all__ = ["DEFAULT_CONTROL_PORT", "DEFAULT_PORT", "DEVIATIONS", "add_arguments", "run"]


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(
            f"address {text!r} not accepted; accepted: host:port (port 1-65535)"
        )
    return host.strip("[]"), int(port)


def add_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The options only ``hil serve mqtt-gateway`` has."""
    parser.add_argument(
        "--broker", type=_address, metavar="HOST:PORT", help="an outside platform's MQTT"
    )
    parser.add_argument("--token", help="the gateway's access token there (with --broker)")
    parser.add_argument(
        "--token-env", metavar="VARIABLE", help="... or the environment variable holding it"
    )
    parser.add_argument(
        "--modbus",
        type=_address,
        metavar="HOST:PORT",
        help="join the RS485 line to an outside one over RTU-over-TCP (its meters)",
    )
    parser.add_argument(
        "--state-dir",
        metavar="DIR",
        help="keep the gateway's queue (and our platform's database) here, across restarts "
        "(default: a temporary folder, removed at the end)",
    )
    parser.add_argument(
        "--platform-control-port",
        type=int,
        default=0,
        metavar="PORT",
        help="our platform's control API (without --broker; default: a free port)",
    )


def _state_dir(extra: argparse.Namespace) -> Path | None:
    folder = getattr(extra, "state_dir", None)
    if not folder:
        return None
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _token(extra: argparse.Namespace) -> str | None:
    if getattr(extra, "token_env", None):
        value = os.environ.get(extra.token_env, "")
        if not value:
            raise BedError(f"--token-env: the environment variable {extra.token_env!r} is empty")
        return value
    return getattr(extra, "token", None)


async def _serve(bed: LocalGatewayBed, options: ServeOptions, extra: Any, out: TextIO) -> None:
    from devices.cloud.mqtt_platform.control_api import control_app as platform_app
    from devices.cloud.mqtt_platform.serve_support import new_admin_key

    platform_control = None
    if bed.broker is None:
        port = await bed.serve_mqtt(options.host, options.port_or(DEFAULT_PORT))
        key = new_admin_key()
        platform_control = await serve(
            platform_app(bed.platform, key), bed.world, options.host, extra.platform_control_port
        )
    await bed.start()
    control = await serve(
        control_app(bed), bed.world, options.host, options.control_port_or(DEFAULT_CONTROL_PORT)
    )
    try:
        if platform_control is not None:
            announce(out, "mqtt", f"{options.host}:{port}", "the harness platform, 3.1.1 and 5")
            announce(out, "platform-control", platform_control.url, "platform control API")
            print(f"admin key: {key}", file=out)
            print(f"gateway {bed.gateway_name} token: {bed.token}", file=out)
        else:
            assert bed.broker is not None
            print(f"gateway {bed.gateway_name} -> {bed.broker[0]}:{bed.broker[1]}", file=out)
        announce(out, "control", control.url, "world control")
        meters = ", ".join(f"{n} (unit {u})" for u, n in bed.meter_names().items())
        line = f"line joined to {bed.modbus[0]}:{bed.modbus[1]}" if bed.modbus else meters
        print(f"meters: {line}; BLE: {', '.join(bed.peripherals) or 'none'}", file=out)
        announce_world(out, options)
        ready(out)
        await serve_until_stopped(options, out)
    finally:
        await control.close()
        if platform_control is not None:
            await platform_control.close()


def run(options: ServeOptions, extra: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Serve until SIGINT/SIGTERM or ``--duration`` wall seconds; 0 when stopped cleanly."""
    broker = getattr(extra, "broker", None)
    token = _token(extra)
    if broker is not None and not token:
        print("hil serve mqtt-gateway: --broker needs --token or --token-env", file=sys.stderr)
        return 2
    _platform, gateway_deviations = split(options.deviations)
    bed = LocalGatewayBed(
        seed=options.seed,
        clock=REAL,
        scale=options.scale,
        world_file=options.scenario or DEFAULT_WORLD,
        deviations=gateway_deviations,
        platform_deviations=_platform,
        broker=broker,
        token=token,
        modbus=getattr(extra, "modbus", None),
        work_dir=_state_dir(extra),
    )
    try:
        bed.run(_serve(bed, options, extra, out))
    finally:
        bed.close()
    return 0
