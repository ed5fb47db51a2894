"""The ble-router profile against an external SUT: `hil serve ble-router` in a separate process,
judged over real loopback sockets in real time, exactly as a vendor's router would be."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.served import served

pytestmark = pytest.mark.slow

# Both worlds (the served router's and the harness's) run at this many world seconds per wall
# second, so the whole profile fits CI's time; the SUT declaration says so (time_scale).
SCALE = 6


@pytest.fixture
def served_router():
    """``hil serve ble-router`` on free ports; yields (API port, world-control port)."""
    with served(
        "ble-router",
        "--port",
        "0",
        "--control-port",
        "0",
        "--peripherals",
        "0",
        "--duration",
        "900",
        "--scale",
        str(SCALE),
    ) as running:
        yield running.port("api"), running.port("control")


def test_profile_runs_against_hil_serve_over_real_sockets(served_router, tmp_path: Path):
    port, control = served_router
    sut = tmp_path / "served-router.yaml"
    sut.write_text(
        "name: served-router\n"
        "identity: {vendor: gateway-hil, model: hil serve ble-router, firmware: '0.1.0'}\n"
        "role: gateway\n"
        "endpoints:\n"
        f"  ble-router: {{base_url: 'http://127.0.0.1:{port}', "
        f"world_control: 'http://127.0.0.1:{control}', time_scale: {SCALE}}}\n"
        "capabilities: [scan, connect, gatt, notify, connection-state, info, rssi, pairing, "
        "world-control]\n"
    )
    reports = tmp_path / "reports"
    env = dict(os.environ)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance.cli",
            "conformance",
            "--profile",
            "ble-router",
            "--sut",
            str(sut),
            "--clock",
            "real",
            "--reports",
            str(reports),
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    run_dirs = list(reports.iterdir())
    assert len(run_dirs) == 1, proc.stdout + proc.stderr
    results = json.loads((run_dirs[0] / "results.json").read_text())
    summary = results["summary"]
    assert results["clock"] == "real"
    broken = [
        f"{s['name']}: {(s.get('failure') or {}).get('message', '')[:300]}"
        for s in results["scenarios"]
        if s["outcome"] in ("failed", "error")
    ]
    assert summary["fail"] == 0 and summary["error"] == 0, "\n".join(broken)
    assert summary["pass"] >= 15
    # The evidence proves the traffic crossed the real socket to the separate process.
    transcripts = list(run_dirs[0].glob("evidence/*/http.jsonl"))
    assert transcripts
    assert proc.returncode == 0
