"""Modbus RTU steps: the slave under test, masters, requests by function code, bus faults and
what the master observed. Register addresses come from the SUT's declared register map
(``coil``, ``input``, ``writable_register``...), so the same scenarios judge our slave or a
vendor's through a bridge.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from pymodbus.pdu.register_message import (
    MaskWriteRegisterRequest,
    ReadWriteMultipleRegistersRequest,
)
from pytest_bdd import given, parsers, then, when

from conformance.evidence import expect
from devices.rs485.discovery import search_modbus
from features.rs485.steps.fixtures import Seen
from features.steps.text import step_text
from scenarios.rs485.bed import ModbusLine
from sim.uart import LineSettings


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.replace(" and ", ",").split(",") if v.strip()]


def _request(
    bed: ModbusLine, seen: Seen, master: str, method: str, *args: Any, **kwargs: Any
) -> None:
    m = bed.client(master)
    seen.sent_before[master] = m.sent
    seen.replies[master] = bed.run(m.request(method, *args, **kwargs))


def _at_unit(
    bed: ModbusLine, seen: Seen, master: str, method: str, key: str, *args: Any, **kwargs: Any
) -> None:
    """A request to the slave under test at the address its register map declares for ``key``."""
    _request(bed, seen, master, method, bed.declared(key), *args, device_id=bed.unit, **kwargs)


# -- the line ---------------------------------------------------------------------------------


@given("the slave under test on a Modbus line")
def slave_under_test(modbus_bed: ModbusLine) -> None:
    modbus_bed.run(modbus_bed.start())


@given(step_text('a Modbus master "{name:Q}" on the line'))
def a_master(modbus_bed: ModbusLine, name: str) -> None:
    modbus_bed.run(modbus_bed.add_master(name))


@given(step_text('a Modbus master "{name:Q}" with a {timeout:N} s timeout and {retries:I} retries'))
def a_master_with(modbus_bed: ModbusLine, name: str, timeout: float, retries: int) -> None:
    modbus_bed.run(modbus_bed.add_master(name, timeout, retries))


@given(step_text('a Modbus master "{name:Q}" at "{settings:Q}" on the line'))
def a_wrong_master(modbus_bed: ModbusLine, name: str, settings: str) -> None:
    modbus_bed.run(modbus_bed.add_master(name, settings=LineSettings.parse(settings)))


@given(step_text("Modbus slaves at addresses {units}"))
def more_slaves(modbus_bed: ModbusLine, units: str) -> None:
    for unit in _ints(units):
        modbus_bed.run(modbus_bed.place({"unit": unit}))


# -- requests ---------------------------------------------------------------------------------


@when(step_text('"{m:Q}" writes coil {state} at the coil address'))
def write_coil(modbus_bed: ModbusLine, seen: Seen, m: str, state: str) -> None:
    _at_unit(modbus_bed, seen, m, "write_coil", "coil", state == "on")


@when(step_text('"{m:Q}" writes coils {bits} at the coil address'))
def write_coils(modbus_bed: ModbusLine, seen: Seen, m: str, bits: str) -> None:
    _at_unit(modbus_bed, seen, m, "write_coils", "coil", [bool(v) for v in _ints(bits)])


@when(step_text('"{m:Q}" reads {n:I} coils at the coil address'))
def read_coils(modbus_bed: ModbusLine, seen: Seen, m: str, n: int) -> None:
    _at_unit(modbus_bed, seen, m, "read_coils", "coil", count=n)


@when(step_text('"{m:Q}" reads {n:I} discrete inputs at the discrete input address'))
def read_discrete(modbus_bed: ModbusLine, seen: Seen, m: str, n: int) -> None:
    _at_unit(modbus_bed, seen, m, "read_discrete_inputs", "discrete_input", count=n)


@when(step_text('"{m:Q}" writes {value:I} to the writable register'))
def write_register(modbus_bed: ModbusLine, seen: Seen, m: str, value: int) -> None:
    _at_unit(modbus_bed, seen, m, "write_register", "writable_register", value)


@when(step_text('"{m:Q}" writes registers {values} from the writable register'))
def write_registers(modbus_bed: ModbusLine, seen: Seen, m: str, values: str) -> None:
    _at_unit(modbus_bed, seen, m, "write_registers", "writable_register", _ints(values))


@when(step_text('"{m:Q}" reads {n:I} holding registers from the writable register'))
def read_holding(modbus_bed: ModbusLine, seen: Seen, m: str, n: int) -> None:
    _at_unit(modbus_bed, seen, m, "read_holding_registers", "writable_register", count=n)


@when(step_text('"{m:Q}" reads {n:I} input registers at the input address'))
def read_input(modbus_bed: ModbusLine, seen: Seen, m: str, n: int) -> None:
    _at_unit(modbus_bed, seen, m, "read_input_registers", "input", count=n)


@when(step_text('"{m:Q}" reads {n:I} input registers at address {addr:I} of slave {unit:I}'))
def read_input_of(modbus_bed: ModbusLine, seen: Seen, m: str, n: int, addr: int, unit: int) -> None:
    _request(modbus_bed, seen, m, "read_input_registers", addr, count=n, device_id=unit)


@when(step_text('"{m:Q}" reads holding registers at the bad address'))
def read_bad(modbus_bed: ModbusLine, seen: Seen, m: str) -> None:
    _at_unit(modbus_bed, seen, m, "read_holding_registers", "bad_address", count=1)


@when(step_text('"{m:Q}" writes the out-of-range value to the limited register'))
def write_out_of_range(modbus_bed: ModbusLine, seen: Seen, m: str) -> None:
    value = modbus_bed.declared("out_of_range_value")
    _at_unit(modbus_bed, seen, m, "write_register", "limited_register", value)


@when(step_text('"{m:Q}" sends the unsupported function'))
def unsupported(modbus_bed: ModbusLine, seen: Seen, m: str) -> None:
    fc = modbus_bed.declared("unsupported_function")
    kinds = {22: MaskWriteRegisterRequest, 23: ReadWriteMultipleRegistersRequest}
    if fc not in kinds:
        raise ValueError(f"unsupported_function {fc} not accepted; accepted: 22, 23")
    pdu = kinds[fc](address=modbus_bed.declared("writable_register"), dev_id=modbus_bed.unit)
    _request(modbus_bed, seen, m, "execute", False, pdu)


@when(step_text('"{m:Q}" broadcasts {value:I} to the writable register'))
def broadcast(modbus_bed: ModbusLine, seen: Seen, m: str, value: int) -> None:
    _request(
        modbus_bed,
        seen,
        m,
        "write_register",
        modbus_bed.declared("writable_register"),
        value,
        device_id=0,
        no_response_expected=True,
    )
    modbus_bed.run(asyncio.sleep(0.1))


@when(step_text('"{m:Q}" reads holding registers from absent slave {unit:I}'))
def read_absent(modbus_bed: ModbusLine, seen: Seen, m: str, unit: int) -> None:
    _request(modbus_bed, seen, m, "read_holding_registers", 0, count=1, device_id=unit)


@when(step_text('"{a:Q}" and "{b:Q}" read input registers at the same instant'))
def two_masters(modbus_bed: ModbusLine, seen: Seen, a: str, b: str) -> None:
    bed = modbus_bed
    for name in (a, b):
        seen.sent_before[name] = bed.client(name).sent

    async def both() -> list[Any]:
        return await asyncio.gather(
            *(
                bed.client(name).request(
                    "read_input_registers", bed.declared("input"), count=2, device_id=bed.unit
                )
                for name in (a, b)
            )
        )

    seen.replies[a], seen.replies[b] = bed.run(both())


# -- faults -----------------------------------------------------------------------------------


@when(step_text("the line has a bit-error rate of {ber:N} for {seconds:N} s"))
def noise(modbus_bed: ModbusLine, ber: float, seconds: float) -> None:
    modbus_bed.run(modbus_bed.inject("noise", bit_error_rate=ber, seconds=seconds))


@when(step_text("the line has a bit-error rate of {ber:N}"))
def noise_on(modbus_bed: ModbusLine, ber: float) -> None:
    modbus_bed.run(modbus_bed.inject("noise", bit_error_rate=ber))


@when(step_text("the slave under test is powered off for {seconds:N} s"))
def power_cycle(modbus_bed: ModbusLine, seconds: float) -> None:
    modbus_bed.run(modbus_bed.inject("power_cycle", off_s=seconds))


@when(step_text('the sensor of point "{point:Q}" of the slave under test fails'))
def fail_point(modbus_bed: ModbusLine, point: str) -> None:
    modbus_bed.run(modbus_bed.inject("sensor_failure", point=point))


# -- discovery --------------------------------------------------------------------------------


@when(step_text('"{m:Q}" searches addresses {first:I} to {last:I}'))
def search(modbus_bed: ModbusLine, seen: Seen, m: str, first: int, last: int) -> None:
    master = modbus_bed.client(m)
    modbus_bed.run(search_modbus(master, range(first, last + 1), seen.registry))


@when(step_text("the terminal registers slaves {units}"))
def register(seen: Seen, units: str) -> None:
    try:
        seen.registry.register(_ints(units))
        seen.replies["registry"] = None
    except KeyError as exc:
        seen.replies["registry"] = str(exc)


@then(step_text("the search found slaves {units}"))
def found(seen: Seen, units: str) -> None:
    got = [r.address for r in seen.registry.found()]
    expect(got == _ints(units), _ints(units), got, "slaves found by the search")


@then(step_text("the search found the slave under test and not address {absent:I}"))
def found_sut(modbus_bed: ModbusLine, seen: Seen, absent: int) -> None:
    got = [r.address for r in seen.registry.found()]
    expect(
        modbus_bed.unit in got and absent not in got,
        f"{modbus_bed.unit} found, {absent} not",
        got,
        "slaves found by the search",
    )


@then(step_text("the registered slaves are {units}"))
def registered(seen: Seen, units: str) -> None:
    got = [r.address for r in seen.registry.registered()]
    expect(got == _ints(units), _ints(units), got, "registered slaves")


@then(step_text("the registration is refused naming address {unit:I}"))
def refused(seen: Seen, unit: int) -> None:
    error = seen.replies.get("registry")
    expect(error is not None and str(unit) in error, f"an error naming {unit}", error)


# -- outcomes ---------------------------------------------------------------------------------


def _reply(bed: ModbusLine, seen: Seen, m: str) -> Any:
    reply = seen.replies.get(m)
    error = getattr(bed.client(m), "last_error", None)
    expect(reply is not None, "a reply", f"no reply ({error})", f'"{m}" got no reply')
    return reply


@then(step_text('"{m:Q}" got a normal reply to function {fc:I}'))
def normal_reply(modbus_bed: ModbusLine, seen: Seen, m: str, fc: int) -> None:
    reply = _reply(modbus_bed, seen, m)
    expect(not reply.isError() and reply.function_code == fc, f"function {fc} reply", repr(reply))


@then(step_text('"{m:Q}" read the values {values}'))
def read_values(modbus_bed: ModbusLine, seen: Seen, m: str, values: str) -> None:
    reply = _reply(modbus_bed, seen, m)
    wanted = _ints(values)
    got = list(reply.registers) if reply.registers else [int(b) for b in reply.bits]
    expect(got[: len(wanted)] == wanted, wanted, got[: len(wanted)], "values read")


@then(step_text('"{m:Q}" read {n:I} values'))
def read_n(modbus_bed: ModbusLine, seen: Seen, m: str, n: int) -> None:
    reply = _reply(modbus_bed, seen, m)
    got = list(reply.registers) if reply.registers else list(reply.bits)
    expect(len(got) >= n, f">= {n} values", len(got))


@then(step_text('"{m:Q}" reads the same coil state again'))
def same_coil(modbus_bed: ModbusLine, seen: Seen, m: str) -> None:
    before = _reply(modbus_bed, seen, m)
    read_coils(modbus_bed, seen, m, 1)
    after = _reply(modbus_bed, seen, m)
    expect(after.bits[:1] == before.bits[:1], before.bits[:1], after.bits[:1], "the coil")


@then(step_text('"{m:Q}" got exception {code:I} to function {fc:I}'))
def exception_reply(modbus_bed: ModbusLine, seen: Seen, m: str, code: int, fc: int) -> None:
    reply = _reply(modbus_bed, seen, m)
    observed = (reply.function_code, getattr(reply, "exception_code", None))
    expect(
        observed == (fc | 0x80, code),
        (fc | 0x80, code),
        observed,
        "exception function code and exception code",
    )


@then(step_text('"{m:Q}" got no reply after {tries:I} tries'))
def no_reply(modbus_bed: ModbusLine, seen: Seen, m: str, tries: int) -> None:
    sent = modbus_bed.client(m).sent - seen.sent_before.get(m, 0)
    expect(
        seen.replies.get(m) is None and sent == tries,
        f"silence after {tries} tries",
        f"reply {seen.replies.get(m)!r} after {sent} tries",
    )


@then(step_text('"{m:Q}" got its reply at the first try'))
def first_try(modbus_bed: ModbusLine, seen: Seen, m: str) -> None:
    sent = modbus_bed.client(m).sent - seen.sent_before.get(m, 0)
    reply = seen.replies.get(m)
    expect(
        reply is not None and sent == 1,
        "a reply to the first request",
        f"reply {reply!r} after {sent} requests",
    )


@then(step_text('"{m:Q}" needed {tries:I} or more tries'))
def retried(modbus_bed: ModbusLine, seen: Seen, m: str, tries: int) -> None:
    sent = modbus_bed.client(m).sent - seen.sent_before.get(m, 0)
    expect(sent >= tries, f">= {tries} tries", sent, "requests sent for one transaction")


@then(parsers.parse("the capture shows {count:d} or more {kind} frames"))
def capture_shows(modbus_bed: ModbusLine, count: int, kind: str) -> None:
    stats = modbus_bed.bus.stats
    got = {"colliding": stats.collisions, "noisy": stats.noisy_frames}[kind]
    expect(got >= count, f">= {count} {kind} frames", got, "bus statistics")


@then("no slave answered a colliding frame")
def collided_unanswered(modbus_bed: ModbusLine) -> None:
    _unanswered(modbus_bed, "colliding", lambda f: bool(f["collision"]))


@then("no slave answered a noisy request")
def noisy_unanswered(modbus_bed: ModbusLine) -> None:
    """What crossed the line: a master's frame with flipped bits is followed by no slave's."""
    masters = set(modbus_bed.masters)
    _unanswered(
        modbus_bed, "noisy", lambda f: f.get("flipped", 0) > 0 and set(f["drivers"]) <= masters
    )


def _unanswered(modbus_bed: ModbusLine, kind: str, bad: Callable[[dict[str, Any]], bool]) -> None:
    frames = modbus_bed.world.trace.select(layer="bus", event="frame")
    masters = set(modbus_bed.masters)
    answered = [
        f["n"]
        for i, f in enumerate(frames[:-1])
        if bad(f) and not set(frames[i + 1]["drivers"]) <= masters
    ]
    expect(not answered, f"every {kind} frame left unanswered", f"answered: {answered}")


@then(step_text("slave {unit:I} holds {value:I} in the writable register"))
def slave_holds(modbus_bed: ModbusLine, unit: int, value: int) -> None:
    reply = modbus_bed.run(
        modbus_bed.client().request(
            "read_holding_registers",
            modbus_bed.declared("writable_register"),
            count=1,
            device_id=unit,
        )
    )
    got = None if reply is None or reply.isError() else reply.registers[0]
    expect(got == value, value, got, f"register of slave {unit} after the broadcast")


@then(step_text('"{m:Q}" saw no reply to the broadcast'))
def no_broadcast_reply(modbus_bed: ModbusLine, m: str) -> None:
    frames = [
        r for r in modbus_bed.world.trace.select(layer="bus", event="frame") if r["drivers"] != [m]
    ]
    expect(not frames, "no frame from any slave", [f["data"] for f in frames])


@then(step_text('the wrong-baud master "{m:Q}" got no reply'))
def wrong_baud_silent(seen: Seen, m: str) -> None:
    expect(
        seen.replies.get(m) is None,
        "no reply (the slave saw garbage)",
        repr(seen.replies.get(m)),
    )
