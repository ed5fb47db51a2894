"""`results.json`: the whole run for machines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conformance.catalog import Catalog
from conformance.report.run_info import RunInfo
from conformance.sut import SutDeclaration
from conformance.verdicts import ConformanceResult

FILENAME = "results.json"
SCHEMA = "gateway-hil/conformance-results/1"


def build_results(
    run_info: RunInfo, catalog: Catalog, sut: SutDeclaration, results: ConformanceResult
) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "run_id": run_info.run_id,
        "profile": catalog.profile,
        "title": catalog.title,
        "sut": sut.to_dict(),
        "seed": run_info.seed,
        "clock": run_info.clock,
        "command": run_info.command,
        "harness_version": run_info.harness_version,
        "catalog_version": catalog.version,
        "catalog_seed": catalog.seed,
        "started": run_info.started,
        "finished": run_info.finished,
        "pytest_command": run_info.pytest_command,
        "pytest_exit_code": run_info.pytest_exit_code,
        "log": run_info.log,
        "exit_code": results.exit_code,
        "summary": results.summary,
        "coverage": results.coverage.to_dict(),
        "mandatory_failures": [r.id for r in results.mandatory_failures],
        "deviations": [r.id for r in results.deviations],
        "unknown_requirement_tags": results.unknown_requirement_tags,
        "requirements": [r.to_dict() for r in results.requirements],
        "scenarios": results.records,
    }


def write_results_json(
    run_dir: Path,
    run_info: RunInfo,
    catalog: Catalog,
    sut: SutDeclaration,
    results: ConformanceResult,
) -> Path:
    path = Path(run_dir) / FILENAME
    data = build_results(run_info, catalog, sut, results)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    return path
