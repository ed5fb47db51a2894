"""Steps that call the master gateway's ConnectMaster service and judge its answers: connections,
accept filters, disconnection, connection modes, search, slaves, device and pending lists."""

from __future__ import annotations

import re
from typing import Any

import grpc
from pytest_bdd import parsers, then, when

from conformance.evidence import expect
from devices.gateways.connect_master.protos import connect_master_pb2 as mpb
from devices.gateways.connect_master.protos import connect_pb2 as pb
from devices.gateways.connect_master.tokens import redact
from features.connect_master.steps.state import (
    CmState,
    call,
    device,
    devices,
    id_list,
    logged_in_client,
)

# -- calls -----------------------------------------------------------------------------------


@when(
    parsers.re(
        r'"(?P<tenant>[^"]+)" calls (?P<rpc>\w+) on "(?P<gw>[^"]+)" for device '
        r'(?P<device_id>\d+) at "(?P<ip>[^"]+)"(?P<ssl>( with SSL)?)$'
    )
)
def add_async(
    cm: CmState, tenant: str, rpc: str, gw: str, device_id: str, ip: str, ssl: str
) -> None:
    addr, port = cm.bed.binding.address(ip)
    info = pb.AsyncConnectInfo(
        deviceID=device(cm, int(device_id)),
        IPAddr=addr,
        port=port,
        useSSL=ssl.strip() == "with SSL",
    )
    call(cm, tenant, rpc, gatewayID=cm.bed.gateway(gw), connectInfos=[info])


@when(
    parsers.re(
        r'"(?P<tenant>[^"]+)" connects through "(?P<gw>[^"]+)" to "(?P<ip>[^"]+)"'
        r"(?P<ssl>( with SSL)?)$"
    )
)
def connect(cm: CmState, tenant: str, gw: str, ip: str, ssl: str) -> None:
    addr, port = cm.bed.binding.address(ip)
    info = pb.ConnectInfo(IPAddr=addr, port=port, useSSL=ssl.strip() == "with SSL")
    call(cm, tenant, "Connect", gatewayID=cm.bed.gateway(gw), connectInfo=info)


@when(
    parsers.re(
        r'"(?P<tenant>[^"]+)" sets the accept filter(?P<db>( DB)?) of "(?P<gw>[^"]+)" '
        r"to devices (?P<ids>[\d ]+)$"
    )
)
def set_filter(cm: CmState, tenant: str, db: str, gw: str, ids: str) -> None:
    rpc = "SetAcceptFilterDB" if db.strip() == "DB" else "SetAcceptFilter"
    accepted = pb.AcceptFilter(deviceIDs=devices(cm, ids))
    call(cm, tenant, rpc, gatewayID=cm.bed.gateway(gw), filter=accepted)


@when(parsers.re(r'"(?P<tenant>[^"]+)" calls (?P<rpc>\w+) for devices (?P<ids>[\d ]+)$'))
def by_devices(cm: CmState, tenant: str, rpc: str, ids: str) -> None:
    if rpc.endswith("Multi"):
        call(cm, tenant, rpc, deviceIDs=devices(cm, ids))
    else:
        call(cm, tenant, rpc, deviceID=devices(cm, ids)[0])


@when(
    parsers.re(
        r'"(?P<tenant>[^"]+)" calls (?P<rpc>Delete\w+) on "(?P<gw>[^"]+)" for devices '
        r"(?P<ids>[\d ]+)$"
    )
)
def delete_by_devices(cm: CmState, tenant: str, rpc: str, gw: str, ids: str) -> None:
    """DeleteAsyncConnection, DeleteAsyncConnectionDB or DeleteSlaveDeviceDB."""
    call(cm, tenant, rpc, gatewayID=cm.bed.gateway(gw), deviceIDs=devices(cm, ids))


@when(parsers.parse('"{tenant}" calls {rpc} with {count:d} device IDs'))
def many_devices(cm: CmState, tenant: str, rpc: str, count: int) -> None:
    """``rpc`` with device IDs 1..``count`` (on gateway ``gw-a`` when the call names one)."""
    fields: dict[str, Any] = {"deviceIDs": list(range(1, count + 1))}
    if "gatewayID" in getattr(mpb, f"{rpc}Request").DESCRIPTOR.fields_by_name:
        fields["gatewayID"] = cm.bed.gateway("gw-a")
    call(cm, tenant, rpc, **fields)


@when(parsers.parse('"{tenant}" sets the connection mode of device {device_id:d} to {mode}'))
def set_mode(cm: CmState, tenant: str, device_id: int, mode: str) -> None:
    call(
        cm,
        tenant,
        "SetConnectionMode",
        deviceID=device(cm, device_id),
        connectionMode=pb.ConnectionMode.Value(mode),
    )


@when(parsers.parse('"{tenant}" calls SetConnectionModeMulti for devices {ids} with {mode}'))
def set_mode_multi(cm: CmState, tenant: str, ids: str, mode: str) -> None:
    call(
        cm,
        tenant,
        "SetConnectionModeMulti",
        deviceIDs=devices(cm, ids),
        connectionMode=pb.ConnectionMode.Value(mode),
    )


