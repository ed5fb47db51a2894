"""The RS485 line beds and the world-control API of a line, in virtual time: the shared verbs,
their errors, the evidence, and what world control does to the line's nodes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from devices.protocols.http_client import HttpClient
from devices.protocols.http_server import serve
from devices.rs485 import osdp_clock
from scenarios.bed import Bed, BedError
from scenarios.rs485.bed import LineBed, LocalModbusLine, LocalOsdpLine, RemoteModbusLine
from scenarios.rs485.control import control_app
from scenarios.rs485.worlds import WorldError, load_world, parse_world
from sim.iplink import IpNetwork

needs_world_clock = pytest.mark.skipif(
    not osdp_clock.ON_WORLD_CLOCK, reason=f"libosdp on the wall clock: {osdp_clock.REASON}"
)


def test_a_modbus_line_offers_the_shared_verbs(tmp_path: Path) -> None:
    bed = LocalModbusLine(seed=2, capture_dir=tmp_path / "live")
    try:
        assert isinstance(bed, Bed)
        assert bed.run(bed.start()) == 1 and bed.run(bed.start()) == 1
        master = bed.run(bed.add_master("m", timeout=0.1, retries=0))
        assert bed.client() is master and bed.client("m") is master
        reply = bed.run(master.request("read_holding_registers", 0, count=1, device_id=1))
        assert reply is not None and reply.registers == [200]
        with pytest.raises(BedError, match=r"no position \(cannot move .modbus-1.\)"):
            bed.run(bed.move("modbus-1", [0.0, 0.0]))
        with pytest.raises(BedError, match="unknown fault 'flood'; .*noise, power_cycle"):
            bed.run(bed.inject("flood"))
        with pytest.raises(BedError, match="Modbus unit id 300 not accepted; accepted: 1 to 247"):
            bed.run(bed.place({"unit": 300}))
        with pytest.raises(BedError, match="slave spec .* not accepted"):
            bed.run(bed.place({"unit": 3, "colour": "red"}))
        with pytest.raises(BedError, match="no slave with unit 7 in this world .*slaves: 1"):
            bed.run(bed.set_power(7, False))
        with pytest.raises(BedError, match="no master named 'x' on the line; masters: m"):
            bed.client("x")
        with pytest.raises(BedError, match="bit error rate 0.9 not accepted"):
            bed.run(bed.inject("noise", bit_error_rate=0.9))
        assert bed.run(bed.place({"unit": 2, "name": "meter"})) == 2
        bed.run(bed.set_power("meter", False))
        assert not bed.slaves[2].powered
        bed.run(bed.inject("power_cycle", off_s=1.0))
        assert not bed.slaves[1].powered
        bed.run(bed.sleep(1.5))
        assert bed.slaves[1].powered
        files = bed.write_evidence(tmp_path / "evidence")
    finally:
        bed.close()
    assert files == {
        "trace.jsonl": "timeline",
        "rs485-line.log": "capture",
        "rs485-line.pcapng": "line capture",
    }
    trace = (tmp_path / "evidence" / "trace.jsonl").read_text()
    assert '"event":"power-off"' in trace
    assert (
        "slave 1 read holding registers" in (tmp_path / "evidence" / "rs485-line.log").read_text()
    )
    assert bed.closed


def test_a_remote_line_names_what_it_lacks() -> None:
    with pytest.raises(BedError, match="time_scale 0 not accepted"):
        RemoteModbusLine({"tcp": "127.0.0.1:1", "time_scale": 0})
    bed = RemoteModbusLine({"settings": "9600 8N1"})
    try:
        with pytest.raises(BedError, match="names no bridge; accepted keys: tcp"):
            bed.run(bed.start())
        with pytest.raises(BedError, match="no slave with unit 1 .*declares no world_control"):
            bed.run(bed.set_power(1, False))
    finally:
        bed.close()
    with pytest.raises(BedError, match="the declared line settings: line settings 'fast'"):
        LocalModbusLine({"settings": "fast"})


def test_world_files_are_checked() -> None:
    assert [s["unit"] for s in load_world().slaves] == [1]
    assert load_world("osdp-line").osdp
    with pytest.raises(WorldError, match="no RS485 world 'nowhere'; built-in worlds: modbus"):
        load_world("nowhere")
    with pytest.raises(WorldError, match=r"slaves\[1\].unit 0 not accepted; accepted: 1 to 247"):
        parse_world({"slaves": [1, 0]})
    with pytest.raises(WorldError, match="Modbus slaves or OSDP readers"):
        parse_world({"slaves": [1], "readers": [{"address": 1}]})
    with pytest.raises(WorldError, match=r"readers\[0\].scbk: SCBK 'abc' not accepted"):
        parse_world({"readers": [{"address": 1, "scbk": "abc"}]})
    with pytest.raises(WorldError, match="unknown key.*'lines'"):
        parse_world({"slaves": [1], "lines": 2})


Call = Callable[..., Awaitable[tuple[int, Any]]]


async def _controlled(bed: LineBed) -> tuple[Call, Callable[[], Awaitable[None]]]:
    """The line's world control served inside its world, and a way to call it."""
    net = IpNetwork(bed.world)
    served = await serve(control_app(bed), bed.world, "line", 80, net=net)
    client = HttpClient("http://line:80", connect=net.open_connection)

    async def call(method: str, path: str, body: Any = None) -> tuple[int, Any]:
        response = await client.request(method, path, json_body=body)
        return response.status, response.json()

    return call, served.close


