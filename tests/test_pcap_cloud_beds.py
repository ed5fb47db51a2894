"""The access controller's and Device2's local beds capture their in-world TCP (and the air)."""

from __future__ import annotations

from pathlib import Path

from scapy.all import TCP, Raw, rdpcap

from scenarios.ble_ac.bed import LocalAcBed
from scenarios.device2.bed import LocalDevice2Bed


def _payloads(path: Path) -> bytes:
    return b"".join(bytes(p[Raw].load) for p in rdpcap(str(path)) if TCP in p and Raw in p)


def test_the_ac_bed_captures_the_air_and_the_http_of_its_routers(tmp_path: Path) -> None:
    bed = LocalAcBed(capture_dir=tmp_path / "captures")
    try:
        bed.run(bed.start())
        bed.run(bed.sleep(5))
        files = bed.write_evidence(tmp_path / "evidence")
    finally:
        bed.close()
    assert {"air.pcapng", "ip.pcapng"} <= set(files)
    assert b"HTTP/1.1" in _payloads(tmp_path / "evidence" / "ip.pcapng")


def test_the_device2_bed_captures_its_device_and_service_traffic(tmp_path: Path) -> None:
    bed = LocalDevice2Bed(work_dir=tmp_path / "work", capture_dir=tmp_path / "captures")
    try:
        bed.run(bed.start())
        bed.run(bed.place({"name": "h", "identity": "dev-h", "start": 1}))
        bed.run(bed.sleep(3))
        files = bed.write_evidence(tmp_path / "evidence")
    finally:
        bed.close()
    assert "ip.pcapng" in files
    assert b"/provision/activate" in _payloads(tmp_path / "evidence" / "ip.pcapng")


def test_a_certificate_device_s_tls_session_leaves_its_key_log(tmp_path: Path) -> None:
    bed = LocalDevice2Bed(work_dir=tmp_path / "work", capture_dir=tmp_path / "captures")
    try:
        bed.run(bed.start())
        bed.run(bed.place({"name": "c", "identity": "dev-c", "auth": "certificate", "start": 1}))
        bed.run(bed.sleep(3))
        files = bed.write_evidence(tmp_path / "evidence")
    finally:
        bed.close()
    assert files.get("tls.keylog") == "tls key log"
    lines = (tmp_path / "evidence" / "tls.keylog").read_text().splitlines()
    assert any(
        line.startswith(("CLIENT_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_RANDOM")) for line in lines
    )
