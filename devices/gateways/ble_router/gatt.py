"""The router's GATT database of a peer: discovered once over ATT (Bumble's GATT client),
kept as plain data so it can be cached across connections (the ``discovergatt`` parameter),
and looked up by UUID for the discovery APIs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bumble.core import UUID

from devices.ble.gatt_uuids import dashed


def full_uuid(uuid: UUID) -> str:
    """Any Bumble UUID -> ``0000180d-0000-1000-8000-00805f9b34fb`` (128-bit, lower case)."""
    return dashed(uuid.to_bytes(force_128=True)[::-1].hex())


@dataclass
class GattCharacteristic:
    uuid: str  # full 128-bit form
    handle: int  # the value handle (what read/write use)
    declaration_handle: int
    properties: int
    end_handle: int
    descriptors: list[tuple[int, str]] = field(default_factory=list)  # (handle, uuid)


@dataclass
class GattService:
    uuid: str
    handle: int
    end_handle: int
    primary: bool = True
    characteristics: list[GattCharacteristic] = field(default_factory=list)


@dataclass
class GattDatabase:
    services: list[GattService]
    discovered_at: float = 0.0

    def characteristics(self) -> list[GattCharacteristic]:
        return [c for s in self.services for c in s.characteristics]

    def service(self, uuid: str) -> GattService | None:
        return next((s for s in self.services if s.uuid == uuid), None)

    def characteristic(self, uuid: str) -> GattCharacteristic | None:
        return next((c for c in self.characteristics() if c.uuid == uuid), None)

    def attribute_count(self) -> int:
        return sum(
            1 + sum(1 + len(c.descriptors) for c in s.characteristics) for s in self.services
        )


async def discover(client: Any, now: float) -> GattDatabase:
    """Discover every primary service, its characteristics and their descriptors."""
    services: list[GattService] = []
    for sp in await client.discover_services():
        service = GattService(full_uuid(sp.uuid), sp.handle, sp.end_group_handle)
        for cp in await client.discover_characteristics([], sp):
            char = GattCharacteristic(
                full_uuid(cp.uuid),
                cp.handle,
                cp.handle - 1,
                int(cp.properties),
                cp.end_group_handle,
            )
            if cp.end_group_handle > cp.handle:
                for dp in await client.discover_descriptors(cp):
                    char.descriptors.append((dp.handle, full_uuid(dp.type)))
            service.characteristics.append(char)
        services.append(service)
    return GattDatabase(services, now)
