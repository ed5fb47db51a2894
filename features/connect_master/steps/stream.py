"""Steps about the status stream (SubscribeStatus): subscribing, and what the stream showed."""

from __future__ import annotations

import asyncio

import grpc
from pytest_bdd import given, parsers, then, when

from conformance.evidence import expect
from devices.gateways.connect_master.protos import connect_pb2 as pb
from features.connect_master.steps.state import CmState, device, logged_in_client


@given(parsers.parse('"{tenant}" subscribes to the status stream'))
@when(parsers.parse('"{tenant}" subscribes to the status stream'))
def subscribe(cm: CmState, tenant: str) -> None:
    seen = cm.streams.setdefault(tenant, [])
    cm.marks[f"subscribed:{tenant}"] = cm.bed.now
    call = logged_in_client(cm, tenant).subscribe()

    async def pump() -> None:
        try:
            async for change in call:
                seen.append(
                    (change.deviceID, pb.Status.Name(change.status), change.timestamp, cm.bed.now)
                )
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                cm.stream_errors.append(exc)

    cm.bed.spawn(pump())
    cm.bed.run(cm.bed.subscribed(call))


@when(parsers.parse('"{tenant}" subscribes to the status stream with queueSize {size:d}'))
def subscribe_sized(cm: CmState, tenant: str, size: int) -> None:
    call = logged_in_client(cm, tenant).subscribe(size)

    async def first() -> None:
        async for _change in call:
            return

    cm.last_error = None
    try:
        cm.bed.run(asyncio.wait_for(first(), 5.0))
    except grpc.RpcError as exc:
        cm.last_error = exc
    except TimeoutError:
        pass


@then(parsers.parse('the status stream of "{tenant}" shows device {device_id:d} {sequence}'))
def stream_shows(cm: CmState, tenant: str, device_id: int, sequence: str) -> None:
    wanted = [s.strip().strip('"') for s in sequence.split(" then ")]
    real = device(cm, device_id)
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
    start = cm.bed.unix_start
    if start is not None:  # Unix seconds of the SUT's clock, between the start and now
        latest = start + cm.bed.now + 60
        expect(
            all(start <= ts <= latest for ts in stamps),
            f"Unix seconds in {start}..{latest:.0f}",
            stamps,
            "status change timestamps",
        )


@then(parsers.parse('the status stream of "{tenant}" shows nothing from device {device_id:d}'))
def stream_nothing(cm: CmState, tenant: str, device_id: int) -> None:
    seen = [s for d, s, _, _ in cm.streams.get(tenant, []) if d == device(cm, device_id)]
    expect(not seen, [], seen)


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
