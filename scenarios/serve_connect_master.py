"""``hil serve connect-master``: the master gateway, two device gateways and N terminals in real
time, their gRPC services on loopback for outside clients (and for the harness as an external
SUT).

* ``ConnectMaster`` + ``Login`` on ``--port`` (mutual TLS, then the JWT ``token`` metadata);
* each device gateway's ``Connect`` on ``--gateway-port`` (gw-a) and the next port (gw-b),
  server-side TLS only;
* world control (:mod:`scenarios.cm_control`) on ``--control-port``.

``--out-dir`` receives the shared root (``ca.crt``), a client certificate and key per tenant
and for ``admin``, and ``sut.yaml``: a SUT declaration for ``hil conformance --profile
connect-master --sut <out-dir>/sut.yaml --clock real``. ``--scale`` runs the world faster than
the wall clock (reconnect intervals and keep-alives shrink with it; gRPC deadlines do not).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import grpc
import yaml

from devices.gateways.connect_master.grpc_wire import serve_gateway, serve_master
from devices.gateways.connect_master.master import ADMIN
from devices.protocols.http_server import serve
from scenarios.cm_control import cm_control_app
from scenarios.connect_master_bed import DEFAULT_GATEWAYS, ConnectMasterBed, GatewaySpec
from sim.clock import REAL

FIRST_HOST = 100


@dataclass
class CmServeOptions:
    host: str = "127.0.0.1"
    port: int = 4010
    gateway_port: int = 4000
    control_port: int = 4011
    terminals: int = 4
    tenant: str = "tenant-a"
    out_dir: str = "connect-master-certs"
    seed: int = 1
    scale: float = 1.0
    duration_s: float | None = None


def gateway_specs(tenant: str) -> tuple[GatewaySpec, ...]:
    """gw-a belongs to ``tenant``; gw-b to another tenant (for isolation scenarios)."""
    a, b = DEFAULT_GATEWAYS
    other = b.tenant if tenant != b.tenant else f"{b.tenant}-other"
    return (
        GatewaySpec(a.gateway_id, a.ip, a.subnet, tenant),
        GatewaySpec(b.gateway_id, b.ip, b.subnet, other),
    )


def write_credentials(bed: ConnectMasterBed, out: Path) -> dict[str, tuple[Path, Path]]:
    """The shared root plus an ECDSA client certificate per tenant and for the administrator."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "ca.crt").write_bytes(bed.ca.cert_pem)
    tenants = [s.tenant for s in bed.specs.values()] + [ADMIN]
    return {t: bed.ca.issue(t, grpc_wire=True).write(out, t) for t in tenants}


def sut_declaration(
    opts: CmServeOptions,
    bed: ConnectMasterBed,
    out: Path,
    files: dict[str, tuple[Path, Path]],
    control_url: str,
) -> dict[str, Any]:
    a, b = bed.specs.values()
    endpoint: dict[str, Any] = {
        "address": f"{opts.host}:{opts.port}",
        "ca": str(out / "ca.crt"),
        "cert": str(files[a.tenant][0]),
        "key": str(files[a.tenant][1]),
        "tenant": a.tenant,
        "gateway": a.gateway_id,
        "other_tenant": {
            "tenant": b.tenant,
            "gateway": b.gateway_id,
            "cert": str(files[b.tenant][0]),
            "key": str(files[b.tenant][1]),
        },
        "admin": {"cert": str(files[ADMIN][0]), "key": str(files[ADMIN][1])},
        "world_control": control_url,
    }
    return {
        "name": "served-connect-master",
        "identity": {
            "vendor": "gateway-hil",
            "model": "hil serve connect-master",
            "firmware": "0.1.0",
        },
        "role": "server",
        "endpoints": {"connect-master": endpoint},
        "capabilities": [
            "connect-master",
            "world-control",
            "gateway-restart",
            "master-restart",
            "second-tenant",
            "admin-login",
        ],
    }


async def _serve(bed: ConnectMasterBed, opts: CmServeOptions, out: TextIO) -> None:
    await bed.start()
    for i in range(opts.terminals):
        bed.add_terminal(1 + i, "gw-a", FIRST_HOST + i)
    master_cred = bed.ca.issue("master", server=True, grpc_wire=True)
    servers: dict[str, grpc.aio.Server] = {}
    servers["master"], _ = await serve_master(bed.master, master_cred, opts.host, opts.port)
    for i, (gid, gw) in enumerate(bed.gateways.items()):
        servers[gid], _ = await serve_gateway(
            gw, bed.ca.issue(gid, server=True, grpc_wire=True), opts.host, opts.gateway_port + i
        )

    async def reserve_master() -> None:  # a restarted master serves its gRPC again
        await servers["master"].stop(None)
        servers["master"], _ = await serve_master(bed.master, master_cred, opts.host, opts.port)

    control = await serve(
        cm_control_app(bed, reserve_master), bed.world, opts.host, opts.control_port
    )
    folder = Path(opts.out_dir).resolve()
    files = write_credentials(bed, folder)
    sut = folder / "sut.yaml"
    sut.write_text(
        yaml.safe_dump(sut_declaration(opts, bed, folder, files, control.url), sort_keys=False),
        encoding="utf-8",
    )
    print(f"ConnectMaster + Login (mutual TLS) on {opts.host}:{opts.port}", file=out)
    for i, gid in enumerate(bed.gateways):
        print(
            f"Connect of device gateway {gid} (TLS) on {opts.host}:{opts.gateway_port + i}",
            file=out,
        )
    print(
        f"world control at {control.url}  ({opts.terminals} terminals on gw-a, seed "
        f"{opts.seed}, clock real x{opts.scale:g})",
        file=out,
    )
    print(f"certificates and SUT declaration in {folder} (sut.yaml)", file=out)
    out.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        # the loop's clock is the world's (scaled); --duration is wall seconds
        limit = opts.duration_s * opts.scale if opts.duration_s is not None else None
        await asyncio.wait_for(stop.wait(), limit)
    except TimeoutError:
        pass
    print("stopping", file=out)
    for server in servers.values():
        await server.stop(None)
    await control.close()


def run_cm_serve(opts: CmServeOptions, out: TextIO = sys.stdout) -> int:
    folder = Path(opts.out_dir).resolve()
    folder.mkdir(parents=True, exist_ok=True)  # master.db lives here: it outlives the process
    bed = ConnectMasterBed(
        seed=opts.seed,
        clock=REAL,
        gateways=gateway_specs(opts.tenant),
        db_path=folder / "master.db",
    )
    bed.world.loop.scale = opts.scale
    try:
        bed.run(_serve(bed, opts, out))
    finally:
        bed.close()
    return 0
