"""Evidence, the same for every system: a bed fixture wraps its scenario in :func:`evidence_of`,
which stamps the scenario's world-time span and, at the end, lists every file the bed wrote
(:meth:`scenarios.bed.Bed.write_evidence`) in the scenario's record for the report."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from conformance.pytest_plugin import HilConfig
from scenarios.bed import Bed, HttpTranscript, write_json_lines

B = TypeVar("B", bound=Bed)


def list_evidence(record: dict[str, Any], config: HilConfig, path: Path) -> None:
    """Name ``path`` in the record as ``<evidence root name>/<slug>/<file>``."""
    root = config.evidence_dir
    try:
        rel = (Path(root.name) / path.resolve().relative_to(root.resolve())).as_posix()
    except ValueError:
        rel = path.as_posix()
    evidence = record.setdefault("evidence", [])
    if rel not in evidence:
        evidence.append(rel)


@contextmanager
def evidence_of(bed: Bed, record: dict[str, Any], config: HilConfig, folder: Path) -> Iterator[Bed]:
    """Run a scenario on ``bed``; afterwards write its evidence into ``folder`` and close it."""
    record["sim_start"] = round(float(bed.now), 6)
    try:
        yield bed
    finally:
        record["sim_end"] = round(float(bed.now), 6)
        try:
            for name in bed.write_evidence(folder):
                list_evidence(record, config, folder / name)
        finally:
            bed.close()


@contextmanager
def started(bed: B, record: dict[str, Any], config: HilConfig, folder: Path) -> Iterator[B]:
    """A bed fixture's body: ``bed`` started (and closed again when it cannot start), the
    scenario run on it under :func:`evidence_of`, and for a bed with an HTTP transcript how
    long each answer took (the report's ``http_response_ms`` measurement)."""
    try:
        bed.run(bed.start())
    except BaseException:
        bed.close()
        raise
    with evidence_of(bed, record, config, folder):
        try:
            yield bed
        finally:
            if isinstance(bed, HttpTranscript):
                latencies = bed.response_times_ms()
                if latencies:
                    record.setdefault("measurements", {})["http_response_ms"] = latencies


def write_stream_evidence(
    rows: list[dict[str, Any]],
    record: dict[str, Any],
    config: HilConfig,
    folder: Path,
    name: str = "sse.jsonl",
) -> None:
    """What the scenario's streams received (rows with a world time ``t``, any order) as
    ``name`` in time order, listed in the record; nothing when there was none."""
    if not rows:
        return
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    write_json_lines(path, sorted(rows, key=lambda row: row["t"]))
    list_evidence(record, config, path)
