"""Serve a simulated RS485 line with Modbus slaves, or OSDP readers, in real time, joined from
outside through a TCP byte stream on loopback (Modbus RTU over TCP) and/or a pseudo-terminal.

    python -m devices.rs485.serve --tcp-port 5020 --units 1,2,3 [--pty] [--settings "9600 8N1"]
    python -m devices.rs485.serve --pty --osdp 1,2 [--scbk 32-hex-digit key]
    hil serve rs485 ...                                   (same options)

With ``--osdp`` the line holds OSDP readers (libosdp PDs) at those addresses instead of Modbus
slaves, so an outside control panel (or our own, see the rs485-osdp profile) polls them.

Prints one line per endpoint (``tcp 127.0.0.1:5020``, ``pty /dev/pts/N``) and then ``ready``,
so a parent process can wait for it.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from devices.rs485.bridges import PtyBridge, TcpBridge
from devices.rs485.modbus_slave import ModbusSlave, standard_slave
from devices.rs485.osdp_values import check_address, check_key
from sim.rs485 import Rs485Bus
from sim.uart import LineSettings
from sim.world import REAL, World


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
        return [check_address(int(a)) for a in text.split(",") if a.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"OSDP addresses {text!r} not accepted; accepted: comma-separated 0-126"
        ) from None


def parse_scbk(text: str) -> bytes:
    try:
        key = check_key(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    assert key is not None
    return key


def add_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, seed: bool = True
) -> None:
    """The serve options (``seed=False`` when the caller, e.g. ``hil serve``, has its own)."""
    parser.add_argument(
        "--tcp-port",
        type=int,
        default=None,
        help="RTU-over-TCP port on 127.0.0.1 (0 picks a free one)",
    )
    parser.add_argument("--pty", action="store_true", help="also bridge to a pseudo-terminal")
    parser.add_argument("--units", type=parse_units, default=[1], help="slave ids, e.g. 1,2,3")
    parser.add_argument(
        "--osdp",
        type=parse_osdp,
        default=None,
        help="serve OSDP readers at these addresses instead of Modbus slaves",
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
        default=LineSettings(),
        help='line settings, e.g. "9600 8N1"',
    )
    if seed:
        parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--capture-dir", type=Path, default=None)


async def _serve(world: World, args: argparse.Namespace) -> None:
    protocol = "osdp" if args.osdp else "modbus-rtu"
    bus = Rs485Bus(world, "line", args.settings, capture_dir=args.capture_dir, protocol=protocol)
    if args.osdp:
        from devices.rs485.osdp_pd import OsdpReader, ReaderSpec  # loads libosdp

        for address in args.osdp:
            OsdpReader(world, bus, ReaderSpec(address, args.scbk)).start()
    else:
        for unit in args.units:
            await ModbusSlave(world, bus, standard_slave(unit)).start()
    closers = []
    if args.tcp_port is not None:
        tcp = TcpBridge(bus)
        host, port = await tcp.listen("127.0.0.1", args.tcp_port)
        print(f"tcp {host}:{port}", flush=True)
        closers.append(tcp.close)
    if args.pty:
        pty = PtyBridge(bus)
        print(f"pty {pty.path}", flush=True)
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for close in closers:
        await close()
    bus.close()


def run(args: argparse.Namespace) -> int:
    if args.tcp_port is None and not args.pty:
        print("nothing to serve: give --tcp-port and/or --pty", file=sys.stderr)
        return 2
    with World(seed=args.seed, clock=REAL, keep_trace=False) as world:
        world.run(_serve(world, args))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devices.rs485.serve")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
