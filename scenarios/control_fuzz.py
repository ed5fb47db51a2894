"""The ``world-control`` fuzz campaign of every system: the BLE router's, the BLE access
controller's, Connect Master's, the RS485 line's and the MQTT gateway world's control APIs
(:mod:`scenarios.control_http`) share their plumbing, so they share this campaign too; each
``scenarios/<system>/fuzz.py`` offers it as its ``world-control`` interface.

A campaign serves the system's control API inside a fresh world (virtual time), places a
*guard* node the inputs never name and a *target* node they may act on, throws inputs drawn
from the API's OpenAPI description at it (:mod:`scenarios.http_fuzz`), then checks that a good
request is still answered, that the guard is exactly as it was and that nothing half-made was
left behind. Routes that wipe the world by design (``DELETE /world/peripherals``,
``POST /world/reset``, ``POST /world/master/restart``) are left out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from hypothesis import strategies as st

from devices.protocols.http_client import HttpClient
from devices.protocols.http_server import serve
from scenarios.fuzzing import FuzzTally
from scenarios.http_fuzz import TracedErrors, case_strategy, draw_cases, send_all
from sim.iplink import IpNetwork

SYSTEMS = ("ble-router", "connect-master", "rs485", "ble-ac", "mqtt-gateway")
INTERFACE = "world-control"
HOST, PORT = "world-control", 80
Progress = Callable[[int, int], None]


@dataclass
class Target:
    """One system's control API as a campaign sees it."""

    bed: Any
    app: web.Application
    doc: dict[str, Any]
    pinned: dict[str, st.SearchStrategy[str]]
    skip: tuple[tuple[str, str], ...]
    guard: Callable[[], Awaitable[Any]]  # the guard's state, through the API
    good: Callable[[HttpClient], Awaitable[bool]]  # a good request, answered correctly
    leftovers: Callable[[], list[str]] = field(default=lambda: [])  # half-made nodes


@dataclass(frozen=True)
class _Setup:
    """How a campaign gets its world (a bed for a seed) and its target in that world."""

    make_bed: Callable[[int], Any]
    build: Callable[[Any], Awaitable[Target]]


def campaign(system: str, examples: int, seed: int, progress: Progress | None = None) -> FuzzTally:
    """``examples`` inputs at ``system``'s world-control API (see the module docstring); an
    RS485 campaign splits them over a Modbus line and an OSDP line."""
    setups = _SETUPS.get(system)
    if setups is None:
        raise ValueError(f"no world-control campaign for {system!r}; systems: {SYSTEMS}")
    tally = FuzzTally(system, INTERFACE)
    for i, setup in enumerate(setups):
        share = examples // len(setups) + (1 if i < examples % len(setups) else 0)
        bed = setup.make_bed(seed + i)
        try:
            bed.run(_attack(bed, setup, tally, share, seed + i, progress))
        finally:
            bed.close()
    return tally


async def _attack(
    bed: Any, setup: _Setup, tally: FuzzTally, examples: int, seed: int, progress: Progress | None
) -> None:
    target = await setup.build(bed)
    errors = TracedErrors(bed.world)
    net = IpNetwork(bed.world, name="fuzz")
    served = await serve(target.app, bed.world, HOST, PORT, net=net)
    client = HttpClient(served.url, connect=net.open_connection)
    try:
        guard_before = await target.guard()
        cases = draw_cases(case_strategy(target.doc, target.pinned, target.skip), examples, seed)
        await send_all(cases, net.open_connection, HOST, PORT, tally, errors, progress)
        check = f"{type(bed).__name__}:"
        tally.check(f"{check} a good request is answered", await target.good(client))
        tally.check(f"{check} the guard node is intact", await target.guard() == guard_before)
        leftovers = target.leftovers()
        tally.check(f"{check} nothing half-made ({', '.join(leftovers) or 'none'})", not leftovers)
        tally.check(f"{check} no internal error traced", errors() == 0)
    finally:
        await served.close()


def _stray_peripherals(bed: Any) -> list[str]:
    """Peripherals in the world the bed does not hold, or held but gone from the world."""
    from devices.ble.peripheral import BlePeripheral

    in_world = {n for n, node in bed.world.nodes.items() if isinstance(node, BlePeripheral)}
    return sorted(in_world ^ set(bed.peripherals))


# -- BLE router -----------------------------------------------------------------------------------
def _ble_bed(seed: int) -> Any:
    from scenarios.ble_router.bed import LocalBleBed

    return LocalBleBed(seed=seed, keep_trace=False)


async def _ble_target(bed: Any) -> Target:
    from devices.ble.spec import standard_peripheral
    from scenarios.ble_router.bed import peripheral_state
    from scenarios.ble_router.control import build_document, control_app

    await bed.start()
    guard = standard_peripheral(1, position=(2.0, 0.0, 0.0), name_prefix="GUARD-")
    target = standard_peripheral(2, position=(3.0, 0.0, 0.0), name_prefix="TARGET-")
    await bed.place(guard)
    await bed.place(target)

    async def guard_state() -> Any:  # what world control may change (not its live values)
        state = peripheral_state(bed.peripherals[guard["name"]])
        return {k: state[k] for k in ("name", "address", "position", "powered", "writes")}

    async def good(client: HttpClient) -> bool:
        moved = await client.request(
            "POST", f"/world/peripherals/{target['name']}/position", json_body={"position": [1, 1]}
        )
        world = await client.request("GET", "/world")
        return moved.status == 200 and world.status == 200 and bool(world.json()["peripherals"])

    return Target(
        bed,
        control_app(bed),
        build_document(),
        {"name": st.sampled_from([target["name"], "nobody"])},
        (("DELETE", "/world/peripherals"),),
        guard_state,
        good,
        lambda: _stray_peripherals(bed),
    )


