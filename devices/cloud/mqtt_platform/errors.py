"""The platform's domain errors: what went wrong in platform terms, with a ``message`` naming the
offending value and what is accepted. Nothing here knows HTTP or MQTT; the control API
(:mod:`.control_api`) chooses each one's status.

* :class:`InvalidRequest` — a value the platform does not accept (``field`` names it).
* :class:`UnknownGateway`, :class:`UnknownDevice` — no such name in that tenant.
* :class:`NameTaken` — a gateway (a device) of that name already exists in the tenant.
* :class:`NoActiveConnection` — an RPC to a device with no active session.
* :class:`RpcTimeout` — the device's gateway did not answer the RPC in time.
"""

from __future__ import annotations


class PlatformError(Exception):
    """Base of the platform's domain errors."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(PlatformError):
    """``field`` has a value the platform does not accept (the message says what it accepts)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class UnknownGateway(PlatformError):
    """No gateway named ``name`` in ``tenant``."""

    def __init__(self, tenant: str, name: str) -> None:
        super().__init__(f"no gateway named {name!r} in tenant {tenant!r}")
        self.tenant = tenant
        self.name = name


class UnknownDevice(PlatformError):
    """No device named ``name`` in ``tenant``."""

    def __init__(self, tenant: str, name: str) -> None:
        super().__init__(f"no device named {name!r} in tenant {tenant!r}")
        self.tenant = tenant
        self.name = name


class NameTaken(PlatformError):
    """A device (gateway or not) named ``name`` already exists in ``tenant``."""

    def __init__(self, tenant: str, name: str) -> None:
        super().__init__(f"a device named {name!r} already exists in tenant {tenant!r}")
        self.tenant = tenant
        self.name = name


class NoActiveConnection(PlatformError):
    """``device`` has no active session: its gateway never connected it, disconnected it, went
    away, or let it fall silent for longer than the session timeout."""

    def __init__(self, tenant: str, device: str) -> None:
        super().__init__(f"no active connection to device {device!r} (tenant {tenant!r})")
        self.tenant = tenant
        self.device = device


class RpcTimeout(PlatformError):
    """No reply to RPC ``request_id`` (``method``) of ``device`` within ``timeout`` seconds."""

    def __init__(self, device: str, request_id: int, method: str, timeout: float) -> None:
        super().__init__(
            f"RPC {method!r} (id {request_id}) to device {device!r}: no reply in {timeout:g} s"
        )
        self.device = device
        self.request_id = request_id
        self.method = method
        self.timeout = timeout