def test_world_control_fails_a_slaves_sensor() -> None:
    bed = LocalModbusLine(seed=4)

    async def scenario() -> None:
        call, close = await _controlled(bed)
        await bed.start()
        master = await bed.add_master("m", timeout=0.1, retries=0)
        status, world = await call("GET", "/world")
        assert status == 200 and world["nodes"][0]["unit"] == 1 and world["clock"] == "virtual"
        assert world["line"]["ports"] == ["modbus-1", "m"]
        path = "/world/slaves/1/points/temperature/failure"
        assert await call("POST", path) == (200, {"ok": True})
        reply = await master.request("read_input_registers", 4, count=2, device_id=1)
        assert reply is not None and reply.exception_code == 4
        assert await call("POST", path, {"failed": False}) == (200, {"ok": True})
        reply = await master.request("read_input_registers", 4, count=2, device_id=1)
        assert reply is not None and not reply.isError()
        status, body = await call("POST", "/world/slaves/1/points/humidity/failure")
        assert status == 404 and "no point 'humidity'" in body["error"]
        status, body = await call("POST", "/world/readers/1/keypad", {"keys": "1"})
        assert status == 404 and "no OSDP readers" in body["error"]
        status, trace = await call("GET", "/world/trace?since=0")
        assert any(r["event"] == "point-failed" for r in trace)
        await close()

    try:
        bed.run(scenario())
    finally:
        bed.close()


@needs_world_clock
def test_world_control_puts_a_person_at_an_osdp_reader() -> None:
    from devices.rs485.osdp_cp import PdConfig

    bed = LocalOsdpLine(seed=5)

    async def scenario() -> None:
        call, close = await _controlled(bed)
        await bed.start()
        await bed.place({"address": 2})
        cp = bed.add_panel("cp", [PdConfig(1, bed.scbk), PdConfig(2)])
        assert await cp.until(lambda: cp.online(1) and cp.online(2), 5)
        assert await call("POST", "/world/readers/1/tamper") == (200, {"queued": True})
        card = {"card": "0606c040", "bits": 26}
        assert await call("POST", "/world/readers/1/card", card) == (200, {"queued": True})
        assert await call("POST", "/world/readers/2/keypad", {"keys": "42#"}) == (
            200,
            {"queued": True},
        )
        assert await cp.until(lambda: len(cp.events[1]) == 2 and cp.events[2], 2)
        status, body = await call("POST", "/world/readers/2/keypad", {"keys": "4x"})
        assert status == 400 and "keys '4x' not accepted" in body["error"]
        status, body = await call("POST", "/world/readers/1/card", {"card": "zz"})
        assert status == 400 and "card must be the card's data as hex digits" in body["error"]
        status, body = await call("POST", "/world/readers/9/tamper")
        assert status == 404 and "no reader at address 9 on this line; on it: 1, 2" in body["error"]
        assert await call("POST", "/world/readers/2/power", {"on": False}) == (200, {"ok": True})
        status, body = await call("POST", "/world/readers/2/keypad", {"keys": "1"})
        assert status == 409 and "powered off" in body["error"]
        status, world = await call("GET", "/world")
        assert [(n["address"], n["powered"]) for n in world["nodes"]] == [(1, True), (2, False)]
        await close()

    try:
        bed.run(scenario())
        cp = bed.client("cp")
        kinds = [(e["kind"], e.get("tamper"), e.get("card")) for e in cp.events[1]]
        assert kinds == [("status", True, None), ("card", None, 3456)]
        assert [e["keys"] for e in cp.events[2]] == ["42#"]
    finally:
        bed.close()
