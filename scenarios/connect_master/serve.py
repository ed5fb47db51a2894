"""``hil serve connect-master``: the master gateway, its device gateways and their terminals in
real time, their gRPC services on real sockets for outside clients (and for the harness as an
external SUT). Follows :mod:`scenarios.serving`:

* ``ConnectMaster`` + ``Login`` on ``--port`` (default 4010; mutual TLS, then the JWT
  ``token`` metadata), announced as ``api``;
* each device gateway's ``Connect`` (server-side TLS only) on ``--gateway-port`` (default 4000)
  and the ports after it, announced as ``gateway-<x>`` for gateway ``gw-<x>``;
* world control (:mod:`scenarios.connect_master.control`) on ``--control-port`` (default 4011),
  announced as ``control``.

``0`` takes a free port for each. The world is ``--scenario`` (a file of
:mod:`scenarios.connect_master.worlds`, ``two-gateways`` by default); ``--terminals N`` replaces
its terminals by N on the first gateway and ``--tenant`` names the first gateway's tenant.
``--out-dir`` receives the shared root (``ca.crt``), a client certificate and key per tenant
and for the administrator (``administrator.crt``), the master's database, and ``sut.yaml``: a
SUT declaration (with the ports actually taken) for ``hil conformance --profile
connect-master --sut <out-dir>/sut.yaml --clock real``. ``--scale`` runs the world faster than
the wall clock (reconnect intervals and keep-alives shrink with it; gRPC deadlines do not). Only
the gRPC stack is imported.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

import grpc
import yaml

from devices.gateways.connect_master.deviations import DEVIATIONS
from devices.gateways.connect_master.grpc_wire import serve_gateway, serve_master
from devices.gateways.connect_master.master import ADMIN
from devices.protocols.http_server import serve
from scenarios.connect_master.bed import LocalCmBed
from scenarios.connect_master.control import control_app
from scenarios.connect_master.worlds import WorldError, WorldSpec, default_world, load_world
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

__all__ = ["DEVIATIONS", "add_arguments", "run"]

DEFAULT_PORT = 4010
DEFAULT_CONTROL_PORT = 4011
DEFAULT_GATEWAY_PORT = 4000
DEFAULT_OUT_DIR = "connect-master-certs"
CAPTURE = (
    "the in-world IP links (pcapng, Ethernet): terminal <-> device gateway streams and the "
    "gateways' uplinks to the master, TLS secrets in a key log beside it; the gRPC services "
    "are on real sockets, not in it (tcpdump -i lo sees those)"
)


def add_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The options only ``hil serve connect-master`` has."""
    parser.add_argument(
        "--gateway-port",
        type=int,
        metavar="PORT",
        default=DEFAULT_GATEWAY_PORT,
        help="the first device gateway's Connect service, the next gateways on the ports after "
        "it; 0 = free ports (default: %(default)s)",
    )
    parser.add_argument(
        "--terminals",
        type=int,
        metavar="N",
        help="this many terminals on the first gateway instead of the world's (4 by default)",
    )
    parser.add_argument(
        "--tenant", metavar="TENANT", help="the first gateway's tenant (default: the world's)"
    )
    parser.add_argument(
        "--out-dir",
        default=DEFAULT_OUT_DIR,
        metavar="DIR",
        help="where the CA, client certificates, master.db and sut.yaml go (default: %(default)s)",
    )


def gateway_role(gateway_id: str) -> str:
    """The ``listening`` role of a device gateway: ``gw-a`` -> ``gateway-a``."""
    return f"gateway-{gateway_id.removeprefix('gw-')}"


def served_world(options: ServeOptions, extra: argparse.Namespace) -> WorldSpec:
    """The world file, with ``--tenant`` and ``--terminals`` applied."""
    world = load_world(options.scenario) if options.scenario else default_world()
    tenant = getattr(extra, "tenant", None)
    if tenant:
        world = world.with_tenant(tenant)
    terminals = getattr(extra, "terminals", None)
    if terminals is not None:
        world = world.with_terminals(terminals)
    return world


def write_credentials(bed: LocalCmBed, out: Path) -> dict[str, tuple[Path, Path]]:
    """The shared root plus an ECDSA client certificate per tenant and for the administrator."""
    out.mkdir(parents=True, exist_ok=True)
    ca = bed.cm_world.ca
    (out / "ca.crt").write_bytes(ca.cert_pem)
    tenants = list(dict.fromkeys(s.tenant for s in bed.cm_world.specs.values())) + [ADMIN]
    return {t: ca.issue(t, grpc_wire=True).write(out, t) for t in tenants}


