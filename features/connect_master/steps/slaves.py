"""Steps of the terminal-slave scenarios: terminals with an RS485 line of OSDP readers, the
terminal's own search of that line, and what SetSlaveDevice/GetSlaveDevice make of it."""

from __future__ import annotations

import re

from pytest_bdd import given, parsers, then, when

from conformance.evidence import expect
from features.connect_master.steps.state import CmState, place_terminal
from scenarios.connect_master.bed import slave_name


def _readers(text: str) -> dict[int, int]:
    """``"1:5001 2:5002"`` -> {OSDP address: slave device ID}."""
    pairs = [p.split(":") for p in text.replace(",", " ").split()]
    if not pairs or any(len(p) != 2 or not all(x.isdigit() for x in p) for p in pairs):
        raise ValueError(
            f"slave readers {text!r} not accepted; accepted: address:deviceID "
            "pairs such as 1:5001 2:5002"
        )
    return {int(a): int(d) for a, d in pairs}


@given(
    parsers.parse(
        'a terminal {device_id:d} on "{gw}" at host {host:d} with RS485 slave readers {readers}'
    )
)
def terminal_with_readers(cm: CmState, device_id: int, gw: str, host: int, readers: str) -> None:
    place_terminal(cm, device_id, gw, host, slaveReaders=_readers(readers))


@when(parsers.parse("terminal {device_id:d} searches its RS485 bus"))
def search_bus(cm: CmState, device_id: int) -> None:
    found = cm.bed.run(cm.bed.search_slaves(device_id))
    cm.record.setdefault("slave_searches", {})[str(device_id)] = found


@when(parsers.parse("RS485 slave {slave_id:d} of terminal {device_id:d} is powered {state}"))
def power_slave(cm: CmState, slave_id: int, device_id: int, state: str) -> None:
    if state not in ("on", "off"):
        raise ValueError(f"slave power state {state!r} not accepted; accepted: on, off")
    cm.bed.run(cm.bed.set_power(slave_name(device_id, slave_id), state == "on"))


@then(parsers.parse("the error names slave {bad} and the found slaves {found}"))
def error_names(cm: CmState, bad: str, found: str) -> None:
    message = cm.last_error.details() if cm.last_error is not None else ""
    named = {int(n) for n in re.findall(r"\d+", message)}
    wanted = {int(n) for n in (bad + " " + found).split()}
    expect(
        wanted <= named,
        f"a message naming {sorted(wanted)}",
        message,
        "the refusal names the unknown slave and the slaves that were found",
    )
