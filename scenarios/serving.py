"""What every ``hil serve <system>`` shares: the common options and what they mean.

Each system's ``scenarios/<system>/serve.py`` exposes

* ``DEFAULT_PORT`` and ``DEFAULT_CONTROL_PORT`` (used when the option is not given),
* ``add_arguments(parser)``: its own options only (the common ones are added by the CLI),
* ``run(options: ServeOptions, extra: argparse.Namespace, out) -> int``,

and imports only its own stack, so ``hil serve ble-router`` never loads gRPC or pymodbus.

The common options mean the same for every system:

* ``--host``: the address every listener binds (loopback by default);
* ``--port``: the SUT's main API port; ``0`` asks the kernel for a free port, and the port taken
  is printed;
* ``--control-port``: the world-control API, same rule for ``0``;
* ``--seed``: the world's seed (simulation only, never secrets);
* ``--scale``: world seconds per wall second;
* ``--duration``: stop after this many **wall** seconds (whatever the scale);
* ``--scenario``: a world file (``scenarios/<system>/worlds/*.yaml`` name or a path);
* ``--deviate NAME`` (repeatable): the reference system misbehaves in that named way
  (:mod:`devices.deviations`). A serve module that supports deviations exposes its system's
  ``DEVIATIONS`` (the CLI refuses other names before anything starts, exit 2) and hands
  ``ServeOptions.deviations`` to its reference implementation; without ``DEVIATIONS`` every
  name is refused;
* ``--capture FILE|-``: stream a pcapng of the world's media while serving, stamped with world
  time (``-``: standard output, so ``hil serve ble-router --capture - | wireshark -k -i -``
  works; the status lines then go to standard error). A serve module that captures exposes
  ``CAPTURE``, one line saying what the capture holds (and what it cannot: traffic on real
  sockets, which ``tcpdump -i lo`` sees), opens it with :func:`open_live_capture` and says so
  with :func:`announce_capture`; without ``CAPTURE`` the CLI refuses the option (exit 2).

What a serve prints, so people and parent processes read the same lines: one
``listening <role> <address>`` line per listener (:func:`announce`; roles such as ``api``,
``control``, ``gateway-a``, ``tcp``, ``pty``; the address is a URL, ``host:port`` or a device
path, with the port actually taken), any informational lines (what the world holds:
:func:`announce_world`), then ``ready`` (:func:`ready`).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from sim.pcap import PcapngWriter
    from sim.world import World


@dataclass(frozen=True)
class ServeOptions:
    """The options every ``hil serve`` subcommand accepts (see the module docstring)."""

    host: str = "127.0.0.1"
    port: int | None = None  # None: the system's default port; 0: a free port
    control_port: int | None = None
    seed: int = 1
    scale: float = 1.0
    duration_s: float | None = None  # wall seconds
    scenario: str | None = None
    deviations: tuple[str, ...] = ()  # names of the system's DEVIATIONS, checked by the CLI
    capture: str | None = None  # a pcapng file to stream the world's media to, "-": stdout

    def port_or(self, default: int) -> int:
        return default if self.port is None else self.port

    def control_port_or(self, default: int) -> int:
        return default if self.control_port is None else self.control_port


def announce(out: TextIO, role: str, address: str, note: str = "") -> None:
    """One ``listening <role> <address>`` line (the port actually bound, never 0)."""
    print(f"listening {role} {address}" + (f"  ({note})" if note else ""), file=out, flush=True)


def open_live_capture(options: ServeOptions, world: World) -> PcapngWriter | None:
    """The ``--capture`` writer on ``world``'s clock, flushed per packet (None without the
    option). Open it before the world starts so the capture misses nothing."""
    if not options.capture:
        return None
    from sim.pcap import open_capture

    return open_capture(options.capture, world, flush=True)


def announce_capture(out: TextIO, options: ServeOptions, what: str) -> None:
    """One informational line: where ``--capture`` goes and what it holds."""
    if options.capture:
        where = "standard output" if options.capture == "-" else options.capture
        print(f"capture {where}: {what}", file=out, flush=True)


LISTED = 10  # things of a served world printed by name at start-up


def announce_world(
    out: TextIO,
    options: ServeOptions,
    what: str = "",
    names: Sequence[str] = (),
    control_url: str = "",
    detail: Callable[[str], str] | None = None,
) -> None:
    """What is served, for people: ``what`` (``"12 peripherals"``) with the seed and the clock,
    the deviations on purpose, then the first :data:`LISTED` of ``names`` (each with
    ``detail(name)``) and where the rest are listed (``control_url``'s ``/world``)."""
    clock = f"seed {options.seed}, clock real x{options.scale:g}"
    print(f"{what}, {clock}" if what else clock, file=out)
    if options.deviations:
        print(f"deviating on purpose: {', '.join(options.deviations)}", file=out)
    for name in names[:LISTED]:
        print(f"  {name}" + (f"  {detail(name)}" if detail else ""), file=out)
    if len(names) > LISTED:
        print(f"  ... and {len(names) - LISTED} more (GET {control_url}/world)", file=out)


def ready(out: TextIO) -> None:
    """Everything listens: a parent process may start talking now."""
    print("ready", file=out, flush=True)


async def serve_until_stopped(options: ServeOptions, out: TextIO) -> None:
    """Wait on the world's loop until SIGINT/SIGTERM or ``--duration`` wall seconds.

    The world's loop runs on the world clock, ``scale`` world seconds per wall second, so a
    wall duration is ``duration * scale`` on that clock.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    timeout = None if options.duration_s is None else options.duration_s * options.scale
    try:
        await asyncio.wait_for(stop.wait(), timeout)
    except TimeoutError:
        pass
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    print("stopping", file=out, flush=True)
