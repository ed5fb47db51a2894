"""Steps of the connect-master scenarios. They drive the master gateway only through its
ConnectMaster/Login services and the terminals through their own power and network.

Device IDs and terminal addresses in steps are the scenario's; ``cm.drv.binding`` turns them into
the real ones of a SUT's declared devices (identity otherwise)."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
from pytest_bdd import given, parsers, then, when

from conformance.evidence import expect
from devices.gateways.connect_master.protos import connect_pb2 as pb
from devices.gateways.connect_master.protos import login_pb2
from features.steps.cm_fixtures import CmState


def logged_in_client(cm: CmState, tenant: str) -> Any:
    if tenant not in cm.clients:
        client = cm.drv.client(tenant)
        cm.drv.run(client.login())
        cm.clients[tenant] = client
    return cm.clients[tenant]


def _call(cm: CmState, tenant: str, rpc: str, **fields: Any) -> Any:
    cm.last_error = None
    try:
        cm.last_reply = cm.drv.run(logged_in_client(cm, tenant).call(rpc, **fields))
    except grpc.RpcError as exc:
        cm.last_error = exc
        cm.last_reply = None
    return cm.last_reply


def _ids(text: str) -> list[int]:
    return [int(x) for x in text.replace(",", " ").split()]


def _dev(cm: CmState, device_id: int) -> int:
    """The real device ID of scenario device ``device_id``."""
    return cm.drv.binding.device(device_id)


def _devs(cm: CmState, text: str) -> list[int]:
    return [_dev(cm, d) for d in _ids(text)]


@given(parsers.parse('"{tenant}" is logged in to the master gateway'))
@when(parsers.parse('"{tenant}" is logged in to the master gateway'))
def logged_in(cm: CmState, tenant: str) -> None:
    logged_in_client(cm, tenant)


@given(parsers.parse('a terminal {device_id:d} on "{gw}" at host {host:d}'))
def terminal(cm: CmState, device_id: int, gw: str, host: int) -> None:
    cm.drv.add_terminal(device_id, gw, host)


@given(parsers.parse('an SSL terminal {device_id:d} on "{gw}" at host {host:d}'))
def ssl_terminal(cm: CmState, device_id: int, gw: str, host: int) -> None:
    cm.drv.add_terminal(device_id, gw, host, ssl=True)


@given(parsers.parse('a device-to-server terminal {device_id:d} on "{gw}" at host {host:d}'))
def d2s_terminal(cm: CmState, device_id: int, gw: str, host: int) -> None:
    cm.drv.add_terminal(device_id, gw, host, mode=1)


@given(
    parsers.parse('a terminal {device_id:d} on "{gw}" at host {host:d} with RS485 slaves {slaves}')
)
def slave_terminal(cm: CmState, device_id: int, gw: str, host: int, slaves: str) -> None:
    cm.drv.add_terminal(device_id, gw, host, rs485_slaves=_ids(slaves))


@given(parsers.parse('"{tenant}" subscribes to the status stream'))
@when(parsers.parse('"{tenant}" subscribes to the status stream'))
def subscribe(cm: CmState, tenant: str) -> None:
    seen = cm.streams.setdefault(tenant, [])
    cm.marks[f"subscribed:{tenant}"] = cm.drv.world.now
    call = logged_in_client(cm, tenant).subscribe()

    async def pump() -> None:
        try:
            async for change in call:
                seen.append(
                    (
                        change.deviceID,
                        pb.Status.Name(change.status),
                        change.timestamp,
                        cm.drv.world.now,
                    )
                )
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                cm.stream_errors.append(exc)

    cm.drv.spawn(pump())
    cm.drv.run(cm.drv.subscribed(call))


@when(
    parsers.re(
        r'"(?P<tenant>[^"]+)" calls (?P<rpc>\w+) on "(?P<gw>[^"]+)" for device '
        r'(?P<device_id>\d+) at "(?P<ip>[^"]+)"(?P<ssl>( with SSL)?)$'
    )
)
def add_async(
    cm: CmState, tenant: str, rpc: str, gw: str, device_id: str, ip: str, ssl: str
) -> None:
    addr, port = cm.drv.binding.address(ip)
    info = pb.AsyncConnectInfo(
        deviceID=_dev(cm, int(device_id)), IPAddr=addr, port=port, useSSL=ssl.strip() == "with SSL"
    )
    _call(cm, tenant, rpc, gatewayID=cm.drv.gateway(gw), connectInfos=[info])


@when(
    parsers.re(
        r'"(?P<tenant>[^"]+)" connects through "(?P<gw>[^"]+)" to "(?P<ip>[^"]+)"'
        r"(?P<ssl>( with SSL)?)$"
    )
)
def connect(cm: CmState, tenant: str, gw: str, ip: str, ssl: str) -> None:
    addr, port = cm.drv.binding.address(ip)
    info = pb.ConnectInfo(IPAddr=addr, port=port, useSSL=ssl.strip() == "with SSL")
    _call(cm, tenant, "Connect", gatewayID=cm.drv.gateway(gw), connectInfo=info)


@when(
    parsers.re(
        r'"(?P<tenant>[^"]+)" sets the accept filter(?P<db>( DB)?) of "(?P<gw>[^"]+)" '
        r"to devices (?P<ids>[\d ]+)$"
    )
)
def set_filter(cm: CmState, tenant: str, db: str, gw: str, ids: str) -> None:
    rpc = "SetAcceptFilterDB" if db.strip() == "DB" else "SetAcceptFilter"
    _call(
        cm,
        tenant,
        rpc,
        gatewayID=cm.drv.gateway(gw),
        filter=pb.AcceptFilter(deviceIDs=_devs(cm, ids)),
    )


@when(parsers.re(r'"(?P<tenant>[^"]+)" calls (?P<rpc>\w+) for devices (?P<ids>[\d ]+)$'))
def by_devices(cm: CmState, tenant: str, rpc: str, ids: str) -> None:
    if rpc.endswith("Multi"):
        _call(cm, tenant, rpc, deviceIDs=_devs(cm, ids))
    else:
        _call(cm, tenant, rpc, deviceID=_devs(cm, ids)[0])


@when(parsers.parse('"{tenant}" calls DeleteAsyncConnection on "{gw}" for devices {ids}'))
def delete_async(cm: CmState, tenant: str, gw: str, ids: str) -> None:
    _call(
        cm, tenant, "DeleteAsyncConnection", gatewayID=cm.drv.gateway(gw), deviceIDs=_devs(cm, ids)
    )


@when(parsers.parse('"{tenant}" sets the connection mode of device {device_id:d} to {mode}'))
def set_mode(cm: CmState, tenant: str, device_id: int, mode: str) -> None:
    _call(
        cm,
        tenant,
        "SetConnectionMode",
        deviceID=_dev(cm, device_id),
        connectionMode=pb.ConnectionMode.Value(mode),
    )


@when(parsers.parse('"{tenant}" disconnects devices {ids}'))
def disconnect(cm: CmState, tenant: str, ids: str) -> None:
    _call(cm, tenant, "Disconnect", deviceIDs=_devs(cm, ids))


@when(parsers.parse('"{tenant}" searches devices through "{gw}" for {ms:d} ms'))
def search(cm: CmState, tenant: str, gw: str, ms: int) -> None:
    _call(cm, tenant, "SearchDevice", gatewayID=cm.drv.gateway(gw), timeout=ms)


@when(parsers.parse('"{tenant}" calls {rpc} on "{gw}" with device {device_id:d} slaves {slaves}'))
def set_slaves(cm: CmState, tenant: str, rpc: str, gw: str, device_id: int, slaves: str) -> None:
    info = pb.SlaveDeviceInfo(deviceID=device_id, rs485SlaveDeviceIDs=_ids(slaves))
    _call(cm, tenant, rpc, gatewayID=cm.drv.gateway(gw), slaveDeviceInfos=[info])


@when(parsers.parse("{seconds:d} seconds pass"))
def seconds_pass(cm: CmState, seconds: int) -> None:
    cm.drv.pass_time(seconds)


@when(parsers.parse("terminal {device_id:d} is power-cycled for {seconds:d} seconds"))
def power_cycle(cm: CmState, device_id: int, seconds: int) -> None:
    cm.drv.power(device_id, False)
    cm.drv.pass_time(seconds)
    cm.drv.power(device_id, True)


@when(parsers.parse('device gateway "{gw}" restarts'))
def gateway_restart(cm: CmState, gw: str) -> None:
    cm.marks[f"restart:{gw}"] = cm.drv.world.now
    cm.drv.restart_gateway(gw)


@when("the master gateway restarts")
def master_restart(cm: CmState) -> None:
    cm.drv.restart_master()
    cm.clients.clear()


@then("the call succeeds")
def call_succeeds(cm: CmState) -> None:
    err = cm.last_error
    expect(err is None, "OK", f"{err.code().name}: {err.details()}" if err else "OK")


@then(parsers.parse("the call fails with {code}"))
def call_fails(cm: CmState, code: str) -> None:
    observed = cm.last_error.code().name if cm.last_error else "OK"
    expect(observed == code, code, observed, "gRPC status of the last call")
    expect(bool(cm.last_error.details()), "a message naming the problem", "empty details")


def _devices(cm: CmState, tenant: str, gw: str) -> dict[int, Any]:
    client = logged_in_client(cm, tenant)
    reply = cm.drv.run(client.call("GetDeviceList", gatewayID=cm.drv.gateway(gw)))
    return {d.deviceID: d for d in reply.deviceInfos}


@then(parsers.parse('"{tenant}" sees device {device_id:d} on "{gw}" with status "{status}"'))
def device_status(cm: CmState, tenant: str, device_id: int, gw: str, status: str) -> None:
    devices = _devices(cm, tenant, gw)
    real = _dev(cm, device_id)
    observed = pb.Status.Name(devices[real].status) if real in devices else "absent"
    expect(observed == status, status, observed, f"status of device {device_id}")


@then(parsers.parse('"{tenant}" does not see device {device_id:d} on "{gw}"'))
def device_absent(cm: CmState, tenant: str, device_id: int, gw: str) -> None:
    devices = _devices(cm, tenant, gw)
    expect(_dev(cm, device_id) not in devices, "absent", sorted(devices))


@then(parsers.parse('device {device_id:d} shows autoReconnect {flag} on "{gw}" for "{tenant}"'))
def auto_reconnect(cm: CmState, device_id: int, flag: str, gw: str, tenant: str) -> None:
    d = _devices(cm, tenant, gw)[_dev(cm, device_id)]
    expect(d.autoReconnect == (flag == "true"), flag, str(d.autoReconnect).lower())


@then(
    parsers.parse(
        'the pending list of "{gw}" for "{tenant}" holds device {device_id:d} with its last try'
    )
)
def pending_holds(cm: CmState, gw: str, tenant: str, device_id: int) -> None:
    client = logged_in_client(cm, tenant)
    reply = cm.drv.run(client.call("GetPendingList", gatewayID=cm.drv.gateway(gw)))
    found = {p.deviceID: p for p in reply.deviceInfos}
    real = _dev(cm, device_id)
    expect(real in found, real, sorted(found), "pending list")
    start = cm.drv.unix_start
    if start is None:  # the SUT's calendar is unknown (declared devices, no world control)
        expect(found[real].lastTry > 0, "a last try (Unix time)", found[real].lastTry)
    else:
        expect(found[real].lastTry >= start, f">= {start}", found[real].lastTry)


@then(parsers.parse('the pending list of "{gw}" for "{tenant}" is empty'))
def pending_empty(cm: CmState, gw: str, tenant: str) -> None:
    client = logged_in_client(cm, tenant)
    reply = cm.drv.run(client.call("GetPendingList", gatewayID=cm.drv.gateway(gw)))
    expect(not reply.deviceInfos, [], [p.deviceID for p in reply.deviceInfos])


@then(parsers.parse('the status stream of "{tenant}" shows device {device_id:d} {sequence}'))
def stream_shows(cm: CmState, tenant: str, device_id: int, sequence: str) -> None:
    wanted = [s.strip().strip('"') for s in sequence.split(" then ")]
    real = _dev(cm, device_id)
    seen = [(s, ts) for d, s, ts, _ in cm.streams.get(tenant, []) if d == real]
    it = iter(s for s, _ in seen)
    expect(
        all(any(s == w for s in it) for w in wanted),
        wanted,
        [s for s, _ in seen],
        "status changes in this order",
    )
    stamps = [ts for _, ts in seen]
    expect(stamps == sorted(stamps), "non-decreasing timestamps", stamps)


@then(parsers.parse('the status stream of "{tenant}" shows nothing from device {device_id:d}'))
def stream_nothing(cm: CmState, tenant: str, device_id: int) -> None:
    seen = [s for d, s, _, _ in cm.streams.get(tenant, []) if d == _dev(cm, device_id)]
    expect(not seen, [], seen)


@then(parsers.parse("the search finds devices {ids}"))
def search_finds(cm: CmState, ids: str) -> None:
    found = sorted(d.deviceID for d in cm.last_reply.deviceInfos) if cm.last_reply else []
    expect(found == sorted(_devs(cm, ids)), sorted(_devs(cm, ids)), found)


@then(parsers.parse("the Multi reply names device {device_id:d} with {code}"))
def multi_error(cm: CmState, device_id: int, code: str) -> None:
    errors = {e.deviceID: e for e in cm.last_reply.deviceErrors}
    want = getattr(grpc.StatusCode, code).value[0]
    real = _dev(cm, device_id)
    observed = errors[real].code if real in errors else None
    expect(observed == want, want, observed, f"per-device error of {device_id}")


@then(parsers.parse('"{tenant}" reads {rpc} of "{gw}" with device {device_id:d} slaves {slaves}'))
def slaves_read(cm: CmState, tenant: str, rpc: str, gw: str, device_id: int, slaves: str) -> None:
    client = logged_in_client(cm, tenant)
    reply = cm.drv.run(client.call(rpc, gatewayID=cm.drv.gateway(gw)))
    got = {s.deviceID: list(s.rs485SlaveDeviceIDs) for s in reply.slaveDeviceInfos}
    expect(got.get(device_id) == _ids(slaves), _ids(slaves), got.get(device_id))


@then(parsers.parse('"{tenant}" reads {rpc} of "{gw}" with no slaves'))
def slaves_none(cm: CmState, tenant: str, rpc: str, gw: str) -> None:
    client = logged_in_client(cm, tenant)
    reply = cm.drv.run(client.call(rpc, gatewayID=cm.drv.gateway(gw)))
    expect(not reply.slaveDeviceInfos, [], [s.deviceID for s in reply.slaveDeviceInfos])


@then(parsers.parse("terminal {device_id:d} never held two connections at once"))
def no_duplicates(cm: CmState, device_id: int) -> None:
    most = cm.drv.max_sessions(device_id)
    expect(most <= 1, "at most 1", most, "concurrent connections")


@when(parsers.parse('"{tenant}" disconnects all devices of "{gw}"'))
def disconnect_all(cm: CmState, tenant: str, gw: str) -> None:
    _call(cm, tenant, "DisconnectAll", gatewayID=cm.drv.gateway(gw))


@when(parsers.parse('"{tenant}" calls SetConnectionModeMulti for devices {ids} with {mode}'))
def set_mode_multi(cm: CmState, tenant: str, ids: str, mode: str) -> None:
    _call(
        cm,
        tenant,
        "SetConnectionModeMulti",
        deviceIDs=_devs(cm, ids),
        connectionMode=pb.ConnectionMode.Value(mode),
    )


@then(parsers.parse("the Multi reply names no error for device {device_id:d}"))
def multi_no_error(cm: CmState, device_id: int) -> None:
    errors = {e.deviceID: e.msg for e in cm.last_reply.deviceErrors}
    real = _dev(cm, device_id)
    expect(real not in errors, "no error", errors.get(real))


@then(parsers.parse('device {device_id:d} shows connection mode {mode} on "{gw}" for "{tenant}"'))
def shows_mode(cm: CmState, device_id: int, mode: str, gw: str, tenant: str) -> None:
    d = _devices(cm, tenant, gw).get(_dev(cm, device_id))
    observed = pb.ConnectionMode.Name(d.connectionMode) if d else "absent"
    expect(d is not None and d.connectionMode == pb.ConnectionMode.Value(mode), mode, observed)


@when(parsers.parse("terminal {device_id:d} is unplugged"))
def unplug(cm: CmState, device_id: int) -> None:
    cm.marks[f"unplug:{device_id}"] = cm.drv.world.now
    cm.drv.plug(device_id, False)


@when(parsers.parse("terminal {device_id:d} is plugged in again"))
def replug(cm: CmState, device_id: int) -> None:
    cm.drv.plug(device_id, True)


@then(
    parsers.parse(
        '"{tenant}" learns from the status stream that device {device_id:d} was '
        "found dead within {limit:d} seconds of the unplugging"
    )
)
def dead_link_found(cm: CmState, tenant: str, device_id: int, limit: int) -> None:
    since = cm.marks[f"unplug:{device_id}"]
    found = [
        t - since
        for d, s, _ts, t in cm.streams.get(tenant, [])
        if d == device_id and s == "DISCONNECTED" and t >= since
    ]
    expect(bool(found), f"DISCONNECTED within {limit} s", "no DISCONNECTED change")
    cm.record["measurements"]["dead_link_detect_s"] = [round(found[0], 6)]
    expect(found[0] <= limit, f"<= {limit} s", f"{found[0]:.1f} s")


@when(parsers.parse('"{tenant}" calls GetDeviceList on "{gw}" without a token'))
def no_token(cm: CmState, tenant: str, gw: str) -> None:
    client = cm.drv.client(tenant)  # never logged in: no 'token' metadata
    cm.last_error = None
    try:
        cm.last_reply = cm.drv.run(client.call("GetDeviceList", gatewayID=cm.drv.gateway(gw)))
    except grpc.RpcError as exc:
        cm.last_error = exc


def _login_call(cm: CmState, attempt: Any) -> Any:
    cm.last_error = None
    try:
        cm.last_reply = cm.drv.run(attempt)
    except grpc.RpcError as exc:
        cm.last_error, cm.last_reply = exc, None
    return cm.last_reply


@when(parsers.parse('"admin" logs in as administrator for "{tenant}"'))
def login_admin(cm: CmState, tenant: str) -> None:
    client = cm.drv.client("admin")
    reply = _login_call(
        cm,
        client.login_stub.LoginAdmin(
            login_pb2.LoginAdminRequest(
                adminTenantCert=client.credential.cert_pem.decode(), tenantID=cm.drv.tenant(tenant)
            )
        ),
    )
    if reply is not None:
        client.token = reply.jwtToken
        cm.clients["admin"] = client


@when(parsers.parse('"{tenant}" calls LoginAdmin with its own certificate'))
def login_admin_as_tenant(cm: CmState, tenant: str) -> None:
    client = logged_in_client(cm, tenant)
    _login_call(
        cm,
        client.login_stub.LoginAdmin(
            login_pb2.LoginAdminRequest(
                adminTenantCert=client.credential.cert_pem.decode(), tenantID=cm.drv.tenant(tenant)
            )
        ),
    )


@when(parsers.parse('"{tenant}" logs out'))
def logout(cm: CmState, tenant: str) -> None:
    client = logged_in_client(cm, tenant)
    _login_call(cm, client.login_stub.Logout(login_pb2.LogoutRequest(), metadata=client.metadata()))


@when(parsers.parse('"{tenant}" reads the device list of "{gw}"'))
def read_list(cm: CmState, tenant: str, gw: str) -> None:
    _call(cm, tenant, "GetDeviceList", gatewayID=cm.drv.gateway(gw))


@when(parsers.parse('"{tenant}" subscribes to the status stream with queueSize {size:d}'))
def subscribe_sized(cm: CmState, tenant: str, size: int) -> None:
    call = logged_in_client(cm, tenant).subscribe(size)

    async def first() -> None:
        async for _change in call:
            return

    cm.last_error = None
    try:
        cm.drv.run(asyncio.wait_for(first(), 5.0))
    except grpc.RpcError as exc:
        cm.last_error = exc
    except TimeoutError:
        pass
