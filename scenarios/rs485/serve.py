"""``hil serve rs485``: a simulated RS485 line of Modbus slaves or OSDP readers in real time,
joined from outside through Modbus RTU over TCP and/or a pseudo-terminal.

    hil serve rs485 [--port 5020] [--units 1,2,3] [--pty] [--settings "9600 8N1"]
    hil serve rs485 --osdp 1,2 [--scbk <32 hex digits>] [--pty]
    hil serve rs485 --scenario osdp-line

Follows :mod:`scenarios.serving`: the RTU-over-TCP bridge listens on ``--port`` (default 5020;
``--tcp-port`` is a deprecated alias), the world-control API (:mod:`scenarios.rs485.control`)
on ``--control-port`` (default 5021), both on ``--host``; ``0`` takes a free port and the
``listening`` lines name the ports taken (``listening tcp 127.0.0.1:5020``,
``listening pty /dev/pts/N``, ``listening control http://...``), then ``ready``. The line runs
on the wall clock ``--scale`` times faster, for ``--duration`` wall seconds or until stopped.

The pty carries the line only while a program has it open (frames that pass meanwhile are not
kept for it), at the speed that program set (a wrong speed garbles as on a real line; parity
cannot cross a pty). Each bridge takes at most 256 bytes per write and 512 bytes waiting for
the line from its clients, dropping the excess with one log line per burst
(:mod:`devices.rs485.bridges`).

The world is ``--scenario`` (:mod:`scenarios.rs485.worlds`, default ``modbus-line``);
``--units`` or ``--osdp`` replace its nodes, ``--settings`` its line settings, ``--scbk`` every
reader's key. Only pymodbus is loaded, and libosdp with OSDP readers.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from devices.protocols.http_server import serve
from devices.rs485.bridges import PtyBridge, TcpBridge
from devices.rs485.deviations import DEVIATIONS
from devices.rs485.osdp_values import check_address, check_key
from scenarios.bed import BedError
from scenarios.rs485.bed import LineBed, LocalModbusLine, LocalOsdpLine
from scenarios.rs485.control import control_app
from scenarios.rs485.worlds import DEFAULT_WORLD, LineWorld, WorldError, load_world
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
from sim.uart import LineSettings

__all__ = ["DEFAULT_CONTROL_PORT", "DEFAULT_PORT", "DEVIATIONS", "add_arguments", "run"]

DEFAULT_PORT = 5020
DEFAULT_CONTROL_PORT = 5021
CAPTURE = (
    "the line (pcapng, Wireshark exported PDUs): one packet per line frame as the line "
    "carried it, what outside masters send through the bridges included; Modbus RTU "
    "dissected, OSDP as labelled data, collisions and noise flagged"
)


def parse_units(text: str) -> list[int]:
    try:
        units = [int(u) for u in text.split(",") if u.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"units {text!r} not understood; accepted: comma-separated integers 1-247"
        ) from None
    bad = [u for u in units if not 1 <= u <= 247]
    if bad or not units:
        raise argparse.ArgumentTypeError(
            f"unit id(s) {bad or text!r} not accepted; accepted: 1-247"
        )
    return units


def parse_osdp(text: str) -> list[int]:
    try:
        addresses = [check_address(int(a)) for a in text.split(",") if a.strip()]
    except ValueError:
        addresses = []
    if not addresses:
        raise argparse.ArgumentTypeError(
            f"OSDP addresses {text!r} not accepted; accepted: comma-separated 0-126"
        )
    return addresses


def parse_scbk(text: str) -> bytes:
    try:
        key = check_key(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    assert key is not None
    return key


def add_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The options only ``hil serve rs485`` has."""
    parser.add_argument("--pty", action="store_true", help="also bridge to a pseudo-terminal")
    parser.add_argument(
        "--units", type=parse_units, default=None, help="Modbus slaves at these ids, e.g. 1,2,3"
    )
    parser.add_argument(
        "--osdp",
        type=parse_osdp,
        default=None,
        metavar="ADDRESSES",
        help="OSDP readers at these addresses (e.g. 1,2) instead of Modbus slaves",
    )
    parser.add_argument(
        "--scbk",
        type=parse_scbk,
        default=None,
        help="the OSDP readers' secure channel base key (32 hex digits)",
    )
    parser.add_argument(
        "--settings",
        type=LineSettings.parse,
        default=None,
        help='line settings, e.g. "9600 8N1" (default: the world\'s)',
    )
    parser.add_argument(
        "--capture-dir",
        type=Path,
        default=None,
        help="write the line captures (rs485-line.log, rs485-line.pcapng) here",
    )
    parser.add_argument("--tcp-port", type=int, default=None, help=argparse.SUPPRESS)


