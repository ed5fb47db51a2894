"""The RS485 line capture (``rs485-<bus>.pcapng``) read back with scapy: one exported PDU per
line frame, handed to Wireshark's Modbus RTU dissector, stamped when the frame began, the
function and CRC as the line carried them, who drove it, and collisions and noise marked."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from scapy.contrib.modbus import (
    ModbusPDU03ReadHoldingRegistersRequest,
    ModbusPDU03ReadHoldingRegistersResponse,
)
from scapy.utils import rdpcap

from devices.protocols import modbus_rtu
from devices.rs485.modbus_master import ModbusMaster
from devices.rs485.modbus_slave import ModbusSlave, standard_slave
from scenarios.rs485.bed import LocalModbusLine
from sim.exported_pdu import TAG_PROTOCOL_COLUMN, ExportedPdu
from sim.pcap import open_capture
from sim.rs485 import LineFrame, Rs485Bus
from sim.rs485_pcap import BusPcap
from sim.world import World


def _crc_ok(frame: bytes) -> bool:
    return modbus_rtu.crc16(frame[:-2]) == int.from_bytes(frame[-2:], "little")


def _line(tmp_path: Path, **pcap: Any) -> tuple[World, Rs485Bus, Any, Path, list[LineFrame]]:
    world = World(seed=5)
    bus = Rs485Bus(world, "line")
    path = tmp_path / "rs485-line.pcapng"
    writer = open_capture(path, world)
    BusPcap(bus, writer, **pcap)
    frames: list[LineFrame] = []
    bus.listeners.append(frames.append)
    return world, bus, writer, path, frames


def test_modbus_frames_go_to_the_mbrtu_dissector_with_function_and_crc(tmp_path) -> None:
    world, bus, writer, path, frames = _line(
        tmp_path, dissector="mbrtu", summarise=modbus_rtu.summarise
    )
    master = ModbusMaster(world, bus, timeout=0.2, retries=1)

    async def scenario() -> Any:
        await ModbusSlave(world, bus, standard_slave(1)).start()
        await master.start()
        return await master.request("read_holding_registers", 0, count=2, device_id=1)

    reply = world.run(scenario())
    assert reply is not None
    writer.close()
    world.close()
    packets = list(rdpcap(str(path)))
    assert len(packets) == len(frames) == 2
    for packet, frame in zip(packets, frames, strict=True):
        assert isinstance(packet, ExportedPdu) and packet.dissector == "mbrtu"
        data = bytes(packet.payload)
        assert data == frame.line_bytes and _crc_ok(data)
        assert float(packet.time) == round(world.epoch.timestamp() + frame.start, 6)
        assert packet.comments[0].decode().startswith(", ".join(frame.drivers) + ": ")
    request, response = (bytes(p.payload) for p in packets)
    assert request[0] == response[0] == 1  # unit
    asked = ModbusPDU03ReadHoldingRegistersRequest(request[1:-2])
    answered = ModbusPDU03ReadHoldingRegistersResponse(response[1:-2])
    assert (asked.funcCode, asked.startAddr, asked.quantity) == (3, 0, 2)
    assert answered.funcCode == 3 and answered.registerVal == list(reply.registers)
    assert packets[0].comments[0].startswith(b"master: slave 1 read holding registers")


def test_collisions_and_noise_are_marked(tmp_path) -> None:
    world, bus, writer, path, frames = _line(
        tmp_path, dissector="mbrtu", summarise=modbus_rtu.summarise
    )
    a, b = bus.attach("a"), bus.attach("b")
    clean = modbus_rtu.frame(1, bytes.fromhex("0300000002"))

    async def scenario() -> None:
        a.send(clean)
        b.send(clean)  # at the same instant: a collision
        await asyncio.sleep(0.1)
        bus.set_noise(0.05)
        a.send(clean)
        await asyncio.sleep(0.1)

    world.run(scenario())
    writer.close()
    world.close()
    comments = [p.comments[0].decode() for p in rdpcap(str(path))]
    assert [f.collision for f in frames] == [True, False]
    assert comments[0].startswith("a, b") and "COLLISION" in comments[0]
    assert frames[1].flipped_bits > 0 and f"NOISE {frames[1].flipped_bits} bit(s)" in comments[1]


def test_osdp_frames_are_labelled_data(tmp_path) -> None:
    world, bus, writer, path, _frames = _line(tmp_path, protocol="OSDP")

    async def scenario() -> None:
        bus.attach("cp").send(bytes.fromhex("530008000460d941"))
        await asyncio.sleep(0.1)

    world.run(scenario())
    writer.close()
    world.close()
    (packet,) = rdpcap(str(path))
    assert packet.dissector == "data" and packet.value(TAG_PROTOCOL_COLUMN) == b"OSDP"
    assert bytes(packet.payload) == bytes.fromhex("530008000460d941")


def test_the_modbus_bed_lists_the_line_capture_as_evidence(tmp_path) -> None:
    bed = LocalModbusLine(capture_dir=tmp_path / "captures")
    try:

        async def scenario() -> Any:
            await bed.start()
            master = await bed.add_master("master")
            return await master.request("read_input_registers", 0, count=1, device_id=bed.sut)

        assert bed.run(scenario()) is not None
        files = bed.write_evidence(tmp_path / "evidence")
    finally:
        bed.close()
    assert files["rs485-line.pcapng"] == "line capture"
    packets = rdpcap(str(tmp_path / "evidence" / "rs485-line.pcapng"))
    assert [bytes(p.payload)[1] for p in packets] == [4, 4]
    assert all(_crc_ok(bytes(p.payload)) for p in packets)
