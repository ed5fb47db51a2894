"""The gateway on a real loopback socket, in real time: the same paho client driven from the
world's loop (no thread of its own), against the platform emulator listening on TCP."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from devices.cloud.mqtt_platform import Platform, UnknownDevice
from devices.gateways.mqtt_gateway import build_gateway, load_config
from devices.gateways.mqtt_gateway.config import EXAMPLE, DeviceConfig
from sim.world import REAL, World

SENSOR = DeviceConfig(name="Sensor A", kind="virtual")


async def until(condition, wall_limit: float = 10.0) -> None:
    deadline = time.monotonic() + wall_limit
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def stored(platform: Platform) -> list[int]:
    try:
        return [p.value for p in platform.telemetry("Sensor A", "counter")]
    except UnknownDevice:
        return []


def test_gateway_over_a_real_socket_in_real_time(tmp_path):
    world = World(seed=1, clock=REAL)
    platform = Platform(world)
    token = platform.add_gateway("gw-1")

    async def main():
        port = await platform.listen_tcp("127.0.0.1", 0)
        # the documented way: the example file, with what only the run knows replaced
        config = load_config(EXAMPLE)
        config = replace(
            config,
            access_token=token,
            platform=replace(config.platform, host="127.0.0.1", port=port),
            delivery=replace(config.delivery, path=str(tmp_path / "q.sqlite"), batch_s=0.05),
            ble=None,
            modbus=None,
        )
        gateway = build_gateway(world, config)  # no in-world network: real TCP
        await gateway.start()
        await until(lambda: gateway.connected)
        gateway.device_online(SENSOR)
        for i in range(5):
            gateway.report_telemetry(SENSOR, {"counter": i})
            await asyncio.sleep(0.01)
        await until(lambda: len(stored(platform)) == 5)
        values = stored(platform)
        await gateway.stop()
        await platform.close()
        return gateway, values

    try:
        gateway, values = world.run(main())
    finally:
        world.close()
    assert values == [0, 1, 2, 3, 4]
    assert gateway.stats()["delivered"] == 6  # the connect row and five readings
