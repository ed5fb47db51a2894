"""``hil serve <system> --capture FILE|-``: a pcapng of the world's media while serving (on
standard output for ``| wireshark -k -i -``, the status lines then on standard error), and a
system that offers no capture refuses the option."""

from __future__ import annotations

import io
import subprocess
import sys
import types
from argparse import Namespace

from scapy.layers.bluetooth4LE import BTLE_ADV_IND, BTLE_RF
from scapy.layers.inet import TCP
from scapy.utils import rdpcap

from conformance.cli import _serve
from tests.served import ROOT


def test_ble_router_streams_the_air_on_standard_output() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance.cli",
            "serve",
            "ble-router",
            "--port",
            "0",
            "--control-port",
            "0",
            "--peripherals",
            "2",
            "--duration",
            "2",
            "--capture",
            "-",
        ],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    status = done.stderr.decode()
    assert done.returncode == 0, status[-2000:]
    assert "ready" in status and "capture standard output: the BLE air" in status
    packets = rdpcap(io.BytesIO(done.stdout))  # stdout is the capture and nothing else
    adverts = [p for p in packets if BTLE_ADV_IND in p]
    assert {p[BTLE_ADV_IND].AdvA.upper() for p in adverts} == {
        "F0:00:00:00:00:01",
        "F0:00:00:00:00:02",
    }
    assert all(p.comments[0].endswith(b"-> sniffer") for p in adverts)
    assert all(p[BTLE_RF].rf_channel == 0 for p in adverts)  # advertising channel 37
    times = [float(p.time) for p in packets]
    assert times == sorted(times)


def test_a_system_without_a_capture_refuses_the_option(capsys) -> None:
    bare = types.ModuleType("bare_serve")  # no CAPTURE
    args = Namespace(
        serve_module=bare,
        system="bare",
        host="127.0.0.1",
        port=None,
        control_port=None,
        seed=1,
        scale=1.0,
        duration=None,
        scenario=None,
        deviate=None,
        capture="out.pcapng",
    )
    assert _serve(args) == 2
    assert "--capture is not offered by this system" in capsys.readouterr().err


def test_the_access_controller_streams_the_air_and_its_routers_uplinks(tmp_path) -> None:
    target = tmp_path / "ac.pcapng"
    done = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "serve", "ble-ac", "--routers", "2"]
        + ["--peripherals", "2", "--port", "0", "--control-port", "0", "--duration", "3"]
        + ["--capture", str(target)],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    packets = rdpcap(str(target))
    assert any(BTLE_RF in p for p in packets)  # the air
    assert any(TCP in p for p in packets)  # the routers' in-world uplinks
