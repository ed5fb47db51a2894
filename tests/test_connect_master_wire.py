"""The generated gsdk messages match the wire facts sheet, and the virtual channel keeps
grpc's status semantics."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from devices.gateways.connect_master.protos import connect_master_pb2 as mpb
from devices.gateways.connect_master.protos import connect_pb2 as pb
from devices.gateways.connect_master.protos import err_pb2
from scenarios.connect_master.bed import LocalCmBed


def _fields(message: type) -> dict[str, int]:
    return {f.name: f.number for f in message.DESCRIPTOR.fields}


def test_shared_types_follow_the_facts_sheet() -> None:
    assert pb.DESCRIPTOR.package == "gsdk.connect"
    assert _fields(pb.DeviceInfo) == {
        "deviceID": 1,
        "connectionMode": 2,
        "IPAddr": 3,
        "port": 4,
        "status": 5,
        "autoReconnect": 6,
        "useSSL": 7,
        "type": 8,
    }
    assert _fields(pb.PendingDeviceInfo) == {"deviceID": 1, "IPAddr": 2, "lastTry": 3, "type": 4}
    assert _fields(pb.StatusChange) == {"deviceID": 1, "status": 2, "timestamp": 3}
    assert pb.Status.Value("TLS_NOT_ALLOWED") == 0x201 and pb.Status.Value("TRY_TO_CONNECT") == 4
    assert pb.ConnectionMode.Value("DEFAULT") == 0
    assert _fields(err_pb2.MultiErrorResponse) == {"deviceErrors": 1}


def test_master_requests_put_gateway_id_first() -> None:
    svc = mpb.DESCRIPTOR.services_by_name["ConnectMaster"]
    assert svc.full_name == "gsdk.connect_master.ConnectMaster"
    assert len(svc.methods) == 27 and svc.methods_by_name["SubscribeStatus"].server_streaming
    streamed = svc.methods_by_name["SubscribeStatus"].output_type.full_name
    assert streamed == "gsdk.connect.StatusChange"
    assert _fields(mpb.ConnectRequest) == {"gatewayID": 1, "connectInfo": 2}
    assert _fields(mpb.DeleteSlaveDeviceDBRequest) == {"gatewayID": 1, "deviceIDs": 2}
    assert _fields(mpb.DisconnectRequest) == {"deviceIDs": 1}
    # byte-level: gatewayID "g" then deviceIDs [7] packed in field 2
    assert (
        mpb.DeleteAsyncConnectionRequest(gatewayID="g", deviceIDs=[7]).SerializeToString()
        == b"\n\x01g\x12\x01\x07"
    )


def test_calls_without_a_token_are_unauthenticated() -> None:
    bed = LocalCmBed()
    try:
        bed.run(bed.start())
        client = bed.client("tenant-a")
        with pytest.raises(grpc.RpcError) as info:
            bed.run(client.call("GetDeviceList", gatewayID="gw-a"))
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        bed.run(client.login())
        reply = bed.run(client.call("GetDeviceList", gatewayID="gw-a"))
        assert list(reply.deviceInfos) == []
    finally:
        bed.close()


def test_same_seed_same_trace() -> None:
    def trace() -> str:
        bed = LocalCmBed(seed=7)
        try:
            bed.run(bed.start())
            for i in range(5):
                spec = {"deviceID": 3000 + i, "gateway": "gw-a", "host": 100 + i, "mode": 1}
                bed.run(bed.place(spec))
            bed.world.run_for(20)
            return "".join(
                line for line in bed.world.trace.dump().splitlines(True) if '"app"' in line
            )
        finally:
            bed.close()

    assert trace() == trace()


def test_a_subscriber_behind_by_more_than_queue_size_loses_the_oldest_changes() -> None:
    bed = LocalCmBed()
    try:
        bed.run(bed.start())
        client = bed.client("tenant-a")
        bed.run(client.login())
        stream = client.subscribe(2).__aiter__()
        first = bed.world.spawn(stream.__anext__())  # live, waiting for the first change
        for i in range(4):
            bed.run(bed.place({"deviceID": 3100 + i, "gateway": "gw-a", "host": 110 + i}))
        bed.run(
            client.call(
                "AddAsyncConnection",
                gatewayID="gw-a",
                connectInfos=[
                    pb.AsyncConnectInfo(deviceID=3100 + i, IPAddr=f"10.0.0.{110 + i}", port=51211)
                    for i in range(4)
                ],
            )
        )
        bed.world.run_for(5)  # 4 changes in one instant, before the reader runs
        got = [bed.run(first).deviceID, bed.run(stream.__anext__()).deviceID]
        log = [d for _t, d, _s in bed.status_log("gw-a")]
        assert len(log) == 4
        assert got == log[2:]  # the two oldest made room for the newest
        with pytest.raises(TimeoutError):
            bed.run(asyncio.wait_for(stream.__anext__(), 10))
    finally:
        bed.close()
