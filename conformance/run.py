"""One conformance run: pytest in a subprocess, then verdicts and the report.

pytest runs as a child process so one run's world (event loop, sockets, module state) can never
leak into the caller or into the next run.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from conformance.catalog import Catalog, load_catalog
from conformance.endpoints import check_declaration
from conformance.reachability import OPTION as UNREACHABLE_OPTION
from conformance.reachability import probe
from conformance.report import RunInfo, write_report
from conformance.report.run_info import reproduce_command, utc_now
from conformance.sut import SutDeclaration, load_sut
from conformance.verdicts import VERDICTS, ConformanceResult, compute_verdicts

PROJECT_DIR = Path(__file__).resolve().parent.parent
RECORDS_FILE = "scenario-records.json"
LOG_FILE = "pytest.log"
# pytest exit codes meaning the run itself broke: interrupted, internal error, usage error.
_PYTEST_BROKEN = (2, 3, 4)
_PYTEST_NOTHING_COLLECTED = 5


class NothingSelected(ValueError):
    """The run selected no scenario of the profile (a `-k` typo, or a profile without any)."""


def profile_marker(profile: str) -> str:
    """The pytest marker selecting a profile's scenarios: `ble-router` -> `profile_ble_router`."""
    return "profile_" + profile.replace("-", "_")


