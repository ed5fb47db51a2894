"""GATT steps: discovery, read and write by handle.

Handles always come from the router's own discovery answers, as the seed tells a client to do
("The read/write operations are based on the handle (found in the discover result)"). UUIDs in
paths and queries use the 128-bit form the router reports (``0000180d-0000-1000-...``).
"""

from __future__ import annotations

from typing import Any

from pytest_bdd import then, when

from conformance.evidence import expect
from devices.ble.gatt_uuids import CCCD, characteristic_descriptors
from devices.ble.gatt_uuids import descriptor_handle as handle_in
from features.ble_router.steps.support import (
    UUID128_TEXT,
    Ctx,
    as_int,
    norm_hex,
    norm_uuid,
    step_text,
    uuid128,
)


def gatt_path(ctx: Ctx, name: str, tail: str) -> str:
    return f"/gatt/nodes/{ctx.address(name)}{tail}"


def answer_json(ctx: Ctx, what: str) -> Any:
    response = ctx.response()
    last = ctx.last
    assert last is not None
    expect(
        response.status == 200,
        f"200 with {what}",
        f"{response.status} {response.text[:200]!r}",
        f"{last.method} {last.target} failed",
    )
    content_type = response.headers.get("content-type", "")
    expect(
        content_type.startswith("application/json"),
        "Content-Type: application/json",
        content_type or "(none)",
        f"{what} is not served as JSON",
    )
    return ctx.json(response)


def characteristics_of(ctx: Ctx, name: str) -> list[dict[str, Any]]:
    """The router's characteristic list for a connected node (fetched once per scenario)."""
    key = f"{name}/characteristics"
    if key not in ctx.discovered:
        ctx.request("GET", gatt_path(ctx, name, "/characteristics"))
        body = answer_json(ctx, f"the characteristics of {name}")
        expect(
            isinstance(body, list),
            "a JSON list of characteristics",
            body,
            "the characteristic discovery answer is not a list",
        )
        ctx.discovered[key] = body
    return list(ctx.discovered[key])


def char_handle(ctx: Ctx, name: str, uuid: str) -> int:
    chars = characteristics_of(ctx, name)
    for char in chars:
        if isinstance(char, dict) and norm_uuid(char.get("uuid", "")) == norm_uuid(uuid):
            handle = as_int(char.get("handle"))
            expect(
                handle is not None,
                "an integer handle",
                char,
                f"characteristic {uuid} of {name} has no usable handle",
            )
            assert handle is not None
            return handle
    expect(
        False,
        f"characteristic {uuid} in the discovery answer",
        [c.get("uuid") for c in chars if isinstance(c, dict)],
        f"{name}'s characteristic {uuid} was not discovered",
    )
    raise AssertionError("unreachable")


def tree_of(ctx: Ctx, name: str) -> list[dict[str, Any]]:
    key = f"{name}/tree"
    if key not in ctx.discovered:
        ctx.request("GET", gatt_path(ctx, name, "/services/characteristics/descriptors"))
        body = answer_json(ctx, f"the GATT database of {name}")
        expect(
            isinstance(body, list),
            "a JSON list of services",
            body,
            "the all-at-once discovery answer is not a list",
        )
        ctx.discovered[key] = body
    return list(ctx.discovered[key])


def descriptor_handle(ctx: Ctx, name: str, char_uuid: str, desc_uuid: str = CCCD) -> int:
    """A descriptor's handle as the all-at-once discovery reports it (the CCCD unless told)."""
    seen = characteristic_descriptors(tree_of(ctx, name), char_uuid)
    handle = handle_in(seen, desc_uuid)
    if handle is not None:
        return handle
    expect(
        False,
        f"descriptor {desc_uuid} of characteristic {char_uuid}",
        seen or "none",
        f"{name}'s characteristic {char_uuid} has no discoverable {desc_uuid} descriptor",
    )
    raise AssertionError("unreachable")


