"""The BLE router's declarative worlds: topology, placement, load and faults as data (YAML files
in ``scenarios/ble_router/worlds/``), and the code that builds a
:class:`~scenarios.ble_router.bed.LocalBleBed` from them (``hil scenario run``,
``hil serve ble-router --scenario``).

    name: ble-few
    seed: 1
    duration_s: 600
    radio: {loss_probability: 0.0}
    router: {mac: "CC:1B:E0:E0:00:01", position: [0, 0, 0]}
    peripherals:
      - template: standard          # devices.ble.spec.standard_peripheral
        count: 10
        layout: {kind: ring, radius_m: 3.0}    # ring | grid | random (within radius_m)
        notify_hz: 1.0
        interval_ms: 1000
      - {name: Thermo, address: "F1:00:00:00:00:01", position: [4, 0]}   # a full spec
    faults:
      - {at: 30, action: move, target: HIL-0001, position: [500, 0, 0]}
      - {at: 60, action: power_off, target: HIL-0002}
      - {at: 70, action: power_on, target: HIL-0002}
      - {at: 80, action: power_cycle, target: HIL-0003, off_s: 2.0}   # off, then on again
      - {at: 90, action: reboot_router}         # a reboot or crash: down for router.boot_s
      - {at: 120, action: radio_loss, probability: 0.2}   # each radio transmission attempt

Every fault lands in the trace (layer ``fault``, node = its target) when it happens.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devices.ble.spec import standard_peripheral
from scenarios.ble_router.bed import LocalBleBed
from scenarios.world_files import check_world_keys, read_world_file
from sim.clock import VIRTUAL
from sim.radio import RadioConfig

WORLDS_DIR = Path(__file__).parent / "worlds"
# the bed's verbs, then its named faults (power_cycle, reboot_router, radio_loss)
FAULT_ACTIONS = ("move", "power_off", "power_on", *LocalBleBed.faults)
LAYOUTS = ("ring", "grid", "random")


class ScenarioError(ValueError):
    """A scenario file that cannot be built; the message names the file and field."""


@dataclass
class Scenario:
    name: str
    seed: int = 1
    duration_s: float = 60.0
    radio: dict[str, Any] = field(default_factory=dict)
    router: dict[str, Any] = field(default_factory=dict)
    peripherals: list[dict[str, Any]] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    source: str = "<memory>"


def load_scenario(name_or_path: str | Path) -> Scenario:
    data, source = read_world_file(name_or_path, WORLDS_DIR, "BLE", ScenarioError)
    return parse_scenario(data, source)


def parse_scenario(data: Any, source: str = "<memory>") -> Scenario:
    check_world_keys(data, Scenario, source, ScenarioError, radio=RadioConfig)
    for i, fault in enumerate(data.get("faults") or []):
        _check_fault(fault, f"{source}: faults[{i}]")
    return Scenario(source=source, **data)


def _check_fault(fault: Any, where: str) -> None:
    if not isinstance(fault, dict):
        raise ScenarioError(
            f"{where} must be a mapping like {{at: 30, action: power_off, target: HIL-0001}}"
        )
    action = fault.get("action")
    if action not in FAULT_ACTIONS:
        raise ScenarioError(f"{where}.action {action!r} is not one of {', '.join(FAULT_ACTIONS)}")
    if not _number(fault.get("at")) or fault["at"] < 0:
        raise ScenarioError(f"{where}.at must be seconds >= 0, got {fault.get('at')!r}")
    if action in ("move", "power_off", "power_on", "power_cycle") and not fault.get("target"):
        raise ScenarioError(f"{where}: {action} needs a target (a peripheral's name)")
    if action == "move":
        position = fault.get("position")
        if (
            not isinstance(position, list)
            or len(position) not in (2, 3)
            or not all(_number(v) for v in position)
        ):
            raise ScenarioError(
                f"{where}.position must be [x, y] or [x, y, z] in metres, got {position!r}"
            )
    if action == "power_cycle":
        off = fault.get("off_s", 1.0)
        if not _number(off) or off < 0:
            raise ScenarioError(f"{where}.off_s must be seconds >= 0, got {off!r}")
    if action == "radio_loss":
        p = fault.get("probability")
        if not _number(p) or not 0.0 <= p <= 1.0:
            raise ScenarioError(
                f"{where}.probability must be a number from 0 to 1 (the chance "
                f"that one radio transmission attempt is lost), got {p!r}"
            )


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _layout(kind: str, count: int, radius: float, rng: Any) -> Iterator[list[float]]:
    if kind == "ring":
        for i in range(count):
            angle = 2 * math.pi * i / max(count, 1)
            yield [round(radius * math.cos(angle), 3), round(radius * math.sin(angle), 3), 0.0]
    elif kind == "grid":
        side = max(1, math.ceil(math.sqrt(count)))
        spacing = 2 * radius / max(side - 1, 1)
        for i in range(count):
            yield [
                round(-radius + (i % side) * spacing, 3),
                round(-radius + (i // side) * spacing, 3),
                0.0,
            ]
    elif kind == "random":
        for _ in range(count):
            r = radius * math.sqrt(rng.random())
            a = 2 * math.pi * rng.random()
            yield [round(r * math.cos(a), 3), round(r * math.sin(a), 3), 0.0]
    else:
        raise ScenarioError(f"layout kind {kind!r} is not one of {', '.join(LAYOUTS)}")


def expand_peripherals(entries: list[dict[str, Any]], rng: Any) -> list[dict[str, Any]]:
    """Peripheral specs from the scenario's entries (templates expanded, positions laid out)."""
    specs: list[dict[str, Any]] = []
    index = 1
    for entry in entries:
        if entry.get("template") is None:
            specs.append(dict(entry))
            continue
        if entry["template"] != "standard":
            raise ScenarioError(
                f"peripheral template {entry['template']!r} is unknown; "
                "use 'standard' or give a full spec"
            )
        count = int(entry.get("count", 1))
        layout = dict(entry.get("layout") or {"kind": "ring", "radius_m": 3.0})
        positions = _layout(
            layout.get("kind", "ring"), count, float(layout.get("radius_m", 3.0)), rng
        )
        for pos in positions:
            specs.append(
                standard_peripheral(
                    index,
                    position=tuple(pos),
                    notify_hz=float(entry.get("notify_hz", 1.0)),
                    interval_ms=float(entry.get("interval_ms", 1000.0)),
                    name_prefix=str(entry.get("name_prefix", "HIL-")),
                )
            )
            index += 1
    return specs


