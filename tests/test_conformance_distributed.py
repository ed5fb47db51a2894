"""A conformance run spread over pytest-xdist workers writes the report a single process writes.

The rs485-modbus profile (virtual time, seconds of work) runs once in one process and once over
two ``popen`` execnet workers (``hil conformance --tx 2*popen``); verdicts, scenario records,
evidence and report content must match, apart from run ids, wall-clock times and worker names.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from conformance.cli import _xdist_args, default_workers
from conformance.run import run_conformance

pytest_plugins = ["pytester"]

PROFILE = "rs485-modbus"
# Whatever depends on the wall clock, the run id or the process a scenario ran in.
VOLATILE_KEYS = {
    "run_id",
    "started",
    "finished",
    "pytest_command",
    "wall_start",
    "wall_seconds",
    "duration_ns",
    "duration",
    "worker",
}
_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:\+00:00|Z)?")
_DECIMAL = re.compile(r"\d+\.\d+")


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def _text(path: Path, run_dir: Path) -> str:
    text = path.read_text(encoding="utf-8").replace(str(run_dir), "RUN").replace(run_dir.name, "ID")
    return _DECIMAL.sub("N", _STAMP.sub("T", text))


def _run(tmp_path: Path, name: str, pytest_args: list[str]) -> Path:
    run_dir, code = run_conformance(
        PROFILE, reports_dir=tmp_path / name, extra_pytest_args=pytest_args, progress=False
    )
    assert code == 0, (run_dir / "pytest.log").read_text()
    return run_dir


def test_workers_and_tx_become_xdist_options() -> None:
    assert _xdist_args(None, ["2*popen"]) == ["--tx", "2*popen", "--dist", "load"]
    assert _xdist_args(3, None) == ["-n", "3"]
    assert _xdist_args(0, None) == ["-n", "0"]
    assert _xdist_args(None, None) == []
    assert _xdist_args(2, ["ssh=h//python=p"]) == [
        *("--tx", "2*popen", "--tx", "ssh=h//python=p", "--dist", "load")
    ]


def test_builtin_runs_use_the_cores_and_an_outside_sut_one_process() -> None:
    assert default_workers("builtin", cores=2) == 2
    assert default_workers("builtin", cores=16) == 4  # at most four
    assert default_workers("builtin", cores=1) == 0  # one process
    assert default_workers("my-router.yaml", cores=8) == 0  # one device: never shared at once


@pytest.mark.slow
def test_two_popen_workers_write_what_one_process_writes(tmp_path: Path) -> None:
    single = _run(tmp_path, "single", [])
    spread = _run(tmp_path, "spread", _xdist_args(None, ["2*popen"]))
    log = (spread / "pytest.log").read_text()
    assert "2 workers" in log, log[-2000:]  # it really ran on two workers

    one, two = (json.loads((d / "results.json").read_text()) for d in (single, spread))
    assert one["summary"] == two["summary"] and one["summary"]["pass"] > 0
    assert [(r["id"], r["verdict"]) for r in one["requirements"]] == [
        (r["id"], r["verdict"]) for r in two["requirements"]
    ]
    assert _stable(one) == _stable(two)

    records = [json.loads((d / "scenario-records.json").read_text()) for d in (single, spread)]
    assert {r.get("worker") for r in records[1]} == {"gw0", "gw1"}
    assert _stable(records[0]) == _stable(records[1])

    files = [
        sorted(p.relative_to(d) for p in (d / "evidence").rglob("*")) for d in (single, spread)
    ]
    assert files[0] == files[1] and files[0]
    for relative in files[0]:
        if relative.suffix == ".jsonl":  # timelines are virtual time: equal byte for byte
            assert (single / relative).read_bytes() == (spread / relative).read_bytes(), relative

    for name in ("report.html", "junit.xml"):
        assert _text(single / name, single) == _text(spread / name, spread), name
    cucumber = [_stable(json.loads(_text(d / "cucumber.json", d))) for d in (single, spread)]
    assert cucumber[0] == cucumber[1]


def test_a_worker_on_another_host_ships_its_evidence(pytester: pytest.Pytester) -> None:
    """A worker that is not a local popen process writes evidence in a directory of its own and
    hands the files back with its records; the controller writes them under its evidence root."""
    pytester.makepyfile(
        test_remote="""
        import pytest

        @pytest.mark.req("R-1")
        def test_leaves_evidence(hil_evidence_dir):
            (hil_evidence_dir / "trace.jsonl").write_text("{}")
        """
    )
    pytester.makeconftest(
        """
        def pytest_configure_node(node):
            node.workerinput["hil_ship_evidence"] = True  # as for an ssh worker
        """
    )
    out = pytester.path / "out"
    result = pytester.runpytest_subprocess(
        "-p",
        "conformance.pytest_plugin",
        "--hil-results",
        str(out / "records.json"),
        "--hil-evidence-dir",
        str(out / "evidence"),
        "--tx",
        "popen",
        "--dist",
        "load",
    )
    result.assert_outcomes(passed=1)
    (record,) = json.loads((out / "records.json").read_text())
    (evidence,) = record["evidence"]
    assert evidence.startswith("evidence/") and evidence.endswith("/trace.jsonl")
    assert (out / evidence).read_text() == "{}"


def test_slow_work_starts_first_on_workers_and_records_keep_collection_order(
    pytester: pytest.Pytester,
) -> None:
    """Under xdist what is marked slow runs first (one worker takes it while the other runs
    the rest); the records still follow the collection order."""
    started = pytester.path / "started.log"
    pytester.makepyfile(
        test_order=f"""
        import pytest

        def _log(name):
            with open({str(started)!r}, "a") as log:
                log.write(name + " ")

        @pytest.mark.req("R-a")
        def test_a():
            _log("a")

        @pytest.mark.req("R-b")
        def test_b():
            _log("b")

        @pytest.mark.slow
        @pytest.mark.req("R-c")
        def test_c():
            _log("c")

        @pytest.mark.req("R-d")
        def test_d():
            _log("d")
        """
    )
    pytester.makeini("[pytest]\nmarkers =\n    slow: long-running\n")
    out = pytester.path / "out"
    result = pytester.runpytest_subprocess(
        "-p", "conformance.pytest_plugin", "--hil-results", str(out / "records.json"), "-n", "1"
    )
    result.assert_outcomes(passed=4)
    assert started.read_text().split() == ["c", "a", "b", "d"]  # one worker: c first
    records = json.loads((out / "records.json").read_text())
    assert [r["nodeid"].rsplit("::", 1)[1] for r in records] == [
        "test_a",
        "test_b",
        "test_c",
        "test_d",
    ]
