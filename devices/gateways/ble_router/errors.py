"""The router's domain errors, in the manner of Bumble's own (``bumble.core.ProtocolError``...):
what went wrong in BLE terms, with a plain-text ``message`` naming the offending value and what
is accepted. Nothing here knows HTTP; :mod:`.api_errors` chooses each one's status.

* :class:`InvalidParameter` — a value outside what the router accepts; nothing was attempted.
* :class:`UnknownAttribute` — the connected device has no service / characteristic with that
  UUID.
* :class:`NotConnected`, :class:`Busy` (the seed's serial rule, a pairing in progress),
  :class:`ChipFull`, :class:`ChipOff`, :class:`InvalidState` (no bond to remove, no pairing
  waiting), :class:`StreamLimit` (the seed's note on SSE resources) — the router cannot do it
  now.
* :class:`ProcedureFailed` — the router tried and the procedure failed: :class:`Timeout`
  (the device did not answer), :class:`AttError` (it answered with an ATT error),
  :class:`LinkLost` (the link dropped mid-procedure).
"""

from __future__ import annotations


class BleError(Exception):
    """Base of the router's domain errors."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidParameter(BleError):
    """A parameter the router does not accept (the message names it and what is accepted)."""


class UnknownAttribute(BleError):
    """The connected device has no ``kind`` (service, characteristic) with ``uuid``."""

    def __init__(self, mac: str, kind: str, uuid: str, message: str) -> None:
        super().__init__(message)
        self.mac = mac
        self.kind = kind
        self.uuid = uuid


class NotConnected(BleError):
    """The device ``mac`` has no link to the router."""

    def __init__(self, mac: str, message: str) -> None:
        super().__init__(message)
        self.mac = mac


class Busy(BleError):
    """Another procedure of the same kind is in progress (one connection attempt at a time per
    router, one pairing at a time per device)."""


class ChipFull(BleError):
    """No chip asked for (or none at all) has room for another connection."""


class ChipOff(BleError):
    """The chip asked for is not powered on (the router is booting)."""


class InvalidState(BleError):
    """What is asked for does not exist now (no bond to remove, no pairing waiting)."""


class StreamLimit(BleError):
    """Too many event streams are open."""

    def __init__(self, open_streams: int, maximum: int, message: str) -> None:
        super().__init__(message)
        self.open_streams = open_streams
        self.maximum = maximum


class ProcedureFailed(BleError):
    """The router tried and the BLE procedure failed."""


class Timeout(ProcedureFailed):
    """The device did not answer in time."""


class AttError(ProcedureFailed):
    """The device answered with ATT error ``code`` (``name`` e.g. ``ATT_READ_NOT_PERMITTED``)."""

    def __init__(self, code: int, name: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.name = name


class LinkLost(ProcedureFailed):
    """The link dropped while the procedure ran."""