def sut_declaration(
    address: str, bed: LocalCmBed, out: Path, files: dict[str, tuple[Path, Path]], control: str
) -> dict[str, Any]:
    """A SUT declaration of this served world (``second-tenant`` when it has two gateways)."""
    first, *rest = bed.cm_world.specs.values()
    endpoint: dict[str, Any] = {
        "address": address,
        "ca": str(out / "ca.crt"),
        "cert": str(files[first.tenant][0]),
        "key": str(files[first.tenant][1]),
        "tenant": first.tenant,
        "gateway": first.gateway_id,
    }
    capabilities = ["connect-master", "world-control", "gateway-restart", "master-restart"]
    if rest:
        second = rest[0]
        endpoint["other_tenant"] = {
            "tenant": second.tenant,
            "gateway": second.gateway_id,
            "cert": str(files[second.tenant][0]),
            "key": str(files[second.tenant][1]),
        }
        capabilities.append("second-tenant")
    endpoint["admin"] = {"cert": str(files[ADMIN][0]), "key": str(files[ADMIN][1])}
    endpoint["world_control"] = control
    capabilities.append("admin-login")
    return {
        "name": "served-connect-master",
        "identity": {
            "vendor": "gateway-hil",
            "model": "hil serve connect-master",
            "firmware": "0.1.0",
        },
        "role": "server",
        "endpoints": {"connect-master": endpoint},
        "capabilities": capabilities,
    }


async def _serve(
    bed: LocalCmBed,
    world: WorldSpec,
    options: ServeOptions,
    extra: argparse.Namespace,
    folder: Path,
    out: TextIO,
) -> None:
    host = options.host
    await bed.start()
    for spec in world.terminal_specs():
        await bed.place(spec)
    cm = bed.cm_world
    master_cred = cm.ca.issue("master", server=True, grpc_wire=True)
    servers: dict[str, grpc.aio.Server] = {}
    servers["master"], port = await serve_master(
        cm.master, master_cred, host, options.port_or(DEFAULT_PORT)
    )
    gateway_ports: dict[str, int] = {}
    first = getattr(extra, "gateway_port", DEFAULT_GATEWAY_PORT)
    for i, (gid, gw) in enumerate(cm.gateways.items()):
        credential = cm.ca.issue(gid, server=True, grpc_wire=True)
        servers[gid], gateway_ports[gid] = await serve_gateway(
            gw, credential, host, first + i if first else 0
        )

    async def reserve_master() -> None:  # a restarted master serves its gRPC again
        await servers["master"].stop(None)
        servers["master"], _ = await serve_master(cm.master, master_cred, host, port)

    control = await serve(
        control_app(bed, reserve_master),
        bed.world,
        host,
        options.control_port_or(DEFAULT_CONTROL_PORT),
    )
    try:
        files = write_credentials(bed, folder)
        declaration = sut_declaration(f"{host}:{port}", bed, folder, files, control.url)
        (folder / "sut.yaml").write_text(
            yaml.safe_dump(declaration, sort_keys=False), encoding="utf-8"
        )
        announce(out, "api", f"{host}:{port}", "ConnectMaster + Login, mutual TLS")
        for gid, gateway_port in gateway_ports.items():
            announce(out, gateway_role(gid), f"{host}:{gateway_port}", f"Connect of {gid}, TLS")
        announce(out, "control", control.url, "world control")
        by_gateway = {g: sum(s["gateway"] == g for s in world.terminal_specs()) for g in cm.specs}
        placed = ", ".join(f"{n} on {g}" for g, n in by_gateway.items() if n) or "none"
        print(f"certificates and SUT declaration in {folder} (sut.yaml)", file=out)
        announce_world(out, options, f"world {world.name}: terminals {placed}")
        announce_capture(out, options, f"{CAPTURE}: {capture_keylog(options, folder)}")
        ready(out)
        await serve_until_stopped(options, out)
    finally:
        for server in servers.values():
            await server.stop(None)
        await control.close()


def run(options: ServeOptions, extra: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Serve until SIGINT/SIGTERM or ``--duration`` wall seconds; 0 when stopped cleanly, 2 for
    a world that cannot be served."""
    try:
        world = served_world(options, extra)
    except WorldError as exc:
        print(f"hil serve connect-master: {exc}", file=sys.stderr)
        return 2
    folder = Path(getattr(extra, "out_dir", DEFAULT_OUT_DIR)).resolve()
    folder.mkdir(parents=True, exist_ok=True)  # master.db lives here: it outlives the process
    bed = LocalCmBed(
        seed=options.seed,
        clock=REAL,
        scale=options.scale,
        db_path=folder / "master.db",
        gateways=world.gateways,
        reconnect_s=world.reconnect_s,
        deviations=options.deviations,
    )
    capture = open_live_capture(options, bed.world)
    if capture is not None:
        from sim.ip_capture import IpCapture

        IpCapture(bed.cm_world.net, capture, keylog=capture_keylog(options, folder))
    try:
        bed.run(_serve(bed, world, options, extra, folder, out))
    finally:
        bed.close()
        if capture is not None:
            capture.close()
    return 0


def capture_keylog(options: ServeOptions, folder: Path) -> Path:
    """Where the TLS key log of ``--capture FILE`` goes: ``FILE`` with suffix ``.keylog``
    (``--capture -``: ``tls.keylog`` in ``--out-dir``)."""
    if options.capture and options.capture != "-":
        return Path(options.capture).with_suffix(".keylog")
    return folder / "tls.keylog"
