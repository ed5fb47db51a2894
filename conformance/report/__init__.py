"""Report writers: `report.html`, `junit.xml`, `cucumber.json`, `results.json` per run."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conformance.catalog import Catalog
from conformance.report.cucumber import write_cucumber
from conformance.report.html import write_html
from conformance.report.junit import write_junit
from conformance.report.results_json import write_results_json
from conformance.report.run_info import RunInfo
from conformance.sut import SutDeclaration
from conformance.verdicts import ConformanceResult

__all__ = ["RunInfo", "write_report"]


def write_report(
    run_dir: Path | str,
    run_info: RunInfo | Mapping[str, Any],
    catalog: Catalog,
    sut: SutDeclaration,
    results: ConformanceResult,
) -> dict[str, Path]:
    """Write all four report files into `run_dir`; return their paths by kind."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    info = RunInfo.coerce(run_info)
    return {
        "results": write_results_json(run_dir, info, catalog, sut, results),
        "junit": write_junit(run_dir, info, catalog, sut, results),
        "cucumber": write_cucumber(run_dir, results.records),
        "html": write_html(run_dir, info, catalog, sut, results),
    }
