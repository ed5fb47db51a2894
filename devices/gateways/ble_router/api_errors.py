"""How the router's API answers its domain errors (:mod:`.errors`): a status and the error's
plain-text message as the body.

Status choices (the seed says only "200 for success, 500 for error"; we refine it):

* **400** — the request itself is wrong (:class:`~.errors.InvalidParameter`): a malformed MAC,
  handle, hex value or UUID, a parameter outside its documented range (``timeout``, ``mtu``,
  ``filter_rssi``, ``active``...), a body that is not JSON. Nothing was attempted.
* **404** — the node is connected but has no service / characteristic with the UUID asked for
  (:class:`~.errors.UnknownAttribute`).
* **500** — every other error: the router tried and could not, or cannot now. The node is not
  connected, a connection attempt timed out, another connection attempt is already in
  progress (the seed's serial rule), a chip is full, the device answered a GATT request with an
  ATT error, the link dropped mid-operation, or too many SSE streams are open (the seed's note
  on SSE limits).
"""

from __future__ import annotations

from aiohttp import web

from devices.gateways.ble_router.errors import BleError, InvalidParameter, UnknownAttribute

STATUS: dict[type[BleError], int] = {InvalidParameter: 400, UnknownAttribute: 404}
DEFAULT_STATUS = 500


def status_of(error: BleError) -> int:
    """The HTTP status that answers ``error``."""
    for kind in type(error).__mro__:
        status = STATUS.get(kind)  # type: ignore[call-overload]
        if status is not None:
            return status
    return DEFAULT_STATUS


def error_response(error: BleError) -> web.Response:
    return web.Response(status=status_of(error), text=error.message)
