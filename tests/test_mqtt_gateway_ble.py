"""BLE peripherals on the radio, bridged by the gateway's own Bumble central: notified and polled
telemetry with the right keys and timestamps, connect/disconnect as a peripheral leaves and
comes back into range, RPCs and shared attributes as GATT writes and reads."""

from __future__ import annotations

import asyncio

import pytest

from devices.ble.peripheral import add_peripheral
from tests.mqtt_gateway_support import GatewayBed, until

HR = {
    "name": "HR 1",
    "type": "heart-rate",
    "address": "F0:00:00:00:00:01",
    "telemetry": [
        {"key": "heartRate", "characteristic": "2A37", "notify": True, "type": "uint16"},
        {"key": "battery", "characteristic": "2A19", "poll_s": 10, "type": "uint8"},
    ],
    "attributes": [{"key": "batteryAtConnect", "characteristic": "2A19", "type": "uint8"}],
    "attribute_updates": [{"key": "control", "characteristic": "2A39", "type": "uint8"}],
    "rpc": [
        {"method": "setControl", "characteristic": "2A39", "action": "write", "type": "uint8"},
        {"method": "getBattery", "characteristic": "2A19", "action": "read", "type": "uint8"},
        {"method": "raw", "characteristic": "2A39", "action": "write", "type": "hex",
         "with_response": False},
        {"method": "missing", "characteristic": "2A6E", "action": "read"},
    ],
}  # fmt: skip
CONTROL_POINT = "UUID-16:2A39"


@pytest.fixture
def bed(tmp_path):
    b = GatewayBed(tmp_path, seed=5)
    yield b
    b.close()


def ble_section(*devices):
    return {"address": "C0:00:00:00:AA:01", "position": [0, 0], "devices": list(devices)}


def test_peripheral_telemetry_arrives_with_keys_and_timestamps(bed):
    gateway = bed.gateway(bed.config(ble=ble_section(HR)))

    async def main():
        await add_peripheral(bed, 1, position=(3.0, 0.0, 0.0))
        await gateway.start()
        await until(lambda: "HR 1" in gateway.online)
        connected_at = bed.world.now
        await asyncio.sleep(12)
        return connected_at

    connected_at = bed.world.run(main())
    p = bed.platform
    assert p.bodies("v1/gateway/connect") == [{"device": "HR 1", "type": "heart-rate"}]
    assert p.client_attributes == {"HR 1": {"batteryAtConnect": 100}}
    rates = p.values("HR 1", "heartRate")
    assert len(rates) >= 10 and rates == sorted(rates) and rates[0] >= 60
    assert p.values("HR 1", "battery") == [100, 100]  # polled at connection and 10 s later
    epoch_ms = int(bed.world.epoch.timestamp() * 1000)
    stamps = [ts for d, ts, k, _v in p.telemetry if k == "heartRate"]
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert all(900 <= g <= 1100 for g in gaps)  # one notification a second
    assert stamps[0] - epoch_ms >= connected_at * 1000


def test_peripheral_out_of_range_is_disconnected_and_reconnected(bed):
    gateway = bed.gateway(bed.config(ble=ble_section(HR)))

    async def main():
        peripheral = await add_peripheral(bed, 1, position=(3.0, 0.0, 0.0))
        await gateway.start()
        await until(lambda: "HR 1" in gateway.online)
        await asyncio.sleep(3)
        peripheral.move((500.0, 0.0, 0.0))
        moved_at = bed.world.now
        await until(lambda: "HR 1" not in gateway.online)
        gone_after = bed.world.now - moved_at
        await asyncio.sleep(5)
        silent = len(bed.platform.values("HR 1", "heartRate"))
        peripheral.move((3.0, 0.0, 0.0))
        await until(lambda: "HR 1" in gateway.online)
        await asyncio.sleep(5)
        return gone_after, silent

    gone_after, silent = bed.world.run(main())
    assert gone_after < 5  # the link's supervision timeout
    topics = [
        t for t in bed.platform.topics() if t in ("v1/gateway/connect", "v1/gateway/disconnect")
    ]
    assert topics == ["v1/gateway/connect", "v1/gateway/disconnect", "v1/gateway/connect"]
    assert len(bed.platform.values("HR 1", "heartRate")) >= silent + 3  # notifications resumed
    (gone,) = bed.world.trace.select(node="gw-1", event="device-disconnected")
    assert "BLE link lost" in gone["reason"]


def test_rpc_is_a_gatt_write_or_read_and_is_answered(bed):
    gateway = bed.gateway(bed.config(ble=ble_section(HR)))

    async def main():
        peripheral = await add_peripheral(bed, 1, position=(3.0, 0.0, 0.0))
        await gateway.start()
        await until(lambda: "HR 1" in gateway.online)
        out = {"set": await bed.platform.rpc("HR 1", "setControl", 7)}
        out["writes"] = list(peripheral.writes)
        out["get"] = await bed.platform.rpc("HR 1", "getBattery")
        out["raw"] = await bed.platform.rpc("HR 1", "raw", {"value": "0102"})
        await asyncio.sleep(0.5)
        out["value"] = peripheral.value_of("2A39")
        out["too_big"] = await bed.platform.rpc("HR 1", "setControl", 300)
        out["missing"] = await bed.platform.rpc("HR 1", "missing")
        return out

    out = bed.world.run(main())
    assert out["set"] == {"success": True}
    assert [(uuid, value) for _t, uuid, value in out["writes"]] == [(CONTROL_POINT, b"\x07")]
    assert out["get"] == {"success": True, "value": 100}
    assert out["raw"] == {"success": True} and out["value"] == b"\x01\x02"
    assert (
        out["too_big"]["success"] is False
        and "outside what a uint8 holds" in out["too_big"]["error"]
    )
    assert "no characteristic 2A6E" in out["missing"]["error"]
    replies = bed.platform.bodies("v1/gateway/rpc")
    assert [(r["device"], r["id"]) for r in replies] == [("HR 1", i) for i in range(5)]


def test_shared_attribute_is_a_gatt_write(bed):
    gateway = bed.gateway(bed.config(ble=ble_section(HR)))

    async def main():
        peripheral = await add_peripheral(bed, 1, position=(3.0, 0.0, 0.0))
        await gateway.start()
        await until(lambda: "HR 1" in gateway.online)
        bed.platform.push_shared("HR 1", {"control": 3})
        await asyncio.sleep(1)
        return peripheral

    peripheral = bed.world.run(main())
    assert [(uuid, value) for _t, uuid, value in peripheral.writes] == [(CONTROL_POINT, b"\x03")]
