"""MQTT on in-world links leaves a capture Wireshark dissects: TCP to port 1883 carrying the
gateway's CONNECT and the platform's CONNACK, and (gateway bed) the Modbus line and the air."""

from __future__ import annotations

from pathlib import Path

from scapy.all import TCP, Raw, rdpcap

from scenarios.mqtt_gateway.bed import LocalGatewayBed

MQTT_PORT = 1883


def _mqtt_payloads(path: Path) -> list[tuple[int, bytes]]:
    return [
        (int(p[TCP].dport), bytes(p[Raw].load))
        for p in rdpcap(str(path))
        if TCP in p and Raw in p and MQTT_PORT in (p[TCP].sport, p[TCP].dport)
    ]


def test_the_gateway_bed_captures_mqtt_the_line_and_the_air(tmp_path: Path) -> None:
    bed = LocalGatewayBed(work_dir=tmp_path, capture_dir=tmp_path / "captures")
    try:
        bed.run(bed.start())
        bed.run(bed.sleep(15))
        files = bed.write_evidence(tmp_path / "evidence")
    finally:
        bed.close()
    assert {"ip.pcapng", "air.pcapng", "rs485-line.pcapng"} <= set(files)
    payloads = _mqtt_payloads(tmp_path / "evidence" / "ip.pcapng")
    to_server = [data for port, data in payloads if port == MQTT_PORT]
    to_client = [data for port, data in payloads if port != MQTT_PORT]
    assert any(data[0] >> 4 == 1 and b"MQTT" in data[:12] for data in to_server)  # CONNECT
    assert any(data[0] == 0x20 for data in to_client)  # CONNACK
    assert any(data[0] >> 4 == 3 and b"v1/gateway/telemetry" in data for data in to_server)
    assert rdpcap(str(tmp_path / "evidence" / "rs485-line.pcapng"))  # the meters were polled
