"""OSDP on the RS485 line: libosdp on the world's clock, Wiegand framing, bad input (and the
packets that would crash libosdp), determinism, and the rs485-osdp profile judging readers
served by another process behind a pty bridge."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from devices.protocols import osdp_frame
from devices.rs485 import osdp_clock
from devices.rs485.osdp_cp import OsdpControlPanel, PdConfig
from devices.rs485.osdp_guard import CRASHING_COMMANDS, PacketGuard
from devices.rs485.osdp_pd import OsdpReader, ReaderSpec, parse_wiegand26, wiegand26
from devices.rs485.raw_port import RawPort
from sim.rs485 import Rs485Bus
from sim.world import World
from tests.served import served

ROOT = Path(__file__).resolve().parents[1]
KEY = bytes(range(16))

needs_world_clock = pytest.mark.skipif(
    not osdp_clock.ON_WORLD_CLOCK, reason=f"libosdp on the wall clock: {osdp_clock.REASON}"
)


def test_wiegand26_round_trip_and_parity() -> None:
    data = wiegand26(12, 3456)
    assert len(data) == 4 and parse_wiegand26(data) == (12, 3456)
    bits = int.from_bytes(data, "big") >> 6
    assert bin(bits >> 13).count("1") % 2 == 0  # even parity over the first 13 bits
    assert bin(bits & 0x1FFF).count("1") % 2 == 1  # odd parity over the last 13
    with pytest.raises(ValueError, match="card 256:1 not accepted"):
        wiegand26(256, 1)


def test_bad_input_names_the_value_and_what_is_accepted() -> None:
    with pytest.raises(ValueError, match="OSDP address 127 not accepted; accepted: 0 to 126"):
        ReaderSpec(127)
    with pytest.raises(ValueError, match="SCBK b'short' not accepted; accepted: 16 bytes"):
        ReaderSpec(1, b"short")
    with World() as world:
        bus = Rs485Bus(world, "line")
        reader = OsdpReader(world, bus, ReaderSpec(1))
        reader.start()
        with pytest.raises(ValueError, match="keys '12a' not accepted"):
            reader.press_keys("12a")
        cp = OsdpControlPanel(world, bus, [PdConfig(1)])
        with pytest.raises(ValueError, match="LED colour 'pink' not accepted; accepted: black"):
            cp.led(1, "pink")
        with pytest.raises(KeyError, match="PD address 5 is not polled"):
            cp.online(5)
        with pytest.raises(ValueError, match="distinct"):
            OsdpControlPanel(world, bus, [PdConfig(2), PdConfig(2)], "cp2")


@needs_world_clock
def test_libosdp_timers_follow_virtual_time() -> None:
    """Ten minutes of polling cost far less than ten minutes: libosdp reads the world's clock
    (a wall-clock libosdp would see almost no time pass and send almost no polls)."""
    with World(seed=4) as world:
        bus = Rs485Bus(world, "line")
        OsdpReader(world, bus, ReaderSpec(1, KEY)).start()
        cp = OsdpControlPanel(world, bus, [PdConfig(1, KEY)])
        world.run_for(600)
        assert cp.online(1) and cp.sc_active(1)
        # libosdp polls an idle PD every 50 ms or so: thousands of frames in 600 s
        assert bus.stats.frames > 5000


@needs_world_clock
def test_same_seed_same_line_bytes() -> None:
    def run(seed: int) -> str:
        with World(seed=seed) as world:
            bus = Rs485Bus(world, "line")
            reader = OsdpReader(world, bus, ReaderSpec(1, KEY))
            reader.start()
            cp = OsdpControlPanel(world, bus, [PdConfig(1, KEY)])
            world.run(cp.until(lambda: cp.online(1), 5))
            reader.present_card(1, 2)
            world.run_for(1)
            return "".join(json.dumps(r) for r in world.trace.select(layer="bus"))

    first = run(7)
    assert first == run(7)
    assert first != run(8)  # the secure channel's random challenge follows the seed


@needs_world_clock
def test_tamper_and_raw_card_reads_reach_the_control_panel(tmp_path: Path) -> None:
    with World(seed=3) as world:
        bus = Rs485Bus(world, "line", capture_dir=tmp_path, summarise=osdp_frame.summarise)
        reader = OsdpReader(world, bus, ReaderSpec(1, KEY))
        reader.start()
        cp = OsdpControlPanel(world, bus, [PdConfig(1, KEY)])
        assert world.run(cp.until(lambda: cp.online(1), 5))
        assert reader.tamper() and reader.read_card(b"\x12\x34\x56", 20, "raw")
        assert world.run(cp.until(lambda: len(cp.events[1]) == 2, 2))
        with pytest.raises(ValueError, match="card length 30 bits not accepted"):
            reader.read_card(b"\x01\x02", 30)
        with pytest.raises(ValueError, match="card format 'mag' not accepted"):
            reader.read_card(b"\x01", card_format="mag")
        bus.close()
    status, card = cp.events[1]
    assert (status["kind"], status["tamper"], status["power_fault"]) == ("status", True, False)
    assert (card["kind"], bytes(card["data"]), card["length"]) == ("card", b"\x12\x34\x56", 20)
    capture = (tmp_path / "rs485-line.log").read_text()
    assert "decoder osdp_frame.summarise" in capture
    assert "to PD 1 ID seq" in capture and "reply from PD 1 PDID seq" in capture


def test_osdp_packets_are_found_and_summarised() -> None:
    poll = bytes.fromhex("530108000460") + b"\x00\x00"
    poll = poll[:-2] + osdp_frame.crc16(poll[:-2]).to_bytes(2, "little")
    packet = osdp_frame.find_packet(b"\xff" + poll)
    assert isinstance(packet, osdp_frame.Packet)
    assert (packet.address, packet.reply, packet.name, packet.check_ok) == (1, False, "POLL", True)
    assert osdp_frame.summarise(poll) == "to PD 1 POLL seq 0, crc ok"
    assert osdp_frame.summarise(poll[:-1] + bytes([poll[-1] ^ 0xFF])).endswith("crc ERROR")
    assert osdp_frame.find_packet(b"\x53\x01") == "no OSDP packet (2 bytes)"
    assert osdp_frame.summarise(b"\x53\x01\x40\x00\x04\x60\x00") == (
        "truncated OSDP packet (length 64, have 7)"
    )


@pytest.mark.slow
def test_profile_judges_readers_served_behind_a_pty(tmp_path: Path) -> None:
    """Our readers in another process (real time) behind a pty; the rs485-osdp profile's
    control panel polls them through a serial bridge as an external SUT, and a person at the
    far reader (cards, keys, the tamper switch) and what it shows go through the line's world
    control: the outside control panel sees each over the pty."""
    args = ("rs485", "--port", "0", "--control-port", "0", "--pty", "--osdp", "1")
    with served(*args, "--scbk", KEY.hex()) as line:
        sut = {
            "name": "outside-reader",
            "role": "gateway",
            "identity": {
                "vendor": "gateway-hil",
                "model": "served OSDP reader",
                "firmware": "0.1.0",
            },
            "endpoints": {
                "rs485-osdp": {
                    "pty": line.address("pty"),
                    "world_control": line.address("control"),
                    "address": 1,
                    "scbk": KEY.hex(),
                    "settings": "9600 8N1",
                }
            },
            "capabilities": ["osdp-pd", "osdp-secure-channel", "osdp-reader-control"],
        }
        sut_file = tmp_path / "sut.yaml"
        sut_file.write_text(yaml.safe_dump(sut))
        results = tmp_path / "results.json"
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "features/rs485",
                "-k",
                "control_panels_identification or secure_channel_opens or acknowledges_an_led "
                "or card_read_reaches or keypad_presses or tamper_switch_reaches "
                "or buzzer_command_sounds",
                f"--hil-sut={sut_file}",
                f"--hil-results={results}",
                f"--hil-evidence-dir={tmp_path / 'evidence'}",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=200,
        )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    outcomes = {r["name"]: r["outcome"] for r in json.loads(results.read_text())}
    assert outcomes == {
        "The reader answers the control panel's identification and comes online": "passed",
        "The secure channel opens with the reader's key": "passed",
        "The reader acknowledges an LED command": "passed",
        "A card read reaches the control panel": "passed",
        "Keypad presses reach the control panel": "passed",
        "A tamper switch reaches the control panel": "passed",
        "A buzzer command sounds the reader": "passed",
    }, outcomes
    captures = [c.read_text() for c in (tmp_path / "evidence").rglob("rs485-line.log")]
    assert any("sut-bridge" in c and "reply from PD 1 PDID" in c for c in captures)
    far_traces = [t.read_text() for t in (tmp_path / "evidence").rglob("sut-world-trace.jsonl")]
    assert any('"event": "card"' in t for t in far_traces)
    for event in ("keypad", "tamper"):
        assert any(f'"event": "{event}"' in t for t in far_traces), event


def test_a_guard_keeps_the_packets_that_crash_libosdp_from_it() -> None:
    """libosdp 3.2.9 enforcing the secure channel segfaults on a plain packet with a command
    code it does not implement; the reader answers it with osdp_NAK 3 instead, also when the
    packet's head is split over two line frames."""
    guard = PacketGuard(1)
    poll = osdp_frame.build(1, 0x05, b"\x60")
    assert guard.screen(poll) == (poll, None)
    unknown = osdp_frame.build(0x7F, 0x06, b"\x71\x22")
    assert guard.screen(b"\xff" + unknown) == (b"", osdp_frame.build(0xFF, 0x06, b"\x41\x03"))
    secure = osdp_frame.build(1, 0x0D, b"\x02\x15\x71" + bytes(4))
    assert guard.screen(secure) == (secure, None)  # libosdp checks these itself
    assert guard.screen(unknown[:5]) == (unknown[:5], None)
    assert guard.screen(unknown[5:])[0] == b"" and guard.refused == 2
    assert all(code in CRASHING_COMMANDS for code in (0x63, 0x6F, 0x7D, 0x81, 0xA0, 0xA6))


@needs_world_clock
def test_a_keyed_reader_answers_an_unknown_plain_command_and_stays_online() -> None:
    with World(seed=6) as world:
        bus = Rs485Bus(world, "line")
        reader = OsdpReader(world, bus, ReaderSpec(1, KEY))
        reader.start()
        probe = RawPort(bus, "probe")
        for code in sorted(CRASHING_COMMANDS):
            packet = osdp_frame.build(1, 0x04, bytes([code]))
            assert world.run(probe.exchange(packet, 0.1)) == [
                osdp_frame.build(0x81, 0x04, b"\x41\x03")
            ]
        cp = OsdpControlPanel(world, bus, [PdConfig(1, KEY)])
        assert world.run(cp.until(lambda: cp.online(1) and cp.sc_active(1), 5))
        refused = world.trace.select(event="packet-refused")
    assert len(refused) == len(CRASHING_COMMANDS)
