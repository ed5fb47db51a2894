"""Pairing through the router's real HTTP API, with Bumble's SMP on both sides, in virtual
time: the two-step flow, OOB labels, bonds, errors, and the peripheral's security spec."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from devices.ble.peripheral import BlePeripheral, add_peripheral
from devices.ble.spec import PeripheralSpec, SpecError, standard_peripheral
from devices.gateways.ble_router.api_errors import status_of
from devices.gateways.ble_router.errors import InvalidParameter
from devices.gateways.ble_router.pairing_api import parse_input, parse_pair_request
from scenarios.ble_router.bed import LocalBleBed


@pytest.fixture
def bed(make_bed):
    return make_bed(seed=4)


add = add_peripheral  # add(bed, index, **security fields): the stock sensor, powered on


async def pair(bed, p: BlePeripheral, **body: Any):
    return await bed.client().request(
        "POST",
        f"/management/nodes/{p.address}/pair",
        json_body={"type": "random", **body},
        timeout=60,
    )


async def pair_input(bed, p: BlePeripheral, **body: Any):
    return await bed.client().request(
        "POST", f"/management/nodes/{p.address}/pair-input", json_body=body, timeout=60
    )


async def pair_status(bed, p: BlePeripheral) -> str | None:
    r = await bed.client().request("GET", "/gap/nodes", params={"connection_state": "connected"})
    return next((n["pairStatus"] for n in r.json()["nodes"] if n["id"] == p.address), None)


def test_passkey_entry_two_steps_with_the_displayed_passkey(bed):
    async def main():
        p = await add(bed, 1, io_capability="DisplayOnly")
        r = await pair(bed, p, iocapability="KeyboardOnly")
        assert r.json() == {"pairingStatusCode": 5, "pairingStatus": "Passkey Input Expected"}
        await asyncio.sleep(0.5)
        shown = p.security.state()["display"]
        assert shown is not None and len(shown) == 6
        r = await pair_input(bed, p, passkey=shown)
        assert r.json() == {"pairingStatusCode": 1, "pairingStatus": "Pairing Successful"}
        assert await pair_status(bed, p) == "paired"
        assert p.security.state()["encrypted"]

    bed.world.run(main())


def test_the_displayed_passkey_comes_from_the_seed():
    def shown(seed: int) -> str:
        bed = LocalBleBed(seed=seed)
        try:

            async def main() -> str:
                await bed.start()
                spec = standard_peripheral(1)
                spec["security"] = {"io_capability": "DisplayOnly"}
                await bed.place(spec)
                client = bed.client()
                address = bed.address_of(spec["name"])
                await client.request(
                    "POST",
                    f"/management/nodes/{address}/pair",
                    json_body={"type": "random", "iocapability": "KeyboardOnly"},
                )
                await asyncio.sleep(0.5)
                return str((await bed.peripheral_state(spec["name"]))["security"]["display"])

            return bed.run(main())
        finally:
            bed.close()

    assert shown(11) == shown(11)
    assert shown(11) != shown(12)


def test_numeric_comparison_shows_the_same_number_and_a_no_fails(bed):
    async def main():
        p = await add(bed, 1, io_capability="DisplayYesNo")
        r = await pair(bed, p, iocapability="KeyboardDisplay")
        body = r.json()
        assert body["pairingStatusCode"] == 7 and body["display"] == p.security.display
        r = await pair_input(bed, p, passkey="0")
        assert r.json()["pairingStatusCode"] == 0
        assert await pair_status(bed, p) == "none"
        await asyncio.sleep(0.1)  # the Pairing Failed PDU reaches the device
        assert p.security.state()["failures"] == ["CONFIRM_VALUE_FAILED"]

    bed.world.run(main())


def test_legacy_oob_tk_is_read_most_significant_byte_first(bed):
    async def main():
        tk = "0x0123456789ABCDEF0123456789ABCDEF"
        p = await add(bed, 1, secure_connections=False, oob="legacy", oob_tk=tk)
        assert p.security.oob_label() == {"tk": tk}
        r = await pair(bed, p, oob=1, iocapability="KeyboardDisplay")
        assert r.json()["pairingStatusCode"] == 3
        r = await pair_input(bed, p, passkey="123456")
        assert r.status == 400 and "tk" in r.text
        r = await pair_input(bed, p, tk=tk)
        assert r.json()["pairingStatusCode"] == 1

    bed.world.run(main())


def test_security_oob_one_step_and_bond_zero_keeps_nothing(bed):
    async def main():
        p = await add(bed, 1, oob="secure")
        label = p.security.oob_label()
        r = await pair(
            bed, p, oob=2, bond=0, timeout=20000, iocapability="KeyboardDisplay", **label
        )
        assert r.json()["pairingStatusCode"] == 1
        await asyncio.sleep(0.5)
        assert p.security.bonds() == []
        assert not bed.router.central.pairing.bonded
        await bed.client().request("DELETE", f"/gap/nodes/{p.address}/connection")
        await bed.client().request(
            "POST", f"/gap/nodes/{p.address}/connection", json_body={"type": "random"}
        )
        assert await pair_status(bed, p) == "none"
        assert not p.security.state()["encrypted"]

    bed.world.run(main())


def test_bonded_reconnect_re_encrypts_without_a_new_pairing_and_unpair_forgets(bed):
    async def main():
        p = await add(bed, 1)
        assert (await pair(bed, p, iocapability="NoInputNoOutput")).json()["pairingStatusCode"] == 1
        await bed.client().request("DELETE", f"/gap/nodes/{p.address}/connection")
        await bed.client().request(
            "POST", f"/gap/nodes/{p.address}/connection", json_body={"type": "random"}
        )
        await asyncio.sleep(0.2)
        assert p.security.state()["encrypted"] and p.security.pairings == 1
        r = await bed.client().request("DELETE", f"/management/nodes/{p.address}/bond")
        assert (r.status, r.text) == (200, "OK")
        assert await pair_status(bed, p) == "none"
        r = await bed.client().request("DELETE", f"/management/nodes/{p.address}/bond")
        assert r.status == 500 and p.address in r.text

    bed.world.run(main())


def test_a_silent_peripheral_aborts_after_the_smp_timeout(bed):
    async def main():
        p = await add(bed, 1, behaviour="timeout")
        started = bed.world.now
        r = await pair(bed, p, iocapability="KeyboardDisplay")
        assert r.json() == {"pairingStatusCode": 2, "pairingStatus": "Pairing Aborted"}
        assert 30 <= bed.world.now - started < 32
        # the router is free again: a second request is not refused as busy
        r = await pair(bed, p, iocapability="KeyboardDisplay")
        assert r.json()["pairingStatusCode"] == 2

    bed.world.run(main())


def test_a_second_pair_request_while_one_waits_is_refused(bed):
    async def main():
        p = await add(bed, 1, io_capability="DisplayOnly")
        assert (await pair(bed, p, iocapability="KeyboardOnly")).json()["pairingStatusCode"] == 5
        r = await pair(bed, p, iocapability="KeyboardOnly")
        assert r.status == 500 and "in progress" in r.text
        r = await bed.client().request("GET", "/cassia/info")
        assert r.status == 200

    bed.world.run(main())


@pytest.mark.parametrize(
    "params, word",
    [
        ({"iocapability": "Psychic"}, "iocapability"),
        ({"oob": "9"}, "oob"),
        ({"oob": 2, "rand": "00" * 16}, "confirm"),
        ({"oob": 2, "rand": "zz", "confirm": "00" * 16}, "rand"),
        ({"legacy-oob": "2"}, "legacy-oob"),
        ({"bond": "yes"}, "bond"),
        ({"type": "static"}, "type"),
    ],
)
def test_bad_pair_parameters(params, word):
    with pytest.raises(InvalidParameter) as err:
        parse_pair_request(params)
    assert status_of(err.value) == 400 and word in err.value.message


def test_defaults_and_deprecated_names():
    assert parse_pair_request({}).io_capability == "KeyboardDisplay"
    old = parse_pair_request({"io-capability": "DisplayOnly", "legacy-oob": 1})
    assert (old.io_capability, old.oob, old.bond, old.timeout_s) == ("DisplayOnly", 1, True, 5.0)


@pytest.mark.parametrize(
    "kind, body",
    [
        ("passkey", {"passkey": "1234567"}),
        ("passkey", {"passkey": "-1"}),
        ("compare", {"passkey": "2"}),
        ("tk", {"tk": "0x12"}),
        ("tk", {"passkey": "1"}),
    ],
)
def test_bad_pair_input(kind, body):
    with pytest.raises(InvalidParameter) as err:
        parse_input(kind, body)
    assert status_of(err.value) == 400


@pytest.mark.parametrize(
    "security, word",
    [
        ({"io_capability": "Telepathy"}, "io_capability"),
        ({"behaviour": "sulk"}, "behaviour"),
        ({"oob": "legacy"}, "secure_connections"),
        ({"oob": "secure", "secure_connections": False}, "secure_connections"),
        ({"passkey": 1_000_000}, "passkey"),
        ({"oob_tk": "0x12", "oob": "legacy", "secure_connections": False}, "oob_tk"),
        ({"pin": 1}, "pin"),
    ],
)
def test_security_spec_errors_name_the_field(security, word):
    spec = standard_peripheral(1)
    spec["security"] = security
    with pytest.raises(SpecError, match=word):
        PeripheralSpec.from_dict(spec)
