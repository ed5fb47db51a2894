"""The reference gateway against the platform emulator (``devices.cloud.mqtt_platform.Platform``),
everything in one world in virtual time: a BLE peripheral and a Modbus slave reach the
platform's store through the gateway; the platform's RPC and shared attributes reach them back;
an outage and a restart of the gateway lose nothing and keep device sessions usable."""

from __future__ import annotations

import asyncio

import pytest

from devices.ble.peripheral import add_peripheral
from devices.cloud.mqtt_platform import Platform
from devices.gateways.mqtt_gateway import build_gateway, events, parse_config
from devices.gateways.mqtt_gateway.config import DeviceConfig
from devices.rs485.modbus_master import ModbusMaster
from devices.rs485.modbus_slave import ModbusSlave, standard_slave
from sim.iplink import IpNetwork
from sim.radio import Radio
from sim.rs485 import Rs485Bus
from sim.world import World
from tests.mqtt_gateway_support import until


class PlatformBed:
    def __init__(self, tmp_path) -> None:
        self.world = World(seed=9)
        self.net = IpNetwork(self.world)
        self.radio = Radio(self.world)
        self.bus = Rs485Bus(self.world, "line")
        self.platform = Platform(self.world, db=str(tmp_path / "platform.sqlite"))
        self.platform.listen(self.net, "platform", 1883)
        self.token = self.platform.add_gateway("gw-1")
        self.gateways = []
        self.doc = {
            "gateway": {"name": "gw-1", "access_token": self.token},
            "platform": {"session_limits": {"wait": True}},
            "delivery": {"path": str(tmp_path / "gw-1-outbox.sqlite")},
            "ble": {
                "devices": [
                    {
                        "name": "HR 1",
                        "type": "heart-rate",
                        "address": "F0:00:00:00:00:01",
                        "telemetry": [
                            {"key": "heartRate", "characteristic": "2A37", "notify": True}
                        ],
                        "rpc": [
                            {"method": "setControl", "characteristic": "2A39", "action": "write"}
                        ],
                    }  # fmt: skip
                ]
            },
            "modbus": {
                "bus": "line",
                "timeout_s": 0.2,
                "devices": [
                    {
                        "name": "Meter 1",
                        "type": "meter",
                        "unit": 1,
                        "poll_s": 2,
                        "telemetry": [
                            {"key": "energy", "table": "input", "address": 6, "type": "int32"}
                        ],
                        "attribute_updates": [
                            {
                                "key": "setpoint",
                                "table": "holding",
                                "address": 0,
                                "scale": 0.1,
                                "type": "int16",
                            }
                        ],
                    }  # fmt: skip
                ],
            },
        }

    def gateway(self, doc=None):
        gateway = build_gateway(self.world, parse_config(doc or self.doc), net=self.net)
        self.gateways.append(gateway)
        return gateway

    def close(self):
        for gateway in self.gateways:
            self.world.run(gateway.crash())
        self.world.run(self.platform.close())
        self.world.close()


@pytest.fixture
def bed(tmp_path):
    b = PlatformBed(tmp_path)
    yield b
    b.close()


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_devices_reach_the_platform_and_the_platform_reaches_them(bed, protocol):
    bed.doc["platform"]["protocol"] = protocol
    gateway = bed.gateway()

    async def main():
        peripheral = await add_peripheral(bed, 1, position=(3.0, 0.0, 0.0))
        slave = ModbusSlave(bed.world, bed.bus, standard_slave(1))
        await slave.start()
        checker = ModbusMaster(bed.world, bed.bus, name="checker", timeout=0.2, retries=3)
        await checker.start()
        await gateway.start()
        await until(lambda: len(gateway.online) == 2)
        await asyncio.sleep(10)
        out = {"rpc": await bed.platform.rpc("HR 1", "setControl", 9)}
        out["writes"] = [value for _t, _uuid, value in peripheral.writes]
        bed.platform.set_shared_attributes("Meter 1", {"setpoint": 30.5})
        await asyncio.sleep(1)
        reply = await checker.request("read_holding_registers", 0, count=1, device_id=1)
        out["register"] = reply.registers[0]
        return out

    out = bed.world.run(main())
    assert gateway.uplink.limits is not None and gateway.uplink.limits.max_inflight == 100
    assert {d.name for d in bed.platform.devices("gw-1")} == {"HR 1", "Meter 1"}
    assert bed.platform.device("Meter 1").type == "meter"
    assert len(bed.platform.telemetry("HR 1", "heartRate")) >= 9
    energy = [p.value for p in bed.platform.telemetry("Meter 1", "energy")]
    assert len(energy) >= 5 and energy == sorted(energy)
    assert out["rpc"] == {"success": True} and out["writes"] == [b"\x09"]
    assert out["register"] == 305


