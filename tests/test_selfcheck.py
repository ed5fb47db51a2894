"""``hil selfcheck`` on a small subset: three BLE router deviations, each caught by exactly the
requirements its catalog entry names, after a clean baseline; two Connect Master and two Modbus
deviations caught; and the command's bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest

from conformance.selfcheck import SelfcheckResult, format_table, main_table, run_selfcheck
from tests.served import ROOT

# Quick ones (a scenario or two each), one per kind of check: a status code, a filter rule,
# what reached the device.
SUBSET = ("disconnect-false-error", "scan-filter-rssi-ignored", "gatt-write-truncated")


def _check_baseline(result: SelfcheckResult) -> None:
    assert result.baseline is not None and result.baseline.error is None
    assert result.baseline_problems() == {}
    assert {"BLE-CONN-006", "BLE-SCAN-012", "BLE-GATT-011"} <= set(result.baseline.executed())


def _check_each_deviation_caught_by_its_named_requirements(result: SelfcheckResult) -> None:
    for name in SUBSET:
        outcome = next(o for o in result.outcomes if o.deviation.name == name)
        assert outcome.run.error is None
        assert outcome.caught and not outcome.silent, outcome.to_dict()
        assert set(outcome.deviation.catches) <= set(outcome.caught_by)


def _check_table_summary_json_and_exit_code(result: SelfcheckResult, progress: str) -> None:
    assert (result.caught, result.total, result.exit_code) == (3, 3, 0)
    table = format_table(result)
    for name in SUBSET:
        assert name in table
    assert "baseline: all" in table and table.endswith(
        "caught 3 of 3 (100.0 %); known field faults 1 of 1; target 95 %"
    )
    assert "[3/3]" in progress and "baseline without" in progress
    out = StringIO()
    assert main_table(result, as_json=True, out=out) == 0
    data = json.loads(out.getvalue())
    assert data["schema"] == "gateway-hil/selfcheck/1" and data["percent"] == 100.0
    assert [d["name"] for d in data["deviations"]] == list(SUBSET)
    saved = json.loads((result.folder / "selfcheck.json").read_text(encoding="utf-8"))
    assert saved["caught"] == 3


def _check_a_deviation_run_keeps_its_report(result: SelfcheckResult) -> None:
    outcome = result.outcomes[0]
    assert outcome.run.run_dir is not None
    report = json.loads((Path(outcome.run.run_dir) / "results.json").read_text(encoding="utf-8"))
    assert report["sut"]["deviations"] == [outcome.deviation.name]
    assert "hil selfcheck --profile ble-router" in report["command"]


@pytest.mark.slow
def test_ble_router_subset_baseline_catches_table_and_reports(tmp_path: Path) -> None:
    """One selfcheck run (a baseline and three deviation runs), every check on it: one test,
    so parallel workers never repeat the run."""
    progress = StringIO()
    result = run_selfcheck("ble-router", SUBSET, reports_dir=tmp_path, progress=progress)
    _check_baseline(result)
    _check_each_deviation_caught_by_its_named_requirements(result)
    _check_table_summary_json_and_exit_code(result, progress.getvalue())
    _check_a_deviation_run_keeps_its_report(result)


# Two more systems, two deviations each (a known field fault among them), checked at once.
OTHER_SUBSETS = {
    "connect-master": ("disconnect-all-false-error", "async-duplicate-connections"),
    "rs485-modbus": ("fc16-first-register-only", "answers-absent-unit"),
}


@pytest.mark.slow
@pytest.mark.parametrize("profile", sorted(OTHER_SUBSETS))
def test_other_systems_deviations_are_caught(profile: str, tmp_path: Path) -> None:
    names = OTHER_SUBSETS[profile]
    result = run_selfcheck(profile, names, jobs=2, reports_dir=tmp_path)
    assert result.baseline_problems() == {}
    for outcome in result.outcomes:
        assert outcome.run.error is None and outcome.caught, outcome.to_dict()
        assert set(outcome.deviation.catches) & set(outcome.caught_by), outcome.to_dict()
    assert (result.caught, result.total, result.exit_code) == (2, 2, 0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--deviation", "melt"], "hil selfcheck: unknown ble-router deviation 'melt'; accepted:"),
        (["--profile", "melt"], "hil selfcheck: profile 'melt' has no deviation"),
        (["--target", "120"], "hil selfcheck: --target 120 not accepted; accepted: 0-100"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "selfcheck", "--reports", str(tmp_path), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith(message) and proc.stderr.count("\n") == 1, proc.stderr
