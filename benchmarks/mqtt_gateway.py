"""MQTT gateway system benchmark: reference gateways with many devices each, through MQTT and our
platform's server into its SQLite storage, in virtual time.

Every device produces one telemetry reading a second (its gateway's bridge reports it, as a
Modbus poll or a BLE notification would); each gateway queues the readings in its SQLite outbox,
batches them into ``v1/gateway/telemetry`` PUBLISHes (QoS 1) and sends them over its paho
client to the platform, which stores every value (device, key, ts) before its PUBACK. The
figures: readings stored per wall second, end-to-end latency (reading taken -> stored, world
time) percentiles, and the readings lost (produced, never stored) and duplicated (stored more
than once), which must both be 0. ``readings_per_cpu_s`` divides by the process's CPU time
instead of the wall clock: on a machine shared with other work the two differ, and the CPU
figure is the one that says what the code costs (one core, one process).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from devices.cloud.mqtt_platform import Platform
from devices.gateways.mqtt_gateway import MqttGateway, parse_config
from devices.gateways.mqtt_gateway.config import DeviceConfig
from sim.iplink import IpNetwork
from sim.world import World

TICKS_PER_S = 10  # each gateway reports a tenth of its devices every 100 ms


def mqtt_gateway(
    seed: int = 1, gateways: int = 10, devices: int = 1000, seconds: float = 60.0
) -> dict[str, Any]:
    """``gateways`` reference gateways x ``devices`` devices, one reading per device per
    second for ``seconds`` simulated seconds, then until everything is delivered."""
    folder = Path(tempfile.mkdtemp(prefix="bench-mqtt-"))
    world = World(seed=seed, keep_trace=False)
    net = IpNetwork(world)
    platform = Platform(world, folder / "platform.sqlite")
    platform.listen(net, "platform", 1883)
    stored = _Ledger(world, platform)
    nodes = [_gateway(world, net, platform, folder, g, devices) for g in range(gateways)]
    produced = [0]

    async def report(gateway: MqttGateway, devices: list[DeviceConfig], phase: float) -> None:
        await asyncio.sleep(phase)
        share = len(devices) // TICKS_PER_S
        tick = 0
        end = world.now + seconds
        while world.now < end:
            first = (tick % TICKS_PER_S) * share
            for device in devices[first : first + share]:
                gateway.report_telemetry(device, {"value": tick})
            produced[0] += share
            tick += 1
            await asyncio.sleep(1.0 / TICKS_PER_S)

    async def main() -> float:
        for gateway, _devices in nodes:
            await gateway.start()
        while not all(g.connected for g, _d in nodes):
            await asyncio.sleep(0.1)
        for gateway, devs in nodes:
            for device in devs:
                gateway.device_online(device)
        while any(g.stats()["queued"] for g, _d in nodes):  # every device connected
            await asyncio.sleep(0.5)
        start = world.now
        clock[:] = [time.perf_counter(), time.process_time()]
        await asyncio.gather(
            *(report(g, devs, i / (len(nodes) * TICKS_PER_S)) for i, (g, devs) in enumerate(nodes))
        )
        while stored.points < produced[0] and world.now < start + seconds + 60:
            await asyncio.sleep(0.5)
        for gateway, _devices in nodes:
            await gateway.stop()
        return world.now - start

    clock = [0.0, 0.0]  # wall and CPU time when the readings begin (not connecting devices)
    try:
        with world:
            sim = world.run(main())
            wall, cpu = time.perf_counter() - clock[0], time.process_time() - clock[1]
            world.run(platform.close())
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    latencies = sorted(stored.latencies_ms)
    return {
        "sim_seconds": sim,
        "gateways": gateways,
        "devices": gateways * devices,
        "readings": produced[0],
        "stored": stored.distinct,
        "lost": produced[0] - stored.distinct,
        "duplicated": stored.points - stored.distinct,
        "readings_per_wall_s": round(stored.distinct / wall) if wall else None,
        "readings_per_cpu_s": round(stored.distinct / cpu) if cpu else None,
        "readings_wall_s": round(wall, 2),
        "latency_ms_p50": _percentile(latencies, 50),
        "latency_ms_p95": _percentile(latencies, 95),
        "latency_ms_p99": _percentile(latencies, 99),
        "latency_ms_max": round(latencies[-1], 1) if latencies else None,
    }


def _gateway(
    world: World, net: IpNetwork, platform: Platform, folder: Path, index: int, count: int
) -> tuple[MqttGateway, list[DeviceConfig]]:
    name = f"gw-{index + 1}"
    token = platform.add_gateway(name)
    config = parse_config(
        {
            "gateway": {"name": name, "access_token": token},
            "platform": {"host": "platform", "port": 1883},
            "delivery": {
                "path": str(folder / f"{name}-outbox.sqlite"),
                "batch_s": 0.1,
            },
        }
    )
    devices = [DeviceConfig(name=f"{name}-d{i:04d}", kind="virtual") for i in range(count)]
    return MqttGateway(world, config, net=net), devices


class _Ledger:
    """Counts what reaches the platform's storage: every (device, key, ts) point written, its
    latency from the reading's ts, and the messages that carried them."""

    def __init__(self, world: World, platform: Platform) -> None:
        self.world = world
        self.epoch_ms = world.epoch.timestamp() * 1000
        self.seen: Counter[tuple[int, str, int]] = Counter()
        self.latencies_ms: list[float] = []
        self.points = 0
        store = platform.store
        put = store.put_telemetry

        def put_telemetry(device_id: int, points: Iterable[tuple[int, str, Any]]) -> int:
            points = list(points)
            now_ms = self.epoch_ms + world.now * 1000
            for ts, key, _value in points:
                self.seen[(device_id, key, ts)] += 1
                self.latencies_ms.append(now_ms - ts)
            self.points += len(points)
            return put(device_id, points)

        store.put_telemetry = put_telemetry  # type: ignore[method-assign]

    @property
    def distinct(self) -> int:
        return len(self.seen)


def _percentile(sorted_values: list[float], pct: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, round(pct / 100 * (len(sorted_values) - 1)))
    return round(sorted_values[index], 1)
