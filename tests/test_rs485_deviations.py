"""RS485 deviations that bend framing and the secure channel: each changes exactly the
behaviour it names, and the clean devices keep theirs."""

from __future__ import annotations

import pytest

from devices.protocols.modbus_rtu import frame
from devices.rs485 import osdp_clock
from devices.rs485.modbus_slave import ModbusSlave, _split_by_header, standard_slave
from devices.rs485.osdp_cp import OsdpControlPanel, PdConfig
from devices.rs485.osdp_pd import OsdpReader, ReaderSpec
from devices.rs485.raw_port import RawPort
from sim.rs485 import Rs485Bus
from sim.world import World

READ = frame(1, bytes.fromhex("0300000001"))
REPLY = frame(1, bytes.fromhex("030200c8"))
KEY = bytes(range(16))
WRONG_KEY = bytes(b ^ 0x5A for b in KEY)


def _heard_back_to_back(*deviations: str) -> list[bytes]:
    with World(seed=3) as world:
        bus = Rs485Bus(world, "line")
        world.run(ModbusSlave(world, bus, standard_slave(1), deviations=deviations).start())
        probe = RawPort(bus, "probe")
        heard = world.run(probe.exchange(READ + READ))
        assert world.run(probe.exchange(READ)) == [REPLY]  # ready for the next request
        return heard


def test_back_to_back_requests_are_one_frame_unless_split_by_header() -> None:
    assert _heard_back_to_back() == []
    # each reply its own line frame: the line was silent between them
    assert _heard_back_to_back("frames-split-by-header") == [REPLY, REPLY]


def test_split_by_header_cuts_by_function_and_byte_count() -> None:
    write = frame(1, bytes.fromhex("10000000020400010002"))
    assert _split_by_header(READ + write) == [READ, write]
    assert _split_by_header(READ + b"\x01\x03") == [READ, b"\x01\x03"]
    assert _split_by_header(READ + frame(1, b"\x32\x00")) == [READ, frame(1, b"\x32\x00")]


def _plain_fallback(*deviations: str) -> tuple[bool, bool]:
    """(the CP kept the reader online, the secure channel opened) after 10 s of a CP with a
    wrong key that falls back to plain when the secure channel fails."""
    with World(seed=4) as world:
        bus = Rs485Bus(world, "line")
        reader = OsdpReader(world, bus, ReaderSpec(1, KEY), deviations=deviations)
        reader.start()
        cp = OsdpControlPanel(world, bus, [PdConfig(1, WRONG_KEY, enforce=False)])
        world.run_for(10)
        return cp.online(1), cp.sc_active(1)


@pytest.mark.skipif(not osdp_clock.ON_WORLD_CLOCK, reason="libosdp on the wall clock")
def test_a_reader_not_enforcing_the_secure_channel_comes_online_in_plain() -> None:
    assert _plain_fallback() == (False, False)
    assert _plain_fallback("sc-not-enforced") == (True, False)
