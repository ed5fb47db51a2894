"""The pytest plugin end to end: a tiny pytest-bdd project run through pytester."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest

from conformance.evidence import Expectation, expect, scenario_slug

pytest_plugins = ["pytester"]

FEATURE = """\
@profile_demo
Feature: Demo router

  @req:DEMO-PASS
  Scenario: reports arrive
    Given a router
    When I scan
    Then reports arrive

  @req:DEMO-TELE @needs:teleport
  Scenario: teleporting
    Given a router
    Then I teleport

  @req:DEMO-RSSI @needs:scan
  Scenario: weak reports are dropped
    Given a router
    When I scan
    Then no report is weaker than -70 dBm
    And nothing else happens

  @req:DEMO-ASSERT
  Scenario: plain assertion
    Given a router
    Then a plain assert fails

  @req:DEMO-ERR
  Scenario: harness breaks
    Given a router
    When the world controller is unreachable

  @req:DEMO-SKIP
  Scenario: needs world control at run time
    Given a router
    Then world control is checked

  Scenario Outline: outline <n>
    Given a router
    Then <n> is accepted

    @req:DEMO-OUT
    Examples:
      | n |
      | 1 |
"""

OTHER_FEATURE = """\
@profile_other
Feature: Other profile

  @req:OTHER-1
  Scenario: not selected
    Given a router
"""

STEPS = """\
import pytest
from pytest_bdd import given, parsers, scenarios, then, when

from conformance.evidence import expect

scenarios("demo.feature", "other.feature")


@given("a router")
def router(hil_record, hil_evidence_dir):
    hil_record["sim_start"] = 5.0
    hil_record["sim_end"] = 17.5
    (hil_evidence_dir / "trace.jsonl").write_text('{"t": 0}\\n')


@when("I scan")
def scan(hil_record):
    hil_record["measurements"].setdefault("notify_latency_ms", []).extend([1.5, 2.5])


@then("reports arrive")
def reports_arrive():
    pass


@then("I teleport")
def teleport():
    raise AssertionError("a planned skip must never run")


@then("no report is weaker than -70 dBm")
def no_weak_reports():
    expect(-80 >= -70, expected="rssi >= -70 dBm", observed="rssi -80 dBm from CC:DD")


@then("nothing else happens")
def nothing_else():
    pass


@then("a plain assert fails")
def plain_assert():
    assert 1 + 1 == 3, "arithmetic is broken"


@when("the world controller is unreachable")
def unreachable():
    raise ConnectionRefusedError("world control at 127.0.0.1:1 refused")


@then("world control is checked")
def world_control():
    pytest.skip("SUT offers no world control")


@then(parsers.parse("{n:d} is accepted"))
def accepted(n):
    assert n > 0


@pytest.mark.req("DEMO-PLAIN")
@pytest.mark.profile_demo
def test_plain_requirement(hil_config, hil_record):
    assert hil_config.sut.name == "demo-sut"
    assert hil_config.seed == 42 and hil_config.clock == "real"
    assert hil_config.evidence_dir.is_dir()
    hil_record["measurements"]["connect_ms"] = [100, 120]
"""

SUT = """\
name: demo-sut
identity: {vendor: Demo, model: D1, firmware: "1.0"}
role: gateway
credentials: {username: u, password: p}
capabilities: [scan]
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".feature", demo=FEATURE, other=OTHER_FEATURE)
    pytester.makepyfile(test_demo=STEPS)
    pytester.makefile(".yaml", sut=SUT)
    return pytester


def hil_args(p: pytest.Pytester, *extra: str) -> list[str]:
    return [
        "-p",
        "conformance.pytest_plugin",
        "-m",
        "profile_demo",
        "--hil-sut",
        str(p.path / "sut.yaml"),
        "--hil-seed",
        "42",
        "--hil-clock",
        "real",
        "--hil-results",
        str(p.path / "out" / "records.json"),
        "--hil-evidence-dir",
        str(p.path / "out" / "evidence"),
        *extra,
    ]


def by_name(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in records}