def new_run_id(profile: str, seed: int, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{profile}-{seed}"


def _make_run_dir(reports_dir: Path, run_id: str) -> tuple[Path, str]:
    """Create the run directory; a second run in the same second gets a `-2`, `-3`... suffix."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    candidate, n = run_id, 1
    while True:
        try:
            (reports_dir / candidate).mkdir()
            return reports_dir / candidate, candidate
        except FileExistsError:
            n += 1
            candidate = f"{run_id}-{n}"


def _sut_argument(sut: str | Path) -> str:
    """What the child gets as --hil-sut: names stay names, paths become absolute."""
    text = str(sut)
    if isinstance(sut, Path) or text.endswith((".yaml", ".yml")) or "/" in text:
        return str(Path(text).resolve())
    return text


def profile_features(profile: str, project_dir: str | Path = PROJECT_DIR) -> tuple[str, ...]:
    """The folders under ``features/`` holding a feature file tagged with ``profile``'s marker
    (``@profile_ble_router``): pytest collects only those, so a run imports no other system's
    steps; ``("features",)`` when no folder carries it."""
    tag = re.compile(rf"@{re.escape(profile_marker(profile))}\b")
    root = Path(project_dir) / "features"
    folders = sorted(
        {
            path.parent.relative_to(project_dir).as_posix()
            for path in root.glob("*/*.feature")
            if tag.search(path.read_text(encoding="utf-8"))
        }
    )
    return tuple(folders) or ("features",)


def pytest_command(
    profile: str,
    sut: str,
    seed: int,
    clock: str,
    records: Path,
    evidence_dir: Path,
    features: Sequence[str] = ("features",),
    extra_pytest_args: Sequence[str] = (),
) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest",
        *features,
        "-p",
        "conformance.pytest_plugin",
        "-m",
        profile_marker(profile),
        "--hil-sut",
        sut,
        "--hil-seed",
        str(seed),
        "--hil-clock",
        clock,
        "--hil-results",
        str(records),
        "--hil-evidence-dir",
        str(evidence_dir),
        *extra_pytest_args,
    ]


def _stream(cmd: list[str], cwd: Path, log: Path, progress: bool, out: TextIO) -> int:
    """Run `cmd`, copying its output to `log` and, with progress, to `out` as it comes."""
    env = dict(os.environ)
    env.setdefault("PYTHONHASHSEED", "0")  # same seed, same set/dict iteration order
    env["PYTHONUNBUFFERED"] = "1"
    with (
        log.open("w", encoding="utf-8") as sink,
        subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
        ) as child,
    ):
        assert child.stdout is not None
        try:
            for line in child.stdout:
                sink.write(line)
                if progress:
                    out.write(line)
                    out.flush()
            return child.wait()
        except BaseException:
            child.terminate()
            child.wait()
            raise


def load_records(path: Path) -> list[dict[str, Any]]:
    """The plugin's records, or [] when pytest never got to write them."""
    if not path.is_file():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of scenario records, got {type(data)}")
    return data


def summary_line(results: ConformanceResult) -> str:
    counts = results.summary
    parts = [f"{counts[str(v)]} {v}" for v in VERDICTS if counts[str(v)]]
    cov = results.coverage
    return f"{', '.join(parts) or 'no requirements'}; coverage {cov.covered}/{cov.total}"


def run_conformance(
    profile: str | Path,
    sut: str | Path = "builtin",
    seed: int = 1,
    clock: str = "virtual",
    reports_dir: str | Path = "reports",
    extra_pytest_args: Sequence[str] = (),
    progress: bool = True,
    *,
    select: str | None = None,
    requirements: Sequence[str] | None = None,
    command: str | None = None,
    project_dir: str | Path = PROJECT_DIR,
    features: Sequence[str] | None = None,
    out: TextIO | None = None,
) -> tuple[Path, int]:
    """Run a profile's scenarios against a SUT and write `reports/<run-id>/`.

    `profile` is a catalog profile name (or a catalog file path). `select` is a pytest `-k`
    expression choosing scenarios; `requirements` keeps only the scenarios carrying one of those
    requirement IDs (the other requirements end not-run). `command` is the `hil conformance ...`
    line recorded as the way to reproduce the run (reconstructed if None).
    `project_dir`/`features` say where pytest runs and what it collects (by default the folders
    of the project's own `features/` that hold the profile's scenarios). With `progress`,
    pytest's output streams to `out`; the verdict counts always end up there (one line).

    Before anything runs: CatalogError / SutError when the catalog or the SUT declaration is
    invalid, or the declaration does not fit the profile (:mod:`conformance.endpoints`). An
    outside SUT whose declared addresses cannot be reached gets every planned scenario as an
    `error` with one line saying what could not be reached (printed to `out` too).
    NothingSelected (no report left behind) when no scenario of the profile was selected.

    Returns (run directory, exit code): 1 when a mandatory requirement is fail or error, or the
    SUT could not be reached; pytest's own code when pytest itself broke (2 interrupted, 3
    internal error, 4 usage error); else 0.
    """
    if clock not in ("virtual", "real"):
        raise ValueError(f"clock {clock!r} not understood; accepted: virtual, real")
    out = out or sys.stdout
    catalog: Catalog = load_catalog(profile)
    sut_arg = _sut_argument(sut)
    declaration: SutDeclaration = load_sut(sut_arg)
    needed = [r.capability for r in catalog.requirements if r.capability]
    check_declaration(declaration, catalog.profile, needed)
    unreachable = probe(declaration, catalog.profile)

    run_dir, run_id = _make_run_dir(Path(reports_dir).resolve(), new_run_id(catalog.profile, seed))
    evidence_dir = run_dir / "evidence"
    evidence_dir.mkdir()
    records_path = run_dir / RECORDS_FILE
    pytest_args = list(extra_pytest_args)
    if select is not None:
        pytest_args += ["-k", select]
    if requirements:
        pytest_args += ["--hil-req", ",".join(requirements)]
    if unreachable is not None:
        pytest_args += ["-p", "conformance.reachability", f"{UNREACHABLE_OPTION}={unreachable}"]
    cmd = pytest_command(
        catalog.profile,
        sut_arg,
        seed,
        clock,
        records_path,
        evidence_dir,
        profile_features(catalog.profile, project_dir) if features is None else features,
        pytest_args,
    )
    info = RunInfo(
        run_id=run_id,
        profile=catalog.profile,
        seed=seed,
        clock=clock,
        command=command or reproduce_command(catalog.profile, str(sut), clock, seed),
        started=utc_now(),
        pytest_command=shlex.join(["python", *cmd[1:]]),
        log=LOG_FILE,
    )
    if progress:
        out.write(f"hil: run {run_id}: {catalog.profile} against {declaration.name}\n")
    if unreachable is not None:
        out.write(f"hil: {unreachable}; every planned scenario is an error\n")
    out.flush()
    streamed = progress and unreachable is None  # else one error line per scenario: log only
    info.pytest_exit_code = _stream(cmd, Path(project_dir), run_dir / LOG_FILE, streamed, out)
    info.finished = utc_now()

    records = load_records(records_path)
    if not records and info.pytest_exit_code == _PYTEST_NOTHING_COLLECTED:
        shutil.rmtree(run_dir)
        chosen = f"-k {select!r}" if select is not None else "the run"
        if requirements:
            chosen += f" (requirements {', '.join(requirements)})"
        raise NothingSelected(f"{chosen} selected no scenario of profile {catalog.profile}")
    results = compute_verdicts(catalog, declaration, records)
    write_report(run_dir, info, catalog, declaration, results)
    exit_code = results.exit_code
    if not exit_code and info.pytest_exit_code in _PYTEST_BROKEN:
        exit_code = info.pytest_exit_code
    if not exit_code and unreachable is not None:
        exit_code = 1
    out.write(f"hil: {summary_line(results)}\n")
    if info.pytest_exit_code in _PYTEST_BROKEN:
        out.write(f"hil: pytest stopped with exit code {info.pytest_exit_code}\n")
    out.flush()
    return run_dir, exit_code
