"""The RSSI stream (seed 002, "Get RSSI for BLE Connection (v2.0 and above)"): ``GET /gap/rssi``
is an SSE stream of ``{"id": <node>, "rssi": <dBm>}`` for the router's connections.

* Every ``rssi_interval`` ms (default 1000; we accept 100 to 3600000) the router reads the RSSI
  of each connection (``HCI_Read_RSSI`` on its chip) and reports those *lower than* ``rssi``
  (default 127, so every reading; we accept -127 to 127).
* ``filter_mac`` limits the report to devices matching it, in the scan filter's format
  (exact MACs and ``CC:DD:EE*`` prefixes, comma-separated).
* A reading the controller marks unavailable (127: the peer is out of reach but the link is not
  yet timed out) is not reported; a link that drops between listing and reading is skipped.
* ``mac=<gateway-mac>`` (in the seed's local example too) is ignored. The stream counts against
  the router's SSE limit like every other stream.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

from aiohttp import web

from devices.gateways.ble_router import handlers
from devices.gateways.ble_router.errors import ApiError
from devices.gateways.ble_router.params import parse_int
from devices.gateways.ble_router.scan_filter import ScanFilter, parse_macs
from devices.gateways.ble_router.sse import SseOutbox, open_stream

if TYPE_CHECKING:
    from devices.gateways.ble_router.router import BleRouter

RSSI_UNAVAILABLE = 127


async def rssi_stream(request: web.Request) -> web.StreamResponse:
    router = request.app[handlers.ROUTER]
    q = request.query
    threshold = parse_int(
        "rssi",
        q.get("rssi", "127"),
        -127,
        127,
        "an RSSI threshold in dBm from -127 to 127 (report readings below it)",
    )
    interval_ms = parse_int(
        "rssi_interval",
        q.get("rssi_interval", "1000"),
        100,
        3_600_000,
        "a report interval in ms from 100 to 3600000",
    )
    macs = ScanFilter(**parse_macs(q["filter_mac"])) if "filter_mac" in q else None
    token = router.streams.acquire("rssi")
    try:
        response = await open_stream(request)
        outbox = SseOutbox(asyncio.get_running_loop(), router.keepalive_s)
        router.trace(
            "sse",
            "open",
            stream="rssi",
            token=token,
            rssi=threshold,
            rssi_interval_ms=interval_ms,
            filter_mac=q.get("filter_mac"),
            open_streams=router.streams.count(),
        )
        sampler = router.world.spawn(
            _sample(router, outbox, threshold, interval_ms / 1000.0, macs),
            name=f"{router.name}/rssi-stream",
        )
        try:
            await outbox.pump(response)
        finally:
            sampler.cancel()
            outbox.close()
            router.trace("sse", "close", stream="rssi", token=token, sent=outbox.sent)
    finally:
        router.streams.release(token)
    return response


async def _sample(
    router: BleRouter, outbox: SseOutbox, threshold: int, interval_s: float, macs: ScanFilter | None
) -> None:
    central = router.central
    while not outbox.closed:
        await asyncio.sleep(interval_s)
        for mac in list(central.links):
            if macs is not None and not macs.match_mac(mac):
                continue
            try:
                rssi = await central.rssi(mac)
            except ApiError:
                continue  # the link went away meanwhile
            if rssi != RSSI_UNAVAILABLE and rssi < threshold:
                outbox.push(json.dumps({"id": mac, "rssi": rssi}, separators=(",", ":")))


def register(app: web.Application) -> None:
    app.router.add_get("/gap/rssi", rssi_stream)
