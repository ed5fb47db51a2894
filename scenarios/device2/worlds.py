"""The Device2 system's declarative worlds (``scenarios/device2/worlds/*.yaml``): what a served
or scenario world holds, for ``hil serve device2 --scenario`` and ``hil scenario run``.

    name: device2-fleet
    seed: 1
    duration_s: 600
    product: example
    settings: {provisioning: {presenter_identity: true}}   # the product's initial settings
    resources:       # addResource parameter objects
      - {alias: temperature, format: number}
    identities:      # addIdentity parameter objects (whitelisted before devices start)
      - {identity: dev-0001}
    devices:         # device specs (scenarios.device2.placement), or a fleet:
      - {name: thermo, identity: dev-0001, protocol: mqtt, period_s: 10}
      - {fleet: 20, protocol: http, within_s: 60, period_s: 10, prefix: fleet}
    faults:          # {at: seconds, action: one of FAULT_ACTIONS, target?: a device}
      - {at: 120, action: service_restart}
      - {at: 200, action: power_off, target: thermo}

Every fault lands in the trace (layer ``fault``) when it happens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scenarios.device2.bed import LocalDevice2Bed
from scenarios.device2.load import place_fleet
from scenarios.device2.placement import Placement, PlacementError
from scenarios.world_files import check_world_keys, read_world_file
from sim.clock import VIRTUAL

WORLDS_DIR = Path(__file__).parent / "worlds"
DEFAULT_WORLD = "device2-fleet"
FAULT_ACTIONS = ("power_off", "power_on", *LocalDevice2Bed.faults)
TARGETED = ("power_off", "power_on", "partition", "heal")


class WorldError(ValueError):
    """A world file that cannot be used; the message names the file and the field."""


@dataclass
class Device2World:
    name: str
    seed: int = 1
    duration_s: float = 60.0
    product: str = "example"
    settings: dict[str, Any] = field(default_factory=dict)
    resources: list[dict[str, Any]] = field(default_factory=list)
    identities: list[dict[str, Any]] = field(default_factory=list)
    devices: list[dict[str, Any]] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    source: str = "<memory>"


def load_world(name_or_path: str | Path = DEFAULT_WORLD) -> Device2World:
    data, source = read_world_file(name_or_path, WORLDS_DIR, "Device2", WorldError)
    return parse_world(data, source)


def parse_world(data: Any, source: str = "<memory>") -> Device2World:
    check_world_keys(data, Device2World, source, WorldError)
    for i, spec in enumerate(data.get("devices") or []):
        if isinstance(spec, dict) and "fleet" in spec:
            count = spec["fleet"]
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise WorldError(
                    f"{source}: devices[{i}].fleet must be a count >= 1, got {count!r}"
                )
            continue
        try:
            Placement.from_dict(spec)
        except PlacementError as exc:
            raise WorldError(f"{source}: devices[{i}]: {exc}") from None
    for i, fault in enumerate(data.get("faults") or []):
        where = f"{source}: faults[{i}]"
        if not isinstance(fault, dict) or fault.get("action") not in FAULT_ACTIONS:
            action = fault.get("action") if isinstance(fault, dict) else fault
            raise WorldError(f"{where}.action {action!r} is not one of {', '.join(FAULT_ACTIONS)}")
        at = fault.get("at")
        if isinstance(at, bool) or not isinstance(at, int | float) or at < 0:
            raise WorldError(f"{where}.at must be seconds >= 0, got {at!r}")
        if fault["action"] in TARGETED and not fault.get("target"):
            raise WorldError(f"{where}: {fault['action']} needs a target (a device's name)")
    return Device2World(source=source, **data)


def build_bed(
    world: Device2World,
    clock: str = VIRTUAL,
    seed: int | None = None,
    scale: float = 1.0,
    deviations: Sequence[str] = (),
    **bed_options: Any,
) -> LocalDevice2Bed:
    """A bed holding the world's service (not started: start it, then :func:`populate`)."""
    return LocalDevice2Bed(
        seed=world.seed if seed is None else seed,
        clock=clock,
        scale=scale,
        product=world.product,
        settings=world.settings,
        deviations=tuple(deviations),
        **bed_options,
    )


async def populate(bed: LocalDevice2Bed, world: Device2World) -> list[str]:
    """Define the resources, whitelist the identities, place the devices and arm the faults
    (the bed started); the devices' names."""
    for params in world.resources:
        bed.gateway.call("addResource", dict(params))
    for params in world.identities:
        bed.gateway.call("addIdentity", dict(params))
    names: list[str] = []
    for spec in world.devices:
        if "fleet" in spec:
            options = {k: v for k, v in spec.items() if k != "fleet"}
            fleet = await place_fleet(bed, int(spec["fleet"]), **options)
            names += fleet.names
        else:
            await bed.place(spec)
            names.append(str(spec["name"]))
    for fault in world.faults:
        bed.world.process(_fault(bed, fault), f"fault/{fault['action']}/{fault.get('target')}")
    return names


def _fault(bed: LocalDevice2Bed, fault: dict[str, Any]):  # type: ignore[no-untyped-def]
    yield bed.world.timeout(float(fault["at"]))
    yield bed.world.completion(apply_fault(bed, fault))


async def apply_fault(bed: LocalDevice2Bed, fault: dict[str, Any]) -> None:
    """Do one fault now; switching a device is the bed's verb, the rest its named faults."""
    action = fault["action"]
    args = {k: v for k, v in fault.items() if k not in ("action", "at")}
    if action in ("power_off", "power_on"):
        bed.world.trace.emit(str(fault["target"]), "fault", action)
        await bed.set_power(str(fault["target"]), action == "power_on")
    else:
        await bed.inject(action, **args)