def test_records_for_every_outcome(project: pytest.Pytester) -> None:
    result = project.runpytest(*hil_args(project))
    result.assert_outcomes(passed=3, failed=3, skipped=2, deselected=1)
    records = json.loads((project.path / "out" / "records.json").read_text())
    recs = by_name(records)
    assert sorted(recs) == [
        "harness breaks",
        "needs world control at run time",
        "outline 1",
        "plain assertion",
        "reports arrive",
        "teleporting",
        "test_plain_requirement",
        "weak reports are dropped",
    ]

    ok = recs["reports arrive"]
    assert ok["outcome"] == "passed" and ok["requirements"] == ["DEMO-PASS"]
    assert ok["feature"] == "Demo router" and ok["feature_file"] == "demo.feature"
    assert ok["tags"] == ["profile_demo", "req:DEMO-PASS"]
    assert [(s["keyword"], s["name"], s["status"]) for s in ok["steps"]] == [
        ("Given", "a router", "passed"),
        ("When", "I scan", "passed"),
        ("Then", "reports arrive", "passed"),
    ]
    assert all(s["duration_ns"] > 0 for s in ok["steps"])
    assert ok["measurements"] == {"notify_latency_ms": [1.5, 2.5]}
    assert (ok["sim_start"], ok["sim_end"]) == (5.0, 17.5)
    [evidence] = ok["evidence"]
    assert evidence.startswith("evidence/") and evidence.endswith("/trace.jsonl")
    assert (project.path / "out" / evidence).read_text() == '{"t": 0}\n'
    assert ok["failure"] is None and ok["planned_skip"] is False

    planned = recs["teleporting"]
    assert planned["outcome"] == "skipped" and planned["planned_skip"] is True
    assert planned["skip_reason"] == "not-applicable: SUT does not declare teleport"
    assert planned["requirements"] == ["DEMO-TELE"]
    assert [s["status"] for s in planned["steps"]] == ["skipped", "skipped"]

    failed = recs["weak reports are dropped"]
    assert failed["outcome"] == "failed"
    assert failed["failure"]["step"] == "Then no report is weaker than -70 dBm"
    assert failed["failure"]["expected"] == "rssi >= -70 dBm"
    assert failed["failure"]["observed"] == "rssi -80 dBm from CC:DD"
    assert [s["status"] for s in failed["steps"]] == ["passed", "passed", "failed", "skipped"]

    plain = recs["plain assertion"]
    assert plain["outcome"] == "failed"
    assert "arithmetic is broken" in plain["failure"]["message"]
    assert plain["failure"]["expected"] is None and plain["failure"]["observed"] is None

    error = recs["harness breaks"]
    assert error["outcome"] == "error"
    assert error["failure"]["message"].startswith("ConnectionRefusedError: world control")
    assert error["failure"]["step"] == "When the world controller is unreachable"

    runtime = recs["needs world control at run time"]
    assert runtime["outcome"] == "skipped" and runtime["planned_skip"] is False
    assert runtime["skip_reason"] == "SUT offers no world control"

    # Examples tags reach pytest as marks named "req:..."; the record still finds the ID.
    assert recs["outline 1"]["requirements"] == ["DEMO-OUT"]

    plain_test = recs["test_plain_requirement"]
    assert plain_test["outcome"] == "passed" and plain_test["requirements"] == ["DEMO-PLAIN"]
    assert plain_test["measurements"] == {"connect_ms": [100, 120]}


def test_tags_become_markers(project: pytest.Pytester) -> None:
    result = project.runpytest("-p", "conformance.pytest_plugin", "-m", "needs", "--co", "-q")
    result.stdout.fnmatch_lines(["*test_teleporting", "*test_weak_reports_are_dropped"])
    assert "test_reports_arrive" not in result.stdout.str()
    result = project.runpytest("-p", "conformance.pytest_plugin", "-m", "profile_other", "--co")
    result.stdout.fnmatch_lines(["*1/9 tests collected (8 deselected)*"])


def test_harmless_without_options(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_demo=STEPS.replace('"demo-sut"', '"builtin"').replace(
            'hil_config.seed == 42 and hil_config.clock == "real"',
            'hil_config.seed == 1 and hil_config.clock == "virtual"',
        )
    )
    result = project.runpytest("-p", "conformance.pytest_plugin")
    # the builtin SUT declares scan but not teleport: the plan still applies
    result.assert_outcomes(passed=4, failed=3, skipped=2)
    assert not list(project.path.rglob("*.json"))


def test_bad_sut_is_a_usage_error(project: pytest.Pytester) -> None:
    result = project.runpytest("-p", "conformance.pytest_plugin", "--hil-sut", "missing.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--hil-sut missing.yaml*not found*"])


def test_xdist_workers_records_are_merged(project: pytest.Pytester) -> None:
    out = project.path / "out"
    out.mkdir()
    stale = out / "records.json.gw7.json"
    stale.write_text(json.dumps([{"nodeid": "stale", "name": "from an old run"}]))
    result = project.runpytest_subprocess(*hil_args(project, "-n", "2"))
    result.assert_outcomes(passed=3, failed=3, skipped=2)
    records = json.loads((out / "records.json").read_text())
    assert len(records) == 8
    assert "from an old run" not in {r["name"] for r in records}
    assert {r["worker"] for r in records} <= {"gw0", "gw1"}
    assert sorted(p.name for p in out.iterdir()) == ["evidence", "records.json"]
    planned = by_name(records)["teleporting"]
    assert planned["planned_skip"] is True


def test_expect_raises_an_assertion_with_both_sides() -> None:
    expect(True, "anything", "anything")
    with pytest.raises(AssertionError) as info:
        expect(0, expected="status 200", observed="status 500", message="GET /cassia/info")
    exc = info.value
    assert isinstance(exc, Expectation) and str(exc) == "GET /cassia/info"
    assert (exc.expected, exc.observed) == ("status 200", "status 500")
    copy = pickle.loads(pickle.dumps(exc))
    assert (copy.expected, copy.observed, str(copy)) == ("status 200", "status 500", str(exc))
    assert str(Expectation(1, 2)) == "expected 1, observed 2"


def test_scenario_slugs_are_safe_and_distinct() -> None:
    a = scenario_slug("features/ble/test_scan.py::test_rssi[-70]")
    b = scenario_slug("features/ble/test_scan.py::test_rssi[70]")
    assert a != b and a.startswith("features-ble-test-scan-test-rssi-70-")
    long = scenario_slug("features/x.py::test_" + "very_long_name_" * 20)
    assert len(long) <= 87 and all(c.isalnum() or c == "-" for c in a + long)
