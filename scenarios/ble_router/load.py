"""Load drivers shared by the ``@load`` scenarios and the benchmarks, working on either BLE
router bed (:class:`~scenarios.ble_router.bed.BleBed`) through the router's own API.

:func:`notification_load`: ``count`` stock sensors connected to the router, each notifying its
heart-rate counter at ``hz``, read through one notification stream with ``sequence=2`` for
``seconds``. Per device it keeps the ``seqNum`` and the counter value of every event, so lost
or reordered notifications show as jumps in either; with a local bed it also matches each
event to the moment the peripheral handed the value to its stack (both world time) and gives
the per-notification latency.
"""

from __future__ import annotations

import asyncio
import math
import struct
from dataclasses import dataclass, field
from typing import Any

from devices.ble.gatt_uuids import HEART_RATE_MEASUREMENT, cccd_handle
from devices.ble.spec import standard_peripheral
from devices.protocols.http_client import HttpClient, SseStream
from scenarios.ble_router.bed import BleBed, LocalBleBed


class LoadError(RuntimeError):
    """The router refused a step of the load's set-up (the message has its answer)."""


@dataclass
class DeviceRun:
    """What the notification stream delivered for one device."""

    seqs: list[int] = field(default_factory=list)
    values: list[int] = field(default_factory=list)
    received_at: list[float] = field(default_factory=list)

    def problems(self) -> list[str]:
        out = []
        seqs = self.seqs
        if seqs and seqs != list(range(seqs[0], seqs[0] + len(seqs))):
            out.append(
                "seqNum jumps "
                + str([(a, b) for a, b in zip(seqs, seqs[1:], strict=False) if b != a + 1][:5])
            )
        values = self.values
        jumps = [(a, b) for a, b in zip(values, values[1:], strict=False) if b != (a + 1) & 0xFFFF]
        if jumps:
            out.append(f"counter jumps {jumps[:5]}")
        return out


@dataclass
class NotifyLoad:
    count: int
    hz: float
    seconds: float
    devices: dict[str, DeviceRun]
    latencies_ms: list[float]
    malformed: int = 0

    @property
    def received(self) -> int:
        return sum(len(d.seqs) for d in self.devices.values())

    def problems(self) -> dict[str, list[str]]:
        return {mac: p for mac, run in self.devices.items() if (p := run.problems())}


async def _checked(client: HttpClient, method: str, path: str, **kwargs: Any) -> Any:
    response = await client.request(method, path, **kwargs)
    if response.status != 200:
        raise LoadError(f"{method} {path} -> {response.status} {response.text[:200]}")
    return response


async def _cccd_handle(client: HttpClient, address: str) -> int:
    response = await _checked(
        client, "GET", f"/gatt/nodes/{address}/services/characteristics/descriptors"
    )
    handle = cccd_handle(response.json(), HEART_RATE_MEASUREMENT)
    if handle is None:
        raise LoadError(f"{address} shows no heart-rate CCCD in its GATT database")
    return handle


async def place_sensors(
    bed: BleBed, count: int, hz: float, radius_m: float = 3.0, first: int = 1
) -> list[str]:
    """``count`` stock sensors on a ring around the router; returns their addresses."""
    addresses = []
    for i in range(count):
        angle = 2 * math.pi * i / max(count, 1)
        position = (round(radius_m * math.cos(angle), 3), round(radius_m * math.sin(angle), 3), 0.0)
        spec = standard_peripheral(first + i, position=position, notify_hz=hz)
        addresses.append(await bed.place(spec))
    return addresses


async def _read(stream: SseStream, runs: dict[str, DeviceRun], counts: list[int]) -> None:
    loop = asyncio.get_running_loop()
    async for event in stream:
        try:
            data = event.json()
            run = runs[str(data["id"]).upper()]
            value = struct.unpack("<H", bytes.fromhex(data["value"])[:2])[0]
            seq = int(data["seqNum"])
        except (ValueError, KeyError, TypeError, struct.error):
            counts[0] += 1
            continue
        run.seqs.append(seq)
        run.values.append(value)
        run.received_at.append(loop.time())


def _latencies(bed: BleBed, runs: dict[str, DeviceRun]) -> list[float]:
    """Receipt minus send time per notification (local beds only)."""
    if not isinstance(bed, LocalBleBed):
        return []
    by_address = {p.address.upper(): p for p in bed.peripherals.values()}
    out: list[float] = []
    for mac, run in runs.items():
        p = by_address.get(mac)
        if p is None or p.send_log is None:
            continue
        sent: dict[int, float] = {}
        for t, value in p.send_log:
            sent.setdefault(struct.unpack("<H", value[:2])[0], t)
        for value, t in zip(run.values, run.received_at, strict=True):
            if value in sent:
                out.append(round((t - sent[value]) * 1000.0, 3))
    return out


async def notification_load(
    bed: BleBed, count: int = 40, hz: float = 10.0, seconds: float = 600.0
) -> NotifyLoad:
    """Connect ``count`` sensors, subscribe each, and read the stream for ``seconds``."""
    addresses = await place_sensors(bed, count, hz)
    if isinstance(bed, LocalBleBed):
        for p in bed.peripherals.values():
            if p.address in addresses:
                p.send_log = []
    client = bed.client()
    runs = {a.upper(): DeviceRun() for a in addresses}
    malformed = [0]
    stream = client.sse("/gatt/nodes", {"event": 1, "sequence": 2})
    await stream.open()
    if stream.status != 200:
        raise LoadError(
            f"the notification stream was refused: {stream.status} {stream.body[:200]!r}"
        )
    reader = asyncio.ensure_future(_read(stream, runs, malformed))
    try:
        for address in addresses:
            await _checked(
                client,
                "POST",
                f"/gap/nodes/{address}/connection",
                json_body={"type": "random", "timeout": "5000"},
            )
            handle = await _cccd_handle(client, address)
            await _checked(client, "GET", f"/gatt/nodes/{address}/handle/{handle}/value/0100")
        await asyncio.sleep(seconds)
    finally:
        stream.close()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    return NotifyLoad(count, hz, seconds, runs, _latencies(bed, runs), malformed[0])