def shape_problems(item: Any, fields: dict[str, type | tuple[type, ...]]) -> list[str]:
    if not isinstance(item, dict):
        return [f"{item!r} is not an object"]
    problems = []
    for key, kind in fields.items():
        value = item.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            problems.append(f"{key}={value!r}")
        elif key == "uuid" and not UUID128_TEXT.match(value):
            problems.append(f"uuid {value!r} is not the 128-bit lower-case form")
    return problems


SERVICE_FIELDS = {"uuid": str, "primary": bool, "handle": int}
CHAR_FIELDS = {"uuid": str, "properties": int, "handle": int}
DESC_FIELDS = {"uuid": str, "handle": int}


def check_shape(items: list[Any], fields: dict[str, Any], what: str) -> None:
    for item in items:
        problems = shape_problems(item, fields)
        expect(
            not problems,
            f"{what} with {', '.join(fields)}",
            item,
            f"{what} not as documented: {'; '.join(problems)}",
        )


# -- discovery --------------------------------------------------------------------------------


@when(step_text('the client discovers the services of "{name:Q}"'))
def _(ctx: Ctx, name: str) -> None:
    ctx.request("GET", gatt_path(ctx, name, "/services"))


@when(step_text('the client discovers the characteristics of "{name:Q}"'))
def _(ctx: Ctx, name: str) -> None:
    ctx.request("GET", gatt_path(ctx, name, "/characteristics"))


@when(step_text('the client discovers the characteristics of service "{uuid:Q}" on "{name:Q}"'))
def _(ctx: Ctx, uuid: str, name: str) -> None:
    ctx.request("GET", gatt_path(ctx, name, f"/services/{uuid128(uuid)}/characteristics"))


@when(step_text('the client looks up service "{uuid:Q}" on "{name:Q}"'))
def _(ctx: Ctx, uuid: str, name: str) -> None:
    ctx.request("GET", gatt_path(ctx, name, "/services"), params={"uuid": uuid128(uuid)})


@when(step_text('the client looks up characteristic "{uuid:Q}" on "{name:Q}"'))
def _(ctx: Ctx, uuid: str, name: str) -> None:
    ctx.request("GET", gatt_path(ctx, name, "/characteristics"), params={"uuid": uuid128(uuid)})


@when(step_text('the client discovers the descriptors of characteristic "{uuid:Q}" on "{name:Q}"'))
def _(ctx: Ctx, uuid: str, name: str) -> None:
    ctx.request("GET", gatt_path(ctx, name, f"/characteristics/{uuid128(uuid)}/descriptors"))


@when(step_text('the client discovers all services, characteristics and descriptors of "{name:Q}"'))
def _(ctx: Ctx, name: str) -> None:
    ctx.request("GET", gatt_path(ctx, name, "/services/characteristics/descriptors"))


@then(step_text("the answer lists the primary services {uuids:Names}"))
def _(ctx: Ctx, uuids: list[str]) -> None:
    body = answer_json(ctx, "the service list")
    expect(isinstance(body, list), "a JSON list of services", body, "not a list")
    check_shape(body, SERVICE_FIELDS, "a service")
    found = {norm_uuid(s["uuid"]): s for s in body}
    missing = [u for u in uuids if norm_uuid(u) not in found]
    expect(
        not missing,
        f"services {', '.join(uuids)}",
        sorted(found),
        f"services {', '.join(missing)} were not discovered",
    )
    not_primary = [u for u in uuids if found[norm_uuid(u)].get("primary") is not True]
    expect(not not_primary, "primary: true", not_primary, "a primary service is not primary")


@then(step_text("the answer lists exactly the characteristics {uuids:Names}"))
def _(ctx: Ctx, uuids: list[str]) -> None:
    body = answer_json(ctx, "the characteristic list")
    expect(isinstance(body, list), "a JSON list of characteristics", body, "not a list")
    check_shape(body, CHAR_FIELDS, "a characteristic")
    found = sorted(norm_uuid(c["uuid"]) for c in body)
    expect(
        found == sorted(norm_uuid(u) for u in uuids),
        sorted(norm_uuid(u) for u in uuids),
        found,
        "the characteristics listed are not the ones asked for",
    )


