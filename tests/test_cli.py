"""The ``hil`` command: serve subcommands, their imports, and how ``hil conformance`` treats a bad
SUT declaration, an unreachable SUT, a selection matching nothing and ``-q``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.cli import SERVED, main
from tests.served import ROOT, served

# A system's own options so that it starts quickly and writes nothing into the work tree.
SERVE_ARGS: dict[str, list[str]] = {
    "ble-router": ["--peripherals", "1"],
    "ble-ac": ["--routers", "1", "--peripherals", "1"],
    "connect-master": ["--gateway-port", "0", "--terminals", "1"],
    "rs485": ["--units", "1"],
    "mqtt-platform": ["--gateways", "2"],
    "mqtt-gateway": ["--platform-control-port", "0"],
    "device2": ["--devices", "1"],
}
# The stack each system's serve stands on; it must never load another system's.
# (the MQTT platform emulator emits its events through bumble's EventEmitter, no radio)
OWN: dict[str, str] = {
    "ble-router": "bumble",
    "ble-ac": "bumble",
    "connect-master": "grpc",
    "rs485": "pymodbus",
    "mqtt-platform": "aiohttp",
    "mqtt-gateway": "paho",
    "device2": "paho",
}
FOREIGN: dict[str, set[str]] = {
    "ble-router": {"grpc", "pymodbus", "osdp"},
    "ble-ac": {"grpc", "pymodbus", "osdp"},
    "connect-master": {"bumble", "pymodbus", "osdp"},
    "rs485": {"bumble", "grpc"},
    "mqtt-platform": {"grpc", "pymodbus", "osdp", "paho"},
    "mqtt-gateway": {"grpc", "osdp"},
    "device2": {"grpc", "pymodbus", "osdp"},
}
STACKS = {"bumble", "grpc", "pymodbus", "osdp"}


def _hil(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},  # help text on long lines, unbroken
    )


# -- hil serve ----------------------------------------------------------------------------------


def test_every_system_is_a_serve_subcommand() -> None:
    assert set(SERVED) == set(SERVE_ARGS) == set(FOREIGN) == set(OWN)
    shown = _hil("serve", "--help")
    assert shown.returncode == 0
    for system in SERVED:
        assert system in shown.stdout


@pytest.mark.parametrize("system", sorted(SERVED))
def test_serve_takes_free_ports_and_runs_for_wall_seconds(system: str, tmp_path: Path) -> None:
    extra = [
        *SERVE_ARGS[system],
        *(["--out-dir", str(tmp_path)] if system == "connect-master" else []),
    ]
    with served(
        system, "--port", "0", "--control-port", "0", "--scale", "10", "--duration", "4", *extra
    ) as running:
        ports = {role: running.port(role) for role, a in running.listening.items() if ":" in a}
        assert "control" in ports and len(ports) >= 2, running.output
        for role, port in ports.items():
            assert port > 0, (role, running.output)
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                pass
        code = running.proc.wait(15)
        elapsed = time.monotonic() - running.ready_at
    assert code == 0, running.output
    # --duration counts wall seconds, whatever --scale says
    assert 3.5 <= elapsed < 15, (elapsed, running.output)


def _imported(*args: str) -> set[str]:
    """Top-level packages that ``hil <args>`` imports (``python -X importtime``)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "conformance.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


@pytest.mark.parametrize("system", sorted(SERVED))
def test_serve_help_loads_only_its_own_stack(system: str) -> None:
    loaded = _imported("serve", system, "--help")
    assert OWN[system] in loaded  # its options come from its module, loaded with its stack
    assert not loaded & FOREIGN[system], loaded & FOREIGN[system]


@pytest.mark.parametrize("args", [("serve", "--help"), ("conformance", "--help"), ("--help",)])
def test_help_without_a_system_loads_no_stack(args: tuple[str, ...]) -> None:
    loaded = _imported(*args)
    assert not loaded & STACKS, loaded & STACKS


@pytest.mark.parametrize(
    ("option", "value"), [("--port", "70000"), ("--scale", "0"), ("--duration", "-1")]
)
def test_serve_rejects_bad_common_options(option: str, value: str) -> None:
    proc = _hil("serve", "ble-router", option, value)
    assert proc.returncode == 2
    assert f"{value!r} not accepted; accepted:" in proc.stderr


def test_help_lists_choices_defaults_and_benchmarks() -> None:
    from benchmarks.runner import BENCHMARKS
    from conformance.catalog import list_profiles

    conformance = _hil("conformance", "--help").stdout
    for profile in list_profiles():
        assert profile in conformance
    for text in ("builtin", "virtual", "real", "(default: ble-router)", "(default: virtual)"):
        assert text in conformance
    bench = _hil("bench", "--help").stdout
    for name, (_, what) in BENCHMARKS.items():
        assert name in bench
        assert " ".join(what.split()[:3]) in " ".join(bench.split())


# -- hil conformance: the declaration against the profile, before anything runs ----------------

LAB: dict[str, Any] = {
    "name": "lab",
    "identity": {"vendor": "Acme", "model": "GW-9", "firmware": "1.0"},
    "role": "gateway",
    "endpoints": {"ble-router": {"base_url": "http://127.0.0.1:8080"}},
    "capabilities": ["scan", "connect", "world-control"],
}


