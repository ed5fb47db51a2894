"""Bridges: our simulated line served in another process (``hil serve rs485``), joined from
outside by pymodbus' own clients through a pseudo-terminal and through Modbus RTU over TCP; the
rs485-modbus profile judging that outside slave through the TCP bridge as an external SUT; and
the line's world-control API."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import termios
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.framer import FramerType

from devices.rs485.bridges import MAX_QUEUED, MAX_WRITE, InputLimit
from devices.rs485.tty_settings import set_tty_settings, tty_settings
from sim.rs485 import Rs485Bus
from sim.uart import LineSettings
from sim.world import World
from tests.served import ROOT, served


@pytest.fixture(scope="module")
def served_line() -> Iterator[dict[str, str]]:
    args = ("rs485", "--port", "0", "--control-port", "0", "--pty", "--units", "1,2")
    with served(*args) as line:
        yield line.listening


def _control(line: dict[str, str], path: str, body: Any = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        line["control"] + path,
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_rtu_over_tcp_bridge_with_pymodbus_tcp_client(served_line: dict[str, str]) -> None:
    host, port = served_line["tcp"].rsplit(":", 1)

    async def poll() -> tuple[list[int], object]:
        client = AsyncModbusTcpClient(
            host, port=int(port), framer=FramerType.RTU, timeout=1, retries=0
        )
        await client.connect()
        try:
            serial = await client.read_input_registers(0, count=4, device_id=2)
            absent = None
            try:
                absent = await client.read_input_registers(0, count=1, device_id=9)
            except Exception as exc:  # noqa: BLE001 - pymodbus raises ModbusIOException
                absent = exc
            return serial.registers, absent
        finally:
            client.close()

    registers, absent = asyncio.run(poll())
    assert bytes(b for r in registers for b in r.to_bytes(2, "big")) == b"SN000002"
    assert "No response" in str(absent)


def test_pty_bridge_with_pymodbus_serial_client(served_line: dict[str, str]) -> None:
    async def write_and_read() -> list[int]:
        client = AsyncModbusSerialClient(
            served_line["pty"], framer=FramerType.RTU, timeout=1, baudrate=9600
        )
        await client.connect()
        try:
            reply = await client.write_register(12, 4321, device_id=1)
            assert not reply.isError()
            return (await client.read_holding_registers(12, count=1, device_id=1)).registers
        finally:
            client.close()

    assert asyncio.run(write_and_read()) == [4321]


@pytest.mark.slow
def test_profile_judges_an_external_slave_through_the_tcp_bridge(
    served_line: dict[str, str], tmp_path: Path
) -> None:
    builtin = yaml.safe_load((ROOT / "conformance/suts/builtin.yaml").read_text())
    endpoint = dict(builtin["endpoints"]["rs485-modbus"], tcp=served_line["tcp"])
    sut = {
        "name": "outside-meter",
        "role": "gateway",
        "identity": {
            "vendor": "gateway-hil",
            "model": "served standard slave",
            "firmware": "0.1.0",
        },
        "endpoints": {"rs485-modbus": endpoint},
        "capabilities": ["modbus-rtu"],
    }
    sut_file = tmp_path / "sut.yaml"
    sut_file.write_text(yaml.safe_dump(sut))
    results = tmp_path / "results.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "features/rs485",
            f"--hil-sut={sut_file}",
            f"--hil-results={results}",
            f"--hil-evidence-dir={tmp_path / 'evidence'}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    records = json.loads(results.read_text())
    outcomes = {r["name"]: r["outcome"] for r in records}
    passed = [n for n, o in outcomes.items() if o == "passed"]
    planned = [r["name"] for r in records if r["planned_skip"]]
    assert len(passed) >= 15, outcomes
    assert "A failed sensor makes its registers answer exception 4" in planned
    assert "A broadcast write reaches every slave on the line" in planned
    captures = list((tmp_path / "evidence").rglob("rs485-line.log"))
    assert captures and any("sut-bridge" not in c.read_text() for c in captures)


def test_world_control_shows_the_line_and_powers_its_slaves(served_line: dict[str, str]) -> None:
    status, world = _control(served_line, "/world")
    assert status == 200 and world["clock"] == "real" and world["line"]["settings"] == "9600 8N1"
    assert [(n["kind"], n["unit"], n["powered"]) for n in world["nodes"]] == [
        ("modbus-slave", 1, True),
        ("modbus-slave", 2, True),
    ]
    assert _control(served_line, "/world/slaves/2/power", {"on": False}) == (200, {"ok": True})
    assert not _control(served_line, "/world")[1]["nodes"][1]["powered"]
    assert _control(served_line, "/world/slaves/2/power", {"on": True})[0] == 200
    status, body = _control(served_line, "/world/slaves/9/power", {"on": True})
    assert status == 404 and "no slave with unit 9" in body["error"]
    status, body = _control(served_line, "/world/slaves/1/power", {"on": "yes"})
    assert status == 400 and "on must be true or false" in body["error"]
    status, body = _control(served_line, "/world/readers/1/card", {"card": "00"})
    assert status == 404 and "no OSDP readers" in body["error"]
    status, trace = _control(served_line, "/world/trace?since=0")
    assert status == 200 and any(r["event"] == "power-off" for r in trace)


def test_served_line_rejects_bad_options() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "serve", "rs485", "--units", "1", "--osdp", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "not both" in proc.stderr


def test_an_input_limit_bounds_what_a_client_queues(caplog: pytest.LogCaptureFixture) -> None:
    with World(seed=1) as world:
        bus = Rs485Bus(world, "line")
        port = bus.attach("bridge")
        limit = InputLimit(port)
        with caplog.at_level(logging.WARNING, logger="devices.rs485.bridges"):
            limit.send(bytes(4096))  # one write: one frame's worth is kept
            assert limit.queued() == MAX_WRITE
            limit.send(bytes(200))
            limit.send(bytes(200))  # 56 of these fit under MAX_QUEUED
            assert limit.queued() == MAX_QUEUED and limit.dropped == 4096 - 256 + 144
            world.run_for(MAX_QUEUED * bus.settings.char_time)
            assert limit.queued() == 0 and limit.admit(b"\x01\x03") == b"\x01\x03"
            limit.send(bytes(20_000))
        held = port.tx_end - world.now
        assert held < 0.3, f"a 20 KB burst holds the line {held:.1f} s"
    warnings = [r for r in caplog.records if "dropping the excess" in r.getMessage()]
    assert len(warnings) == 2  # one per burst
    assert len(world.trace.select(event="input-dropped")) == 3


def test_a_tty_tells_the_speed_its_program_chose() -> None:
    master, client = os.openpty()
    try:
        line = LineSettings.parse("9600 8N1")
        set_tty_settings(client, line)
        assert tty_settings(master, LineSettings.parse("1200 8N1")) == line
        attrs = termios.tcgetattr(client)
        attrs[4] = attrs[5] = termios.B19200
        attrs[2] |= termios.CSTOPB | termios.PARENB  # a pty keeps no parity
        termios.tcsetattr(client, termios.TCSANOW, attrs)
        assert tty_settings(master, line) == LineSettings.parse("19200 8N2")
        attrs[4] = attrs[5] = termios.B0
        termios.tcsetattr(client, termios.TCSANOW, attrs)
        assert tty_settings(master, line).baud == 9600  # speed 0: the line's
    finally:
        os.close(client)
        os.close(master)
    assert tty_settings(master, line) == line  # closed: the fallback