@when(parsers.parse('"{tenant}" disconnects devices {ids}'))
def disconnect(cm: CmState, tenant: str, ids: str) -> None:
    call(cm, tenant, "Disconnect", deviceIDs=devices(cm, ids))


@when(parsers.parse('"{tenant}" disconnects all devices of "{gw}"'))
def disconnect_all(cm: CmState, tenant: str, gw: str) -> None:
    call(cm, tenant, "DisconnectAll", gatewayID=cm.bed.gateway(gw))


@when(parsers.parse('"{tenant}" searches devices through "{gw}" for {ms:d} ms'))
def search(cm: CmState, tenant: str, gw: str, ms: int) -> None:
    call(cm, tenant, "SearchDevice", gatewayID=cm.bed.gateway(gw), timeout=ms)


@when(parsers.parse('"{tenant}" calls {rpc} on "{gw}" with device {device_id:d} slaves {slaves}'))
def set_slaves(cm: CmState, tenant: str, rpc: str, gw: str, device_id: int, slaves: str) -> None:
    info = pb.SlaveDeviceInfo(deviceID=device_id, rs485SlaveDeviceIDs=id_list(slaves))
    call(cm, tenant, rpc, gatewayID=cm.bed.gateway(gw), slaveDeviceInfos=[info])


@when(parsers.parse('"{tenant}" reads the device list of "{gw}"'))
def read_list(cm: CmState, tenant: str, gw: str) -> None:
    call(cm, tenant, "GetDeviceList", gatewayID=cm.bed.gateway(gw))


@when(
    parsers.parse(
        '"{tenant}" reads the device list of a gateway whose ID is {size:d} characters long'
    )
)
def read_list_long_id(cm: CmState, tenant: str, size: int) -> None:
    call(cm, tenant, "GetDeviceList", gatewayID="g" * size)


# -- outcomes --------------------------------------------------------------------------------


@then("the call succeeds")
def call_succeeds(cm: CmState) -> None:
    err = cm.last_error
    # the SUT's message goes into the report: any token it echoes is redacted
    expect(err is None, "OK", redact(f"{err.code().name}: {err.details()}") if err else "OK")


@then(parsers.parse("the call fails with {code}"))
def call_fails(cm: CmState, code: str) -> None:
    observed = cm.last_error.code().name if cm.last_error else "OK"
    expect(observed == code, code, observed, "gRPC status of the last call")
    expect(bool(cm.last_error.details()), "a message naming the problem", "empty details")


@then(parsers.parse("the call returns device {device_id:d}"))
def call_returns_device(cm: CmState, device_id: int) -> None:
    got = cm.last_reply.deviceID if cm.last_reply is not None else None
    want = device(cm, device_id)
    expect(got == want, want, got, "deviceID of the Connect answer (the device's own ID)")


@then(parsers.parse("the error message is at most {limit:d} characters long"))
def message_short(cm: CmState, limit: int) -> None:
    details = cm.last_error.details() if cm.last_error is not None else ""
    expect(
        0 < len(details) <= limit,
        f"a message of 1..{limit} characters",
        f"{len(details)} characters",
        "the offending value is quoted whole instead of cut short",
    )


