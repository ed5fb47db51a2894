"""Fixtures of the connect-master scenarios:

* ``bed``: the scenario's :class:`~scenarios.connect_master.bed.CmBed` (see
  :mod:`features.connect_master.steps.sut` for which one), started; at the end its evidence is
  written (:func:`features.steps.evidence.evidence_of`) and it is closed. The shared steps of
  :mod:`features.steps.time` act on it.
* ``cm``: the scenario's state (:class:`~features.connect_master.steps.state.CmState`); at the
  end every status change the scenario's subscribers received is written as ``status.jsonl``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.pytest_plugin import HilConfig
from features.connect_master.steps.state import CmState
from features.connect_master.steps.sut import new_bed
from features.steps.evidence import evidence_of, list_evidence
from scenarios.bed import write_json_lines
from scenarios.connect_master.bed import CmBed


@pytest.fixture
def bed(
    hil_config: HilConfig, hil_record: dict[str, Any], hil_evidence_dir: Path, tmp_path: Path
) -> Iterator[CmBed]:
    started = new_bed(hil_config, tmp_path)
    try:
        started.run(started.start())
    except BaseException:
        started.close()
        raise
    with evidence_of(started, hil_record, hil_config, hil_evidence_dir):
        yield started


@pytest.fixture
def cm(
    bed: CmBed, hil_config: HilConfig, hil_record: dict[str, Any], hil_evidence_dir: Path
) -> Iterator[CmState]:
    state = CmState(bed, hil_record)
    yield state
    rows = [
        {"tenant": tenant, "deviceID": d, "status": s, "timestamp": ts, "t": round(t, 6)}
        for tenant, changes in state.streams.items()
        for d, s, ts, t in changes
    ]
    if rows:
        rows.sort(key=lambda row: row["t"])
        path = hil_evidence_dir / "status.jsonl"
        hil_evidence_dir.mkdir(parents=True, exist_ok=True)
        write_json_lines(path, rows)
        list_evidence(hil_record, hil_config, path)
