"""``hil serve ble-router``: the reference router and its simulated peripherals in real time, on
loopback sockets, so curl, SDKs and the harness itself (as an external SUT) can talk to it.

The router API listens on ``--port``; the world-control API (:mod:`scenarios.control`) on
``--control-port``. The world runs on the wall clock (``--scale`` speeds it up).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from dataclasses import dataclass
from typing import TextIO

from devices.protocols.http_server import serve
from scenarios.control import control_app
from scenarios.loader import Scenario, build_testbed, load_scenario, populate
from scenarios.testbed import LocalTestbed
from sim.clock import REAL


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8080
    control_port: int = 8081
    peripherals: int = 5
    seed: int = 1
    scale: float = 1.0
    scenario: str | None = None
    duration_s: float | None = None  # stop by itself after this long (wall seconds)


def default_world(count: int, seed: int) -> Scenario:
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


async def _serve(bed: LocalTestbed, scenario: Scenario, opts: ServeOptions, out: TextIO) -> None:
    router_url = await bed.start(host=opts.host, port=opts.port, real_socket=True)
    control = await serve(control_app(bed), bed.world, opts.host, opts.control_port)
    names = await populate(bed, scenario)
    print(f"BLE router {bed.router.mac} serving {router_url}", file=out)
    print(
        f"world control at {control.url}  ({len(names)} peripherals, seed {opts.seed}, "
        f"clock real x{opts.scale:g})",
        file=out,
    )
    for name in names[:10]:
        print(f"  {name}  {bed.address_of(name)}", file=out)
    if len(names) > 10:
        print(f"  ... and {len(names) - 10} more (GET {control.url}/world)", file=out)
    out.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), opts.duration_s)
    except TimeoutError:
        pass
    print("stopping", file=out)
    await control.close()


def run_serve(opts: ServeOptions, out: TextIO = sys.stdout) -> int:
    scenario = (
        load_scenario(opts.scenario)
        if opts.scenario
        else default_world(opts.peripherals, opts.seed)
    )
    bed = build_testbed(scenario, clock=REAL, seed=opts.seed)
    bed.world.loop.scale = opts.scale
    try:
        bed.run(_serve(bed, scenario, opts, out))
    finally:
        bed.close()
    return 0
