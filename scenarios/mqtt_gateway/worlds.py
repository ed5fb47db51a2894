"""The MQTT system's declarative worlds (``scenarios/mqtt_gateway/worlds/*.yaml``): what a
gateway-role world holds, for the builtin bed, ``hil serve mqtt-gateway`` and ``hil serve
mqtt-platform --scenario``.

    name: gateway-room
    seed: 1
    duration_s: 120
    meters:        # harness Modbus meters on the line "line" (slaves.meter_slave)
      - {name: "Meter 1", unit: 1}
    peripherals:   # BLE peripherals: devices.ble.spec.standard_peripheral(index, position)
      - {name: "HR 1", index: 1, position: [3, 0, 0]}
    gateway:       # the reference gateway's configuration (devices/gateways/mqtt_gateway)
      gateway: {name: gw-1}
      modbus: {bus: line, devices: [...]}
    gateways:      # gateways the platform knows from the start: {name, tenant}
      - {name: gw-1, tenant: default}
    faults:        # {at: seconds, action: one of FAULTS, plus the fault's arguments}
      - {at: 60, action: broker_outage, seconds: 20}

The gateway's token, the platform's address and the queue file are the bed's business: a world
file never holds them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scenarios.world_files import check_world_keys, read_world_file
from sim.clock import REAL
from sim.world import DEFAULT_EPOCH, World

WORLDS_DIR = Path(__file__).parent / "worlds"
DEFAULT_WORLD = "gateway-room"
FAULTS = (
    "broker_outage",
    "partition",
    "gateway_restart",
    "gateway_crash",
    "platform_restart",
)


class WorldError(ValueError):
    """A world file that cannot be used; the message names the file and the field."""


@dataclass
class MqttWorld:
    name: str
    seed: int = 1
    duration_s: float = 60.0
    meters: list[dict[str, Any]] = field(default_factory=list)
    peripherals: list[dict[str, Any]] = field(default_factory=list)
    gateway: dict[str, Any] = field(default_factory=dict)
    gateways: list[dict[str, Any]] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    source: str = "<memory>"

    @property
    def gateway_name(self) -> str:
        return str((self.gateway.get("gateway") or {}).get("name", "gw-1"))

    def meter_names(self) -> dict[int, str]:
        """unit -> the device name the gateway gives it."""
        return {int(m["unit"]): str(m.get("name") or f"Meter {m['unit']}") for m in self.meters}


def load_world(name_or_path: str | Path = DEFAULT_WORLD) -> MqttWorld:
    data, source = read_world_file(name_or_path, WORLDS_DIR, "MQTT", WorldError)
    return parse_world(data, source)


def parse_world(data: Any, source: str = "<memory>") -> MqttWorld:
    check_world_keys(data, MqttWorld, source, WorldError)
    for i, meter in enumerate(data.get("meters") or []):
        unit = meter.get("unit") if isinstance(meter, dict) else None
        if isinstance(unit, bool) or not isinstance(unit, int) or not 1 <= unit <= 247:
            raise WorldError(
                f"{source}: meters[{i}].unit must be a Modbus unit 1-247, got {unit!r}"
            )
    for i, fault in enumerate(data.get("faults") or []):
        _check_fault(fault, f"{source}: faults[{i}]")
    return MqttWorld(source=source, **data)


def _check_fault(fault: Any, where: str) -> None:
    if not isinstance(fault, dict) or fault.get("action") not in FAULTS:
        action = fault.get("action") if isinstance(fault, dict) else fault
        raise WorldError(f"{where}.action {action!r} is not one of {', '.join(FAULTS)}")
    at = fault.get("at")
    if isinstance(at, bool) or not isinstance(at, int | float) or at < 0:
        raise WorldError(f"{where}.at must be seconds >= 0, got {at!r}")


def new_world(seed: int, clock: str, scale: float = 1.0, keep_trace: bool = True) -> World:
    """A world for an MQTT bed: in real time its calendar is the wall clock's (telemetry
    timestamps of outside gateways and platforms are), in virtual time the fixed default."""
    epoch = dt.datetime.now(dt.UTC) if clock == REAL else DEFAULT_EPOCH
    return World(seed=seed, clock=clock, scale=scale, keep_trace=keep_trace, epoch=epoch)
