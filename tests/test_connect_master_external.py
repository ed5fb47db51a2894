"""The connect-master profile over the real gRPC wire: `hil serve connect-master` in a separate
process (grpc.aio, mutual TLS, Login + `token` metadata), judged as an external SUT with
`hil conformance --clock real -k realwire`, plus direct checks of the wire's security."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest

from devices.gateways.connect_master.grpc_wire import master_stubs, secure_channel
from devices.gateways.connect_master.protos import connect_master_pb2 as mpb
from devices.gateways.connect_master.protos import connect_pb2 as pb
from devices.gateways.connect_master.protos import connect_pb2_grpc, login_pb2
from tests.served import served_connect_master

T = TypeVar("T")
SCALE = 10  # world seconds per wall second in the served process


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    with served_connect_master(tmp_path_factory.mktemp("cm-serve"), 2, SCALE) as info:
        yield info


def _call(coro_factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """One private loop per check: grpc.aio binds to the loop that first uses it."""
    return asyncio.run(coro_factory())


def test_wire_requires_client_certificate_and_token(served: dict) -> None:
    out, port = served["out"], served["port"]
    ca = (out / "ca.crt").read_bytes()
    cert, key = (out / "tenant-a.crt").read_bytes(), (out / "tenant-a.key").read_bytes()

    async def no_client_cert() -> grpc.StatusCode:
        async with secure_channel(f"127.0.0.1:{port}", ca) as channel:
            stub, _ = master_stubs(channel)
            try:
                await stub.GetDeviceList(mpb.GetDeviceListRequest(gatewayID="gw-a"), timeout=5)
            except grpc.RpcError as exc:
                return exc.code()
        return grpc.StatusCode.OK

    async def with_login() -> tuple[grpc.StatusCode, list[int], list[str]]:
        async with secure_channel(f"127.0.0.1:{port}", ca, cert, key) as channel:
            stub, login = master_stubs(channel)
            try:
                await stub.GetDeviceList(mpb.GetDeviceListRequest(gatewayID="gw-a"), timeout=5)
                no_token = grpc.StatusCode.OK
            except grpc.RpcError as exc:
                no_token = exc.code()
            token = (
                await login.Login(login_pb2.LoginRequest(tenantCert=cert.decode()), timeout=5)
            ).jwtToken
            md = (("token", token),)
            await stub.AddAsyncConnection(
                mpb.AddAsyncConnectionRequest(
                    gatewayID="gw-a",
                    connectInfos=[pb.AsyncConnectInfo(deviceID=1, IPAddr="10.0.0.100", port=51211)],
                ),
                metadata=md,
                timeout=5,
            )
            await asyncio.sleep(1.0)  # 10 world seconds
            listing = await stub.GetDeviceList(
                mpb.GetDeviceListRequest(gatewayID="gw-a"), metadata=md, timeout=5
            )
            try:
                await stub.GetDeviceList(
                    mpb.GetDeviceListRequest(gatewayID="gw-b"), metadata=md, timeout=5
                )
                other = "OK"
            except grpc.RpcError as exc:
                other = exc.code().name
            return (
                no_token,
                [d.deviceID for d in listing.deviceInfos],
                [pb.Status.Name(d.status) for d in listing.deviceInfos] + [other],
            )

    assert _call(no_client_cert) == grpc.StatusCode.UNAVAILABLE  # TLS handshake refused
    no_token, ids, statuses = _call(with_login)
    assert no_token == grpc.StatusCode.UNAUTHENTICATED
    assert ids == [1] and statuses == ["TCP_CONNECTED", "NOT_FOUND"]


def test_device_gateway_serves_connect_with_server_tls(served: dict) -> None:
    ca = (served["out"] / "ca.crt").read_bytes()

    async def search() -> list[int]:
        async with secure_channel(f"127.0.0.1:{served['gateway_port']}", ca) as channel:
            stub = connect_pb2_grpc.ConnectStub(channel)
            reply = await stub.SearchDevice(pb.SearchDeviceRequest(timeout=3000), timeout=10)
            return sorted(d.deviceID for d in reply.deviceInfos)

    assert _call(search) == [1, 2]


@pytest.mark.slow
def test_realwire_scenarios_pass_against_the_served_master(served: dict, tmp_path: Path) -> None:
    sut = served["out"] / "sut.yaml"
    reports = tmp_path / "reports"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance.cli",
            "conformance",
            "--profile",
            "connect-master",
            "--sut",
            str(sut),
            "--clock",
            "real",
            "--reports",
            str(reports),
            "-k",
            "realwire",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    run_dirs = list(reports.iterdir())
    assert len(run_dirs) == 1, proc.stdout + proc.stderr
    results = json.loads((run_dirs[0] / "results.json").read_text())
    summary = results["summary"]
    assert results["clock"] == "real"
    assert summary["fail"] == 0 and summary["error"] == 0, proc.stdout[-4000:]
    passed = {r["id"] for r in results["requirements"] if r["verdict"] == "pass"}
    assert {
        "CM-AUTH-001",
        "CM-AUTH-002",
        "CM-FILTER-001",
        "CM-FILTER-002",
        "CM-STATUS-002",
        "CM-STATUS-003",
        "CM-TENANT-001",
        "CM-ERR-001",
        "CM-ERR-002",
        "CM-FILTER-004",
        "CM-SEC-001",
        "CM-SEC-002",
    } <= passed, sorted(passed)
    # The far side's own timeline is the evidence that the calls crossed to the other process.
    far = list(run_dirs[0].glob("evidence/*/sut-world-trace.jsonl"))
    assert far and any("accept-filter" in p.read_text() for p in far)
    assert proc.returncode == 0
