"""Verdict rules: every verdict reachable, the plan before the runner, unknown tags, coverage."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.catalog import Catalog, parse_catalog
from conformance.sut import SutDeclaration, parse_sut
from conformance.verdicts import VERDICTS, Verdict, compute_verdicts


def source(level: str) -> dict[str, str]:
    if level == "advisory":
        return {"kind": "reading", "why": "the documents are silent"}
    return {"kind": "standard", "document": "Demo spec", "clause": "1"}


def catalog(*reqs: tuple[str, str, str | None]) -> Catalog:
    return parse_catalog(
        {
            "profile": "demo",
            "title": "Demo",
            "version": "1",
            "requirements": [
                {
                    "id": rid,
                    "section": "S",
                    "text": f"text of {rid}",
                    "level": level,
                    "capability": cap,
                    "source": source(level),
                }
                for rid, level, cap in reqs
            ],
        }
    )


def sut(*caps: str) -> SutDeclaration:
    return parse_sut(
        {
            "name": "t",
            "identity": {"vendor": "v", "model": "m", "firmware": "1"},
            "role": "gateway",
            "capabilities": list(caps),
        }
    )


def rec(name: str, reqs: list[str], outcome: str, **extra: Any) -> dict[str, Any]:
    return {
        "nodeid": f"features/test_x.py::{name}",
        "name": name,
        "requirements": reqs,
        "outcome": outcome,
        "planned_skip": False,
        "skip_reason": None,
        "evidence": [f"evidence/{name}/trace.jsonl"],
        **extra,
    }


def verdict_of(
    records: list[dict[str, Any]], cap: str | None = None, caps: tuple[str, ...] = ("scan",)
) -> Verdict:
    result = compute_verdicts(catalog(("R-1", "mandatory", cap)), sut(*caps), records)
    return result.requirements[0].verdict


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ([rec("a", ["R-1"], "passed"), rec("b", ["R-1"], "passed")], Verdict.PASS),
        ([rec("a", ["R-1"], "passed"), rec("b", ["R-1"], "failed")], Verdict.FAIL),
        ([rec("a", ["R-1"], "error"), rec("b", ["R-1"], "failed")], Verdict.FAIL),
        ([rec("a", ["R-1"], "error"), rec("b", ["R-1"], "skipped")], Verdict.ERROR),
        ([rec("a", ["R-1"], "passed"), rec("b", ["R-1"], "skipped")], Verdict.INCONCLUSIVE),
        ([], Verdict.NOT_RUN),
        ([rec("a", ["OTHER"], "passed")], Verdict.NOT_RUN),
        ([rec("a", ["R-1"], "deselected")], Verdict.NOT_RUN),
    ],
)
def test_runner_outcomes_map_to_verdicts(records: list, expected: Verdict) -> None:
    assert verdict_of(records) is expected


def test_capability_not_declared_is_not_applicable_whatever_the_runner_said() -> None:
    failed = [rec("a", ["R-1"], "failed", failure={"message": "boom"})]
    assert verdict_of(failed, cap="notify", caps=("scan",)) is Verdict.NOT_APPLICABLE
    assert verdict_of(failed, cap="notify", caps=("notify",)) is Verdict.FAIL
    assert verdict_of([], cap="notify", caps=()) is Verdict.NOT_APPLICABLE


def planned(
    name: str, reason: str = "not-applicable: SUT does not declare world-control"
) -> dict[str, Any]:
    return rec(name, ["R-1"], "skipped", planned_skip=True, skip_reason=reason)


def test_scenarios_all_planned_not_applicable_make_the_requirement_not_applicable() -> None:
    result = compute_verdicts(catalog(("R-1", "mandatory", None)), sut(), [planned("p")])
    only = result.requirements[0]
    assert only.verdict is Verdict.NOT_APPLICABLE
    assert only.reason == "every scenario is not applicable: SUT does not declare world-control"
    other = planned("q", "not-applicable: SUT does not declare radio-faults")
    assert verdict_of([planned("p"), other]) is Verdict.NOT_APPLICABLE
    # one scenario deselected (not planned away): the requirement was simply not run
    assert verdict_of([planned("p"), rec("d", ["R-1"], "deselected")]) is Verdict.NOT_RUN
    # planned away for another reason: not run, with the plan's reason
    other_plan = compute_verdicts(
        catalog(("R-1", "mandatory", None)), sut(), [planned("p", "quarantined: flaky")]
    ).requirements[0]
    assert other_plan.verdict is Verdict.NOT_RUN and "quarantined: flaky" in other_plan.reason


def test_planned_skips_count_as_not_executed() -> None:
    planned_skip = planned("p")
    # an executed scenario decides; the planned skip beside it does not make it inconclusive
    assert verdict_of([planned_skip, rec("a", ["R-1"], "passed")]) is Verdict.PASS
    # a run-time skip (e.g. the step found no world control) is inconclusive
    runtime = rec("r", ["R-1"], "skipped", skip_reason="SUT has no world control")
    assert verdict_of([runtime]) is Verdict.INCONCLUSIVE


def test_every_verdict_reachable_in_one_run_with_summary_and_coverage() -> None:
    cat = catalog(
        ("P", "mandatory", None),
        ("F", "optional", None),
        ("E", "optional", None),
        ("I", "optional", None),
        ("NA", "mandatory", "notify"),
        ("NR", "mandatory", None),
        ("D", "advisory", None),
    )
    records = [
        rec("p", ["P"], "passed"),
        rec(
            "f",
            ["F", "GHOST-1"],
            "failed",
            failure={"step": "Then x", "message": "m", "expected": 1, "observed": 2},
        ),
        rec("e", ["E"], "error", failure={"step": None, "message": "OSError: boom"}),
        rec("i", ["I"], "skipped", skip_reason="no radio"),
        rec("na", ["NA"], "passed"),
        rec("ghost", ["GHOST-2"], "passed"),
        rec("d", ["D"], "failed", failure={"step": "Then y", "message": "read otherwise"}),
    ]
    result = compute_verdicts(cat, sut("scan"), records)
    assert {r.id: str(r.verdict) for r in result.requirements} == {
        "P": "pass",
        "F": "fail",
        "E": "error",
        "I": "inconclusive",
        "NA": "not-applicable",
        "NR": "not-run",
        "D": "deviates",
    }
    assert result.summary == {str(v): 1 for v in VERDICTS}
    assert list(result.summary) == [str(v) for v in VERDICTS]
    assert (result.coverage.covered, result.coverage.total) == (6, 7)
    assert [r.id for r in result.deviations] == ["D"]
    assert result.unknown_requirement_tags == [
        {"id": "GHOST-1", "scenarios": ["features/test_x.py::f"]},
        {"id": "GHOST-2", "scenarios": ["features/test_x.py::ghost"]},
    ]
    failed = result.get("F")
    assert failed is not None and failed.failure is not None
    assert failed.failure["expected"] == 1 and failed.failure["observed"] == 2
    assert failed.failure["nodeid"] == "features/test_x.py::f"
    assert failed.evidence == ["evidence/f/trace.jsonl"]
    # only the optional requirements failed or errored: the run is still conformant
    assert result.mandatory_failures == [] and result.exit_code == 0


@pytest.mark.parametrize(
    ("level", "outcome", "code"),
    [
        ("mandatory", "failed", 1),
        ("mandatory", "error", 1),
        ("optional", "failed", 0),
        ("mandatory", "skipped", 0),
        ("advisory", "failed", 0),
        ("advisory", "error", 0),
    ],
)
def test_exit_code_follows_mandatory_fail_or_error(level: str, outcome: str, code: int) -> None:
    result = compute_verdicts(catalog(("R-1", level, None)), sut(), [rec("a", ["R-1"], outcome)])
    assert result.exit_code == code


def test_an_advisory_failure_deviates_and_never_fails_the_run() -> None:
    cat = catalog(("R-1", "advisory", None), ("R-2", "mandatory", None))
    records = [
        rec("a", ["R-1"], "failed", failure={"message": "m", "expected": 1, "observed": 2}),
        rec("b", ["R-2"], "passed"),
    ]
    result = compute_verdicts(cat, sut(), records)
    advisory = result.get("R-1")
    assert advisory is not None and advisory.verdict is Verdict.DEVIATES
    assert advisory.failure is not None and advisory.failure["observed"] == 2
    assert result.summary["deviates"] == 1 and result.summary["fail"] == 0
    assert result.mandatory_failures == [] and result.exit_code == 0
    assert advisory.to_dict()["source"] == {"kind": "reading", "why": "the documents are silent"}
    # a harness error stays an error, advisory or not (it says nothing of the SUT)
    errored = [rec("a", ["R-1"], "error", failure={"message": "OSError"})]
    assert compute_verdicts(cat, sut(), errored).requirements[0].verdict is Verdict.ERROR
    # a mandatory failure still fails the run beside a deviation
    records[1] = rec("b", ["R-2"], "failed", failure={"message": "m"})
    assert compute_verdicts(cat, sut(), records).exit_code == 1


def test_requirements_fall_back_to_req_tags() -> None:
    record = rec("a", [], "passed")
    del record["requirements"]
    record["tags"] = ["profile_demo", "req:R-1"]
    assert verdict_of([record]) is Verdict.PASS


def test_unknown_outcome_is_an_error_not_a_pass() -> None:
    result = compute_verdicts(
        catalog(("R-1", "mandatory", None)), sut(), [rec("a", ["R-1"], "exploded")]
    )
    assert result.requirements[0].verdict is Verdict.ERROR
    assert "exploded" in result.requirements[0].reason
