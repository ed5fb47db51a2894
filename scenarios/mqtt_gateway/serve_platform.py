"""``hil serve mqtt-platform``: the platform emulator (ThingsBoard's gateway MQTT API, seed 001)
on real sockets, for outside gateways, SDKs and the harness itself (as an outside platform SUT).

    hil serve mqtt-platform [--port 1883] [--control-port 8088] [--gateways 3] [--tls]
                            [--db platform.sqlite] [--scenario gateway-room]

Follows :mod:`scenarios.serving`: MQTT (3.1.1 and 5) listens on ``--port`` (default 1883), the
platform's control API (:mod:`devices.cloud.mqtt_platform.control_api`, OpenAPI at
``/openapi.json``, ``Authorization: Bearer <admin key>``) on ``--control-port`` (default 8088);
``0`` takes a free port. It prints ``listening mqtt <host:port>``, ``listening control <url>``,
the admin key and the access token of each gateway created at start (``gw-1`` ... ``gw-N`` of
``--gateways``, plus the ``gateways`` of ``--scenario``), then ``ready``. ``--tls`` serves MQTT
over TLS with a certificate of a root made at start, written to ``--tls-dir`` (``ca.crt``).
The database is ``--db`` (kept across runs: gateways keep their tokens) or a fresh one in
memory. ``--deviate NAME`` makes the platform misbehave (:data:`DEVIATIONS`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import TextIO

from devices.cloud.mqtt_platform.deviations import DEVIATIONS
from devices.cloud.mqtt_platform.serve_support import ServedPlatform, start_platform
from scenarios.mqtt_gateway.worlds import load_world, new_world
from scenarios.serving import ServeOptions, announce, announce_world, ready, serve_until_stopped
from sim.clock import REAL

DEFAULT_PORT = 1883
DEFAULT_CONTROL_PORT = 8088
DEFAULT_GATEWAYS = 1
__all__ = ["DEFAULT_CONTROL_PORT", "DEFAULT_PORT", "DEVIATIONS", "add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The options only ``hil serve mqtt-platform`` has."""
    parser.add_argument(
        "--gateways",
        type=int,
        default=DEFAULT_GATEWAYS,
        metavar="N",
        help="gateways gw-1..gw-N created at start, their tokens printed (default: %(default)s)",
    )
    parser.add_argument(
        "--tenant", default="default", help="the tenant of those gateways (default: %(default)s)"
    )
    parser.add_argument(
        "--db", metavar="PATH", help="the platform's SQLite database (default: in memory)"
    )
    parser.add_argument("--tls", action="store_true", help="serve MQTT over TLS")
    parser.add_argument(
        "--tls-dir", metavar="DIR", help="where --tls writes ca.crt (default: a new temp folder)"
    )
    parser.add_argument(
        "--admin-key", metavar="KEY", help="the control API's admin key (default: a random one)"
    )


def _ssl(extra: argparse.Namespace, out: TextIO):  # type: ignore[no-untyped-def]
    if not getattr(extra, "tls", False):
        return None
    from devices.protocols.x509 import CertificateAuthority, tls_context

    folder = Path(extra.tls_dir or tempfile.mkdtemp(prefix="hil-mqtt-tls-"))
    folder.mkdir(parents=True, exist_ok=True)
    ca = CertificateAuthority("gateway-hil MQTT root")
    (folder / "ca.crt").write_bytes(ca.cert_pem)
    print(f"tls: trust {folder / 'ca.crt'}", file=out)
    leaf = ca.issue("mqtt-platform", server=True)
    return tls_context(ca.cert_pem, server_side=True, credential=leaf, require_peer=False)


def _gateways(options: ServeOptions, extra: argparse.Namespace) -> list[tuple[str, str]]:
    count = max(0, int(getattr(extra, "gateways", DEFAULT_GATEWAYS)))
    tenant = str(getattr(extra, "tenant", "default"))
    names = [(f"gw-{i}", tenant) for i in range(1, count + 1)]
    if options.scenario:
        world = load_world(options.scenario)
        names += [(str(g["name"]), str(g.get("tenant", "default"))) for g in world.gateways]
    return list(dict.fromkeys(names))


def _print(served: ServedPlatform, options: ServeOptions, tls: bool, out: TextIO) -> None:
    scheme = "MQTT over TLS" if tls else "MQTT"
    announce(out, "mqtt", served.mqtt_address, f"{scheme}, 3.1.1 and 5")
    announce(out, "control", served.control.url, "platform control API, OpenAPI /openapi.json")
    print(f"admin key: {served.admin_key}", file=out)
    for (tenant, name), token in served.tokens.items():
        print(f"gateway {name} (tenant {tenant}) token: {token}", file=out)
    announce_world(out, options)


def run(options: ServeOptions, extra: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Serve until SIGINT/SIGTERM or ``--duration`` wall seconds; 0 when stopped cleanly."""
    from devices.cloud.mqtt_platform import PlatformConfig

    world = new_world(options.seed, REAL, options.scale)

    async def main() -> None:
        context = _ssl(extra, out)
        served = await start_platform(
            world,
            host=options.host,
            mqtt_port=options.port_or(DEFAULT_PORT),
            control_port=options.control_port_or(DEFAULT_CONTROL_PORT),
            db=getattr(extra, "db", None) or ":memory:",
            config=PlatformConfig(deviations=options.deviations),
            admin_key=getattr(extra, "admin_key", None),
            ssl_context=context,
            gateways=_gateways(options, extra),
        )
        try:
            _print(served, options, context is not None, out)
            ready(out)
            await serve_until_stopped(options, out)
        finally:
            await served.close()

    try:
        world.run(main())
    finally:
        world.close()
    return 0
