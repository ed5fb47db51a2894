"""The access controller's declarative worlds: routers, peripherals, load and faults as data
(YAML files in ``scenarios/ble_ac/worlds/``), and the code that builds a
:class:`~scenarios.ble_ac.bed.LocalAcBed` from them (``hil serve ble-ac --scenario``, the
benchmark).

    name: ac-hall
    seed: 1
    duration_s: 120
    radio: {noise_sigma_db: 2.0}
    ac: {token_ttl_s: 3600, dead_interval_s: 15}
    routers:                          # a list of routers, or a grid of them
      grid: {count: 4, spacing_m: 30}
      # - {name: A, mac: "CC:1B:E0:E0:00:01", position: [0, 0, 0], chips: 2}
    peripherals:
      - template: standard            # devices.ble.spec.standard_peripheral
        count: 20
        layout: {kind: random, radius_m: 25.0}
        center: [15, 15]              # where the layout is centred (default: the origin)
        notify_hz: 0
        interval_ms: 1000
    faults:
      - {at: 30, action: router_outage, target: A}
      - {at: 50, action: router_outage, target: A, up: true}
      - {at: 60, action: router_reboot, target: B}
      - {at: 90, action: router_power, target: C, on: false}
      - {at: 20, action: move, target: HIL-0001, position: [30, 0, 0]}

Every fault lands in the trace (layer ``fault``, node = its target) when it happens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scenarios.ble_ac.bed import LocalAcBed, router_grid
from scenarios.ble_router.worlds import ScenarioError, expand_peripherals, place_and_arm
from scenarios.world_files import check_world_keys, read_world_file
from sim.clock import VIRTUAL
from sim.radio import RadioConfig

WORLDS_DIR = Path(__file__).parent / "worlds"
FAULT_ACTIONS = ("move", "power_off", "power_on", *LocalAcBed.faults)


@dataclass
class AcScenario:
    name: str
    seed: int = 1
    duration_s: float = 60.0
    radio: dict[str, Any] = field(default_factory=dict)
    ac: dict[str, Any] = field(default_factory=dict)
    routers: Any = field(default_factory=lambda: {"grid": {"count": 3}})
    peripherals: list[dict[str, Any]] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    source: str = "<memory>"

    def router_list(self) -> list[dict[str, Any]]:
        if isinstance(self.routers, dict) and "grid" in self.routers:
            grid = dict(self.routers["grid"])
            return router_grid(int(grid.get("count", 3)), float(grid.get("spacing_m", 30.0)))
        return [dict(r) for r in self.routers]


def load_scenario(name_or_path: str | Path) -> AcScenario:
    data, source = read_world_file(name_or_path, WORLDS_DIR, "AC", ScenarioError)
    return parse_scenario(data, source)


def parse_scenario(data: Any, source: str = "<memory>") -> AcScenario:
    check_world_keys(data, AcScenario, source, ScenarioError, radio=RadioConfig)
    scenario = AcScenario(source=source, **data)
    routers = scenario.router_list()
    names = [str(r.get("name")) for r in routers]
    for i, router in enumerate(routers):
        if not router.get("name") or not router.get("mac"):
            raise ScenarioError(f"{source}: routers[{i}] needs a name and a mac")
    for i, fault in enumerate(scenario.faults):
        where = f"{source}: faults[{i}]"
        if not isinstance(fault, dict) or fault.get("action") not in FAULT_ACTIONS:
            raise ScenarioError(f"{where}.action is not one of {', '.join(FAULT_ACTIONS)}")
        at = fault.get("at")
        if isinstance(at, bool) or not isinstance(at, int | float) or at < 0:
            raise ScenarioError(f"{where}.at must be seconds >= 0, got {at!r}")
        if not fault.get("target"):
            raise ScenarioError(f"{where}: {fault['action']} needs a target")
        if fault["action"].startswith("router_") and fault["target"] not in names:
            raise ScenarioError(
                f"{where}.target {fault['target']!r} is not a router; routers: {', '.join(names)}"
            )
    return scenario


def peripheral_specs(scenario: AcScenario, rng: Any) -> list[dict[str, Any]]:
    """The scenario's peripheral specs, each template's layout moved to its ``center``."""
    specs: list[dict[str, Any]] = []
    for entry in scenario.peripherals:
        center = [float(v) for v in (entry.get("center") or [0.0, 0.0])] + [0.0]
        own = {k: v for k, v in entry.items() if k != "center"}
        for spec in expand_peripherals([own], rng):
            if entry.get("template") is not None:
                p = [float(v) for v in spec["position"]] + [0.0]
                spec["position"] = [p[0] + center[0], p[1] + center[1], p[2]]
            specs.append(spec)
    first = 1
    for spec in specs:  # distinct names and addresses across the templates
        if spec["name"].startswith("HIL-"):
            spec["name"] = f"HIL-{first:04d}"
            spec["address"] = (
                f"F0:00:00:{(first >> 16) & 0xFF:02X}:{(first >> 8) & 0xFF:02X}:{first & 0xFF:02X}"
            )
            first += 1
    return specs


def build_bed(
    scenario: AcScenario,
    clock: str = VIRTUAL,
    seed: int | None = None,
    trace_path: Path | None = None,
    keep_trace: bool = True,
    scale: float = 1.0,
    **bed: Any,
) -> LocalAcBed:
    """A bed holding the scenario's world (not yet started: see :func:`populate`)."""
    return LocalAcBed(
        seed=scenario.seed if seed is None else seed,
        clock=clock,
        scale=scale,
        trace_path=trace_path,
        radio=RadioConfig(**scenario.radio),
        routers=scenario.router_list(),
        ac=scenario.ac or None,
        keep_trace=keep_trace,
        **bed,
    )


async def populate(bed: LocalAcBed, scenario: AcScenario) -> list[str]:
    """Place and power the scenario's peripherals and arm its faults; return the names."""
    specs = peripheral_specs(scenario, bed.world.rng("placement"))
    return await place_and_arm(bed, specs, scenario.faults, apply_fault)


async def apply_fault(bed: LocalAcBed, fault: dict[str, Any]) -> None:
    """Do one fault now; it lands in the trace first."""
    action = fault["action"]
    args = {k: v for k, v in fault.items() if k not in ("action", "at")}
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
