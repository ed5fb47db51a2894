"""run_conformance end to end against a tiny project, in a pytest subprocess."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conformance.run import (
    NothingSelected,
    _make_run_dir,
    new_run_id,
    profile_marker,
    run_conformance,
)

FEATURE = """\
@profile_mini_router
Feature: Mini router

  @req:MINI-OK
  Scenario: it works
    Given a router
    Then it works

  @req:MINI-BAD
  Scenario: it misbehaves
    Given a router
    Then the answer is 42
"""

STEPS = """\
from pytest_bdd import given, scenarios, then

from conformance.evidence import expect

scenarios("mini.feature")


@given("a router")
def router(hil_record, hil_config):
    hil_record["measurements"]["rtt_ms"] = [hil_config.seed * 1.0]


@then("it works")
def works():
    pass


@then("the answer is 42")
def answer():
    expect(41 == 42, expected="answer 42", observed="answer 41")
"""

CATALOG = """\
profile: mini-router
title: Mini router
version: "0.9"
requirements:
  - id: MINI-OK
    section: A
    text: works
    level: mandatory
    source: {kind: standard, document: Mini, clause: "1"}
  - id: MINI-BAD
    section: A
    text: answers 42
    level: LEVEL
    source: {kind: standard, document: Mini, clause: "2"}
  - id: MINI-NONE
    section: B
    text: untested
    level: optional
    source: {kind: standard, document: Mini, clause: "3"}
"""


def make_project(tmp_path: Path, bad_level: str) -> tuple[Path, Path]:
    project = tmp_path / "project"
    (project / "features").mkdir(parents=True)
    (project / "features" / "mini.feature").write_text(FEATURE)
    (project / "features" / "test_mini.py").write_text(STEPS)
    catalog = tmp_path / "mini-router.yaml"
    catalog.write_text(CATALOG.replace("LEVEL", bad_level))
    return project, catalog


def test_mandatory_failure_gives_exit_1_and_a_full_report(tmp_path: Path) -> None:
    project, catalog = make_project(tmp_path, "mandatory")
    out = io.StringIO()
    run_dir, code = run_conformance(
        catalog,
        seed=9,
        reports_dir=tmp_path / "reports",
        project_dir=project,
        out=out,
    )
    assert code == 1
    assert run_dir.parent == tmp_path / "reports"
    assert re.fullmatch(r"\d{8}-\d{6}-mini-router-9", run_dir.name)
    for name in ("report.html", "junit.xml", "cucumber.json", "results.json", "pytest.log"):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "evidence").is_dir()
    results = json.loads((run_dir / "results.json").read_text())
    assert results["run_id"] == run_dir.name
    assert results["command"] == (
        "hil conformance --profile mini-router --sut builtin --clock virtual --seed 9"
    )
    assert {r["id"]: r["verdict"] for r in results["requirements"]} == {
        "MINI-OK": "pass",
        "MINI-BAD": "fail",
        "MINI-NONE": "not-run",
    }
    assert results["pytest_exit_code"] == 1
    assert results["scenarios"][0]["measurements"] == {"rtt_ms": [9.0]}
    assert "-m profile_mini_router" in results["pytest_command"]
    progress = out.getvalue()
    assert "1 passed" in progress and "1 pass, 1 fail, 1 not-run" in progress
    assert "expected answer 42, observed answer 41" in (run_dir / "junit.xml").read_text()


def test_optional_failure_only_and_quiet_run(tmp_path: Path) -> None:
    project, catalog = make_project(tmp_path, "optional")
    out = io.StringIO()
    run_dir, code = run_conformance(
        catalog,
        reports_dir=tmp_path / "reports",
        project_dir=project,
        progress=False,
        command="hil conformance --profile mini-router",
        out=out,
    )
    assert code == 0
    # quiet: no pytest progress, but still the verdict counts
    assert out.getvalue() == "hil: 1 pass, 1 fail, 1 not-run; coverage 2/3\n"
    assert "1 failed, 1 passed" in (run_dir / "pytest.log").read_text()
    results = json.loads((run_dir / "results.json").read_text())
    assert results["command"] == "hil conformance --profile mini-router"


def test_broken_pytest_run_reports_its_exit_code(tmp_path: Path) -> None:
    project, catalog = make_project(tmp_path, "mandatory")
    run_dir, code = run_conformance(
        catalog,
        reports_dir=tmp_path / "reports",
        project_dir=project,
        extra_pytest_args=["--no-such-option"],
        progress=False,
    )
    assert code == 4  # pytest usage error
    results = json.loads((run_dir / "results.json").read_text())
    assert results["summary"]["not-run"] == 3


def test_run_naming() -> None:
    assert profile_marker("ble-router") == "profile_ble_router"
    when = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert new_run_id("ble-router", 3, when) == "20250304-050607-ble-router-3"


def test_same_second_runs_get_distinct_directories(tmp_path: Path) -> None:
    first, first_id = _make_run_dir(tmp_path, "20250304-050607-x-1")
    second, second_id = _make_run_dir(tmp_path, "20250304-050607-x-1")
    assert first != second and second_id == "20250304-050607-x-1-2"


def test_bad_clock_is_rejected_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'warp'.*virtual, real"):
        run_conformance("ble-router", clock="warp", reports_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_selection_matching_nothing_is_an_error_and_leaves_no_report(tmp_path: Path) -> None:
    project, catalog = make_project(tmp_path, "mandatory")
    reports = tmp_path / "reports"
    with pytest.raises(
        NothingSelected, match="-k 'typo' selected no scenario of profile mini-router"
    ):
        run_conformance(
            catalog, reports_dir=reports, project_dir=project, progress=False, select="typo"
        )
    assert list(reports.iterdir()) == []


def test_selection_runs_only_matching_scenarios(tmp_path: Path) -> None:
    project, catalog = make_project(tmp_path, "mandatory")
    run_dir, code = run_conformance(
        catalog,
        reports_dir=tmp_path / "reports",
        project_dir=project,
        progress=False,
        select="works",
        out=io.StringIO(),
    )
    assert code == 0
    results = json.loads((run_dir / "results.json").read_text())
    assert [s["name"] for s in results["scenarios"]] == ["it works"]
