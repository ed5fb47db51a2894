"""Faults in the BLE world: the router's reboot (``POST /cassia/reboot`` and the world fault), a
peripheral's power cycle, radio loss, and the scenario-file faults, through the real API."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from devices.ble.gatt_uuids import HEART_RATE_MEASUREMENT as HR_MEASUREMENT
from devices.ble.gatt_uuids import descriptor_handle
from devices.ble.peripheral import BlePeripheral, add_peripheral
from devices.gateways.ble_router import reboot
from devices.protocols.http_client import HttpError
from scenarios.ble_router.worlds import ScenarioError, build_bed, parse_scenario, populate


@pytest.fixture
def bed(make_bed):
    return make_bed(seed=11, boot_s=3.0)


async def add(bed, index: int, **kwargs: Any) -> BlePeripheral:
    return await add_peripheral(bed, index, position=(2.0 + index * 0.3, 0.0, 0.0), **kwargs)


async def connect(bed, p: BlePeripheral):
    return await bed.client().request(
        "POST", f"/gap/nodes/{p.address}/connection", json_body={"type": "random"}
    )


async def subscribe(bed, p: BlePeripheral) -> int:
    r = await bed.client().request(
        "GET", f"/gatt/nodes/{p.address}/characteristics/{HR_MEASUREMENT}/descriptors"
    )
    assert r.status == 200, r.text
    handle = descriptor_handle(r.json())
    assert handle is not None, r.json()
    w = await bed.client().request("GET", f"/gatt/nodes/{p.address}/handle/{handle}/value/0100")
    assert w.status == 200, w.text
    return handle


async def refused(bed, path: str = "/cassia/info") -> bool:
    try:
        await bed.client().request("GET", path)
    except HttpError as exc:
        return "cannot connect" in str(exc)
    return False


# -- the router's reboot ---------------------------------------------------------------------------
def test_reboot_answers_ok_drops_everything_refuses_while_booting_and_comes_back_fresh(bed):
    async def main() -> dict[str, Any]:
        p = await add(bed, 1)
        assert (await connect(bed, p)).status == 200
        await subscribe(bed, p)
        out: dict[str, Any] = {}
        async with (
            bed.client().sse("/gatt/nodes", {"event": 1}) as notes,
            bed.client().sse("/management/nodes/connection-state") as states,
        ):
            await asyncio.sleep(2.5)
            before = len(await notes.collect(0.1))
            await asyncio.sleep(10)  # a long uptime to compare with
            out["uptime_before"] = (await bed.client().request("GET", "/cassia/info")).json()[
                "uptime"
            ]
            rebooted_at = bed.world.now
            out["answer"] = await bed.client().request("POST", "/cassia/reboot")
            out["notes_rest"] = await notes.collect(1.0)
            out["notes_closed"] = notes.closed
            out["states_rest"] = await states.collect(0.1)
            out["states_closed"] = states.closed
        out["notes_before"] = before
        await asyncio.sleep(1.0)  # > the link's supervision timeout
        out["peripheral_links"] = len(p.device.connections)
        out["refused_while_booting"] = await refused(bed)
        out["stream_refused"] = await refused(bed, "/gap/nodes?event=1")
        while await refused(bed):
            await asyncio.sleep(0.25)
        out["down_for"] = bed.world.now - rebooted_at
        info = (await bed.client().request("GET", "/cassia/info")).json()
        out["uptime_after"] = info["uptime"]
        out["listed"] = (
            await bed.client().request(
                "GET", "/gap/nodes", params={"connection_state": "connected"}
            )
        ).json()
        # Reconnect: the notifications do not resume until the client re-subscribes.
        async with bed.client().sse("/gatt/nodes", {"event": 1}) as notes:
            out["reconnect"] = await connect(bed, p)
            out["silent"] = await notes.collect(3.0)
            await subscribe(bed, p)
            out["resumed"] = await notes.collect(3.0)
        return out

    out = bed.world.run(main())
    assert (out["answer"].status, out["answer"].text) == (200, "OK")
    assert out["notes_before"] >= 0 and out["notes_closed"] and out["states_closed"]
    assert out["states_rest"] == []  # a dying process sends no "disconnected"
    assert out["peripheral_links"] == 0
    assert out["refused_while_booting"] and out["stream_refused"]
    assert 3.0 <= out["down_for"] <= 4.0
    assert out["uptime_before"] >= 12 and out["uptime_after"] <= 1
    assert out["listed"] == {"nodes": []}
    assert out["reconnect"].status == 200
    assert out["silent"] == []
    assert len(out["resumed"]) >= 2
    events = [r["event"] for r in bed.world.trace.select(node=bed.router.name, layer="world")]
    assert events[-4:] == ["reboot-requested", "reboot", "down", "booted"] or events[-5:-1] == [
        "reboot-requested",
        "reboot",
        "down",
        "power-on",
    ]


def test_peripheral_sees_its_link_drop_by_supervision_timeout_on_reboot(bed):
    async def main():
        p = await add(bed, 2)
        assert (await connect(bed, p)).status == 200
        reasons: list[int] = []
        connection = next(iter(p.device.connections.values()))
        connection.on("disconnection", reasons.append)
        await reboot.reboot(bed.router)
        return p, reasons

    p, reasons = bed.world.run(main())
    assert reasons == [0x08]  # connection timeout: no terminate on air
    assert bed.router.connected_nodes() == []
    timeouts = bed.world.trace.select(layer="ll", event="supervision-timeout")
    assert timeouts and timeouts[-1]["peer"] == p.name


def test_a_second_reboot_request_while_one_is_pending_changes_nothing(bed):
    async def main():
        first = await bed.client().request("POST", "/cassia/reboot")
        second = await bed.client().request("POST", "/cassia/reboot")
        await asyncio.sleep(5)
        third = await bed.client().request("GET", "/cassia/info")
        return first, second, third

    first, second, third = bed.world.run(main())
    assert first.status == second.status == third.status == 200
    assert len(bed.world.trace.select(node=bed.router.name, event="reboot")) == 1


def test_bonds_survive_a_reboot_but_the_gatt_cache_does_not(bed):
    async def main():
        p = await add(bed, 3)
        assert (await connect(bed, p)).status == 200
        r = await bed.client().request("GET", f"/gatt/nodes/{p.address}/services")
        assert r.status == 200
        keystores = [chip.device.keystore for chip in bed.router.central.chips]
        await reboot.reboot(bed.router)
        return keystores, [chip.device.keystore for chip in bed.router.central.chips]

    before, after = bed.world.run(main())
    assert before == after
    assert bed.router.central.gatt_cache == {}


# -- the peripheral's power cycle ------------------------------------------------------------------
def test_a_power_cycled_peripheral_advertises_again_with_its_keys_and_fresh_gatt_state(bed):
    async def main():
        p = await add(bed, 4)
        assert (await connect(bed, p)).status == 200
        control = "00002a39-0000-1000-8000-00805f9b34fb"
        r = await bed.client().request(
            "GET", f"/gatt/nodes/{p.address}/characteristics", params={"uuid": control}
        )
        handle = r.json()["handle"]
        w = await bed.client().request("GET", f"/gatt/nodes/{p.address}/handle/{handle}/value/07")
        assert w.status == 200
        written = p.value_of("2A39")
        keystore = p.keystore
        await p.power_off()
        await asyncio.sleep(2)
        gone = bed.router.connected_nodes()
        await p.power_on()
        async with bed.client().sse("/gap/nodes", {"event": 1, "filter_mac": p.address}) as scan:
            seen = await scan.collect(2.5)
        assert (await connect(bed, p)).status == 200
        r = await bed.client().request("GET", f"/gatt/nodes/{p.address}/handle/{handle}/value")
        return p, written, keystore, gone, seen, r

    p, written, keystore, gone, seen, r = bed.world.run(main())
    assert written == b"\x07"
    assert gone == []
    assert len(seen) >= 2
    assert p.keystore is keystore and p.device.keystore is keystore
    assert r.json()["value"] == "00"  # RAM state back to the spec's value
    # the controller from before the cycle left the radio once its link had timed out
    assert sum(1 for node in bed.radio.nodes.values() if node.name == p.name) == 1


# -- radio loss --------------------------------------------------------------------------------
def test_radio_loss_delays_notifications_but_loses_or_reorders_none(bed):
    async def main():
        p = await add(bed, 5, notify_hz=10.0)
        assert (await connect(bed, p)).status == 200
        async with bed.client().sse("/gatt/nodes", {"event": 1, "sequence": 2}) as notes:
            await subscribe(bed, p)
            bed.radio.config.loss_probability = 0.3
            events = await notes.collect(20.0)
        return events

    events = bed.world.run(main())
    values = [int.from_bytes(bytes.fromhex(e.json()["value"])[:2], "little") for e in events]
    seqs = [e.json()["seqNum"] for e in events]
    assert len(values) >= 150
    assert seqs == list(range(1, len(seqs) + 1))
    assert values == list(range(values[0], values[0] + len(values)))


# -- scenario-file faults ----------------------------------------------------------------------
def test_scenario_faults_reboot_the_router_and_set_radio_loss_and_land_in_the_trace():
    scenario = parse_scenario(
        {
            "name": "faults",
            "seed": 3,
            "router": {"boot_s": 2.0},
            "peripherals": [{"template": "standard", "count": 2, "notify_hz": 0}],
            "faults": [
                {"at": 1.0, "action": "radio_loss", "probability": 0.25},
                {"at": 2.0, "action": "reboot_router"},
                {"at": 3.0, "action": "power_cycle", "target": "HIL-0001", "off_s": 1.5},
            ],
        }
    )
    bed = build_bed(scenario)
    try:

        async def main():
            await bed.start()
            await populate(bed, scenario)
            await asyncio.sleep(1.5)
            loss = bed.radio.config.loss_probability
            await asyncio.sleep(1.0)
            down = await _refused(bed)
            await asyncio.sleep(4.0)
            return loss, down, await bed.client().request("GET", "/cassia/info")

        loss, down, info = bed.run(main())
        assert loss == 0.25 and down and info.status == 200
        faults = [(r["event"], r["node"]) for r in bed.world.trace.select(layer="fault")]
        assert faults == [
            ("radio_loss", "radio"),
            ("reboot_router", bed.router.name),
            ("power_cycle", "HIL-0001"),
        ]
        p = bed.peripherals["HIL-0001"]
        assert p.powered
        assert [
            r["event"]
            for r in bed.world.trace.select(node="HIL-0001", layer="world")
            if r["event"].startswith("power")
        ][-2:] == ["power-off", "power-on"]
    finally:
        bed.close()


async def _refused(bed) -> bool:
    try:
        await bed.client().request("GET", "/cassia/info")
    except HttpError:
        return True
    return False


@pytest.mark.parametrize(
    "fault, message",
    [
        ({"at": 1, "action": "radio_loss", "probability": 1.5}, "probability"),
        ({"at": 1, "action": "radio_loss"}, "probability"),
        ({"at": 1, "action": "power_cycle"}, "target"),
        ({"at": 1, "action": "power_cycle", "target": "X", "off_s": -1}, "off_s"),
        ({"at": 1, "action": "explode"}, "reboot_router"),
    ],
)
def test_bad_faults_are_refused_naming_the_field(fault, message):
    with pytest.raises(ScenarioError, match=message):
        parse_scenario({"name": "bad", "faults": [fault]})
