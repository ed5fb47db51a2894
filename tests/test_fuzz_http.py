"""Fuzz campaigns against every HTTP API we serve: the BLE router's API (router-http,
sse-churn, slow-connections, login) and the world-control APIs of the BLE router, Connect
Master and RS485 (world-control). Bounded campaigns run in CI; ``pytest -m fuzz`` (or
``--run-fuzz``) runs the full ones, as ``hil fuzz <system>`` does."""

from __future__ import annotations

import pytest

from scenarios import control_fuzz
from scenarios.ble_router import fuzz as ble_fuzz
from scenarios.fuzzing import FuzzTally

FULL = 10_000
BOUNDED = {
    "router-http": 300,
    "world-control": 200,
    "sse-churn": 300,
    "slow-connections": 200,
    "login": 300,
}


def _assert_ok(tally: FuzzTally, examples: int) -> None:
    assert tally.inputs == examples, tally.summary()
    assert tally.ok, tally.summary()


@pytest.mark.parametrize("interface", ble_fuzz.INTERFACES)
def test_bounded_ble_router_campaign(interface: str) -> None:
    examples = BOUNDED[interface]
    _assert_ok(ble_fuzz.campaign(interface, examples, seed=1), examples)


@pytest.mark.parametrize("system", ["connect-master", "rs485"])
def test_bounded_world_control_campaign(system: str) -> None:
    _assert_ok(control_fuzz.campaign(system, 200, seed=1), 200)


def test_the_bounded_campaigns_cover_every_answer_class_that_matters() -> None:
    tally = ble_fuzz.campaign("router-http", 300, seed=2)
    for status in ("200", "400", "404", "405", "500", "stream"):
        assert tally.count(status) > 0, tally.summary()


@pytest.mark.fuzz
@pytest.mark.parametrize("interface", ble_fuzz.INTERFACES)
def test_full_ble_router_campaign(interface: str) -> None:
    tally = ble_fuzz.campaign(interface, FULL, seed=1)
    print(tally.summary())
    _assert_ok(tally, FULL)


@pytest.mark.fuzz
@pytest.mark.parametrize("system", ["connect-master", "rs485"])
def test_full_world_control_campaign(system: str) -> None:
    tally = control_fuzz.campaign(system, FULL, seed=1)
    print(tally.summary())
    _assert_ok(tally, FULL)


def test_hil_fuzz_prints_each_tally_and_exits_by_its_verdict(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from conformance.cli import main

    assert main(["fuzz", "ble-router", "--interface", "login", "--examples", "60"]) == 0
    out, err = capsys.readouterr()
    assert "ble-router login: 60 inputs  crash 0  hang 0  unhandled 0  auth-bypass 0" in out
    assert out.rstrip().endswith("all ok") and "login: 60/60 inputs" in err
    assert main(["fuzz", "rs485", "--interface", "telnet"]) == 2
    assert "accepted: modbus, osdp, world-control" in capsys.readouterr().err
