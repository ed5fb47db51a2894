"""What Wireshark makes of each capture kind, through ``tshark`` (skipped when it is not
installed: Debian's package ``tshark``): the BLE air follows a connection to a GATT read and an
SMP pairing, the IP capture dissects HTTP and decrypts TLS with the key log, the RS485 capture
dissects Modbus RTU with its CRC and flags a noisy frame. No capture has a malformed packet."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from devices.ble.gatt_uuids import BATTERY_LEVEL
from devices.ble.peripheral import add_peripheral
from devices.protocols import modbus_rtu
from devices.protocols.terminal_wire import ByteStream
from devices.protocols.x509 import CertificateAuthority, tls_context
from scenarios.ble_router.bed import LocalBleBed
from sim.ip_capture import IpCapture
from sim.iplink import IpNetwork
from sim.pcap import open_capture
from sim.rs485 import Rs485Bus
from sim.rs485_pcap import BusPcap
from sim.world import World

TSHARK = shutil.which("tshark")
pytestmark = pytest.mark.skipif(
    TSHARK is None, reason="tshark is not installed (Debian: apt-get install tshark)"
)


def tshark(capture: Path, *args: str) -> list[list[str]]:
    """``tshark -r capture args -T fields ...`` rows, split on tabs."""
    assert TSHARK is not None
    done = subprocess.run(
        [TSHARK, "-n", "-r", str(capture), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [line.split("\t") for line in done.stdout.splitlines() if line]


def fields(capture: Path, where: str, *names: str, options: tuple[str, ...] = ()) -> list[Any]:
    args = [*options, "-Y", where, "-T", "fields"]
    for name in names:
        args += ["-e", name]
    return tshark(capture, *args)


def no_malformed(capture: Path, options: tuple[str, ...] = ()) -> None:
    assert (
        fields(
            capture,
            "_ws.malformed || _ws.expert.severity >= error",
            "frame.number",
            options=options,
        )
        == []
    )


def test_the_air_capture_dissects_to_a_gatt_read_and_a_pairing(tmp_path) -> None:
    bed = LocalBleBed(seed=2, capture_dir=tmp_path)
    try:

        async def scenario() -> tuple[str, int]:
            await bed.start()
            p = await add_peripheral(bed, 1, io_capability="NoInputNoOutput")
            client = bed.client()
            await client.request(
                "POST", f"/gap/nodes/{p.address}/connection", json_body={"type": "random"}
            )
            chars = (await client.request("GET", f"/gatt/nodes/{p.address}/characteristics")).json()
            handle = next(c["handle"] for c in chars if c["uuid"] == BATTERY_LEVEL)
            await client.request("GET", f"/gatt/nodes/{p.address}/handle/{handle}/value")
            await client.request(
                "POST",
                f"/management/nodes/{p.address}/pair",
                json_body={"type": "random", "iocapability": "NoInputNoOutput"},
                timeout=60,
            )
            await asyncio.sleep(0.2)
            return p.address, int(handle)

        address, handle = bed.run(scenario())
        bed.run(bed.stop())
    finally:
        bed.close()
    air, ip = tmp_path / "air.pcapng", tmp_path / "ip.pcapng"
    assert fields(air, "btle.advertising_header.pdu_type == 0x5", "btle.advertising_address") == [
        [address.lower()]
    ]
    reads = fields(air, "btatt.opcode == 0x0a", "btatt.handle", "frame.interface_name")
    assert reads == [[f"0x{handle:04x}", "air"]]
    # Wireshark names the handle from the discovery it saw: the battery level, 100 %
    assert fields(air, "btatt.opcode == 0x0b", "btatt.battery_level") == [["100"]]
    assert fields(air, "btsmp.opcode == 0x01", "btsmp.io_capability") == [["0x03"]]
    no_malformed(air)
    requests = fields(ip, "http.request", "http.request.method", "http.request.uri")
    assert ["GET", f"/gatt/nodes/{address}/handle/{handle}/value"] in requests
    assert fields(ip, "http.response", "http.response.code")[0] == ["200"]
    no_malformed(ip, ("-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE"))


def test_the_ip_capture_decrypts_tls_with_its_key_log(tmp_path) -> None:
    world = World(seed=1)
    net = IpNetwork(world)
    capture, keylog = tmp_path / "ip.pcapng", tmp_path / "tls.keylog"
    writer = open_capture(capture, world)
    IpCapture(net, writer, keylog=keylog)
    ca = CertificateAuthority()
    server_ctx = tls_context(ca.cert_pem, True, ca.issue("gw", server=True), require_peer=False)
    client_ctx = tls_context(ca.cert_pem, False)

    async def serve(reader: asyncio.StreamReader, writer_: asyncio.StreamWriter) -> None:
        stream = ByteStream(reader, writer_)
        await stream.start_tls(server_ctx, True)
        stream.write(b"pong " + await stream.read_some())

    def factory() -> asyncio.Protocol:
        reader = asyncio.StreamReader(loop=world.loop)
        return asyncio.StreamReaderProtocol(
            reader, lambda r, w: world.spawn(serve(r, w)), loop=world.loop
        )

    net.listen("10.0.0.1", 443, factory)

    async def scenario() -> bytes:
        stream = ByteStream(*await net.open_connection("10.0.0.1", 443))
        await stream.start_tls(client_ctx, False)
        stream.write(b"secret-hello")
        return await stream.read_some()

    assert world.run(scenario()) == b"pong secret-hello"
    writer.close()
    world.close()
    assert "CLIENT_RANDOM" in keylog.read_text()
    plain = ("-o", f"tls.keylog_file:{keylog}")
    assert fields(capture, "tls.handshake.type == 1", "ip.src") == [["198.18.0.1"]]
    decrypted = tshark(capture, *plain, "-x")
    assert any("secret-hello" in "".join(row) for row in decrypted)
    assert not any("secret-hello" in "".join(row) for row in tshark(capture, "-x"))
    no_malformed(capture, plain)


def test_the_rs485_capture_dissects_modbus_rtu_and_flags_noise(tmp_path) -> None:
    world = World(seed=1)
    bus = Rs485Bus(world, "line")
    capture = tmp_path / "rs485-line.pcapng"
    writer = open_capture(capture, world)
    BusPcap(bus, writer, "mbrtu", summarise=modbus_rtu.summarise)
    master = bus.attach("master")
    request = modbus_rtu.frame(1, bytes.fromhex("0300000002"))

    async def scenario() -> None:
        master.send(request)
        await asyncio.sleep(0.1)
        bus.set_noise(0.05)
        master.send(request)
        await asyncio.sleep(0.1)

    world.run(scenario())
    writer.close()
    world.close()
    crc = ("-o", "mbrtu.crc_verification:TRUE")
    rows = fields(
        capture,
        "mbrtu",
        "mbrtu.unit_id",
        "modbus.func_code",
        "mbrtu.crc16.status",
        "frame.packet_flags_crc_error",
        options=crc,
    )
    assert rows[0] == ["1", "3", "1", ""]  # CRC status good (1), no error flag
    assert rows[1][2:] == ["0", "1"]  # CRC status bad (0), the CRC-error flag set
    assert fields(capture, 'frame.comment contains "NOISE"', "frame.number") == [["2"]]
