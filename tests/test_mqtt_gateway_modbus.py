"""Modbus slaves on the RS485 bus, bridged by the gateway's pymodbus master: telemetry with
scaling and decoding, connect/disconnect as a slave is powered off and on, shared attributes
written to registers (read back from the slave through the bus), RPC reads and writes."""

from __future__ import annotations

import asyncio

import pytest

from devices.rs485.modbus_master import ModbusMaster
from devices.rs485.modbus_slave import ModbusSlave, standard_slave
from tests.mqtt_gateway_support import GatewayBed, until

METER = {
    "name": "Meter 1",
    "type": "meter",
    "unit": 1,
    "poll_s": 5,
    "offline_after": 2,
    "telemetry": [
        {"key": "temperature", "table": "input", "address": 4, "type": "float32", "decimals": 2},
        {"key": "energy", "table": "input", "address": 6, "type": "int32"},
        {"key": "pressureKpa", "table": "input", "address": 8, "type": "uint16", "scale": 0.1},
    ],
    "attributes": [{"key": "serial", "table": "input", "address": 0, "type": "string", "count": 4}],
    "attribute_updates": [
        {"key": "setpoint", "table": "holding", "address": 0, "type": "int16", "scale": 0.1}
    ],
    "rpc": [
        {"method": "setSetpoint", "action": "write", "table": "holding", "address": 0,
         "type": "int16", "scale": 0.1},
        {"method": "getSetpoint", "action": "read", "table": "holding", "address": 0,
         "type": "int16", "scale": 0.1},
    ],
}  # fmt: skip


@pytest.fixture
def bed(tmp_path):
    b = GatewayBed(tmp_path, seed=4)
    yield b
    b.close()


def modbus_section(*devices):
    return {"bus": "line", "timeout_s": 0.2, "retries": 1, "devices": list(devices)}


async def read_back(bed: GatewayBed, master: ModbusMaster) -> int:
    reply = await master.request("read_holding_registers", 0, count=1, device_id=1)
    assert reply is not None and not reply.isError()
    return reply.registers[0]


def test_slave_telemetry_arrives_scaled_and_decoded(bed):
    slave = ModbusSlave(bed.world, bed.bus, standard_slave(1))
    gateway = bed.gateway(bed.config(modbus=modbus_section(METER)))

    async def main():
        await slave.start()
        await gateway.start()
        await asyncio.sleep(21)

    bed.world.run(main())
    p = bed.platform
    assert p.bodies("v1/gateway/connect") == [{"device": "Meter 1", "type": "meter"}]
    assert p.client_attributes == {"Meter 1": {"serial": "SN000001"}}
    assert len(p.values("Meter 1", "energy")) == 5  # polls at 0, 5, 10, 15, 20 s
    energy = p.values("Meter 1", "energy")
    assert energy[0] == 1000 and energy == sorted(energy) and energy[-1] >= 1000 + 3 * 19
    assert all(19.5 <= t <= 23.5 and round(t, 2) == t for t in p.values("Meter 1", "temperature"))
    assert all(95.0 <= v <= 105.0 for v in p.values("Meter 1", "pressureKpa"))
    epoch_ms = int(bed.world.epoch.timestamp() * 1000)
    stamps = sorted({ts for d, ts, _k, _v in p.telemetry if d == "Meter 1"})
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert len(stamps) == 5 and all(4990 <= g <= 5100 for g in gaps)
    assert 0 <= stamps[0] - epoch_ms < 2000


def test_slave_powered_off_is_disconnected_and_back_on_reconnected(bed):
    slave = ModbusSlave(bed.world, bed.bus, standard_slave(1))
    gateway = bed.gateway(bed.config(modbus=modbus_section(METER)))

    async def main():
        await slave.start()
        await gateway.start()
        await asyncio.sleep(12)
        off_at = bed.world.now
        await slave.stop()
        await until(lambda: "Meter 1" not in gateway.online)
        gone_after = bed.world.now - off_at
        await asyncio.sleep(10)
        await slave.start()
        await until(lambda: "Meter 1" in gateway.online)
        await asyncio.sleep(6)
        return gone_after

    gone_after = bed.world.run(main())
    assert 5 <= gone_after <= 11  # two silent polls, 5 s apart
    topics = [
        t for t in bed.platform.topics() if t in ("v1/gateway/connect", "v1/gateway/disconnect")
    ]
    assert topics == ["v1/gateway/connect", "v1/gateway/disconnect", "v1/gateway/connect"]
    assert bed.platform.bodies("v1/gateway/disconnect") == [{"device": "Meter 1"}]
    trace = bed.world.trace.select(node="gw-1", event="device-disconnected")
    assert trace and "no answer to 2 polls" in trace[0]["reason"]


