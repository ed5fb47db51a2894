"""Requirement verdicts from a catalog, a SUT declaration and the scenario result records.

Rules, in order, for each requirement:
1. its capability is not declared by the SUT -> not-applicable (the plan; runner output ignored);
2. no scenario record carries its ID -> not-run;
3. none of its scenarios was executed: all skipped by the plan as not applicable (the SUT lacks
   a capability they need) -> not-applicable; otherwise (deselected, or planned away for
   another reason) -> not-run;
4. any executed scenario failed -> fail, or `deviates` for an advisory requirement (one resting
   on our reading: shown, never failing the run); else any error -> error;
5. else any skipped at run time -> inconclusive; else (all passed) -> pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from conformance.catalog import Catalog, Requirement
from conformance.sut import SutDeclaration


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    DEVIATES = "deviates"
    INCONCLUSIVE = "inconclusive"
    NOT_APPLICABLE = "not-applicable"
    NOT_RUN = "not-run"
    ERROR = "error"


VERDICTS: tuple[Verdict, ...] = tuple(Verdict)
OUTCOMES = ("passed", "failed", "error", "skipped")
# Outcomes that mean "the scenario exists but did not execute".
_NOT_EXECUTED = {"deselected", "not-run", "notrun"}
# The skip reason conformance.pytest_plugin gives a scenario the plan found not applicable.
NOT_APPLICABLE_PREFIX = "not-applicable:"

Record = Mapping[str, Any]


@dataclass
class RequirementResult:
    requirement: Requirement
    verdict: Verdict
    reason: str
    scenarios: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.requirement.id

    @property
    def failure(self) -> dict[str, Any] | None:
        """The first failure that decided a fail/error verdict, if any."""
        return self.failures[0] if self.failures else None

    def to_dict(self) -> dict[str, Any]:
        req = self.requirement
        return {
            "id": req.id,
            "level": req.level,
            "section": req.section,
            "text": req.text,
            "capability": req.capability,
            "source": req.source.to_dict(),
            "covers": list(req.covers),
            "verdict": str(self.verdict),
            "reason": self.reason,
            "scenarios": list(self.scenarios),
            "evidence": list(self.evidence),
            "failure": self.failure,
            "failures": list(self.failures),
        }


@dataclass(frozen=True)
class Coverage:
    covered: int
    total: int

    @property
    def ratio(self) -> float:
        return self.covered / self.total if self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"covered": self.covered, "total": self.total, "ratio": round(self.ratio, 4)}


@dataclass
class ConformanceResult:
    profile: str
    requirements: list[RequirementResult]
    records: list[dict[str, Any]]
    unknown_requirement_tags: list[dict[str, Any]]
    coverage: Coverage

    @property
    def summary(self) -> dict[str, int]:
        counts = {str(v): 0 for v in VERDICTS}
        for result in self.requirements:
            counts[str(result.verdict)] += 1
        return counts

    @property
    def mandatory_failures(self) -> list[RequirementResult]:
        """Mandatory requirements whose verdict is fail or error: these fail the run."""
        return [
            r
            for r in self.requirements
            if r.requirement.mandatory and r.verdict in (Verdict.FAIL, Verdict.ERROR)
        ]

    @property
    def deviations(self) -> list[RequirementResult]:
        """Advisory requirements whose scenarios failed: shown, never failing the run."""
        return [r for r in self.requirements if r.verdict is Verdict.DEVIATES]

    @property
    def exit_code(self) -> int:
        return 1 if self.mandatory_failures else 0

    def get(self, requirement_id: str) -> RequirementResult | None:
        return next((r for r in self.requirements if r.id == requirement_id), None)


def record_requirements(record: Record) -> list[str]:
    """The requirement IDs a record proves: its `requirements`, else its `req:` tags."""
    ids = record.get("requirements")
    if ids is None:
        tags = record.get("tags") or ()
        ids = [t[4:] for t in tags if isinstance(t, str) and t.startswith("req:")]
    return list(dict.fromkeys(str(i) for i in ids))


def scenario_label(record: Record) -> str:
    return str(record.get("nodeid") or record.get("name") or "<unnamed scenario>")


def compute_verdicts(
    catalog: Catalog, sut: SutDeclaration, records: Iterable[Record]
) -> ConformanceResult:
    records = [dict(r) for r in records]
    by_requirement: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        for rid in record_requirements(record):
            by_requirement.setdefault(rid, []).append(record)

    results = [_judge(req, sut, by_requirement.get(req.id, [])) for req in catalog.requirements]
    unknown = [
        {"id": rid, "scenarios": [scenario_label(r) for r in recs]}
        for rid, recs in sorted(by_requirement.items())
        if rid not in catalog
    ]
    covered = sum(1 for req in catalog.requirements if by_requirement.get(req.id))
    return ConformanceResult(
        profile=catalog.profile,
        requirements=results,
        records=records,
        unknown_requirement_tags=unknown,
        coverage=Coverage(covered=covered, total=len(catalog.requirements)),
    )


def _judge(req: Requirement, sut: SutDeclaration, records: Sequence[Record]) -> RequirementResult:
    scenarios = [scenario_label(r) for r in records]
    evidence = _evidence(records)

    def result(verdict: Verdict, reason: str, failures: list[dict[str, Any]] | None = None):
        return RequirementResult(req, verdict, reason, scenarios, evidence, failures or [])

    if req.capability is not None and not sut.has(req.capability):
        return result(Verdict.NOT_APPLICABLE, f"SUT does not declare capability {req.capability!r}")
    if not records:
        return result(Verdict.NOT_RUN, f"no selected scenario carries @req:{req.id}")

    executed = [r for r in records if _executed(r)]
    if not executed:
        planned = [r for r in records if r.get("planned_skip")]
        if not planned:
            return result(Verdict.NOT_RUN, "none of its scenarios was executed")
        reasons = sorted({str(r.get("skip_reason") or "no reason given") for r in planned})
        if len(planned) == len(records) and all(
            reason.startswith(NOT_APPLICABLE_PREFIX) for reason in reasons
        ):
            why = "; ".join(r.removeprefix(NOT_APPLICABLE_PREFIX).strip() for r in reasons)
            return result(Verdict.NOT_APPLICABLE, f"every scenario is not applicable: {why}")
        return result(
            Verdict.NOT_RUN,
            f"{len(planned)} scenario(s) skipped by the plan ({'; '.join(reasons)})",
        )

    outcomes = [str(r.get("outcome")) for r in executed]
    unknown = sorted(set(outcomes) - set(OUTCOMES))
    if unknown:
        return result(
            Verdict.ERROR,
            f"scenario outcome(s) {', '.join(unknown)} not understood; "
            f"accepted: {', '.join(OUTCOMES)}",
        )
    for outcome, verdict, word in (
        ("failed", Verdict.DEVIATES if req.advisory else Verdict.FAIL, "failed"),
        ("error", Verdict.ERROR, "stopped on a harness error"),
    ):
        bad = [r for r in executed if r.get("outcome") == outcome]
        if bad:
            return result(
                verdict,
                f"{len(bad)} of {len(executed)} scenario(s) {word}",
                [_failure(r) for r in bad],
            )
    skipped = [r for r in executed if r.get("outcome") == "skipped"]
    if skipped:
        reasons = sorted({str(r.get("skip_reason") or "no reason given") for r in skipped})
        return result(
            Verdict.INCONCLUSIVE,
            f"{len(skipped)} of {len(executed)} scenario(s) skipped at run time: "
            + "; ".join(reasons),
        )
    return result(Verdict.PASS, f"{len(executed)} scenario(s) passed")


def _executed(record: Record) -> bool:
    return not record.get("planned_skip") and record.get("outcome") not in _NOT_EXECUTED


def _failure(record: Record) -> dict[str, Any]:
    failure = dict(record.get("failure") or {})
    failure.setdefault("message", f"scenario {record.get('outcome')} without details")
    failure["scenario"] = record.get("name") or scenario_label(record)
    failure["nodeid"] = record.get("nodeid")
    failure["evidence"] = list(record.get("evidence") or [])
    return failure


def _evidence(records: Sequence[Record]) -> list[str]:
    paths: dict[str, None] = {}
    for record in records:
        for path in record.get("evidence") or ():
            paths[str(path)] = None
    return list(paths)
