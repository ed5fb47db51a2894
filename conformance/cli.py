"""The ``hil`` command.

    hil conformance [--profile P] [--sut builtin|FILE] [--clock virtual|real] [--seed N]
                    [-k EXPR] [-n N] [--tx SPEC ...] [-q] [--reports DIR]
    hil serve ble-router|ble-ac|connect-master|rs485|mqtt-platform|mqtt-gateway
              [--host H] [--port P] [--control-port P]
              [--seed N] [--scale X] [--duration S] [--scenario NAME|FILE] [system options]
    hil scenario run NAME|FILE [--seed N] [--duration S] [--trace PATH]
    hil selfcheck [--profile P] [--deviation NAME ...] [--full] [-q] [--json] [--target PCT]
    hil fuzz ble-router|connect-master|rs485 [--interface I ...] [--examples N] [--seed S]
    hil profiles
    hil bench [NAME ...] [--json] [--compare] [--reports DIR]

Each ``hil serve <system>`` imports only that system's ``scenarios/<system>/serve.py`` (and so
only its stack), and only when that system is named on the command line: the parser is built
for the system in ``argv``, the other systems' subcommands stay bare (their help line only).
"""

from __future__ import annotations

import argparse
import importlib
import os
import shlex
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

# system -> (its serve module, what it serves, what --port is). A module loads only when its
# system is chosen.
SERVED: dict[str, tuple[str, str, str]] = {
    "ble-router": (
        "scenarios.ble_router.serve",
        "the reference BLE router and its simulated peripherals (HTTP, SSE)",
        "the router API",
    ),
    "ble-ac": (
        "scenarios.ble_ac.serve",
        "the reference BLE access controller, its routers and their simulated peripherals "
        "(HTTP, SSE)",
        "the controller's API",
    ),
    "connect-master": (
        "scenarios.connect_master.serve",
        "the master gateway, two device gateways and their terminals (gRPC)",
        "the master gateway's ConnectMaster and Login services",
    ),
    "rs485": (
        "scenarios.rs485.serve",
        "an RS485 line of Modbus slaves or OSDP readers (RTU over TCP, pseudo-terminal)",
        "the line's RTU-over-TCP bridge",
    ),
    "mqtt-platform": (
        "scenarios.mqtt_gateway.serve_platform",
        "the MQTT gateway platform emulator (ThingsBoard gateway API) and its control API",
        "the platform's MQTT listener",
    ),
    "device2": (
        "scenarios.device2.serve",
        "the Device2 service: management API, HTTP and MQTT device APIs, simulated devices",
        "the management API",
    ),
    "mqtt-gateway": (
        "scenarios.mqtt_gateway.serve_gateway",
        "the reference MQTT gateway with its simulated meters and BLE sensor, and a platform",
        "the platform's MQTT listener (without --broker)",
    ),
}


# system -> its fuzz campaigns (scenarios.fuzzing: INTERFACES and campaign()), loaded only when
# that system is fuzzed.
FUZZED: dict[str, str] = {
    "ble-ac": "scenarios.ble_ac.fuzz",
    "ble-router": "scenarios.ble_router.fuzz",
    "connect-master": "scenarios.connect_master.fuzz",
    "device2": "scenarios.device2.fuzz",
    "mqtt-gateway": "scenarios.mqtt_gateway.fuzz",
    "rs485": "scenarios.rs485.fuzz",
}
WORLD_CONTROL = "world-control"  # every fuzzed system's world-control API: scenarios.control_fuzz


class ServeUnavailable(Exception):
    """A system's serve module cannot be loaded (its stack is not installed)."""


# -- option types -------------------------------------------------------------------------------


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"port {text!r} not accepted; accepted: 0-65535 (0 = a free port, printed)"
        )
    return port


