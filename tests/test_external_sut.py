"""The ble-router profile against an external SUT: `hil serve ble-router` in a separate process,
judged over real loopback sockets in real time, exactly as a vendor's router would be."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

# Both worlds (the served router's and the harness's) run at this many world seconds per wall
# second, so the whole profile fits CI's time; the SUT declaration says so (time_scale).
SCALE = 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(port: int, proc: subprocess.Popen, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            output = proc.stdout.read() if proc.stdout else ""
            raise RuntimeError(f"hil serve exited early: {output}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listened on {port} within {limit} s")


@pytest.fixture
def served_router():
    port, control = _free_port(), _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "conformance.cli", "serve", "ble-router", "--port", str(port),
         "--control-port", str(control), "--peripherals", "0", "--duration", "900",
         "--scale", str(SCALE)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for(port, proc)
        _wait_for(control, proc)
        yield port, control
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


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
        "world-control]\n")
    reports = tmp_path / "reports"
    env = dict(os.environ)
    proc = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "conformance", "--profile", "ble-router",
         "--sut", str(sut), "--clock", "real", "--reports", str(reports), "-q"],
        capture_output=True, text=True, timeout=900, env=env)
    run_dirs = list(reports.iterdir())
    assert len(run_dirs) == 1, proc.stdout + proc.stderr
    results = json.loads((run_dirs[0] / "results.json").read_text())
    summary = results["summary"]
    assert results["clock"] == "real"
    broken = [f"{s['name']}: {(s.get('failure') or {}).get('message', '')[:300]}"
              for s in results["scenarios"] if s["outcome"] in ("failed", "error")]
    assert summary["fail"] == 0 and summary["error"] == 0, "\n".join(broken)
    assert summary["pass"] >= 15
    # The evidence proves the traffic crossed the real socket to the separate process.
    transcripts = list(run_dirs[0].glob("evidence/*/http.jsonl"))
    assert transcripts
    assert proc.returncode == 0