@then(parsers.parse('the error message names the field "{name}" and the limit {limit:d}'))
def message_names_limit(cm: CmState, name: str, limit: int) -> None:
    details = cm.last_error.details() if cm.last_error is not None else ""
    numbers = {int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", details)}
    expect(
        name in details and limit in numbers,
        f"a message naming {name!r} and the limit {limit}",
        details[:300],
        "the refusal does not say which list is too long or how long it may be",
    )


@then(parsers.parse("the Multi reply names device {device_id:d} with {code}"))
def multi_error(cm: CmState, device_id: int, code: str) -> None:
    errors = {e.deviceID: e for e in cm.last_reply.deviceErrors}
    want = getattr(grpc.StatusCode, code).value[0]
    real = device(cm, device_id)
    observed = errors[real].code if real in errors else None
    expect(observed == want, want, observed, f"per-device error of {device_id}")


@then(parsers.parse("the Multi reply names no error for device {device_id:d}"))
def multi_no_error(cm: CmState, device_id: int) -> None:
    errors = {e.deviceID: e.msg for e in cm.last_reply.deviceErrors}
    real = device(cm, device_id)
    expect(real not in errors, "no error", errors.get(real))


@then(parsers.parse("the search finds devices {ids}"))
def search_finds(cm: CmState, ids: str) -> None:
    found = sorted(d.deviceID for d in cm.last_reply.deviceInfos) if cm.last_reply else []
    wanted = sorted(devices(cm, ids))
    expect(found == wanted, wanted, found)


# -- what the master lists -------------------------------------------------------------------


def _read(cm: CmState, tenant: str, rpc: str, gw: str) -> Any:
    client = logged_in_client(cm, tenant)
    return cm.bed.run(client.call(rpc, gatewayID=cm.bed.gateway(gw)))


def _device_list(cm: CmState, tenant: str, gw: str) -> dict[int, Any]:
    return {d.deviceID: d for d in _read(cm, tenant, "GetDeviceList", gw).deviceInfos}


@then(parsers.parse('"{tenant}" sees device {device_id:d} on "{gw}" with status "{status}"'))
def device_status(cm: CmState, tenant: str, device_id: int, gw: str, status: str) -> None:
    listed = _device_list(cm, tenant, gw)
    real = device(cm, device_id)
    observed = pb.Status.Name(listed[real].status) if real in listed else "absent"
    expect(observed == status, status, observed, f"status of device {device_id}")


@then(parsers.parse('"{tenant}" does not see device {device_id:d} on "{gw}"'))
def device_absent(cm: CmState, tenant: str, device_id: int, gw: str) -> None:
    listed = _device_list(cm, tenant, gw)
    expect(device(cm, device_id) not in listed, "absent", sorted(listed))


@then(parsers.parse('device {device_id:d} shows autoReconnect {flag} on "{gw}" for "{tenant}"'))
def auto_reconnect(cm: CmState, device_id: int, flag: str, gw: str, tenant: str) -> None:
    d = _device_list(cm, tenant, gw)[device(cm, device_id)]
    expect(d.autoReconnect == (flag == "true"), flag, str(d.autoReconnect).lower())


@then(parsers.parse('device {device_id:d} shows useSSL {flag} on "{gw}" for "{tenant}"'))
def shows_ssl(cm: CmState, device_id: int, flag: str, gw: str, tenant: str) -> None:
    d = _device_list(cm, tenant, gw).get(device(cm, device_id))
    observed = str(d.useSSL).lower() if d else "absent"
    expect(observed == flag, flag, observed, f"useSSL of device {device_id} in GetDeviceList")


@then(parsers.parse('device {device_id:d} shows connection mode {mode} on "{gw}" for "{tenant}"'))
def shows_mode(cm: CmState, device_id: int, mode: str, gw: str, tenant: str) -> None:
    d = _device_list(cm, tenant, gw).get(device(cm, device_id))
    observed = pb.ConnectionMode.Name(d.connectionMode) if d else "absent"
    expect(d is not None and d.connectionMode == pb.ConnectionMode.Value(mode), mode, observed)


@then(
    parsers.parse(
        'the pending list of "{gw}" for "{tenant}" holds device {device_id:d} with its last try'
    )
)
def pending_holds(cm: CmState, gw: str, tenant: str, device_id: int) -> None:
    found = {p.deviceID: p for p in _read(cm, tenant, "GetPendingList", gw).deviceInfos}
    real = device(cm, device_id)
    expect(real in found, real, sorted(found), "pending list")
    start = cm.bed.unix_start
    if start is None:  # the SUT's calendar is unknown (declared devices, no world control)
        expect(found[real].lastTry > 0, "a last try (Unix time)", found[real].lastTry)
    else:
        expect(found[real].lastTry >= start, f">= {start}", found[real].lastTry)


@then(parsers.parse('the pending list of "{gw}" for "{tenant}" is empty'))
def pending_empty(cm: CmState, gw: str, tenant: str) -> None:
    reply = _read(cm, tenant, "GetPendingList", gw)
    expect(not reply.deviceInfos, [], [p.deviceID for p in reply.deviceInfos])


@then(parsers.parse('"{tenant}" reads {rpc} of "{gw}" with device {device_id:d} slaves {slaves}'))
def slaves_read(cm: CmState, tenant: str, rpc: str, gw: str, device_id: int, slaves: str) -> None:
    reply = _read(cm, tenant, rpc, gw)
    got = {s.deviceID: list(s.rs485SlaveDeviceIDs) for s in reply.slaveDeviceInfos}
    expect(got.get(device_id) == id_list(slaves), id_list(slaves), got.get(device_id))


@then(parsers.parse('"{tenant}" reads {rpc} of "{gw}" with no slaves'))
def slaves_none(cm: CmState, tenant: str, rpc: str, gw: str) -> None:
    reply = _read(cm, tenant, rpc, gw)
    expect(not reply.slaveDeviceInfos, [], [s.deviceID for s in reply.slaveDeviceInfos])


def _listed_ids(rpc: str, reply: Any) -> list[int]:
    if rpc == "GetAsyncConnectionDB":
        return [i.deviceID for i in reply.connectInfos]
    return list(reply.filter.deviceIDs)  # GetAcceptFilter, GetAcceptFilterDB


@then(
    parsers.re(
        r'"(?P<tenant>[^"]+)" reads (?P<rpc>GetAsyncConnectionDB|GetAcceptFilter|GetAcceptFilterDB)'
        r' of "(?P<gw>[^"]+)" with (?:devices (?P<ids>[\d ]+)|no devices)$'
    )
)
def devices_read(cm: CmState, tenant: str, rpc: str, gw: str, ids: str | None) -> None:
    """The device IDs an async-connection DB listing or an accept filter holds, in any order."""
    got = sorted(_listed_ids(rpc, _read(cm, tenant, rpc, gw)))
    wanted = sorted(devices(cm, ids or ""))
    expect(got == wanted, wanted, got, f"device IDs of {rpc}")
