"""The reference BLE router of seed 002 (a Cassia-style gateway): its RESTful API and SSE
streams over aiohttp, its central on one or two Bumble chips on the simulated radio.

Modules:

* :mod:`.router` — :class:`BleRouter`, the node (construct, ``start``, ``serve``, ``stop``).
* :mod:`.api` — routes, parameter validation, error answers (status choices documented there).
* :mod:`.central` — scanning shared by streams, connections, GATT cache, notification and
  connection-state fan-out, RSSI.
* :mod:`.chip` — one chip: controller + host + Bumble ``Device``, with the lean
  advertising-report path.
* :mod:`.scan_filter` — scan filter parsing and matching (pure).
* :mod:`.beacons` — iBeacon / Eddystone decoding for ``beacon=1``.
* :mod:`.gatt` — the GATT database as plain data, and its discovery.
* :mod:`.reports` — the JSON shapes.
* :mod:`.sse` — the SSE outbox and the router-wide stream limit.
* :mod:`.params`, :mod:`.errors` — request parameter parsing and the error type.
"""

from devices.gateways.ble_router.router import BleRouter

__all__ = ["BleRouter"]