# -- Connect Master -------------------------------------------------------------------------------
def _cm_bed(seed: int) -> Any:
    from scenarios.connect_master.bed import LocalCmBed

    return LocalCmBed(seed=seed, keep_trace=False)


async def _cm_target(bed: Any) -> Target:
    from scenarios.connect_master.control import build_document, control_app

    await bed.start()
    gateway = sorted(bed.cm_world.gateways)[0]
    guard = await bed.place({"deviceID": 901, "gateway": gateway, "host": 91})
    target = await bed.place({"deviceID": 902, "gateway": gateway, "host": 92})

    async def guard_state() -> Any:
        state = dict(await bed.terminal_state(guard))
        return {k: v for k, v in state.items() if "ession" not in k and "onnect" not in k}

    async def good(client: HttpClient) -> bool:
        answer = await client.request("GET", f"/world/terminals/{target}")
        return answer.status == 200 and answer.json().get("deviceID") == target

    def leftovers() -> list[str]:  # terminals registered without their place on the network
        terminals = bed.cm_world.terminals
        addresses = [t.cfg.ip for t in terminals.values()]
        return sorted(str(d) for d, t in terminals.items() if addresses.count(t.cfg.ip) > 1)

    return Target(
        bed,
        control_app(bed),
        build_document(sorted(bed.cm_world.gateways)),
        {"id": st.sampled_from([str(target), "903", gateway])},
        (("POST", "/world/reset"), ("POST", "/world/master/restart")),
        guard_state,
        good,
        leftovers,
    )


# -- RS485 ----------------------------------------------------------------------------------------
def _modbus_bed(seed: int) -> Any:
    from scenarios.rs485.bed import LocalModbusLine

    return LocalModbusLine(seed=seed, keep_trace=False)


def _osdp_bed(seed: int) -> Any:
    from scenarios.rs485.bed import LocalOsdpLine

    return LocalOsdpLine(seed=seed, keep_trace=False)


async def _line_target(bed: Any, key: str) -> Target:
    from scenarios.rs485.control import build_document, control_app

    guard = await bed.start()
    target = await bed.place({key: 3 if guard == 2 else 2})

    async def guard_state() -> Any:
        return [n for n in bed.nodes() if n.get(key) == guard]

    async def good(client: HttpClient) -> bool:
        world = await client.request("GET", "/world")
        return world.status == 200 and len(world.json()["nodes"]) == 2

    return Target(
        bed,
        control_app(bed),
        build_document(),
        {key: st.sampled_from([str(target), "200"]), "point": st.sampled_from(["temperature"])},
        (),
        guard_state,
        good,
    )


async def _modbus_target(bed: Any) -> Target:
    return await _line_target(bed, "unit")


async def _osdp_target(bed: Any) -> Target:
    return await _line_target(bed, "address")


# -- BLE access controller ------------------------------------------------------------------------
def _ac_bed(seed: int) -> Any:
    from scenarios.ble_ac.bed import LocalAcBed
    from scenarios.ble_ac.fuzz import GUARD, TARGET

    return LocalAcBed(seed=seed, keep_trace=False, routers=[TARGET, GUARD])


async def _ac_target(bed: Any) -> Target:
    from devices.ble.spec import standard_peripheral
    from scenarios.ble_ac.control import build_document, control_app, router_state
    from scenarios.ble_ac.fuzz import GUARD, TARGET
    from scenarios.ble_router.bed import peripheral_state

    await bed.start()  # the guard router and peripheral: never named; the target's: may be
    guard = standard_peripheral(1, position=(61.0, 0.0, 0.0), name_prefix="GUARD-")
    target = standard_peripheral(2, position=(1.0, 0.0, 0.0), name_prefix="TARGET-")
    await bed.place(guard)
    await bed.place(target)

    async def guard_state() -> Any:
        state = peripheral_state(bed.peripherals[guard["name"]])
        kept = {k: state[k] for k in ("name", "address", "position", "powered", "writes")}
        return kept, router_state(bed, str(GUARD["name"]))

    async def good(client: HttpClient) -> bool:
        answer = await client.request("GET", "/world/routers")
        return answer.status == 200 and len(answer.json()) == 2

    return Target(
        bed,
        control_app(bed),
        build_document(),
        {"name": st.sampled_from([target["name"], str(TARGET["name"]), "nobody"])},
        (("DELETE", "/world/peripherals"), ("POST", "/world/reset")),
        guard_state,
        good,
        lambda: _stray_peripherals(bed),
    )


# -- MQTT gateway world (its bed and target are built in scenarios.mqtt_gateway.fuzz) -------------
def _mqtt_bed(seed: int) -> Any:
    from scenarios.mqtt_gateway.fuzz import gateway_bed

    return gateway_bed(seed)


async def _mqtt_target(bed: Any) -> Target:
    from scenarios.mqtt_gateway.fuzz import gateway_target

    return await gateway_target(bed)


_SETUPS = {
    "ble-router": [_Setup(_ble_bed, _ble_target)],
    "connect-master": [_Setup(_cm_bed, _cm_target)],
    "rs485": [_Setup(_modbus_bed, _modbus_target), _Setup(_osdp_bed, _osdp_target)],
    "ble-ac": [_Setup(_ac_bed, _ac_target)],
    "mqtt-gateway": [_Setup(_mqtt_bed, _mqtt_target)],
}
