"""The ble-ac profile against an external SUT: ``hil serve ble-ac`` in a separate process,
judged over real loopback sockets in real time through :class:`RemoteAcBed` (a token from the
developer credentials, routers and peripherals through world control), as a vendor's controller
would be. A cross-section of the profile keeps it short; the whole profile passes the same way
(``hil conformance --profile ble-ac --sut <declaration> --clock real``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.served import served

pytestmark = pytest.mark.slow

SCALE = 6
SECRET = "external-secret"
CROSS_SECTION = (
    "developer_credentials or every_online_router or configuration_through or "
    "connect_list_and_disconnect or open_scan_brings or hearing_the_device_best or "
    "closest_router_of_one_device or going_offline_and_coming_back or "
    "advertises_on_the_air"
)


def test_a_cross_section_of_the_profile_passes_against_hil_serve(tmp_path: Path) -> None:
    with served(
        "ble-ac",
        "--port",
        "0",
        "--control-port",
        "0",
        "--peripherals",
        "0",
        "--secret",
        SECRET,
        "--scale",
        str(SCALE),
        "--duration",
        "600",
    ) as running:
        sut = tmp_path / "served-ac.yaml"
        sut.write_text(
            "name: served-ac\n"
            "identity: {vendor: gateway-hil, model: hil serve ble-ac, firmware: '2.1.1'}\n"
            "role: server\n"
            "endpoints:\n"
            f"  ble-ac: {{base_url: '{running.address('api')}', client_id: hil-developer, "
            f"secret: '{SECRET}', world_control: '{running.address('control')}', "
            f"time_scale: {SCALE}}}\n"
            "capabilities: [oauth2, hubs, hub-status, router-calls, combined, combined-scan, "
            "auto-selection, positioning, router-faults, world-control]\n"
        )
        reports = tmp_path / "reports"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "conformance.cli",
                "conformance",
                "--profile",
                "ble-ac",
                "--sut",
                str(sut),
                "--clock",
                "real",
                "--reports",
                str(reports),
                "-k",
                CROSS_SECTION,
                "-q",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
    run_dirs = list(reports.iterdir())
    assert len(run_dirs) == 1, proc.stdout + proc.stderr
    records = json.loads((run_dirs[0] / "scenario-records.json").read_text())
    outcomes = {r["name"]: r["outcome"] for r in records if r.get("outcome") != "skipped"}
    assert len(outcomes) == 9, outcomes
    assert set(outcomes.values()) == {"passed"}, proc.stdout[-3000:]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
