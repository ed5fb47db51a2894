"""The BLE air capture (``air.pcapng``) read back with scapy and checked against what the world
did: who advertised, what each receiver heard at which RSSI, the scan exchange, the connection's
access address and CRC, a GATT read by handle, and an SMP pairing with encryption."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.bluetooth import (
    ATT_Read_Request,
    ATT_Read_Response,
    L2CAP_Hdr,
    SM_Hdr,
    SM_Pairing_Request,
)
from scapy.layers.bluetooth4LE import (
    BTLE,
    BTLE_ADV,
    BTLE_ADV_IND,
    BTLE_CONNECT_REQ,
    BTLE_CTRL,
    BTLE_DATA,
    BTLE_RF,
    BTLE_SCAN_REQ,
    BTLE_SCAN_RSP,
    LL_ENC_REQ,
)
from scapy.utils import rdpcap

from devices.ble.gatt_uuids import BATTERY_LEVEL
from devices.ble.peripheral import add_peripheral
from devices.ble.security import IO_CAPABILITY
from scenarios.ble_router.bed import LocalBleBed
from sim.air_capture import rf_channel
from sim.radio import ADV_IND, RadioController

ADVERTISING_RF_CHANNELS = {rf_channel(c) for c in (37, 38, 39)}


def _crc_ok(packet: Any, init: int) -> bool:
    raw = bytes(packet[BTLE])
    return BTLE.compute_crc(raw[4:-3], init) == raw[-3:]


def _receiver(packet: Any) -> str:
    return packet.comments[0].decode().split(" -> ")[1]


@pytest.fixture
def heard(monkeypatch) -> list[tuple[str, str, int, int]]:
    """(receiver, advertiser address, evtType, RSSI) of every advertising PDU a controller of
    the world received, as the radio handed it over."""
    got: list[tuple[str, str, int, int]] = []
    advert = RadioController.on_radio_advertisement
    response = RadioController.on_radio_scan_response

    def on_advert(self, sender, pdu, rssi):  # type: ignore[no-untyped-def]
        got.append((self.radio.nodes[self].name, str(pdu.advertiser_address), pdu.adv_type, rssi))
        return advert(self, sender, pdu, rssi)

    def on_response(self, sender, pdu, rssi):  # type: ignore[no-untyped-def]
        got.append((self.radio.nodes[self].name, str(pdu.advertiser_address), 4, rssi))
        return response(self, sender, pdu, rssi)

    monkeypatch.setattr(RadioController, "on_radio_advertisement", on_advert)
    monkeypatch.setattr(RadioController, "on_radio_scan_response", on_response)
    return got


def _run(tmp_path: Path, scenario: Any, seed: int = 7) -> tuple[LocalBleBed, Any, list[Any]]:
    bed = LocalBleBed(seed=seed, capture_dir=tmp_path / "captures")
    try:
        bed.run(bed.start())
        result = bed.run(scenario(bed))
        files = bed.write_evidence(tmp_path / "evidence")
    finally:
        bed.close()
    assert files["air.pcapng"] == "air capture"
    return bed, result, list(rdpcap(str(tmp_path / "evidence" / "air.pcapng")))


def test_advertising_and_active_scans_as_each_receiver_heard_them(tmp_path, heard) -> None:
    async def scenario(bed: LocalBleBed) -> list[Any]:
        near = await add_peripheral(bed, 1, position=(2.0, 0.0, 0.0))
        far = await add_peripheral(bed, 2, position=(0.0, 9.0, 0.0))
        async with bed.client().sse("/gap/nodes", {"event": 1, "active": 1}):
            await asyncio.sleep(3)
        return [near, far]

    bed, peripherals, packets = _run(tmp_path, scenario)
    adverts = [p for p in packets if BTLE_ADV in p and p[BTLE_ADV].PDU_type not in (3, 4, 5)]
    assert adverts, "no advertising PDU captured"
    # every reception the radio handed to a controller is in the capture, in order, with the
    # receiver, the advertiser's address and the exact RSSI it reported
    captured = [
        (_receiver(p), p[BTLE_ADV_IND].AdvA.upper(), ADV_IND, p[BTLE_RF].signal) for p in adverts
    ]
    expected = [(rx, addr.split("/")[0], kind, rssi) for rx, addr, kind, rssi in heard if kind != 4]
    assert captured == expected
    addresses = {p.address for p in peripherals}
    assert {a for _, a, _, _ in captured} == addresses
    assert all(p[BTLE_RF].rf_channel in ADVERTISING_RF_CHANNELS for p in packets)
    assert all(p[BTLE_RF].sig_power_valid and p[BTLE_RF].crc_valid for p in adverts)
    assert all(_crc_ok(p, 0x555555) for p in packets)
    # the nearer peripheral is heard louder
    mean = {
        a: sum(s for _, b, _, s in captured if b == a) / sum(1 for _, b, _, _ in captured if b == a)
        for a in addresses
    }
    assert mean[peripherals[0].address] > mean[peripherals[1].address]
    # active scanning: SCAN_REQ from a router chip, SCAN_RSP with the scan response data
    chips = {
        str(a).split("/")[0]
        for c, n in bed.radio.nodes.items()
        if n.name.startswith(bed.router.name)
        for a in (c.public_address, c.random_address)
    }
    requests = [p[BTLE_SCAN_REQ] for p in packets if BTLE_SCAN_REQ in p]
    responses = [p for p in packets if BTLE_SCAN_RSP in p]
    assert requests and responses
    assert {r.ScanA.upper() for r in requests} <= chips
    assert {r.AdvA.upper() for r in requests} <= addresses
    spec = {p.address: p.spec.scan_response for p in peripherals}
    for packet in responses:
        answer = packet[BTLE_SCAN_RSP]
        assert bytes(answer)[6:] == spec[answer.AdvA.upper()]
    scan_rssi = [s for _, _, kind, s in heard if kind == 4]
    assert [p[BTLE_RF].signal for p in responses] == scan_rssi


def test_a_connection_and_a_gatt_read_by_handle(tmp_path) -> None:
    async def scenario(bed: LocalBleBed) -> tuple[Any, int, dict[tuple[str, str], int]]:
        p = await add_peripheral(bed, 1)
        client = bed.client()
        r = await client.request(
            "POST", f"/gap/nodes/{p.address}/connection", json_body={"type": "random"}
        )
        assert r.status == 200, r.text
        chars = (await client.request("GET", f"/gatt/nodes/{p.address}/characteristics")).json()
        handle = next(c["handle"] for c in chars if c["uuid"] == BATTERY_LEVEL)
        read = await client.request("GET", f"/gatt/nodes/{p.address}/handle/{handle}/value")
        assert read.json()["value"] == "64"
        await asyncio.sleep(0.1)
        nodes = {n.name: c for c, n in bed.radio.nodes.items()}
        means = {  # what a data PDU's receiver hears: the path-loss mean, nothing drawn
            (a, b): round(bed.radio.mean_rssi(nodes[a], nodes[b]))
            for a in nodes
            for b in nodes
            if a != b
        }
        return p, int(handle), means

    bed, (p, handle, means), packets = _run(tmp_path, scenario)
    connects = [x for x in packets if BTLE_CONNECT_REQ in x]
    assert len(connects) == 1
    request = connects[0][BTLE_CONNECT_REQ]
    assert request.AdvA.upper() == p.address
    assert _receiver(connects[0]) == p.name
    data = [x for x in packets if x[BTLE].access_addr == request.AA]
    assert data and all(BTLE_DATA in x for x in data)
    assert all(_crc_ok(x, request.crc_init) for x in data)
    assert 5 <= request.hop <= 16 and request.interval > 0
    reads = [x for x in data if ATT_Read_Request in x]
    answers = [x for x in data if ATT_Read_Response in x]
    assert [x[ATT_Read_Request].gatt_handle for x in reads] == [handle]
    assert answers[-1][ATT_Read_Response].value == b"\x64"
    assert reads[0][BTLE_RF].type == 2 and answers[-1][BTLE_RF].type == 3  # C->P, P->C
    assert _receiver(reads[0]) == p.name
    pairs = [tuple(x.comments[0].decode().split(" -> ")) for x in data]
    assert [x[BTLE_RF].signal for x in data] == [means[pair] for pair in pairs]
    # SN alternates per direction
    central = [x[BTLE_DATA].SN for x in data if x[BTLE_RF].type == 2]
    assert central[:4] == [0, 1, 0, 1][: len(central[:4])]


def test_a_pairing_shows_the_smp_request_and_the_encryption_start(tmp_path) -> None:
    async def scenario(bed: LocalBleBed) -> Any:
        p = await add_peripheral(bed, 1, io_capability="NoInputNoOutput")
        r = await bed.client().request(
            "POST",
            f"/management/nodes/{p.address}/pair",
            json_body={"type": "random", "iocapability": "NoInputNoOutput"},
            timeout=60,
        )
        assert r.json()["pairingStatusCode"] == 1, r.text
        await asyncio.sleep(0.1)
        return p

    _bed, _p, packets = _run(tmp_path, scenario)
    pairing = [x for x in packets if SM_Pairing_Request in x]
    assert len(pairing) == 1
    request = pairing[0][SM_Pairing_Request]
    assert request.iocap == int(IO_CAPABILITY["NoInputNoOutput"])
    assert pairing[0][L2CAP_Hdr].cid == 6 and pairing[0][SM_Hdr].sm_command == 1
    controls = [x for x in packets if BTLE_CTRL in x]
    # LL_START_ENC_RSP has no parameters: scapy shows it as its opcode only
    starts = [i for i, x in enumerate(packets) if BTLE_CTRL in x and x[BTLE_CTRL].opcode == 6]
    assert any(LL_ENC_REQ in x for x in controls) and starts
    after = [x for x in packets[starts[0] + 1 :] if BTLE_DATA in x]
    assert after and all(x[BTLE_RF].decrypted for x in after)