@then(step_text("the answer lists the characteristics {uuids:Names}"))
def _(ctx: Ctx, uuids: list[str]) -> None:
    body = answer_json(ctx, "the characteristic list")
    expect(isinstance(body, list), "a JSON list of characteristics", body, "not a list")
    check_shape(body, CHAR_FIELDS, "a characteristic")
    found = [norm_uuid(c["uuid"]) for c in body]
    missing = [u for u in uuids if norm_uuid(u) not in found]
    expect(
        not missing,
        f"characteristics {', '.join(uuids)}",
        found,
        f"characteristics {', '.join(missing)} were not discovered",
    )


@then(step_text('characteristic "{uuid:Q}" has the properties {properties:I}'))
def _(ctx: Ctx, uuid: str, properties: int) -> None:
    body = answer_json(ctx, "the characteristic list")
    items = body if isinstance(body, list) else [body]
    chars = [
        c for c in items if isinstance(c, dict) and norm_uuid(c.get("uuid", "")) == norm_uuid(uuid)
    ]
    expect(chars, f"characteristic {uuid}", items, f"{uuid} is not in the answer")
    got = chars[0].get("properties")
    expect(
        got == properties,
        f"properties {properties} (0x{properties:02X})",
        got,
        f"the properties of {uuid} are not what the peripheral declares",
    )


@then(step_text('the answer is the single service "{uuid:Q}"'))
def _(ctx: Ctx, uuid: str) -> None:
    body = answer_json(ctx, "the service")
    expect(
        isinstance(body, dict),
        "one JSON object (not a list)",
        body,
        "a lookup by UUID must answer the service itself",
    )
    check_shape([body], SERVICE_FIELDS, "the service")
    expect(
        norm_uuid(body["uuid"]) == norm_uuid(uuid),
        uuid128(uuid),
        body["uuid"],
        "the lookup answered another service",
    )


@then(
    step_text(
        'the answer is the single characteristic "{uuid:Q}" with the properties {properties:I}'
    )
)
def _(ctx: Ctx, uuid: str, properties: int) -> None:
    body = answer_json(ctx, "the characteristic")
    expect(
        isinstance(body, dict),
        "one JSON object (not a list)",
        body,
        "a lookup by UUID must answer the characteristic itself",
    )
    check_shape([body], CHAR_FIELDS, "the characteristic")
    expect(
        norm_uuid(body["uuid"]) == norm_uuid(uuid),
        uuid128(uuid),
        body["uuid"],
        "the lookup answered another characteristic",
    )
    expect(body["properties"] == properties, properties, body["properties"], "wrong properties")


@then(step_text('the answer lists the descriptor "{uuid:Q}"'))
def _(ctx: Ctx, uuid: str) -> None:
    body = answer_json(ctx, "the descriptor list")
    expect(isinstance(body, list), "a JSON list of descriptors", body, "not a list")
    check_shape(body, DESC_FIELDS, "a descriptor")
    found = [norm_uuid(d["uuid"]) for d in body]
    expect(
        norm_uuid(uuid) in found,
        f"descriptor {uuid128(uuid)}",
        found,
        f"descriptor {uuid} was not discovered",
    )


@then(
    step_text(
        'the answer is a service tree where "{service:Q}" holds "{char:Q}" with the '
        'descriptor "{desc:Q}"'
    )
)
def _(ctx: Ctx, service: str, char: str, desc: str) -> None:
    body = answer_json(ctx, "the GATT database")
    expect(isinstance(body, list), "a JSON list of services", body, "not a list")
    check_shape(body, {**SERVICE_FIELDS, "characteristics": list}, "a service")
    for s in body:
        check_shape(s["characteristics"], {**CHAR_FIELDS, "descriptors": list}, "a characteristic")
        for c in s["characteristics"]:
            check_shape(c["descriptors"], DESC_FIELDS, "a descriptor")
    services = [s for s in body if norm_uuid(s["uuid"]) == norm_uuid(service)]
    expect(services, f"service {service}", [s["uuid"] for s in body], "service missing")
    chars = [c for c in services[0]["characteristics"] if norm_uuid(c["uuid"]) == norm_uuid(char)]
    expect(
        chars,
        f"characteristic {char} under {service}",
        [c["uuid"] for c in services[0]["characteristics"]],
        "characteristic missing",
    )
    descs = [d for d in chars[0]["descriptors"] if norm_uuid(d["uuid"]) == norm_uuid(desc)]
    expect(descs, f"descriptor {desc} under {char}", chars[0]["descriptors"], "descriptor missing")
    expect(
        descs[0]["handle"] > chars[0]["handle"],
        f"the descriptor's handle after the value handle {chars[0]['handle']}",
        descs[0]["handle"],
        "descriptor handles must follow their characteristic's value",
    )


