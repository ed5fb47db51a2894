"""The reference BLE router of seed 002 (a Cassia-style gateway): its central on one or two
Bumble chips on the simulated radio, and its RESTful API and SSE streams over aiohttp.

The BLE side speaks its domain: it raises the errors of :mod:`.errors` and emits the events of
:mod:`.events`. Only the API layer knows HTTP: it maps the errors to a status
(:mod:`.api_errors`) and feeds the events into SSE streams (:mod:`.sse`,
:mod:`.event_streams`).

The node:

* :mod:`.router` — :class:`BleRouter` (construct, ``start``, ``serve``, ``stop``,
  ``power_off``); :mod:`.reboot` — its reboot cycle (the API's and the world fault's).

The BLE side (no HTTP):

* :mod:`.central` — scanning shared by subscriptions, connections, GATT cache, notifications,
  connection states, RSSI.
* :mod:`.chip` — one chip: controller + host + Bumble ``Device``, with the lean
  advertising-report path.
* :mod:`.pairing` — SMP pairing and bonds; :mod:`.advertising` — the router as an advertiser;
  :mod:`.batch` — the batch-connect queue; :mod:`.rssi_monitor` — periodic RSSI readings.
* :mod:`.scan_filter` — scan filter parsing and matching (pure); :mod:`.beacons` — iBeacon /
  Eddystone decoding; :mod:`.gatt` — the GATT database as plain data, and its discovery.
* :mod:`.errors`, :mod:`.events` — the domain errors and the event names.
* :mod:`.params` — parameter parsing (raises :class:`~.errors.InvalidParameter`).

The API (aiohttp):

* :mod:`.api` — the app, the core routes, the error middleware; :mod:`.api_errors` — status
  choices; :mod:`.handlers` — what route handlers share.
* :mod:`.advertise_api`, :mod:`.batch_api`, :mod:`.login_api`, :mod:`.pairing_api`,
  :mod:`.rssi_api` — the other routes.
* :mod:`.sse` — the one SSE stream lifecycle, the outbox and the stream limit;
  :mod:`.event_streams` — the feeds from domain events to SSE lines; :mod:`.reports` — the
  JSON shapes.
"""

from devices.gateways.ble_router.router import BleRouter

__all__ = ["BleRouter"]
