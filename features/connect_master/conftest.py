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
from features.steps.evidence import started, write_stream_evidence
from scenarios.connect_master.bed import CmBed


@pytest.fixture
def bed(
    hil_config: HilConfig, hil_record: dict[str, Any], hil_evidence_dir: Path, tmp_path: Path
) -> Iterator[CmBed]:
    world_bed = new_bed(hil_config, tmp_path)
    with started(world_bed, hil_record, hil_config, hil_evidence_dir):
        yield world_bed


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
    write_stream_evidence(rows, hil_record, hil_config, hil_evidence_dir, "status.jsonl")