# -- read and write ---------------------------------------------------------------------------


def value_path(ctx: Ctx, name: str, handle: int, value: str | None = None) -> str:
    tail = f"/handle/{handle}/value" + (f"/{value}" if value is not None else "")
    return gatt_path(ctx, name, tail)


@when(step_text('the client reads "{uuid:Q}" of "{name:Q}"'))
def _(ctx: Ctx, uuid: str, name: str) -> None:
    handle = char_handle(ctx, name, uuid)
    ctx.marks["read_handle"] = handle
    ctx.request("GET", value_path(ctx, name, handle))


@when(step_text('the client reads handle {handle:I} of "{name:Q}"'))
def _(ctx: Ctx, handle: int, name: str) -> None:
    ctx.marks["read_handle"] = handle
    ctx.request("GET", value_path(ctx, name, handle))


@when(step_text('the client writes "{value:Q}" to "{uuid:Q}" of "{name:Q}"'))
def _(ctx: Ctx, value: str, uuid: str, name: str) -> None:
    ctx.request("GET", value_path(ctx, name, char_handle(ctx, name, uuid), value))


@when(step_text('the client writes "{value:Q}" to "{uuid:Q}" of "{name:Q}" without response'))
def _(ctx: Ctx, value: str, uuid: str, name: str) -> None:
    ctx.request(
        "GET",
        value_path(ctx, name, char_handle(ctx, name, uuid), value),
        params={"noresponse": "1"},
    )


@when(step_text('the client writes "{value:Q}" to handle {handle:I} of "{name:Q}"'))
def _(ctx: Ctx, value: str, handle: int, name: str) -> None:
    ctx.request("GET", value_path(ctx, name, handle, value))


@then("the write succeeds")
def _(ctx: Ctx) -> None:
    response = ctx.response()
    expect(
        response.status == 200 and response.text.strip() == "OK",
        "200 OK",
        f"{response.status} {response.text.strip()[:200]!r}",
        "the write was not done",
    )


@then(step_text('the value read is "{value:Q}"'))
def _(ctx: Ctx, value: str) -> None:
    body = answer_json(ctx, "the value read")
    expect(isinstance(body, dict), '{"handle": ..., "value": ...}', body, "not an object")
    handle = as_int(body.get("handle"))
    expect(
        handle == ctx.marks.get("read_handle"),
        f"handle {ctx.marks.get('read_handle')}",
        body.get("handle"),
        "the answer names another handle than the one read",
    )
    expect(
        norm_hex(body.get("value", "")) == norm_hex(value),
        value.lower(),
        body.get("value"),
        "the value read is not the characteristic's value",
    )


def writes_to(state: dict[str, Any], uuid: str) -> list[str]:
    return [
        norm_hex(w.get("value", ""))
        for w in state.get("writes", [])
        if norm_uuid(w.get("uuid", "")) == norm_uuid(uuid)
    ]


@then(step_text('"{name:Q}" has received "{value:Q}" on "{uuid:Q}"'))
def _(ctx: Ctx, name: str, value: str, uuid: str) -> None:
    state: dict[str, Any] = {}

    async def arrived() -> bool:
        state.update(await ctx.bed.peripheral_state(name))
        return norm_hex(value) in writes_to(state, uuid)

    ok = ctx.wait_until(arrived, 2.0)
    expect(
        ok,
        f"{value} written to {uuid}",
        writes_to(state, uuid) or "nothing written",
        f"{name} never received the bytes the client wrote",
    )