def build_bed(
    scenario: Scenario,
    clock: str = VIRTUAL,
    seed: int | None = None,
    trace_path: Path | None = None,
    keep_trace: bool = True,
    scale: float = 1.0,
    deviations: Sequence[str] = (),
) -> LocalBleBed:
    """A bed holding the scenario's world (not yet started: see :func:`populate`); its router
    misbehaves in the named ``deviations`` (:mod:`devices.gateways.ble_router.deviations`)."""
    router = dict(scenario.router)
    if deviations:
        router["deviations"] = tuple(deviations)
    return LocalBleBed(
        seed=scenario.seed if seed is None else seed,
        clock=clock,
        scale=scale,
        trace_path=trace_path,
        radio=RadioConfig(**scenario.radio),
        router=router or None,
        keep_trace=keep_trace,
    )


async def populate(bed: LocalBleBed, scenario: Scenario) -> list[str]:
    """Place and power the scenario's peripherals and arm its faults; return the names."""
    specs = expand_peripherals(scenario.peripherals, bed.world.rng("placement"))
    return await place_and_arm(bed, specs, scenario.faults, apply_fault)


async def place_and_arm(
    bed: Any,
    specs: list[dict[str, Any]],
    faults: list[dict[str, Any]],
    apply: Callable[[Any, dict[str, Any]], Awaitable[None]],
) -> list[str]:
    """Place and power ``specs`` in ``bed``, and arm ``faults``: each is ``apply(bed, fault)``
    at its ``at``. Returns the names placed. (The BLE worlds', router's and controller's.)"""
    for spec in specs:
        await bed.place(spec)
    for fault in faults:
        bed.world.process(
            _fault(bed, fault, apply), f"fault/{fault['action']}/{fault.get('target')}"
        )
    return [s["name"] for s in specs]


def _fault(bed: Any, fault: dict[str, Any], apply: Any):  # type: ignore[no-untyped-def]
    yield bed.world.timeout(float(fault["at"]))
    yield bed.world.completion(apply(bed, fault))


async def apply_fault(bed: LocalBleBed, fault: dict[str, Any]) -> None:
    """Do one fault now (its ``at`` is the caller's business); it lands in the trace first.
    Moves and power switches are the bed's verbs; the rest are its named faults."""
    action = fault["action"]
    args = {k: v for k, v in fault.items() if k != "action"}
    if action not in ("move", "power_off", "power_on"):
        await bed.inject(action, **args)
        return
    target = str(fault["target"])
    bed.world.trace.emit(
        target, "fault", action, **{k: v for k, v in args.items() if k != "target"}
    )
    if action == "move":
        await bed.move(target, list(fault["position"]))
    else:
        await bed.set_power(target, action == "power_on")
