"""Finding and registering the slaves on a bus: what an access-control terminal (or any master)
does before it can report them (the Connect Master's GetSlaveDevice/SetSlaveDevice).

:func:`search_modbus` asks every address in a range with one short read and records who
answered, whatever the answer (a normal reply or an exception both prove a device is there);
silence within the master's timeout and retries means absent. :class:`SlaveRegistry` keeps the
result with per-slave registration flags that a terminal exposes through its own API.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from devices.rs485.modbus_master import ModbusMaster


@dataclass
class SlaveRecord:
    address: int
    protocol: str
    bus: str
    registered: bool = False
    detail: dict[str, object] = field(default_factory=dict)


@dataclass
class SlaveRegistry:
    """Slaves found on a terminal's bus, and which of them the terminal has enrolled."""

    slaves: dict[int, SlaveRecord] = field(default_factory=dict)

    def found(self) -> list[SlaveRecord]:
        return [self.slaves[a] for a in sorted(self.slaves)]

    def register(self, addresses: Iterable[int]) -> list[SlaveRecord]:
        """Mark exactly ``addresses`` as registered (SetSlaveDevice semantics); unknown ones
        raise ``KeyError`` naming them and the addresses that were found."""
        wanted = set(addresses)
        unknown = sorted(wanted - set(self.slaves))
        if unknown:
            known = ", ".join(map(str, sorted(self.slaves))) or "none"
            raise KeyError(
                f"no slave found at address(es) {', '.join(map(str, unknown))}; found: {known}"
            )
        for address, record in self.slaves.items():
            record.registered = address in wanted
        return [r for r in self.found() if r.registered]

    def registered(self) -> list[SlaveRecord]:
        return [r for r in self.found() if r.registered]


async def search_modbus(
    master: ModbusMaster, addresses: Iterable[int], registry: SlaveRegistry | None = None
) -> SlaveRegistry:
    registry = registry or SlaveRegistry()
    for address in addresses:
        if not 1 <= address <= 247:
            raise ValueError(f"Modbus address {address!r} not accepted; accepted: 1 to 247")
        reply = await master.request("read_holding_registers", 0, count=1, device_id=address)
        if reply is None:
            registry.slaves.pop(address, None)
            continue
        record = registry.slaves.get(address) or SlaveRecord(address, "modbus-rtu", master.bus.name)
        record.detail = {"answer": "exception" if reply.isError() else "data"}
        registry.slaves[address] = record
    master.world.trace.emit(
        master.name, "app", "slave-search", found=[r.address for r in registry.found()]
    )
    return registry