def line_world(options: ServeOptions, extra: argparse.Namespace) -> LineWorld:
    """The world file, with the command line's nodes, settings and key over it."""
    world = load_world(options.scenario or DEFAULT_WORLD)
    units, addresses = getattr(extra, "units", None), getattr(extra, "osdp", None)
    if units and addresses:
        raise WorldError("give --units (Modbus slaves) or --osdp (OSDP readers), not both")
    if units:
        world = replace(world, name="--units", slaves=tuple({"unit": u} for u in units), readers=())
    if addresses:
        world = replace(
            world, name="--osdp", slaves=(), readers=tuple({"address": a} for a in addresses)
        )
    scbk = getattr(extra, "scbk", None)
    if scbk is not None:
        world = replace(world, readers=tuple({**r, "scbk": scbk.hex()} for r in world.readers))
    settings = getattr(extra, "settings", None)
    return world if settings is None else replace(world, settings=settings)


def _bed(world: LineWorld, options: ServeOptions, capture_dir: Path | None) -> LineBed:
    """A local line at the world's settings (its first node stands for the device under
    test; every node is placed as the world file gives it)."""
    first: dict[str, Any] = dict((world.readers or world.slaves)[0])
    device = {**first, "settings": str(world.settings)}
    kind = LocalOsdpLine if world.osdp else LocalModbusLine
    return kind(
        device,
        seed=options.seed,
        clock=REAL,
        scale=options.scale,
        capture_dir=capture_dir,
        deviations=options.deviations,
    )


def _described(world: LineWorld) -> str:
    nodes = world.readers or world.slaves
    numbers = ", ".join(str(n["address" if world.osdp else "unit"]) for n in nodes)
    plural = "s" if len(nodes) > 1 else ""
    if world.osdp:
        keys = "with a secure channel key" if world.readers[0].get("scbk") else "without a key"
        what = (
            f"{len(nodes)} OSDP reader{plural} (address{'es' if plural else ''} {numbers}, {keys})"
        )
    else:
        what = f"{len(nodes)} Modbus slave{plural} (unit{plural} {numbers})"
    return f"{what} on a {world.settings} line (from {world.name})"


async def _serve(
    bed: LineBed, world: LineWorld, options: ServeOptions, port: int, pty: bool, out: TextIO
) -> None:
    for node in world.readers or world.slaves:  # every node as the world file gives it
        await bed.place(dict(node))
    tcp = TcpBridge(bed.bus)
    bed.add_closer(tcp.close)
    host, bound = await tcp.listen(options.host, port)
    announce(out, "tcp", f"{host}:{bound}", "Modbus RTU over TCP: the line's bytes")
    if pty:
        bridge = PtyBridge(bed.bus)
        bed.add_closer(bridge.close)
        announce(out, "pty", bridge.path, "the line as a serial port")
    control = await serve(
        control_app(bed), bed.world, options.host, options.control_port_or(DEFAULT_CONTROL_PORT)
    )
    try:
        announce(out, "control", control.url, "world control")
        announce_world(out, options, _described(world))
        announce_capture(out, options, CAPTURE)
        ready(out)
        await serve_until_stopped(options, out)
    finally:
        await control.close()


def run(options: ServeOptions, extra: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Serve until SIGINT/SIGTERM or ``--duration`` wall seconds; 0 when stopped cleanly, 2 on
    bad input."""
    port = options.port_or(DEFAULT_PORT)
    tcp_port = getattr(extra, "tcp_port", None)
    if tcp_port is not None:
        print("hil serve rs485: --tcp-port is deprecated; use --port", file=sys.stderr)
        port = tcp_port if options.port is None else port
    try:
        world = line_world(options, extra)
        bed = _bed(world, options, getattr(extra, "capture_dir", None))
    except (WorldError, BedError) as exc:
        print(f"hil serve rs485: {exc}", file=sys.stderr)
        return 2
    capture = open_live_capture(options, bed.world)
    if capture is not None:
        from sim.rs485_pcap import BusPcap

        BusPcap(bed.bus, capture, bed.wireshark_dissector, bed.protocol_label, bed.summarise)
    try:
        bed.run(_serve(bed, world, options, port, bool(getattr(extra, "pty", False)), out))
    except BedError as exc:
        print(f"hil serve rs485: {exc}", file=sys.stderr)
        return 2
    finally:
        bed.close()
        if capture is not None:
            capture.close()
    return 0
