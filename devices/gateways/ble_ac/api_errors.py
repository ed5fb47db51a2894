"""How the controller's API answers its domain errors (:mod:`.errors`): a status and the
error's plain-text message as the body (the token endpoint answers in OAuth2's JSON form, see
:mod:`.api`).

The seed gives the routers' convention ("200 for success, 500 for error") and nothing of the
controller's own refusals; our choices:

* **400** — the request is wrong (:class:`~.errors.InvalidRequest`, the router parsers'
  ``InvalidParameter``): a malformed MAC, a filter outside the support table, a missing
  ``mac=`` on a router call. Nothing was attempted.
* **401** — no valid access token (:class:`~.errors.Unauthorized`), with
  ``WWW-Authenticate: Bearer error="invalid_token"`` (RFC 6750).
* **404** — no such router (:class:`~.errors.UnknownRouter`) or device
  (:class:`~.errors.UnknownDevice`).
* **409** — auto-selection is switched off (:class:`~.errors.SelectionOff`).
* **503** — the router is registered but offline (:class:`~.errors.RouterOffline`).
* **504** — the router is online but did not answer (:class:`~.errors.RouterUnreachable`).
* **500** — every other error: no router could connect the device, a router refused the
  controller's own request.
"""

from __future__ import annotations

from aiohttp import web

from devices.gateways.ble_ac.errors import (
    AcError,
    InvalidRequest,
    RouterOffline,
    RouterUnreachable,
    SelectionOff,
    Unauthorized,
    UnknownDevice,
    UnknownRouter,
)
from devices.gateways.ble_router.errors import BleError, InvalidParameter

STATUS: dict[type[Exception], int] = {
    InvalidRequest: 400,
    InvalidParameter: 400,
    Unauthorized: 401,
    UnknownRouter: 404,
    UnknownDevice: 404,
    SelectionOff: 409,
    RouterOffline: 503,
    RouterUnreachable: 504,
}
DEFAULT_STATUS = 500


def status_of(error: AcError | BleError) -> int:
    for kind in type(error).__mro__:
        status = STATUS.get(kind)
        if status is not None:
            return status
    return DEFAULT_STATUS


def error_response(error: AcError | BleError) -> web.Response:
    response = web.Response(status=status_of(error), text=error.message)
    if isinstance(error, Unauthorized):
        description = error.message.split(";")[0].replace('"', "'")
        response.headers["WWW-Authenticate"] = (
            f'Bearer realm="ac", error="invalid_token", error_description="{description}"'
        )
    return response