def _positive(what: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = 0.0
        if not value > 0 or value == float("inf"):
            raise argparse.ArgumentTypeError(
                f"{what} {text!r} not accepted; accepted: a number > 0"
            )
        return value

    return parse


# -- subcommands --------------------------------------------------------------------------------


def _xdist_args(workers: int | None, tx: Sequence[str] | None) -> list[str]:
    """pytest-xdist options for ``-n N`` / ``--tx SPEC``: N local processes, and/or one worker per
    execnet spec (``popen``, ``3*popen``, ``ssh=host//python=...//chdir=...``). xdist's own
    ``-n`` replaces every ``--tx``, so with both the N local workers become ``--tx N*popen``."""
    if not tx:
        return [] if workers is None else ["-n", str(workers)]
    specs = ([f"{workers}*popen"] if workers else []) + list(tx)
    return [arg for spec in specs for arg in ("--tx", spec)] + ["--dist", "load"]


DEFAULT_MAX_WORKERS = 4


def default_workers(sut: str, cores: int | None = None) -> int:
    """How many local processes a run uses when ``-n`` is not given: with the builtin SUT every
    scenario has a world of its own, so up to :data:`DEFAULT_MAX_WORKERS` processes, one a core
    (0, one process, on a single core); an outside SUT is one device that scenarios must not
    share at once, so one process."""
    cores = os.cpu_count() if cores is None else cores
    if sut != "builtin" or not cores or cores < 2:
        return 0
    return min(DEFAULT_MAX_WORKERS, cores)


def _conformance(args: argparse.Namespace) -> int:
    from conformance.report.run_info import reproduce_command
    from conformance.run import run_conformance

    if args.workers is None and not args.tx:
        args.workers = default_workers(args.sut)

    command = reproduce_command(args.profile, args.sut, args.clock, args.seed)
    if args.select is not None:
        command += " -k " + shlex.quote(args.select)
    run_dir, code = run_conformance(
        args.profile,
        args.sut,
        args.seed,
        args.clock,
        reports_dir=args.reports,
        extra_pytest_args=_xdist_args(args.workers, args.tx),
        progress=not args.quiet,
        select=args.select,
        command=command,
    )
    print(f"report: {Path(run_dir) / 'report.html'}")
    return code


def _serve(args: argparse.Namespace) -> int:
    from scenarios.serving import ServeOptions

    options = ServeOptions(
        host=args.host,
        port=args.port,
        control_port=args.control_port,
        seed=args.seed,
        scale=args.scale,
        duration_s=args.duration,
        scenario=args.scenario,
        deviations=_deviations(args.serve_module, args.system, args.deviate or ()),
        capture=args.capture,
    )
    if options.capture and not hasattr(args.serve_module, "CAPTURE"):
        print(
            f"hil serve {args.system}: --capture is not offered by this system yet "
            "(hil serve <system> --help tells per system)",
            file=sys.stderr,
        )
        return 2
    # With the capture on standard output, the status lines go to standard error.
    out = sys.stderr if options.capture == "-" else sys.stdout
    return int(args.serve_module.run(options, args, out))


def _deviations(module: ModuleType, system: str, names: Sequence[str]) -> tuple[str, ...]:
    """``--deviate`` names checked against the system's ``DEVIATIONS`` (a system whose serve
    module declares none takes none): DeviationError, one line, exit 2."""
    from devices.deviations import Deviations

    if names:
        Deviations.of(names, getattr(module, "DEVIATIONS", {}), system)
    return tuple(dict.fromkeys(names))


def _scenario(args: argparse.Namespace) -> int:
    from scenarios.ble_router.worlds import build_bed, load_scenario, populate

    scenario = load_scenario(args.file)
    trace = Path(args.trace) if args.trace else None
    bed = build_bed(scenario, seed=args.seed, trace_path=trace, keep_trace=trace is None)
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


def _fuzz(args: argparse.Namespace) -> int:
    import time

    from scenarios.control_fuzz import SYSTEMS as SHARED_WORLD_CONTROL

    module = importlib.import_module(FUZZED[args.system])
    offered = tuple(module.INTERFACES)
    if args.system in SHARED_WORLD_CONTROL and WORLD_CONTROL not in offered:
        offered += (WORLD_CONTROL,)
    chosen = args.interface or list(offered)
    unknown = [i for i in chosen if i not in offered]
    if unknown:
        print(
            f"hil fuzz {args.system}: interface {unknown[0]!r} not accepted; accepted: "
            f"{', '.join(offered)}",
            file=sys.stderr,
        )
        return 2
    print(
        f"hil fuzz {args.system}: {', '.join(chosen)}; {args.examples} inputs each, "
        f"seed {args.seed}",
        flush=True,
    )
    failed = []
    for interface in chosen:

        def progress(done: int, total: int, interface: str = interface) -> None:
            print(f"  {interface}: {done}/{total} inputs", file=sys.stderr, flush=True)

        started = time.monotonic()
        tally = module.campaign(interface, args.examples, args.seed, progress=progress)
        print(f"{tally.summary()}\n  ({time.monotonic() - started:.1f} s)", flush=True)
        if not tally.ok:
            failed.append(interface)
    print(f"not ok: {', '.join(failed)}" if failed else "all ok")
    return 1 if failed else 0


def _add_fuzz(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fuzz",
        help="throw generated inputs at a reference system's interfaces",
        description="Run fuzz campaigns against a reference system served in its own world: "
        "inputs drawn from its interface descriptions (OpenAPI, protobuf, frame formats), "
        "answers classified, then a good request must still be answered and stored state be "
        "intact. Prints each campaign's tally; exit 1 when one finds a crash, hang, unhandled "
        "error or auth bypass, or a state check fails; 2 on bad input.",
    )
    p.add_argument("system", choices=sorted(FUZZED), help="the system to fuzz")
    p.add_argument(
        "--interface",
        action="append",
        metavar="I",
        help="an interface of the system (repeatable; default: all of them, e.g. ble-router: "
        "router-http, world-control, sse-churn, slow-connections, login)",
    )
    p.add_argument(
        "--examples",
        type=int,
        default=10_000,
        metavar="N",
        help="inputs per interface (default: %(default)s, a full campaign)",
    )
    p.add_argument("--seed", type=int, default=1, help="the campaign's seed (default: 1)")
    p.set_defaults(func=_fuzz)


def _profiles(_args: argparse.Namespace) -> int:
    from conformance.catalog import LEVELS, list_profiles, load_catalog

    for profile in list_profiles():
        catalog = load_catalog(profile)
        levels = Counter(r.level for r in catalog.requirements)
        split = ", ".join(f"{levels[level]} {level}" for level in LEVELS if levels[level])
        print(
            f"{profile:<16} {len(catalog.requirements):>4} requirements "
            f"({split})  catalog {catalog.version}  {catalog.title}"
        )
    return 0


def _bench(args: argparse.Namespace) -> int:
    if args.compare:
        from benchmarks.compare import run_compare

        return run_compare(args.names, args.json, Path(args.reports) / "bench")
    from benchmarks.runner import run_all

    return run_all(args.names, args.json)


# -- the parser ---------------------------------------------------------------------------------


def _served_system(argv: Sequence[str]) -> str | None:
    """The system named by ``hil serve <system> ...``, if ``argv`` names one."""
    if len(argv) >= 2 and argv[0] == "serve" and argv[1] in SERVED:
        return argv[1]
    return None


def _serve_module(system: str) -> ModuleType:
    name = SERVED[system][0]
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ServeUnavailable(f"cannot load {name}: {exc}") from exc


def _add_serve_options(p: argparse.ArgumentParser, system: str, module: ModuleType) -> None:
    """The options every system shares (see :mod:`scenarios.serving`), then the system's own."""
    common = p.add_argument_group("options every hil serve shares")
    common.add_argument(
        "--host", default="127.0.0.1", help="address every listener binds (default: %(default)s)"
    )
    common.add_argument(
        "--port",
        type=_port,
        help=f"port of {SERVED[system][2]}; 0 = a free port, printed "
        f"(default: {module.DEFAULT_PORT})",
    )
    common.add_argument(
        "--control-port",
        type=_port,
        metavar="PORT",
        help="the world-control API port; 0 = a free port, printed "
        f"(default: {module.DEFAULT_CONTROL_PORT})",
    )
    common.add_argument(
        "--seed", type=int, default=1, metavar="N", help="the world's seed (default: %(default)s)"
    )
    common.add_argument(
        "--scale",
        type=_positive("scale"),
        default=1.0,
        metavar="X",
        help="world seconds per wall second (default: %(default)s)",
    )
    common.add_argument(
        "--duration",
        type=_positive("duration"),
        metavar="SECONDS",
        help="stop after this many wall seconds, whatever the scale (default: until stopped)",
    )
    common.add_argument(
        "--scenario",
        metavar="NAME|FILE",
        help="a world file: a name in the system's worlds/ or a path",
    )
    common.add_argument(
        "--capture",
        metavar="FILE|-",
        help="stream a pcapng of the world's media (world time) to FILE, or '-' for standard "
        "output: hil serve ... --capture - | wireshark -k -i -"
        + (f" (here: {module.CAPTURE})" if hasattr(module, "CAPTURE") else " (not offered here)"),
    )
    common.add_argument(
        "--deviate",
        action="append",
        metavar="NAME",
        help="misbehave in this named way (repeatable; see conformance/deviations/)",
    )
    module.add_arguments(p.add_argument_group(f"options of {system} only"))


def _add_serve(sub: argparse._SubParsersAction, argv: Sequence[str]) -> None:
    p = sub.add_parser(
        "serve",
        help="serve a reference system with its simulated devices, in real time on loopback",
        description="Serve a reference system with its simulated devices in real time, so "
        "curl, SDKs, real clients and the harness itself (as an outside SUT) can talk to it. "
        "Prints one 'listening <role> <address>' line per listener, then 'ready'.",
    )
    systems = p.add_subparsers(dest="system", required=True, metavar="SYSTEM")
    chosen = _served_system(argv)
    for system, (_, summary, _) in SERVED.items():
        s = systems.add_parser(system, help=summary, description=f"hil serve {system}: {summary}.")
        if system == chosen:
            module = _serve_module(system)
            _add_serve_options(s, system, module)
            s.set_defaults(func=_serve, serve_module=module)


def _add_conformance(sub: argparse._SubParsersAction) -> None:
    from conformance.catalog import list_profiles
    from conformance.sut import list_suts

    p = sub.add_parser(
        "conformance",
        help="run a conformance profile against a SUT",
        description="Run a profile's scenarios against a SUT and write reports/<run-id>/ "
        "(report.html, junit.xml, results.json, cucumber.json). Exit 1 when a mandatory "
        "requirement fails or errs or the SUT cannot be reached; 2 on bad input, such as a "
        "declaration that does not fit the profile or a -k matching no scenario.",
    )
    p.add_argument(
        "--profile",
        default="ble-router",
        metavar="PROFILE",
        help=f"one of: {', '.join(list_profiles())}; or a catalog YAML file (default: %(default)s)",
    )
    p.add_argument(
        "--sut",
        default="builtin",
        metavar="builtin|FILE",
        help="builtin (the harness's own reference implementations), another declaration in "
        f"conformance/suts/ ({', '.join(list_suts())}) or a SUT declaration YAML file "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--clock",
        choices=("virtual", "real"),
        default="virtual",
        help="virtual: simulated time, as fast as the work allows; real: the wall clock, for "
        "an outside SUT (default: %(default)s)",
    )
    p.add_argument("--seed", type=int, default=1, help="the world's seed (default: %(default)s)")
    p.add_argument(
        "--reports", default="reports", help="where reports/<run-id>/ go (default: %(default)s)"
    )
    p.add_argument(
        "-k",
        dest="select",
        metavar="EXPR",
        help="only scenarios matching this pytest -k expression (default: all of the profile)",
    )
    p.add_argument(
        "-n",
        dest="workers",
        type=int,
        metavar="N",
        help="spread scenarios over N local processes (pytest-xdist; 0: one process); the "
        "report is the one a single process writes (default: one a core, at most "
        f"{DEFAULT_MAX_WORKERS}, with the builtin SUT; one process with an outside SUT, which "
        "scenarios must not share at once)",
    )
    p.add_argument(
        "--tx",
        action="append",
        metavar="SPEC",
        help="also (or instead) run scenarios on this execnet worker, repeatable: '2*popen', "
        "'ssh=user@host//python=PATH/.venv/bin/python//chdir=PATH' (the project installed "
        "there); passed to pytest-xdist",
    )
    p.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print only the verdict counts and the report path, not pytest's progress",
    )
    p.set_defaults(func=_conformance)


