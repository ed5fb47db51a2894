"""The access controller's domain errors: what went wrong in the controller's terms, with a
plain-text ``message`` naming the offending value and what is accepted. Nothing here knows HTTP;
:mod:`.api_errors` chooses each one's status.

* :class:`InvalidRequest` — a value outside what the controller accepts; nothing was attempted.
  (The router's own :class:`~devices.gateways.ble_router.errors.InvalidParameter`, raised by the
  scan-filter parsers the controller shares with it, is answered the same way.)
* :class:`Unauthorized` — no access token, an unknown one, or one that expired;
  :class:`InvalidClient` — the developer credentials of a token request are wrong.
* :class:`UnknownRouter` — no router with that MAC is registered; :class:`RouterOffline` — it
  is registered but offline; :class:`RouterUnreachable` — it is online but did not answer.
* :class:`UnknownDevice` — no router heard (or holds) that device.
* :class:`SelectionOff` — an auto-selection call while auto-selection is switched off.
* :class:`NoRouterAvailable` — auto-selection found no candidate router that could connect.
* :class:`RouterRefused` — a router answered the controller's own request with an error.
"""

from __future__ import annotations


class AcError(Exception):
    """Base of the controller's domain errors."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(AcError):
    """A parameter or body the controller does not accept."""


class Unauthorized(AcError):
    """The request carries no valid access token (``reason``: missing, unknown, expired)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class InvalidClient(AcError):
    """A token request with wrong or missing developer credentials."""


class UnsupportedGrant(AcError):
    """A token request for a grant type other than ``client_credentials``."""


class UnknownRouter(AcError):
    """No router ``mac`` is registered with the controller."""

    def __init__(self, mac: str, message: str) -> None:
        super().__init__(message)
        self.mac = mac


class RouterOffline(AcError):
    """Router ``mac`` is registered but offline (its uplink is down)."""

    def __init__(self, mac: str, message: str) -> None:
        super().__init__(message)
        self.mac = mac


class RouterUnreachable(AcError):
    """Router ``mac`` counts as online but did not answer in time."""


class UnknownDevice(AcError):
    """No router heard (or holds a link to) the device."""


class SelectionOff(AcError):
    """Auto-selection is switched off."""


class NoRouterAvailable(AcError):
    """No candidate router could connect the device."""


class RouterRefused(AcError):
    """A router answered the controller's request with an error (``status``, its text)."""

    def __init__(self, mac: str, status: int, message: str) -> None:
        super().__init__(message)
        self.mac = mac
        self.status = status
