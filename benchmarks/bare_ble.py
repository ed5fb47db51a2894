"""Bare-stack baselines for BLE: stock Bumble devices on Bumble's stock ``LocalLink``, on a plain
asyncio loop in real time: no world, no radio model, no router, no HTTP or SSE.

* :func:`bare_crowd`: N advertisers and one scanning central for a few wall seconds. The stock
  link hands every advertisement to every other controller (N² callbacks), so its CPU load grows
  with N² and the loop stalls (advertisements fall behind) near a few hundred advertisers.
* :func:`bare_notify`: a central connects to one peripheral, discovers its services, subscribes
  to a characteristic and receives notifications sent back to back.

Costs are CPU seconds (``time.process_time``), as the loop in real time mostly waits.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bumble import gatt, hci
from bumble.controller import Controller
from bumble.device import Device, Peer
from bumble.host import Host
from bumble.link import LocalLink

NOTIFY_UUID = "2A37"  # heart-rate measurement: what the simulated peripherals notify
SERVICE_UUID = "180D"


def _device(link: LocalLink, index: int) -> Device:
    controller = Controller(f"c{index}", link=link)
    address = hci.Address(f"C0:00:00:00:{index >> 8:02X}:{index & 0xFF:02X}")
    host = Host(controller_source=controller, controller_sink=controller)
    return Device(name=f"bare-{index}", address=address, host=host)


async def _crowd(count: int, seconds: float, interval_ms: float) -> dict[str, Any]:
    link = LocalLink()
    central = _device(link, 0)
    advertisers = [_device(link, i) for i in range(1, count + 1)]
    for device in (central, *advertisers):
        await device.power_on()
    for device in advertisers:
        await device.start_advertising(
            advertising_interval_min=interval_ms, advertising_interval_max=interval_ms
        )
    heard = [0]
    central.on("advertisement", lambda _adv: heard.__setitem__(0, heard[0] + 1))
    await central.start_scanning(filter_duplicates=False)
    await asyncio.sleep(1.0)  # every advertiser's timer running
    heard[0] = 0
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    for device in (central, *advertisers):
        await device.power_off()
    return {"advertisers": count, "cpu_s": cpu, "wall_s": wall, "adverts_heard": heard[0]}


def bare_crowd(
    count: int, seconds: float = 3.0, interval_ms: float = 1000.0, limit_s: float = 60.0
) -> dict[str, Any]:
    """``count`` stock advertisers heard by one scanning central on ``LocalLink`` in real time:
    CPU load (CPU s per wall s: >= 1 is a stall), CPU us per advertisement heard. A run that
    does not finish within ``limit_s`` wall seconds (the loop drowning in the N² deliveries
    before the window even starts) is reported as stalled."""

    async def bounded() -> dict[str, Any] | None:
        try:
            return await asyncio.wait_for(_crowd(count, seconds, interval_ms), limit_s)
        except TimeoutError:
            return None

    cpu = time.process_time()
    run = asyncio.run(bounded())
    if run is None:
        return {
            "advertisers": count,
            "stalled": True,
            "cpu_load": None,
            "cpu_us_per_advert": None,
            "note": f"not done within {limit_s:g} wall s ({time.process_time() - cpu:.0f} CPU s)",
        }
    heard = max(1, run["adverts_heard"])
    return {
        "advertisers": count,
        "stalled": run["cpu_s"] >= run["wall_s"],
        "cpu_load": round(run["cpu_s"] / run["wall_s"], 3),
        "cpu_us_per_advert": round(run["cpu_s"] / heard * 1e6, 1),
        "adverts_heard_per_s": round(run["adverts_heard"] / run["wall_s"], 1),
    }


async def _notify(notifications: int) -> dict[str, Any]:
    link = LocalLink()
    central, peripheral = _device(link, 0), _device(link, 1)
    characteristic = gatt.Characteristic(
        NOTIFY_UUID,
        gatt.Characteristic.Properties.NOTIFY,
        gatt.Characteristic.READABLE,
        bytes([0, 72]),
    )
    peripheral.add_service(gatt.Service(SERVICE_UUID, [characteristic]))
    for device in (central, peripheral):
        await device.power_on()
    await peripheral.start_advertising()
    cpu, wall = time.process_time(), time.perf_counter()
    connection = await central.connect(peripheral.random_address)
    peer = Peer(connection)
    await peer.discover_services()
    await peer.discover_characteristics()
    (remote,) = peer.get_characteristics_by_uuid(gatt.UUID(NOTIFY_UUID))
    received: list[bytes] = []
    done = asyncio.get_running_loop().create_future()

    def on_value(value: bytes) -> None:
        received.append(value)
        if len(received) == notifications and not done.done():
            done.set_result(None)

    await peer.subscribe(remote, on_value)
    setup_cpu = time.process_time() - cpu
    cpu = time.process_time()
    for i in range(notifications):
        await peripheral.notify_subscribers(characteristic, bytes([0, 60 + i % 60]))
    await asyncio.wait_for(done, 30)
    cpu = time.process_time() - cpu
    await connection.disconnect()
    return {"setup_cpu_s": setup_cpu, "notify_cpu_s": cpu, "wall_s": time.perf_counter() - wall}


def bare_notify(notifications: int = 2000) -> dict[str, Any]:
    """Connect, discover and subscribe on stock Bumble over ``LocalLink``, then
    ``notifications`` notifications: CPU ms for the set-up, CPU us per notification."""
    run = asyncio.run(_notify(notifications))
    return {
        "setup_cpu_ms": round(run["setup_cpu_s"] * 1e3, 2),
        "cpu_us_per_notification": round(run["notify_cpu_s"] / notifications * 1e6, 1),
    }