def _selfcheck(args: argparse.Namespace) -> int:
    from conformance.selfcheck import main_table, run_selfcheck

    if args.target is not None and not 0 <= args.target <= 100:
        raise ValueError(f"--target {args.target:g} not accepted; accepted: 0-100 (percent)")
    result = run_selfcheck(
        args.profile,
        args.deviations,
        full=args.full,
        seed=args.seed,
        target=args.target,
        baseline=not args.no_baseline,
        jobs=args.jobs,
        reports_dir=args.reports,
        progress=None if args.quiet else (sys.stderr if args.json else sys.stdout),
    )
    return main_table(result, args.json)


def _add_selfcheck(sub: argparse._SubParsersAction) -> None:
    from conformance.deviations import list_deviation_profiles
    from conformance.selfcheck import DEFAULT_TARGET

    p = sub.add_parser(
        "selfcheck",
        help="measure what the scenarios catch: run them against deliberately deviant builtins",
        description="For each deviation of the profile (conformance/deviations/<profile>.yaml) "
        "run the scenarios of the requirements it must be caught by against the builtin SUT "
        "told to misbehave that way, after a baseline run without deviations, and print the "
        "detection table: deviation -> the requirements that caught it, or MISSED. Exit 1 "
        "below the target share, when the baseline is not clean or a run could not be made; "
        "2 on bad input.",
    )
    p.add_argument(
        "--profile",
        default="ble-router",
        metavar="PROFILE",
        help=f"one of: {', '.join(list_deviation_profiles())} (default: %(default)s)",
    )
    p.add_argument(
        "--deviation",
        dest="deviations",
        action="append",
        metavar="NAME",
        help="only this deviation (repeatable; default: all of the profile)",
    )
    p.add_argument(
        "--full",
        action="store_true",
        help="run the whole profile for each deviation, not only the scenarios it must fail",
    )
    p.add_argument(
        "--target",
        type=float,
        default=DEFAULT_TARGET,
        metavar="PCT",
        help="the share of deviations that must be caught (default: %(default)g)",
    )
    p.add_argument("--seed", type=int, default=1, help="the world's seed (default: %(default)s)")
    p.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="deviations checked at once, each in its own process (default: %(default)s)",
    )
    p.add_argument(
        "--no-baseline",
        action="store_true",
        help="skip the run without deviations that shows the scenarios pass to begin with",
    )
    p.add_argument(
        "--reports",
        default="reports",
        help="where reports/selfcheck-<stamp>-<profile>/ goes (default: %(default)s)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines, only the table")
    p.set_defaults(func=_selfcheck)


