"""Fuzzing the RS485 line's reference devices (:mod:`scenarios.rs485.fuzz`): bounded campaigns
in CI, full ones (10,000 inputs per interface) with ``-m fuzz``, and the Modbus campaign's power
to catch a slave that frames requests like a byte stream."""

from __future__ import annotations

import pytest

from devices.rs485 import osdp_clock
from devices.rs485.modbus_slave import ModbusSlave
from scenarios.rs485.fuzz import INTERFACES, campaign

BOUNDED = {"modbus": 400, "osdp": 120}
FULL = 10_000


def _needs_world_clock(interface: str) -> None:
    if interface == "osdp" and not osdp_clock.ON_WORLD_CLOCK:
        pytest.skip(f"libosdp on the wall clock: {osdp_clock.REASON}")


@pytest.mark.parametrize("interface", INTERFACES)
def test_a_bounded_campaign_finds_nothing(interface: str) -> None:
    _needs_world_clock(interface)
    tally = campaign(interface, BOUNDED[interface], seed=1)
    assert tally.ok, tally.summary()
    assert tally.inputs == BOUNDED[interface]
    assert tally.count("silence") > 0 and len(tally.answers) >= 3, tally.summary()


def test_the_modbus_campaign_catches_a_slave_that_reads_a_byte_stream(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pymodbus alone behind the address filter: runt frames leave it deaf, broadcasts and
    frames run together get answers."""

    def addressed_only(slave: ModbusSlave, data: bytes) -> bool:
        return bool(data) and data[0] in (0, slave.spec.unit)

    monkeypatch.setattr(ModbusSlave, "_admit", addressed_only)
    tally = campaign("modbus", 200, seed=1)
    assert not tally.ok
    assert tally.count("hang") > 0 and not tally.state_checks["the protocol held"]


@pytest.mark.fuzz
@pytest.mark.parametrize("interface", INTERFACES)
def test_a_full_campaign_finds_nothing(interface: str, request: pytest.FixtureRequest) -> None:
    if "fuzz" not in str(request.config.getoption("markexpr", "")):
        pytest.skip("a full campaign runs only when selected: -m fuzz")
    _needs_world_clock(interface)
    tally = campaign(interface, FULL, seed=7)
    print(tally.summary())
    assert tally.ok, tally.summary()