@then(step_text('"{name:Q}" has received exactly "{values:Q}" on "{uuid:Q}"'))
def _(ctx: Ctx, name: str, values: str, uuid: str) -> None:
    """The device's whole write record for ``uuid`` is ``values`` (comma-separated, in order):
    nothing lost, cut, added or sent twice."""
    wanted = [norm_hex(v) for v in values.split(",") if v.strip()]
    state: dict[str, Any] = {}

    async def arrived() -> bool:
        state.update(await ctx.bed.peripheral_state(name))
        return len(writes_to(state, uuid)) >= len(wanted)

    ctx.wait_until(arrived, 2.0)
    ctx.pass_time(0.5)  # anything sent twice arrives by now
    got = writes_to(ctx.run(ctx.bed.peripheral_state(name)), uuid)
    expect(
        got == wanted,
        wanted,
        got or "nothing written",
        f"what {name} received on {uuid} is not exactly what the client wrote",
    )


@then(step_text('reading "{uuid:Q}" of "{name:Q}" answers the value "{holder:Q}" holds'))
def _(ctx: Ctx, uuid: str, name: str, holder: str) -> None:
    """End to end: the value read through the router is the device's own (read just before or
    just after, so a value that changes meanwhile still compares)."""
    before = held_value(ctx, holder, uuid)
    handle = char_handle(ctx, name, uuid)
    ctx.request("GET", value_path(ctx, name, handle))
    body = answer_json(ctx, "the value read")
    after = held_value(ctx, holder, uuid)
    got = norm_hex(body.get("value", "")) if isinstance(body, dict) else body
    expect(
        isinstance(body, dict) and as_int(body.get("handle")) == handle,
        {"handle": handle, "value": after},
        body,
        "the read answer is not shaped as documented or names another handle",
    )
    expect(
        got in (before, after),
        f"{after} (what {holder} holds)" + (f" or {before}" if before != after else ""),
        got,
        f"the value read through the router is not the value {holder} holds",
    )


def held_value(ctx: Ctx, name: str, uuid: str) -> str:
    """The value the device holds for ``uuid``, by its own account (world control)."""
    values = ctx.run(ctx.bed.peripheral_state(name)).get("values") or {}
    for key, value in values.items():
        if norm_uuid(key) == norm_uuid(uuid):
            return norm_hex(value)
    expect(False, f"{name}'s value of {uuid}", sorted(values), f"{name} does not report {uuid}")
    raise AssertionError("unreachable")


@then(step_text('"{name:Q}" has received nothing on "{uuid:Q}"'))
def _(ctx: Ctx, name: str, uuid: str) -> None:
    ctx.pass_time(0.5)
    state = ctx.run(ctx.bed.peripheral_state(name))
    got = writes_to(state, uuid)
    expect(
        not got,
        f"nothing written to {uuid}",
        got,
        f"{name} received a write although the request was refused",
    )


# -- writes the device refuses ----------------------------------------------------------------


@then(step_text('the write is refused with the ATT error "{error:Q}"'))
def _(ctx: Ctx, error: str) -> None:
    """A 500 whose text names the device's ATT error by code (``0x03``) or by name."""
    response = ctx.response()
    code, _, label = error.partition(" ")
    text = response.text.lower().replace("_", " ")
    named = code.lower() in text or (bool(label) and label.lower() in text)
    expect(
        response.status == 500 and named,
        f"500 naming ATT error {error}",
        f"{response.status} {response.text.strip()[:200]!r}",
        "the router did not pass on the device's refusal",
    )


@then(step_text('"{name:Q}" does not hold "{value:Q}" on "{uuid:Q}"'))
def _(ctx: Ctx, name: str, value: str, uuid: str) -> None:
    """By the device's own account (world control): a refused write left no trace."""
    now = held_value(ctx, name, uuid)
    expect(now != norm_hex(value), f"anything but {value}", now, f"{name}'s {uuid} was written")