def _add_bench(sub: argparse._SubParsersAction) -> None:
    from benchmarks.runner import describe_benchmarks

    p = sub.add_parser(
        "bench",
        help="run benchmarks and print their figures",
        description="Run benchmarks, each in a process of its own, and print their figures: "
        "simulated and wall seconds, speed-up over real time, peak memory.",
        epilog=describe_benchmarks(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="benchmarks to run, or with --compare comparisons: ble, rs485, cm (default: all)",
    )
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument(
        "--compare",
        action="store_true",
        help="each benchmark next to its bare-stack baseline measured in the same process "
        "(stock Bumble LocalLink, pymodbus in memory, grpcio in-process): both figures and "
        "their ratio, as a table; JSON and an SVG plot written under REPORTS/bench/",
    )
    p.add_argument("--reports", default="reports", help="where bench/ goes (default: %(default)s)")
    p.set_defaults(func=_bench)


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The ``hil`` parser for ``argv``: only a ``serve`` subcommand ``argv`` names gets its
    system's options (and loads that system's module); ServeUnavailable if it cannot load."""
    parser = argparse.ArgumentParser(
        prog="hil",
        description="gateway-hil: simulate IoT gateway worlds and judge gateways against "
        "their API documents",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_conformance(sub)
    _add_serve(sub, argv)

    p = sub.add_parser("scenario", help="run a declarative BLE world file in virtual time")
    p.add_argument("action", choices=("run",))
    p.add_argument("file", help="a world name (scenarios/ble_router/worlds) or a YAML file")
    p.add_argument("--seed", type=int, help="the world's seed (default: the file's)")
    p.add_argument("--duration", type=float, help="simulated seconds (default: the file's)")
    p.add_argument("--trace", help="write the timeline (JSON lines) here")
    p.set_defaults(func=_scenario)

    p = sub.add_parser("profiles", help="list conformance profiles")
    p.set_defaults(func=_profiles)

    _add_fuzz(sub)

    _add_selfcheck(sub)
    _add_bench(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser(argv)
    except ServeUnavailable as exc:
        print(f"hil serve {argv[1]}: {exc}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``hil ... | head``): stop quietly, as Unix tools do, and keep
        # Python from complaining when it flushes standard output on the way out.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (ValueError, OSError) as exc:
        where = " ".join(filter(None, (args.command, getattr(args, "system", None))))
        print(f"hil {where}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
