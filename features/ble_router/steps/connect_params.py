"""Connect-parameter steps: ``mtu`` (seen in the length of a long notification), ``discovergatt``
(a cached database is served even when the device changed), ``auto``, ``chip`` and the
per-chip connection limit read from ``chipinfo``."""

from __future__ import annotations

from typing import Any

from pytest_bdd import given, then, when

from conformance.evidence import expect
from features.ble_router.steps.connection import connect, connected_nodes
from features.ble_router.steps.notify import from_node
from features.ble_router.steps.support import Ctx, norm_mac, norm_uuid, step_text
from features.ble_router.steps.world import sensor_spec


@given(step_text('a peripheral "{name:Q}" at {distance:N} m notifying a {size:I}-byte value'))
def _(ctx: Ctx, name: str, distance: float, size: int) -> None:
    """The stock sensor whose 2A37 holds ``size`` constant bytes 00 01 02 ... and notifies at
    2 Hz."""
    spec = sensor_spec(ctx, name, distance)
    char = spec["services"][0]["characteristics"][0]
    char["value"] = bytes(i & 0xFF for i in range(size)).hex().upper()
    char.pop("model", None)
    char["notify_hz"] = 2.0
    ctx.place(spec)


@then(step_text('every notification from "{name:Q}" on "{uuid:Q}" carries {size:I} bytes'))
def _(ctx: Ctx, name: str, uuid: str, size: int) -> None:
    events = from_node(ctx, name, uuid)
    expect(events, f"notifications from {name}", "none", f"no notification from {name}")
    lengths = sorted({len(str(e.data.get("value", ""))) // 2 for e in events})
    expected = bytes(i & 0xFF for i in range(size)).hex().upper()
    values_ok = all(str(e.data.get("value", "")).upper() == expected for e in events)
    expect(
        lengths == [size] and values_ok,
        f"{size}-byte values 00 01 02 ...",
        f"lengths {lengths}, e.g. {events[0].data.get('value')!r}",
        f"the notifications of {name} are not as long as the negotiated ATT MTU allows "
        "(MTU - 3 bytes)",
    )


@when(
    step_text(
        '"{name:Q}" is replaced by a device at the same address without the service "{uuid:Q}"'
    )
)
def _(ctx: Ctx, name: str, uuid: str) -> None:
    """Power the device off and put a new one (new firmware) at its address."""
    address = ctx.address(name)
    ctx.run(ctx.bed.set_power(name, False))
    spec = sensor_spec(ctx, f"{name}~v2", 2.0)
    spec["address"] = ctx.specs[name]["address"]
    spec["services"] = [s for s in spec["services"] if norm_uuid(s["uuid"]) != norm_uuid(uuid)]
    placed = ctx.place(spec)
    expect(
        norm_mac(placed) == norm_mac(address),
        address,
        placed,
        "the replacement did not take the old device's address",
    )


@then(step_text('the answer does not list the service "{uuid:Q}"'))
def _(ctx: Ctx, uuid: str) -> None:
    services = ctx.json()
    uuids = (
        [norm_uuid(s.get("uuid", "")) for s in services if isinstance(s, dict)]
        if isinstance(services, list)
        else []
    )
    expect(
        isinstance(services, list) and norm_uuid(uuid) not in uuids,
        f"services without {uuid}",
        uuids,
        f"the router still lists {uuid}",
    )


@then(step_text('the answer lists the service "{uuid:Q}"'))
def _(ctx: Ctx, uuid: str) -> None:
    services = ctx.json()
    uuids = (
        [norm_uuid(s.get("uuid", "")) for s in services if isinstance(s, dict)]
        if isinstance(services, list)
        else []
    )
    expect(
        norm_uuid(uuid) in uuids, f"services with {uuid}", uuids, f"the router does not list {uuid}"
    )


@then(
    step_text('the router discovered the GATT database of "{name:Q}" over the air {count:I} times')
)
def _(ctx: Ctx, name: str, count: int, hil_record: dict[str, Any]) -> None:
    """Judged from the router's own timeline when the router is in this world; an external
    router's discoveries are not observable here (the answers above judge it)."""
    router = getattr(ctx.bed, "router", None)
    if router is None:
        hil_record.setdefault("notes", []).append("discovery count not observable remotely")
        return
    address = norm_mac(ctx.address(name))
    found = [
        r
        for r in ctx.bed.world.trace.select(node=router.name, event="discovered")
        if norm_mac(r.get("peer", "")) == address
    ]
    expect(
        len(found) == count,
        f"{count} discoveries (ATT traffic) of {address}",
        len(found),
        "the router's GATT discoveries do not follow discovergatt",
    )


@then(step_text('the connected-device list shows "{name:Q}" on chip {chip:I}'))
def _(ctx: Ctx, name: str, chip: int) -> None:
    address = norm_mac(ctx.address(name))
    nodes = [n for n in connected_nodes(ctx) if norm_mac(n.get("id", "")) == address]
    expect(
        nodes and nodes[0].get("chipId") == chip,
        {"id": address, "chipId": chip},
        nodes or "not listed",
        f"{name} is not connected on chip {chip}",
    )


def chip_max(ctx: Ctx, chip: int) -> int:
    ctx.request("GET", "/cassia/info")
    info = ctx.json()
    entry = (info.get("chipinfo") or {}).get(str(chip)) if isinstance(info, dict) else None
    expect(
        isinstance(entry, dict) and isinstance(entry.get("max"), int),
        f'chipinfo["{chip}"].max as a number',
        entry,
        "the configuration does not say how many connections the chip holds",
    )
    assert isinstance(entry, dict)
    return int(entry["max"])


@given(step_text("as many peripherals as chip {chip:I} holds, plus one"))
def _(ctx: Ctx, chip: int) -> None:
    """Named C-1 ... C-<max+1>, at 2 m."""
    limit = chip_max(ctx, chip)
    ctx.marks["chip_max"] = limit
    for i in range(1, limit + 2):
        ctx.place(sensor_spec(ctx, f"C-{i}", 2.0))


@when(step_text('the client connects each of them with "{params:Q}"'))
def _(ctx: Ctx, params: str) -> None:
    count = int(ctx.marks["chip_max"]) + 1
    ctx.concurrent = [(f"C-{i}", connect(ctx, f"C-{i}", params)) for i in range(1, count + 1)]


@then("every connect succeeds but the last, which is answered 500")
def _(ctx: Ctx) -> None:
    statuses = [r.response.status if r.response else None for _, r in ctx.concurrent]
    expected = [200] * (len(statuses) - 1) + [500]
    expect(
        statuses == expected,
        expected,
        statuses,
        "the chip's connection limit (chipinfo max) is not what the router enforces",
    )
    last = ctx.concurrent[-1][1].response
    expect(
        last is not None and "chip" in last.text.lower(),
        "an error naming the chip",
        last.text[:200] if last else None,
        "the refusal does not say the chip is full",
    )
