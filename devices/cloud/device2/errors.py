"""The service's domain errors. Nothing here knows HTTP: :mod:`.api` chooses each one's status.

Every error carries a plain ``message`` naming the offending value and what is accepted, and
``field``: the parameter it is about (dotted for nested fields, e.g. ``auth.expire``), or
``None``.

* :class:`InvalidInput` — a parameter the service does not accept; nothing was changed (400).
* :class:`NotFound` — the gateway context (product), identity, resource or task does not
  exist (404).
* :class:`Conflict` — the request is well formed but the current state refuses it: an identity
  or resource that already exists, a resource that is not settable, an exhausted identity range,
  an identity that is already provisioned (409).
* :class:`AuthenticationFailed` — a device presented no or wrong credentials (device side).
* :class:`Refused` — a device may not do this now: locked, expired provisioning window,
  provisioning disabled, an IP outside the whitelist, a publish-as it has no permission for
  (device side; ``reason`` is a short machine-readable word).
* :class:`StoreError` — the database failed (500).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class Device2Error(Exception):
    """Base of the service's domain errors."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(Device2Error):
    """``field`` had ``value``; ``accepted`` says what would have been accepted."""

    def __init__(self, field: str, accepted: str, value: Any = None, message: str = "") -> None:
        if not message:
            shown = "" if value is None else f" {_show(value)}"
            message = f"invalid {field}{shown}: accepted {accepted}"
        super().__init__(message, field)
        self.accepted = accepted
        self.value = value


class NotFound(Device2Error):
    """No ``kind`` (``gateway``, ``identity``, ``resource``, ``task``...) named ``key``."""

    def __init__(self, kind: str, key: str, field: str | None = None, message: str = "") -> None:
        super().__init__(message or f"no {kind} {key!r} exists", field)
        self.kind = kind
        self.key = key


class Conflict(Device2Error):
    """The current state refuses the request."""


class AuthenticationFailed(Device2Error):
    """No or wrong credentials."""


class Refused(Device2Error):
    """The device is known but may not do this now; ``reason`` e.g. ``locked``, ``expired``."""

    def __init__(self, reason: str, message: str, field: str | None = None) -> None:
        super().__init__(message, field)
        self.reason = reason


class StoreError(Device2Error):
    """The database failed (disk full, corrupt file...)."""


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def one_of(choices: Iterable[Any]) -> str:
    """``"one of 'a', 'b'"`` for an ``accepted`` text."""
    return "one of " + ", ".join(repr(c) for c in choices)
