"""Load steps of the connect-master profile: fleets of terminals, reconnection after a device
gateway restart, duplicate connections and the completeness of the status stream."""

from __future__ import annotations

from pytest_bdd import given, parsers, then, when

from conformance.evidence import expect
from devices.gateways.connect_master.protos import connect_pb2 as pb
from features.connect_master.steps.state import (
    CmState,
    call,
    logged_in_client,
    pass_time,
)

POLL_S = 1.0


@given(parsers.parse('{n:d} terminals on "{gw}" from device {first:d}'))
def fleet(cm: CmState, n: int, gw: str, first: int) -> None:
    if not 1 <= n <= 253:
        raise ValueError(f"{n} terminals do not fit one /24 subnet; accepted: 1..253")
    ids = [first + i for i in range(n)]

    async def place_all() -> None:  # one turn of the world for the whole fleet
        for i, device_id in enumerate(ids):
            await cm.bed.place({"deviceID": device_id, "gateway": gw, "host": 2 + i})

    cm.bed.run(place_all())
    cm.fleets[gw] = ids


@when(parsers.parse('"{tenant}" adds the terminals of "{gw}" with {rpc}'))
def add_fleet(cm: CmState, tenant: str, gw: str, rpc: str) -> None:
    prefix = "10.0.0." if gw == "gw-a" else "10.0.1."
    infos = [
        pb.AsyncConnectInfo(deviceID=d, IPAddr=f"{prefix}{2 + i}", port=51211)
        for i, d in enumerate(cm.fleets[gw])
    ]
    call(cm, tenant, rpc, gatewayID=cm.bed.gateway(gw), connectInfos=infos)
    expect(cm.last_error is None, "OK", cm.last_error and cm.last_error.details())


def _connected(cm: CmState, tenant: str, gw: str) -> set[int]:
    client = logged_in_client(cm, tenant)
    reply = cm.bed.run(client.call("GetDeviceList", gatewayID=cm.bed.gateway(gw)))
    return {d.deviceID for d in reply.deviceInfos if d.status == pb.TCP_CONNECTED}


def _wait_all(cm: CmState, tenant: str, gw: str, limit_s: float) -> set[int]:
    """Poll GetDeviceList until every fleet terminal is connected; the ones still missing."""
    deadline = cm.bed.now + limit_s
    while True:
        missing = set(cm.fleets[gw]) - _connected(cm, tenant, gw)
        if not missing or cm.bed.now >= deadline:
            return missing
        pass_time(cm, POLL_S)


@then(parsers.parse('all terminals of "{gw}" are connected for "{tenant}" within {s:d} seconds'))
def all_connected(cm: CmState, gw: str, tenant: str, s: int) -> None:
    missing = _wait_all(cm, tenant, gw, s)
    expect(not missing, "all connected", f"{len(missing)} not connected: {sorted(missing)[:10]}")


@then(
    parsers.parse(
        'every terminal of "{gw}" is connected again for "{tenant}" within {n:d} '
        "reconnect intervals"
    )
)
def reconnected(cm: CmState, gw: str, tenant: str, n: int) -> None:
    interval = cm.bed.reconnect_s
    missing = _wait_all(cm, tenant, gw, n * interval)
    expect(
        not missing,
        f"all back within {n} x {interval:g} s",
        f"{len(missing)} still down: {sorted(missing)[:10]}",
    )
    restart = cm.marks[f"restart:{gw}"]
    back: dict[int, float] = {}
    for device_id, status, _ts, arrived in cm.streams.get(tenant, []):
        if arrived >= restart and status == "TCP_CONNECTED" and device_id not in back:
            back[device_id] = arrived - restart
    fleet = cm.fleets[gw]
    expect(
        set(fleet) <= set(back),
        "a TCP_CONNECTED change per terminal after the restart",
        f"{len(set(fleet) - set(back))} terminals without one",
    )
    delays = [round(back[d], 6) for d in fleet]
    cm.record["measurements"]["reconnect_s"] = delays
    cm.record["measurements"]["reconnect_max_s"] = [max(delays)]


@then(parsers.parse('no terminal of "{gw}" ever held two connections at once'))
def no_duplicates(cm: CmState, gw: str) -> None:
    worst = {d: cm.bed.run(cm.bed.terminal_state(d))["maxSessions"] for d in cm.fleets[gw]}
    doubled = sorted(d for d, most in worst.items() if most > 1)
    expect(not doubled, "at most 1 connection per terminal", f"two at once: {doubled[:10]}")


@then(parsers.parse('the status stream of "{tenant}" holds every status change of "{gw}" in order'))
def stream_complete(cm: CmState, tenant: str, gw: str) -> None:
    pass_time(cm, 1.0)  # changes in flight reach the subscriber
    since = cm.marks[f"subscribed:{tenant}"]
    fleet = set(cm.fleets[gw])
    # The device gateway's own log is the ground truth of the builtin world.
    truth = [
        (d, pb.Status.Name(s)) for t, d, s in cm.bed.status_log(gw) if t >= since and d in fleet
    ]
    seen = [(d, s) for d, s, _ts, _t in cm.streams.get(tenant, []) if d in fleet]
    first_gap = next((i for i, (a, b) in enumerate(zip(truth, seen, strict=False)) if a != b), None)
    expect(
        seen == truth,
        f"{len(truth)} changes in the gateway's order",
        f"{len(seen)} changes, first difference at {first_gap}",
    )
    stamps = [ts for d, _s, ts, _t in cm.streams.get(tenant, []) if d in fleet]
    expect(stamps == sorted(stamps), "non-decreasing timestamps", "timestamps go backwards")
    cm.record["measurements"][f"status_changes_{gw}"] = [len(seen)]