def test_shared_attribute_writes_the_register(bed):
    slave = ModbusSlave(bed.world, bed.bus, standard_slave(1))
    checker = ModbusMaster(bed.world, bed.bus, name="checker", timeout=0.2, retries=3)
    gateway = bed.gateway(bed.config(modbus=modbus_section(METER)))

    async def main():
        await slave.start()
        await checker.start()
        await gateway.start()
        await until(lambda: "Meter 1" in gateway.online)
        before = await read_back(bed, checker)
        bed.platform.push_shared("Meter 1", {"setpoint": 42.5, "unmapped": 1})
        await asyncio.sleep(1)
        return before, await read_back(bed, checker)

    before, after = bed.world.run(main())
    assert before == 200 and after == 425
    (applied,) = bed.world.trace.select(node="gw-1", event="attributes-applied")
    assert applied["applied"] == {"setpoint": 42.5} and applied["ignored"] == ["unmapped"]


def test_shared_attributes_set_while_away_are_fetched_on_connect(bed):
    slave = ModbusSlave(bed.world, bed.bus, standard_slave(1))
    checker = ModbusMaster(bed.world, bed.bus, name="checker", timeout=0.2, retries=3)
    gateway = bed.gateway(bed.config(modbus=modbus_section(METER)))
    bed.platform.shared["Meter 1"] = {"setpoint": 12.5}

    async def main():
        await slave.start()
        await checker.start()
        await gateway.start()
        await until(lambda: "Meter 1" in gateway.online)
        await asyncio.sleep(2)
        return await read_back(bed, checker)

    assert bed.world.run(main()) == 125
    assert {"id": 1, "device": "Meter 1", "client": False, "key": "setpoint"} in (
        bed.platform.bodies("v1/gateway/attributes/request")
    )


def test_rpc_reads_and_writes_registers(bed):
    slave = ModbusSlave(bed.world, bed.bus, standard_slave(1))
    checker = ModbusMaster(bed.world, bed.bus, name="checker", timeout=0.2, retries=3)
    gateway = bed.gateway(bed.config(modbus=modbus_section(METER)))

    async def main():
        await slave.start()
        await checker.start()
        await gateway.start()
        await until(lambda: "Meter 1" in gateway.online)
        out = {"get": await bed.platform.rpc("Meter 1", "getSetpoint")}
        out["set"] = await bed.platform.rpc("Meter 1", "setSetpoint", {"value": 55.5})
        out["register"] = await read_back(bed, checker)
        out["too_high"] = await bed.platform.rpc("Meter 1", "setSetpoint", 2000)
        out["bad_params"] = await bed.platform.rpc("Meter 1", "setSetpoint", {"v": 1})
        out["unknown_method"] = await bed.platform.rpc("Meter 1", "reboot")
        out["unknown_device"] = await bed.platform.rpc("Meter 9", "getSetpoint")
        await slave.stop()
        await until(lambda: "Meter 1" not in gateway.online)
        out["offline"] = await bed.platform.rpc("Meter 1", "getSetpoint")
        return out

    out = bed.world.run(main())
    assert out["get"] == {"success": True, "value": 20.0}
    assert out["set"] == {"success": True} and out["register"] == 555
    assert out["too_high"]["success"] is False and "Modbus exception 3" in out["too_high"]["error"]
    assert out["bad_params"]["success"] is False and "value" in out["bad_params"]["error"]
    assert "no RPC method 'reboot'" in out["unknown_method"]["error"]
    assert "no device named 'Meter 9'" in out["unknown_device"]["error"]
    assert "is not connected" in out["offline"]["error"]
    replies = bed.platform.bodies("v1/gateway/rpc")
    assert [r["id"] for r in replies if r["device"] == "Meter 1"] == [0, 1, 2, 3, 4, 5]
