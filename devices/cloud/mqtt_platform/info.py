"""What the control surface returns about gateways and devices (never a token)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ClaimInfo:
    secret_key: str
    expires_ms: int

    def as_json(self) -> dict[str, Any]:
        return {"secretKey": self.secret_key, "expiresMs": self.expires_ms}


@dataclass(frozen=True)
class DeviceInfo:
    name: str
    tenant: str
    type: str
    gateway: str | None
    """The gateway that last connected it (None for a gateway)."""
    is_gateway: bool
    active: bool
    """It has an active session (a gateway: at least one open connection)."""
    created_ms: int
    claim: ClaimInfo | None = None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["isGateway"] = data.pop("is_gateway")
        data["createdMs"] = data.pop("created_ms")
        data["claim"] = self.claim.as_json() if self.claim else None
        return data


@dataclass(frozen=True)
class GatewayInfo:
    name: str
    tenant: str
    connections: int
    """Open MQTT connections authenticated with its token."""
    devices: int
    """Devices it last connected."""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)
