"""What a scenario's streams received becomes one evidence file in world-time order, named in
the scenario's record (:func:`features.steps.evidence.write_stream_evidence`)."""

from __future__ import annotations

import json
from pathlib import Path

from conformance.pytest_plugin import HilConfig
from features.steps.evidence import write_stream_evidence


def _config(root: Path) -> HilConfig:
    return HilConfig(sut=None, seed=1, clock="virtual", evidence_dir=root)  # type: ignore[arg-type]


def test_rows_are_written_in_world_time_order_and_listed(tmp_path: Path) -> None:
    root = tmp_path / "evidence"
    folder = root / "scenario-1"  # not made yet: the writer makes it
    record: dict = {}
    rows = [{"stream": "scan", "t": 2.5, "data": "b"}, {"stream": "scan", "t": 1.0, "data": "a"}]
    write_stream_evidence(rows, record, _config(root), folder, "status.jsonl")
    lines = (folder / "status.jsonl").read_text().splitlines()
    assert [json.loads(line)["data"] for line in lines] == ["a", "b"]
    assert record["evidence"] == ["evidence/scenario-1/status.jsonl"]


def test_no_rows_no_file_and_nothing_listed(tmp_path: Path) -> None:
    record: dict = {}
    write_stream_evidence([], record, _config(tmp_path), tmp_path / "s")
    assert not (tmp_path / "s").exists() and "evidence" not in record