def _sut(tmp_path: Path, **changes: Any) -> Path:
    path = tmp_path / "lab.yaml"
    path.write_text(yaml.safe_dump({**LAB, **changes}), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("profile", "changes", "fragments"),
    [
        (
            "ble-router",
            {"endpoints": {"rs485-modbus": {"tcp": "127.0.0.1:5020"}}},
            ["endpoints.ble-router is missing", "accepted: a mapping with base_url"],
        ),
        (
            "ble-router",
            {"endpoints": {"ble-router": {"base_url": "127.0.0.1:8080"}}},
            ["endpoints.ble-router.base_url is '127.0.0.1:8080'", "accepted: http://host"],
        ),
        (
            "ble-router",
            {"endpoints": {"ble-router": {"base_url": "http://h:1", "world_control": "ftp://h"}}},
            ["endpoints.ble-router.world_control is 'ftp://h'", "accepted: http://host"],
        ),
        (
            "ble-router",
            {"capabilities": ["scan", "teleport"]},
            ["capabilities[1] 'teleport'", "accepted: admin-login, advertise"],
        ),
        (
            "connect-master",
            {"endpoints": {"connect-master": {"address": "master", "ca": "c", "cert": "c"}}},
            ["endpoints.connect-master.address is 'master'", "accepted: host:port"],
        ),
        (
            "rs485-modbus",
            {"endpoints": {"rs485-modbus": {"unit": 1}}},
            ["endpoints.rs485-modbus names none as its bridge", "exactly one of tcp"],
        ),
        (
            "rs485-osdp",
            {"endpoints": {"rs485-osdp": {"tcp": "localhost"}}},
            ["endpoints.rs485-osdp.tcp is 'localhost'", "accepted: host:port"],
        ),
    ],
)
def test_bad_declaration_is_one_line_and_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    profile: str,
    changes: dict[str, Any],
    fragments: list[str],
) -> None:
    sut = _sut(tmp_path, **changes)
    reports = tmp_path / "reports"
    code = main(["conformance", "--profile", profile, "--sut", str(sut), "--reports", str(reports)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == "" and len(err.splitlines()) == 1, err
    assert err.startswith(f"hil conformance: {sut}: ")
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    assert not reports.exists()  # nothing ran


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_sut_gives_one_line_and_an_error_per_scenario(tmp_path: Path) -> None:
    port = _closed_port()
    base_url = f"http://127.0.0.1:{port}"
    sut = _sut(
        tmp_path,
        endpoints={"ble-router": {"base_url": base_url, "world_control": base_url}},
        capabilities=["scan", "connect", "gatt", "notify", "info", "world-control"],
    )
    reports = tmp_path / "reports"
    started = time.monotonic()
    proc = _hil(
        "conformance", "--sut", str(sut), "--clock", "real", "--reports", str(reports), "-q"
    )
    elapsed = time.monotonic() - started
    text = proc.stdout + proc.stderr
    assert proc.returncode == 1, text
    assert len(text.splitlines()) < 20 and "Traceback" not in text, text
    assert f"endpoints.ble-router.base_url {base_url} (connection refused)" in text
    assert elapsed < 120, elapsed  # no scenario waits on the closed port
    [run_dir] = list(reports.iterdir())
    results = json.loads((run_dir / "results.json").read_text())
    ran = [s for s in results["scenarios"] if s["outcome"] != "skipped"]
    assert ran and {s["outcome"] for s in ran} == {"error"}
    assert all("could not be reached" in s["failure"]["message"] for s in ran)
    verdicts = {r["verdict"] for r in results["requirements"]}
    assert "error" in verdicts and not verdicts & {"pass", "fail", "inconclusive"}, verdicts
    assert f" {results['summary']['error']} error" in proc.stdout  # -q: still the counts


def test_k_selecting_nothing_fails_with_a_clear_message(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    proc = _hil("conformance", "-k", "no_such_scenario_anywhere", "--reports", str(reports), "-q")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "hil conformance: -k 'no_such_scenario_anywhere' selected no scenario of profile ble-router"
    )
    assert not reports.exists() or not list(reports.iterdir())


def test_quiet_run_prints_the_verdict_counts(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    proc = _hil("conformance", "-k", "router_describes_itself", "--reports", str(reports), "-q")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("hil: ") and " pass" in lines[0] and "coverage " in lines[0]
    assert lines[1].startswith("report: ")


def test_scenario_run_plays_a_world_file() -> None:
    proc = _hil("scenario", "run", "ble-room", "--duration", "5", "--seed", "3")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "scenario ble-room: 5 peripherals, 5 s simulated"


def test_a_reader_that_goes_away_stops_a_run_quietly(tmp_path: Path) -> None:
    """``hil conformance ... | head -1``: exit 141 as Unix tools do, no traceback, no complaint."""
    run = ["conformance", "--profile", "rs485-modbus", "--reports", str(tmp_path)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "conformance.cli", *run],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(b"hil: run ")
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, stderr
    assert "Broken pipe" not in stderr and "Traceback" not in stderr
