"""The ``hil`` command.

hil conformance --profile ble-router --sut builtin|FILE [--clock virtual|real] [--seed N]
hil serve ble-router [--port 8080] [--control-port 8081] [--peripherals N] [--scale X]
hil serve connect-master [--port 4010] [--gateway-port 4000] [--terminals N] [--tenant T]
                         [--out-dir DIR] [--control-port 4011] [--scale X]
hil serve rs485 [--tcp-port 5020] [--pty] [--units 1,2,3 | --osdp 1,2 --scbk HEX]
                [--settings "9600 8N1"] [--capture-dir DIR]
hil scenario run NAME|FILE [--seed N] [--trace PATH]
hil profiles
hil bench [NAME ...] [--json]
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


def _conformance(args: argparse.Namespace) -> int:
    from conformance.run import run_conformance

    command = [
        "hil",
        "conformance",
        "--profile",
        args.profile,
        "--sut",
        args.sut,
        "--clock",
        args.clock,
        "--seed",
        str(args.seed),
    ]
    extra: list[str] = []
    if args.select:
        extra += ["-k", args.select]
        command += ["-k", args.select]
    if args.workers:
        extra += ["-n", str(args.workers)]
    run_dir, code = run_conformance(
        args.profile,
        args.sut,
        args.seed,
        args.clock,
        reports_dir=args.reports,
        extra_pytest_args=tuple(extra),
        progress=not args.quiet,
        command=" ".join(shlex.quote(c) for c in command),
    )
    print(f"report: {Path(run_dir) / 'report.html'}")
    return code


def _serve(args: argparse.Namespace) -> int:
    from scenarios.serve import ServeOptions, run_serve

    if args.system == "connect-master":
        from scenarios.serve_connect_master import CmServeOptions, run_cm_serve

        return run_cm_serve(
            CmServeOptions(
                host=args.host,
                port=args.port or 4010,
                gateway_port=args.gateway_port,
                control_port=args.control_port or 4011,
                terminals=args.terminals,
                tenant=args.tenant,
                out_dir=args.out_dir,
                seed=args.seed,
                scale=args.scale,
                duration_s=args.duration,
            )
        )
    if args.system == "rs485":
        from devices.rs485.serve import run as run_rs485

        return run_rs485(args)
    if args.system != "ble-router":
        print(
            f"hil serve: {args.system!r} is not served yet; available: ble-router, connect-master",
            file=sys.stderr,
        )
        return 2
    return run_serve(
        ServeOptions(
            host=args.host,
            port=args.port or 8080,
            control_port=args.control_port or 8081,
            peripherals=args.peripherals,
            seed=args.seed,
            scale=args.scale,
            scenario=args.scenario,
            duration_s=args.duration,
        )
    )


def _scenario(args: argparse.Namespace) -> int:
    from scenarios.loader import build_testbed, load_scenario, populate

    scenario = load_scenario(args.file)
    trace = Path(args.trace) if args.trace else None
    bed = build_testbed(scenario, seed=args.seed, trace_path=trace, keep_trace=trace is None)
    duration = args.duration if args.duration is not None else scenario.duration_s

    async def run() -> list[str]:
        await bed.start()
        names = await populate(bed, scenario)
        step = max(duration / 10, 1.0)
        while bed.now < duration:
            await bed.sleep(min(step, duration - bed.now))
            print(
                f"  t={bed.now:8.1f} s  links {len(bed.radio.connected_pairs())}  "
                f"adverts on air {bed.radio.adv_pdus}",
                flush=True,
            )
        return names

    try:
        names = bed.run(run())
    finally:
        bed.close()
    print(
        f"scenario {scenario.name}: {len(names)} peripherals, {duration:g} s simulated"
        + (f", trace in {trace}" if trace else "")
    )
    return 0


def _profiles(_args: argparse.Namespace) -> int:
    from conformance.catalog import list_profiles, load_catalog

    for profile in list_profiles():
        catalog = load_catalog(profile)
        mandatory = sum(1 for r in catalog.requirements if r.level == "mandatory")
        print(
            f"{profile:<16} {len(catalog.requirements):>4} requirements "
            f"({mandatory} mandatory)  catalog {catalog.version}  {catalog.title}"
        )
    return 0


def _bench(args: argparse.Namespace) -> int:
    from benchmarks.runner import run_all

    return run_all(args.names, args.json)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hil",
        description="gateway-hil: simulate IoT gateway "
        "worlds and judge gateways against their API documents",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("conformance", help="run a conformance profile against a SUT")
    p.add_argument("--profile", default="ble-router")
    p.add_argument("--sut", default="builtin", help="'builtin' or a SUT declaration YAML file")
    p.add_argument("--clock", choices=("virtual", "real"), default="virtual")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--reports", default="reports", help="directory for reports/<run-id>/")
    p.add_argument("-k", dest="select", help="only scenarios matching this pytest expression")
    p.add_argument("-n", dest="workers", type=int, help="spread scenarios over N processes")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_conformance)

    p = sub.add_parser(
        "serve", help="serve a reference gateway with simulated devices, in real time on loopback"
    )
    p.add_argument("system", choices=("ble-router", "connect-master", "rs485"))
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, help="API port (ble-router 8080, connect-master 4010)")
    p.add_argument("--control-port", type=int, help="world control (8081 / 4011)")
    p.add_argument("--peripherals", type=int, default=5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--scale", type=float, default=1.0, help="world seconds per wall second")
    p.add_argument("--scenario", help="a world file instead of N standard peripherals")
    p.add_argument("--duration", type=float, help="stop after this many wall seconds")
    p.add_argument(
        "--gateway-port",
        type=int,
        default=4000,
        help="connect-master: gw-a's Connect service (gw-b on the next port)",
    )
    p.add_argument("--terminals", type=int, default=4, help="connect-master: terminals on gw-a")
    p.add_argument("--tenant", default="tenant-a", help="connect-master: the tenant of gw-a")
    p.add_argument(
        "--out-dir",
        default="connect-master-certs",
        help="connect-master: where the CA, client certificates and sut.yaml go",
    )
    from devices.rs485.serve import add_arguments as add_rs485_arguments

    add_rs485_arguments(
        p.add_argument_group("rs485 (a line of Modbus slaves or OSDP readers)"), seed=False
    )
    p.set_defaults(func=_serve)

    p = sub.add_parser("scenario", help="run a declarative world file")
    p.add_argument("action", choices=("run",))
    p.add_argument("file", help="a scenario name (scenarios/worlds) or a YAML file")
    p.add_argument("--seed", type=int)
    p.add_argument("--duration", type=float)
    p.add_argument("--trace", help="write the timeline (JSON lines) here")
    p.set_defaults(func=_scenario)

    p = sub.add_parser("profiles", help="list conformance profiles")
    p.set_defaults(func=_profiles)

    p = sub.add_parser("bench", help="run benchmarks and print their figures")
    p.add_argument("names", nargs="*")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except (ValueError, OSError) as exc:
        print(f"hil {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
