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


def test_a_terminal_on_a_taken_address_is_refused_and_leaves_nothing() -> None:
    """Found by the connect-master world-control campaign: the second terminal on one address
    was registered, then failed to listen (500), and kept its deviceID for ever."""
    from devices.protocols.http_client import HttpClient
    from devices.protocols.http_server import serve
    from scenarios.connect_master.bed import LocalCmBed
    from scenarios.connect_master.control import control_app
    from sim.iplink import IpNetwork

    bed = LocalCmBed(seed=3)

    async def main() -> list[tuple[int, str]]:
        await bed.start()
        net = IpNetwork(bed.world, name="control-test")
        served = await serve(control_app(bed), bed.world, "control", 80, net=net)
        client = HttpClient(served.url, connect=net.open_connection)
        answers = []
        for device_id, host in ((11, 41), (12, 41), (12, 40)):
            answer = await client.request(
                "POST",
                "/world/terminals",
                json_body={"deviceID": device_id, "gateway": "gw-a", "host": host},
            )
            answers.append((answer.status, answer.text))
        await served.close()
        return answers

    try:
        answers = bed.run(main())
    finally:
        bed.close()
    assert answers[0][0] == 201
    assert answers[1][0] == 400 and "host 41" in answers[1][1] and "terminal 11" in answers[1][1]
    assert answers[2][0] == 201  # 12 was not taken by the refused attempt