def test_outage_and_restart_lose_nothing_and_rpcs_work_after_them(bed):
    first = bed.gateway()

    async def main():
        slave = ModbusSlave(bed.world, bed.bus, standard_slave(1))
        await slave.start()
        await add_peripheral(bed, 1, position=(3.0, 0.0, 0.0))
        await first.start()
        await until(lambda: len(first.online) == 2)
        await asyncio.sleep(10)
        bed.net.partition("gw-1", "platform")
        await asyncio.sleep(200)
        bed.net.partition("gw-1", "platform", False)
        await until(lambda: first.connected and first.stats()["queued"] == 0)
        await first.stop()
        second = bed.gateway()
        await second.start()
        await until(lambda: len(second.online) == 2 and second.connected)
        await asyncio.sleep(10)
        rpc = await bed.platform.rpc("HR 1", "setControl", 1)
        await second.stop()
        return rpc

    rpc = bed.world.run(main())
    assert rpc == {"success": True}
    energy = bed.platform.telemetry("Meter 1", "energy")
    stamps = [p.ts for p in energy]
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert stamps == sorted(stamps) and len(stamps) == len(set(stamps))
    # one poll every 2 s throughout the outage; the restart's pause is the only larger gap
    assert sum(1 for g in gaps if g > 2100) <= 1
    assert len(energy) >= (220 // 2)


def test_a_device_that_moves_to_another_gateway_gets_its_rpcs_there(bed):
    token_b = bed.platform.add_gateway("gw-2")
    doc_b = {
        **bed.doc,
        "gateway": {"name": "gw-2", "access_token": token_b},
        "delivery": {"path": ":memory:"},
        "ble": {**bed.doc["ble"], "address": "C0:00:00:00:AA:02", "position": [100, 0]},
    }
    del doc_b["modbus"]
    gw_a = bed.gateway()
    gw_b = bed.gateway(doc_b)
    seen: list[tuple[str, str]] = []
    for gw in (gw_a, gw_b):
        gw.on(events.DEVICE_CONNECTED, lambda name, _type, gw=gw: seen.append((gw.name, name)))

    async def main():
        peripheral = await add_peripheral(bed, 1, position=(5.0, 0.0, 0.0))
        await gw_a.start()
        await gw_b.start()
        await until(lambda: "HR 1" in gw_a.online)
        first = await bed.platform.rpc("HR 1", "setControl", 1)
        peripheral.move((95.0, 0.0, 0.0))  # out of gw-1's range, into gw-2's
        await until(lambda: "HR 1" in gw_b.online and "HR 1" not in gw_a.online)
        await asyncio.sleep(2)
        second = await bed.platform.rpc("HR 1", "setControl", 2)
        return first, second, [value for _t, _u, value in peripheral.writes]

    first, second, writes = bed.world.run(main())
    assert first == second == {"success": True} and writes == [b"\x01", b"\x02"]
    assert ("gw-1", "HR 1") in seen and seen[-1] == ("gw-2", "HR 1")
    answered = [r["node"] for r in bed.world.trace.select(event="rpc-reply")]
    assert answered == ["gw-1", "gw-2"]


def test_a_quiet_device_keeps_its_platform_session(bed):
    bed.doc["ble"]["devices"][0]["telemetry"] = []  # nothing but RPC: the device never talks
    del bed.doc["modbus"]
    gateway = bed.gateway()

    async def main():
        await add_peripheral(bed, 1, position=(3.0, 0.0, 0.0))
        await gateway.start()
        await until(lambda: "HR 1" in gateway.online)
        await asyncio.sleep(15 * 60)  # beyond the platform's 10 minute session expiry
        active = bed.platform.is_active("HR 1")
        return active, await bed.platform.rpc("HR 1", "setControl", 5)

    active, reply = bed.world.run(main())
    assert active and reply == {"success": True}


def test_a_resend_after_a_lost_puback_is_stored_once(bed):
    """The gateway's one kind of duplicate (a PUBLISH whose PUBACK was lost) carries the same
    (device, ts, key): the platform stores it once."""
    del bed.doc["ble"], bed.doc["modbus"]
    bed.doc["delivery"]["batch_s"] = 0
    sensor = DeviceConfig(name="Sensor A", kind="virtual")
    first = bed.gateway()

    async def main():
        await first.start()
        await until(lambda: first.connected)
        first.device_online(sensor)
        for i in range(5):
            first.report_telemetry(sensor, {"counter": i})
            await asyncio.sleep(0.2)
        bed.net.set_link("gw-1", "platform", latency_s=2.0)
        first.report_telemetry(sensor, {"counter": 5})
        await asyncio.sleep(3)  # the platform has it; its PUBACK is still on the way
        await first.crash()
        bed.net.set_link("gw-1", "platform", latency_s=0.0005)
        second = bed.gateway()
        await second.start()
        await until(lambda: second.connected and second.stats()["queued"] == 0)
        return second.stats()

    stats = bed.world.run(main())
    # the queue file's counters span both lives: 1 connect and 5 readings, then the resend
    assert stats["delivered"] == 7 and stats["possible_duplicates"] == 1
    assert [p.value for p in bed.platform.telemetry("Sensor A", "counter")] == list(range(6))
