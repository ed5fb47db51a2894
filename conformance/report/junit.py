"""`junit.xml`: one testsuite per profile, one testcase per requirement, for CI."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from conformance.catalog import Catalog
from conformance.report.run_info import RunInfo
from conformance.sut import SutDeclaration
from conformance.verdicts import ConformanceResult, RequirementResult, Verdict

FILENAME = "junit.xml"
# Characters XML 1.0 forbids (ANSI escapes in assertion messages would otherwise break parsers).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# A deviation (an advisory requirement's scenario failed) never fails CI: reported as skipped.
_SKIPPED = (Verdict.NOT_APPLICABLE, Verdict.NOT_RUN, Verdict.INCONCLUSIVE, Verdict.DEVIATES)


def clean(text: object) -> str:
    return _NOT_XML.sub("?", "" if text is None else str(text))


def failure_message(failure: dict[str, Any]) -> str:
    """`expected X, observed Y` when the step said so, else the exception's message."""
    if failure.get("expected") is not None or failure.get("observed") is not None:
        return f"expected {failure.get('expected')}, observed {failure.get('observed')}"
    return str(failure.get("message") or "no message")


def _failure_details(result: RequirementResult) -> str:
    blocks = []
    for f in result.failures:
        lines = [f"scenario: {f.get('scenario')} ({f.get('nodeid')})"]
        if f.get("step"):
            lines.append(f"step: {f['step']}")
        if f.get("expected") is not None or f.get("observed") is not None:
            lines.append(f"expected: {f.get('expected')}")
            lines.append(f"observed: {f.get('observed')}")
        lines.append(f"message: {f.get('message')}")
        for path in f.get("evidence") or ():
            lines.append(f"evidence: {path}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _scenario_seconds(result: RequirementResult, by_nodeid: dict[str, float]) -> float:
    return sum(by_nodeid.get(nodeid, 0.0) for nodeid in result.scenarios)


def build_junit(
    run_info: RunInfo, catalog: Catalog, sut: SutDeclaration, results: ConformanceResult
) -> ET.ElementTree:
    by_nodeid = {str(r.get("nodeid")): float(r.get("wall_seconds") or 0.0) for r in results.records}
    summary = results.summary
    counts = {
        "tests": str(len(results.requirements)),
        "failures": str(summary[Verdict.FAIL]),
        "errors": str(summary[Verdict.ERROR]),
        "skipped": str(sum(summary[v] for v in _SKIPPED)),
        "time": f"{sum(by_nodeid.values()):.3f}",
    }
    root = ET.Element("testsuites", {"name": "gateway-hil conformance", **counts})
    suite = ET.SubElement(
        root, "testsuite", {"name": catalog.profile, "timestamp": run_info.started, **counts}
    )
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("sut", sut.name),
        ("sut.vendor", sut.identity.vendor),
        ("sut.model", sut.identity.model),
        ("sut.firmware", sut.identity.firmware),
        ("seed", run_info.seed),
        ("clock", run_info.clock),
        ("run_id", run_info.run_id),
        ("command", run_info.command),
        ("harness_version", run_info.harness_version),
        ("catalog_version", catalog.version),
        ("coverage", f"{results.coverage.covered}/{results.coverage.total}"),
    ):
        ET.SubElement(props, "property", {"name": name, "value": clean(value)})

    for result in results.requirements:
        req = result.requirement
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": f"conformance.{catalog.profile}",
                "name": req.id,
                "time": f"{_scenario_seconds(result, by_nodeid):.3f}",
            },
        )
        if result.verdict in (Verdict.FAIL, Verdict.ERROR):
            tag = "failure" if result.verdict is Verdict.FAIL else "error"
            first = result.failure or {"message": result.reason}
            node = ET.SubElement(
                case, tag, {"message": clean(failure_message(first)), "type": str(result.verdict)}
            )
            node.text = clean(_failure_details(result) or result.reason)
        elif result.verdict in _SKIPPED:
            ET.SubElement(case, "skipped", {"message": clean(f"{result.verdict}: {result.reason}")})
        out = [
            f"{req.id} [{req.level}] {req.section}",
            req.text,
            f"source: {req.source.kind}: {req.source.ref}"
            + (f": {req.source.text}" if req.source.text else ""),
            f"verdict: {result.verdict} ({result.reason})",
            *(f"scenario: {s}" for s in result.scenarios),
            *(f"evidence: {e}" for e in result.evidence),
        ]
        if result.verdict is Verdict.DEVIATES:
            out.append(_failure_details(result))
        ET.SubElement(case, "system-out").text = clean("\n".join(out))
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(
    run_dir: Path,
    run_info: RunInfo,
    catalog: Catalog,
    sut: SutDeclaration,
    results: ConformanceResult,
) -> Path:
    path = Path(run_dir) / FILENAME
    build_junit(run_info, catalog, sut, results).write(path, encoding="utf-8", xml_declaration=True)
    return path
