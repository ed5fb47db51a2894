"""The RSSI stream (seed 002, "Get RSSI for BLE Connection (v2.0 and above)"): ``GET /gap/rssi``
is an SSE stream of ``{"id": <node>, "rssi": <dBm>}`` for the router's connections, read by an
:class:`~.rssi_monitor.RssiMonitor`.

* Every ``rssi_interval`` ms (default 1000; we accept 100 to 3600000) the router reads the RSSI
  of each connection and reports those *lower than* ``rssi`` (default 127, so every reading;
  we accept -127 to 127).
* ``filter_mac`` limits the report to devices matching it, in the scan filter's format
  (exact MACs and ``CC:DD:EE*`` prefixes, comma-separated).
* Unavailable readings and links that drop meanwhile are skipped (see :mod:`.rssi_monitor`).
* ``mac=<gateway-mac>`` (in the seed's local example too) is ignored. The stream counts against
  the router's SSE limit like every other stream.
"""

from __future__ import annotations

from aiohttp import web

from devices.gateways.ble_router import handlers
from devices.gateways.ble_router.event_streams import RssiFeed
from devices.gateways.ble_router.params import parse_int
from devices.gateways.ble_router.rssi_monitor import RssiMonitor
from devices.gateways.ble_router.scan_filter import ScanFilter, parse_macs
from devices.gateways.ble_router.sse import serve_stream


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
    if router.deviations.active("rssi-filter-mac-ignored"):
        macs = None
    monitor = RssiMonitor(router.central, threshold, interval_ms / 1000.0, macs)
    return await serve_stream(
        request,
        router,
        "rssi",
        RssiFeed(monitor),
        rssi=threshold,
        rssi_interval_ms=interval_ms,
        filter_mac=q.get("filter_mac"),
    )


def register(app: web.Application) -> None:
    app.router.add_get("/gap/rssi", rssi_stream)
