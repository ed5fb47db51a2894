"""Steps about the world around the master: terminals placed, powered and unplugged, device
gateways and the master restarted (faults of :class:`scenarios.connect_master.bed.CmBed`)."""

from __future__ import annotations

from pytest_bdd import given, parsers, then, when

from conformance.evidence import expect
from features.connect_master.steps.state import CmState, id_list, pass_time, place_terminal
from scenarios.connect_master.bed import terminal_name


@given(parsers.parse('a terminal {device_id:d} on "{gw}" at host {host:d}'))
def terminal(cm: CmState, device_id: int, gw: str, host: int) -> None:
    place_terminal(cm, device_id, gw, host)


@given(parsers.parse('an SSL terminal {device_id:d} on "{gw}" at host {host:d}'))
def ssl_terminal(cm: CmState, device_id: int, gw: str, host: int) -> None:
    place_terminal(cm, device_id, gw, host, ssl=True)


@given(parsers.parse('a device-to-server terminal {device_id:d} on "{gw}" at host {host:d}'))
def d2s_terminal(cm: CmState, device_id: int, gw: str, host: int) -> None:
    place_terminal(cm, device_id, gw, host, mode=1)


@given(
    parsers.parse('a terminal {device_id:d} on "{gw}" at host {host:d} with RS485 slaves {slaves}')
)
def slave_terminal(cm: CmState, device_id: int, gw: str, host: int, slaves: str) -> None:
    place_terminal(cm, device_id, gw, host, rs485Slaves=id_list(slaves))


@when(parsers.parse("terminal {device_id:d} is power-cycled for {seconds:d} seconds"))
def power_cycle(cm: CmState, device_id: int, seconds: int) -> None:
    cm.bed.run(cm.bed.set_power(terminal_name(device_id), False))
    pass_time(cm, seconds)
    cm.bed.run(cm.bed.set_power(terminal_name(device_id), True))


@when(parsers.parse("terminal {device_id:d} is unplugged"))
def unplug(cm: CmState, device_id: int) -> None:
    cm.marks[f"unplug:{device_id}"] = cm.bed.now
    cm.bed.run(cm.bed.inject("unplug", target=terminal_name(device_id)))


@when(parsers.parse("terminal {device_id:d} is plugged in again"))
def replug(cm: CmState, device_id: int) -> None:
    cm.bed.run(cm.bed.inject("replug", target=terminal_name(device_id)))


@when(parsers.parse('device gateway "{gw}" restarts'))
def gateway_restart(cm: CmState, gw: str) -> None:
    cm.marks[f"restart:{gw}"] = cm.bed.now
    cm.bed.run(cm.bed.inject("gateway_restart", target=gw))


@when("the master gateway restarts")
def master_restart(cm: CmState) -> None:
    cm.bed.run(cm.bed.inject("master_restart"))
    cm.clients.clear()


@then(parsers.parse("terminal {device_id:d} never held two connections at once"))
def never_two_connections(cm: CmState, device_id: int) -> None:
    most = cm.bed.run(cm.bed.terminal_state(device_id))["maxSessions"]
    expect(most <= 1, "at most 1", most, "concurrent connections")


@then(parsers.parse("terminal {device_id:d} holds no connection"))
def holds_no_connection(cm: CmState, device_id: int) -> None:
    now = cm.bed.run(cm.bed.terminal_state(device_id))["sessions"]
    expect(now == 0, 0, now, f"connections terminal {device_id} holds (its own count)")


@then(parsers.parse("terminal {device_id:d} has SSL {state}"))
def terminal_ssl(cm: CmState, device_id: int, state: str) -> None:
    if state not in ("on", "off"):
        raise ValueError(f"SSL state {state!r} not accepted; accepted: on, off")
    ssl = cm.bed.run(cm.bed.terminal_state(device_id))["useSSL"]
    expect(ssl == (state == "on"), state, "on" if ssl else "off", f"terminal {device_id}'s SSL")
