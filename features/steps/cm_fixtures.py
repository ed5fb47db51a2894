"""Fixtures of the connect-master scenarios: the world (``cm``) and the scenario state."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conformance.pytest_plugin import HilConfig
from scenarios.connect_master_bed import ConnectMasterBed, MasterClient


@dataclass
class CmState:
    bed: ConnectMasterBed
    clients: dict[str, MasterClient] = field(default_factory=dict)
    streams: dict[str, list[tuple[int, str, int]]] = field(default_factory=dict)
    last_error: Any = None
    last_reply: Any = None


@pytest.fixture
def cm(hil_config: HilConfig, hil_record: dict[str, Any], hil_evidence_dir: Path,
       tmp_path: Path) -> Iterator[CmState]:
    if not hil_config.sut.builtin:
        pytest.skip("not-applicable: external connect-master SUTs are not wired up yet")
    bed = ConnectMasterBed(seed=hil_config.seed, db_path=tmp_path / "master.db")
    state = CmState(bed)
    try:
        bed.run(bed.start())
        hil_record["sim_start"] = round(bed.now, 6)
        yield state
    finally:
        hil_record["sim_end"] = round(bed.now, 6)
        hil_evidence_dir.mkdir(parents=True, exist_ok=True)
        (hil_evidence_dir / "trace.jsonl").write_text(bed.world.trace.dump(), encoding="utf-8")
        bed.close()
