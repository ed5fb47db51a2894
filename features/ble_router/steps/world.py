"""World steps: peripherals placed, moved and powered (time passing is the shared
``features/steps/time.py``).

Distances are measured from the router; peripherals get their own bearing so two never share
a spot. Every peripheral is the stock sensor of :func:`devices.ble.spec.standard_peripheral`
(heart rate 180D: 2A37 read|notify counter, 2A39 write|write-without-response; battery 180F:
2A19 read|indicate) unless a table says otherwise.
"""

from __future__ import annotations

import math
from typing import Any

from pytest_bdd import given, when

from devices.ble.spec import standard_peripheral
from features.ble_router.steps.support import Ctx, step_text

# Keys a peripheral table may use (first column), lower case.
TABLE_KEYS = (
    "advertised name",
    "name in",
    "advertising type",
    "service uuids",
    "manufacturer data",
    "advertising interval",
    "address type",
    "address",
    "tx power",
    "notify rate",
    "battery indications",
    "advertising data",
    "scan response data",
)


def _number(text: str, unit: str = "") -> float:
    text = str(text).strip()
    if unit and text.lower().endswith(unit):
        text = text[: -len(unit)].strip()
    return float(text)


def sensor_spec(
    ctx: Ctx, name: str, distance: float, options: dict[str, str] | None = None
) -> dict[str, Any]:
    """The stock sensor, named and placed, with the table's changes applied."""
    options = {k.strip().lower(): str(v).strip() for k, v in (options or {}).items()}
    unknown = sorted(set(options) - set(TABLE_KEYS))
    if unknown:
        raise ValueError(
            f"peripheral {name!r}: unknown table key(s) {', '.join(unknown)}; "
            f"accepted: {', '.join(TABLE_KEYS)}"
        )
    notify_hz = _number(options.get("notify rate", "1"), "hz")
    interval = _number(options.get("advertising interval", "1000"), "ms")
    position = ctx.position_at(distance, ctx.next_bearing())
    spec = standard_peripheral(1, tuple(position), notify_hz=notify_hz, interval_ms=interval)
    public = options.get("address type", "random").lower() == "public"
    spec["name"] = name
    spec["address"] = options.get("address") or ctx.allocate_address(public)
    if public and not spec["address"].endswith("/P"):
        spec["address"] += "/P"
    adv = spec["advertising"]
    adv["local_name"] = options.get("advertised name", name)
    if "name in" in options:
        adv["name_in"] = options["name in"].replace(" ", "_").lower()
    if "advertising type" in options:
        adv["type"] = options["advertising type"].upper()
    if "service uuids" in options:
        text = options["service uuids"]
        adv["service_uuids"] = (
            []
            if text.lower() in ("", "none")
            else [u.strip() for u in text.split(",") if u.strip()]
        )
    if "manufacturer data" in options:
        text = options["manufacturer data"]
        if text.lower() in ("", "none"):
            adv.pop("manufacturer_data", None)
        else:
            adv["manufacturer_data"] = {"company_id": 0xFFFF, "data": text}
    if "advertising data" in options:
        adv["ad_data"] = options["advertising data"]
    if "scan response data" in options:
        adv["scan_response"] = options["scan response data"]
    if "tx power" in options:
        spec["tx_power_dbm"] = _number(options["tx power"], "dbm")
    if "battery indications" in options:
        rate = _number(options["battery indications"], "hz")
        battery = spec["services"][1]["characteristics"][0]
        battery["notify_hz"] = rate
        battery["model"] = {
            "kind": "counter",
            "period_s": 1.0 / rate if rate else 1.0,
            "start": 100,
            "step": -1,
            "encoding": "u8",
        }
    return spec


def place(ctx: Ctx, name: str, distance: float, options: dict[str, str] | None = None) -> str:
    return ctx.place(sensor_spec(ctx, name, distance, options))


def table_options(datatable: list[list[str]]) -> dict[str, str]:
    rows = [r for r in datatable if r]
    if rows and [c.strip().lower() for c in rows[0]] in (["key", "value"], ["field", "value"]):
        rows = rows[1:]
    return {r[0]: (r[1] if len(r) > 1 else "") for r in rows}


@given(step_text('a peripheral "{name:Q}" at {distance:N} m'))
def _(ctx: Ctx, name: str, distance: float) -> None:
    place(ctx, name, distance)


@given(step_text('a peripheral "{name:Q}" at {distance:N} m advertising the name "{adv:Q}"'))
def _(ctx: Ctx, name: str, distance: float, adv: str) -> None:
    place(ctx, name, distance, {"advertised name": adv})


@given(step_text('a peripheral "{name:Q}" at {distance:N} m advertising the service "{uuid:Q}"'))
def _(ctx: Ctx, name: str, distance: float, uuid: str) -> None:
    place(ctx, name, distance, {"service uuids": uuid})


@given(
    step_text('a peripheral "{name:Q}" at {distance:N} m with its name only in the scan response')
)
def _(ctx: Ctx, name: str, distance: float) -> None:
    place(ctx, name, distance, {"name in": "scan_response"})


@given(step_text('a peripheral "{name:Q}" with a public address at {distance:N} m'))
def _(ctx: Ctx, name: str, distance: float) -> None:
    place(ctx, name, distance, {"address type": "public"})


@given(step_text('a beacon "{name:Q}" at {distance:N} m'))
def _(ctx: Ctx, name: str, distance: float) -> None:
    """Non-connectable, non-scannable advertising (ADV_NONCONN_IND)."""
    place(ctx, name, distance, {"advertising type": "ADV_NONCONN_IND"})


@given(step_text('a peripheral "{name:Q}" at {distance:N} m with:'))
def _(ctx: Ctx, name: str, distance: float, datatable: list[list[str]]) -> None:
    place(ctx, name, distance, table_options(datatable))


@given(step_text("{count:I} standard peripherals in a ring of {radius:N} m"))
def _(ctx: Ctx, count: int, radius: float) -> None:
    """Named HIL-0001 ... HIL-<count>, evenly spread on a circle around the router."""
    for i in range(1, count + 1):
        position = ctx.position_at(radius, 360.0 * (i - 1) / count)
        spec = standard_peripheral(i, tuple(position))
        spec["address"] = ctx.allocate_address()
        ctx.place(spec)


@given(step_text('"{name:Q}" moves to {distance:N} m'))
@when(step_text('"{name:Q}" moves to {distance:N} m'))
def _(ctx: Ctx, name: str, distance: float) -> None:
    position = ctx.position_at(distance, ctx_angle(ctx, name))
    ctx.run(ctx.bed.move(name, position))


def ctx_angle(ctx: Ctx, name: str) -> float:
    """The bearing a peripheral was placed on (moves keep it, only the distance changes)."""
    spec = ctx.specs.get(name)
    if spec is None:
        return 0.0
    x0, y0, _z0 = ctx.router_position()
    x, y = float(spec["position"][0]) - x0, float(spec["position"][1]) - y0
    return math.degrees(math.atan2(y, x)) if (x or y) else 0.0


@given(step_text('"{name:Q}" is powered off'))
@when(step_text('"{name:Q}" is powered off'))
@when(step_text('"{name:Q}" loses power'))
def _(ctx: Ctx, name: str) -> None:
    ctx.run(ctx.bed.set_power(name, False))


@given(step_text('"{name:Q}" is powered on'))
@when(step_text('"{name:Q}" is powered on'))
def _(ctx: Ctx, name: str) -> None:
    ctx.run(ctx.bed.set_power(name, True))
