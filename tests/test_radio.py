"""The simulated BLE radio, through real Bumble hosts: propagation, delivery, advertising timing,
scan responses, supervision timeout, held data, cancelled connection attempts."""

from __future__ import annotations

import asyncio
import statistics

import pytest
from bumble import core, hci
from bumble.device import Device

from devices.ble.peripheral import BlePeripheral
from devices.ble.spec import PeripheralSpec, standard_peripheral
from sim.radio import Radio, RadioConfig, RadioController
from sim.world import World


@pytest.fixture
def world():
    w = World(seed=11)
    yield w
    w.close()


async def _central(radio: Radio, name: str = "central", position=(0, 0, 0)) -> Device:
    ctrl = RadioController(name, radio, position, public_address="CC:1B:E0:00:00:01")
    dev = Device.with_hci(name, hci.Address("CC:1B:E0:00:00:01/P"), ctrl, ctrl)
    await dev.power_on()
    return dev


async def _peripheral(world, radio, index, position, **changes) -> BlePeripheral:
    spec = standard_peripheral(index, position=position)
    spec["advertising"].update(changes)
    p = BlePeripheral(world, radio, PeripheralSpec.from_dict(spec))
    await p.power_on()
    return p


def _collect(dev: Device) -> list:
    reports: list = []
    dev.host.on("advertising_report", lambda r: reports.append(r))
    return reports


def test_rssi_falls_with_distance_and_nothing_arrives_out_of_range(world):
    radio = Radio(world)

    async def main():
        central = await _central(radio)
        reports = _collect(central)
        near = await _peripheral(world, radio, 1, (1, 0, 0))
        far = await _peripheral(world, radio, 2, (20, 0, 0))
        gone = await _peripheral(world, radio, 3, (200, 0, 0))
        await central.start_scanning(active=False)
        await asyncio.sleep(30)
        by = {
            str(a.address): [r.rssi for r in reports if r.address == a.spec.address]
            for a in (near, far, gone)
        }
        return by, near, far, gone

    by, near, far, gone = world.run(main())
    near_rssi, far_rssi = by[near.address], by[far.address]
    assert len(near_rssi) >= 25 and len(far_rssi) >= 25
    assert statistics.mean(near_rssi) > statistics.mean(far_rssi) + 20
    assert len(set(near_rssi)) > 1, "RSSI must carry noise, not a fixed value"
    assert by[gone.address] == []


def test_advertising_interval_has_spec_advdelay(world):
    radio = Radio(world)

    async def main():
        central = await _central(radio)
        reports = _collect(central)
        times: list[float] = []
        central.host.on("advertising_report", lambda r: times.append(world.now))
        await _peripheral(world, radio, 1, (1, 0, 0), interval_ms=100)
        await central.start_scanning(active=False)
        await asyncio.sleep(10)
        return times, reports

    times, _ = world.run(main())
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(gaps) > 80
    assert all(0.100 - 1e-9 <= g <= 0.110 + 1e-9 for g in gaps)
    assert max(gaps) - min(gaps) > 0.003, "advDelay must vary between events"


def test_scan_response_only_for_active_scans_and_carries_its_own_data(world):
    radio = Radio(world)

    async def main():
        central = await _central(radio)
        reports = _collect(central)
        await _peripheral(world, radio, 1, (1, 0, 0), name_in="scan_response")
        await central.start_scanning(active=False)
        await asyncio.sleep(3)
        passive = list(reports)
        await central.stop_scanning()
        reports.clear()
        await central.start_scanning(active=True)
        await asyncio.sleep(3)
        return passive, list(reports)

    passive, active = world.run(main())
    assert {r.event_type for r in passive} == {0}
    assert {r.event_type for r in active} == {0, 4}
    scan_rsp = [r for r in active if r.event_type == 4][0]
    assert b"HIL-0001" in scan_rsp.data
    assert all(b"HIL-0001" not in r.data for r in active if r.event_type == 0)


def test_advertisements_reach_only_scanning_controllers(world):
    radio = Radio(world)

    async def main():
        central = await _central(radio)
        for i in range(1, 21):
            await _peripheral(world, radio, i, (1 + i * 0.1, 0, 0))
        await asyncio.sleep(5)
        idle = radio.adv_deliveries
        await central.start_scanning()
        await asyncio.sleep(5)
        return idle, radio.adv_deliveries, radio.adv_pdus

    idle, scanning, on_air = world.run(main())
    assert idle == 0 and on_air > 150
    assert 80 <= scanning <= on_air


def test_link_survives_a_short_outage_and_times_out_on_a_long_one(world):
    radio = Radio(world)

    async def main():
        central = await _central(radio)
        p = await _peripheral(world, radio, 1, (2, 0, 0))
        conn = await central.connect(p.spec.address, timeout=5)
        reasons: list[int] = []
        conn.on("disconnection", reasons.append)
        p.move((500, 0, 0))
        await asyncio.sleep(0.2)  # shorter than the supervision timeout
        p.move((2, 0, 0))
        await asyncio.sleep(1.0)
        survived = not reasons
        t0 = world.now
        p.move((500, 0, 0))
        while not reasons:
            await asyncio.sleep(0.05)
        return survived, reasons, world.now - t0

    survived, reasons, took = world.run(main())
    assert survived
    assert reasons == [hci.HCI_ErrorCode.CONNECTION_TIMEOUT_ERROR]
    assert 0.5 <= took <= 1.0


def test_power_off_ends_the_link_by_supervision_timeout(world):
    radio = Radio(world)

    async def main():
        central = await _central(radio)
        p = await _peripheral(world, radio, 1, (2, 0, 0))
        conn = await central.connect(p.spec.address, timeout=5)
        done = asyncio.get_running_loop().create_future()
        conn.on("disconnection", lambda reason: done.set_result(reason))
        await p.power_off()
        return await asyncio.wait_for(done, 5)

    assert world.run(main()) == hci.HCI_ErrorCode.CONNECTION_TIMEOUT_ERROR


def test_connecting_to_an_absent_device_times_out_cleanly(world):
    radio = Radio(world)

    async def main():
        central = await _central(radio)
        await _peripheral(world, radio, 1, (300, 0, 0))  # out of range
        with pytest.raises(core.TimeoutError):
            await central.connect(hci.Address("F0:00:00:00:00:01"), timeout=2)
        return world.now

    assert world.run(main()) == pytest.approx(2.0, abs=0.1)


def test_loss_delays_data_but_never_reorders_it(world):
    radio = Radio(world, RadioConfig(loss_probability=0.3))

    async def main():
        central = await _central(radio)
        p = await _peripheral(world, radio, 1, (2, 0, 0))
        conn = await central.connect(p.spec.address, timeout=10)
        for i in range(30):
            await conn.gatt_client.write_value(19, bytes([i]), with_response=False)
        await asyncio.sleep(5)
        return [v[0] for _, _, v in p.writes]

    assert world.run(main()) == list(range(30))


def test_data_sent_before_a_disconnect_still_arrives(world):
    radio = Radio(world)

    async def main():
        central = await _central(radio)
        p = await _peripheral(world, radio, 1, (2, 0, 0))
        conn = await central.connect(p.spec.address, timeout=5)
        await conn.gatt_client.write_value(19, b"\x07", with_response=False)
        await conn.disconnect()  # terminate queued behind the write
        await asyncio.sleep(1)
        return [v for _, _, v in p.writes], radio.connected_pairs()

    writes, links = world.run(main())
    assert writes == [b"\x07"]
    assert links == []
