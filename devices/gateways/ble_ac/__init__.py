"""The reference BLE access controller ("AC") of seed 002: routers (each a
:class:`~devices.gateways.ble_router.BleRouter` on the shared radio) join it over their IP
uplinks, and its HTTP API serves the controller-only APIs (hubs, hubStatus, the combined SSE
stream, router auto-selection, positioning, OAuth2 tokens) and the router-addressed form
(``/api/...?mac=<gateway-mac>``) of every router call.

The controller speaks its domain: it raises the errors of :mod:`.errors` and emits the events of
:mod:`.events`; only the API layer knows HTTP.

* :mod:`.controller` — :class:`AccessController` (construct, ``start``, ``serve``, ``stop``).
* :mod:`.agent` — :class:`AcAgent`, the router's side of its uplink (join, echo);
  :mod:`.uplink_api` — the controller's side (port 5246 in the world).
* :mod:`.registry` — the routers and their online/offline state; :mod:`.uplinks` — the
  controller's HTTP clients of the routers and the streams it holds to them.
* :mod:`.combined` — the combined stream's state and fan-in; :mod:`.selection` — router
  auto-selection, the RSSI rule and roaming; :mod:`.positioning` — closest router per device;
  :mod:`.rssi_table` — the RSSI samples both rank by; :mod:`.scan_params` — scan settings and
  the seed's scan-filter support table.
* :mod:`.auth` — developer credentials and tokens.
* :mod:`.api` — routes, authentication and error answers; :mod:`.api_errors` — status choices;
  :mod:`.proxy` — router calls through the controller; :mod:`.streams` — its SSE streams;
  :mod:`.reports` — the JSON shapes; :mod:`.api_spec` — the OpenAPI description.
"""

from devices.gateways.ble_ac.agent import AcAgent
from devices.gateways.ble_ac.controller import AccessController

__all__ = ["AccessController", "AcAgent"]
