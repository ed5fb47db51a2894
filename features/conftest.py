"""Fixtures every feature binding sees: the test bed, the scenario context, the step library.

* builtin SUT -> :class:`LocalTestbed` (one world, virtual time by default, the reference
  router served inside it);
* any other SUT -> :class:`RemoteTestbed` at the declared ``ble-router`` endpoint, its
  peripherals driven through the declared ``world_control`` endpoint (reset per scenario).

At teardown each scenario leaves its evidence in ``<evidence dir>/<scenario slug>/``:
``trace.jsonl`` (the world's timeline), ``http.jsonl`` (every HTTP exchange), ``sse.jsonl``
(every event the scenario's streams received) and, for a remote SUT with world control,
``sut-world-trace.jsonl`` (the far side's timeline over the scenario).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.pytest_plugin import HilConfig
from devices.protocols.http_client import HttpClient
from features.steps.advertise import *  # noqa: F403
from features.steps.batch import *  # noqa: F403
from features.steps.common import *  # noqa: F403  (step definitions register as fixtures)
from features.steps.connect_params import *  # noqa: F403
from features.steps.connection import *  # noqa: F403
from features.steps.errors import *  # noqa: F403
from features.steps.faults import *  # noqa: F403
from features.steps.gatt import *  # noqa: F403
from features.steps.info import *  # noqa: F403
from features.steps.load import *  # noqa: F403
from features.steps.login import *  # noqa: F403
from features.steps.notify import *  # noqa: F403
from features.steps.pairing import *  # noqa: F403
from features.steps.rssi_stream import *  # noqa: F403
from features.steps.scan import *  # noqa: F403
from features.steps.stream_params import *  # noqa: F403
from features.steps.support import Ctx
from features.steps.world import *  # noqa: F403
from scenarios.testbed import LocalTestbed, RemoteTestbed, Testbed

PROFILE = "ble-router"


def _dump_lines(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, sort_keys=True, default=str) + "\n")


def _far_side_time(bed: RemoteTestbed) -> float | None:
    if not bed.control_url:
        return None
    try:
        response = bed.run(HttpClient(bed.control_url).request("GET", "/world", timeout=5))
        return float(response.json()["time"])
    except Exception:  # evidence is best effort; the scenario's own outcome decides
        return None


def _far_side_trace(bed: RemoteTestbed, since: float) -> list[dict[str, Any]]:
    assert bed.control_url
    response = bed.run(
        HttpClient(bed.control_url).request(
            "GET", "/world/trace", params={"since": f"{since:.6f}"}, timeout=10
        )
    )
    rows = response.json()
    return rows if isinstance(rows, list) else []


def _tidy(bed: RemoteTestbed) -> None:
    """After a scenario: leave the external router without connections (reset() does so again
    before the next scenario; this keeps a SUT clean after the last one too)."""
    try:
        bed.run(bed.disconnect_all(patience_s=3.0))
    except Exception:  # a router that cannot even list its connections fails in the scenario
        pass


@pytest.fixture
def testbed(
    hil_config: HilConfig, hil_record: dict[str, Any], hil_evidence_dir: Path
) -> Iterator[Testbed]:
    """The world the scenario runs in, started; evidence written and closed afterwards."""
    sut = hil_config.sut
    far_start: float | None = None
    bed: Testbed
    if sut.builtin:
        local = LocalTestbed(
            seed=hil_config.seed, clock=hil_config.clock, capture_dir=hil_evidence_dir
        )
        try:
            local.run(local.start())
        except BaseException:
            local.close()
            raise
        bed = local
    else:
        endpoint = sut.endpoint(PROFILE)
        remote = RemoteTestbed(
            str(endpoint["base_url"]),
            endpoint.get("world_control"),
            seed=hil_config.seed,
            scale=float(endpoint.get("time_scale", 1.0)),
        )
        try:
            remote.run(remote.reset())  # no links on the router, no peripherals on the far side
        except BaseException:
            remote.close()
            raise
        remote.transcript.clear()  # the evidence is the scenario's own exchanges
        far_start = _far_side_time(remote)
        bed = remote
    hil_record["sim_start"] = round(float(bed.now), 6)
    try:
        yield bed
    finally:
        hil_record["sim_end"] = round(float(bed.now), 6)
        try:
            _write_evidence(bed, hil_record, hil_config, hil_evidence_dir, far_start)
        finally:
            if isinstance(bed, RemoteTestbed):
                _tidy(bed)
            bed.close()


def _write_evidence(
    bed: Testbed, record: dict[str, Any], config: HilConfig, folder: Path, far_start: float | None
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    (folder / "trace.jsonl").write_text(bed.world.trace.dump(), encoding="utf-8")
    files["trace.jsonl"] = "timeline"
    _dump_lines(folder / "http.jsonl", list(bed.transcript))
    files["http.jsonl"] = "transcript"
    latencies = [
        round(e["elapsed"] * 1000.0, 3)
        for e in bed.transcript
        if e.get("status") and not e.get("stream")
    ]
    if latencies:
        record.setdefault("measurements", {})["http_response_ms"] = latencies
    if isinstance(bed, RemoteTestbed) and far_start is not None:
        try:
            _dump_lines(folder / "sut-world-trace.jsonl", _far_side_trace(bed, far_start))
            files["sut-world-trace.jsonl"] = "far-side timeline"
        except Exception:  # best effort, see above
            pass
    if isinstance(bed, LocalTestbed):
        bed.run(bed.stop())  # flushes and closes the HCI captures
        for capture in bed.captures:
            files[capture.name] = "btsnoop"
    for name in files:
        _list_evidence(record, config, folder / name)


def _list_evidence(record: dict[str, Any], config: HilConfig, path: Path) -> None:
    """Name ``path`` in the record as ``<evidence root name>/<slug>/<file>``."""
    root = config.evidence_dir
    try:
        rel = (Path(root.name) / path.resolve().relative_to(root.resolve())).as_posix()
    except ValueError:
        rel = path.as_posix()
    evidence = record.setdefault("evidence", [])
    if rel not in evidence:
        evidence.append(rel)


@pytest.fixture
def ctx(
    testbed: Testbed, hil_config: HilConfig, hil_record: dict[str, Any], hil_evidence_dir: Path
) -> Iterator[Ctx]:
    """The scenario's state: placed peripherals, open streams, the last answer."""
    context = Ctx(bed=testbed, client=testbed.client())
    try:
        yield context
    finally:
        try:
            testbed.run(context.close_streams())
        except Exception:  # the bed's own close cancels whatever is left
            pass
        rows = [
            {
                "stream": r.kind,
                "target": r.stream.target if r.stream else r.path,
                "t": round(e.t, 6),
                "data": e.data,
            }
            for r in context.streams.values()
            for e in r.events
        ]
        if rows:
            rows.sort(key=lambda row: row["t"])
            path = hil_evidence_dir / "sse.jsonl"
            _dump_lines(path, rows)
            _list_evidence(hil_record, hil_config, path)
