"""The Connect Master against an outside attacker and bad input (issue 13): tokens that cannot be
forged from the printed seed and work only over the client certificate they were issued over,
malformed tokens refused as UNAUTHENTICATED, undecodable requests as INVALID_ARGUMENT, offending
values quoted short, list sizes bounded; in virtual time and over the real gRPC wire."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import grpc
import jwt
import pytest

from devices.gateways.connect_master.errors import MAX_ENTRIES
from devices.gateways.connect_master.grpc_wire import MASTER_SERVICES, secure_channel
from devices.gateways.connect_master.master import ADMIN
from devices.gateways.connect_master.protos import connect_master_pb2 as mpb
from devices.gateways.connect_master.protos import connect_pb2 as pb
from devices.gateways.connect_master.protos import login_pb2
from devices.protocols import terminal_wire
from scenarios.connect_master.bed import LocalCmBed
from scenarios.connect_master.client import MasterClient
from scenarios.connect_master.loopback import LoopbackMaster, serve_loopback
from scenarios.connect_master.serve import write_credentials
from sim.clock import REAL

T = TypeVar("T")
B_DEVICE = pb.AsyncConnectInfo(deviceID=2001, IPAddr="10.0.1.21", port=51211)
UNDECODABLE = (b"\x0a\x7fa", b"\x08" + b"\xff" * 11)  # a length past the end; a 11-byte varint


def _refusal(bed: LocalCmBed, attempt: Coroutine[Any, Any, Any]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        bed.run(attempt)
    return info.value


def _seeded_key(bed: LocalCmBed) -> bytes:
    """The key anyone could derive from the seed printed in every report (the old master's:
    the world's ``master/jwt`` stream, fresh)."""
    return random.Random(f"{bed.world.seed}/master/jwt").randbytes(32)


def _forged(bed: LocalCmBed, tenant: str) -> str:
    now = int(bed.world.epoch.timestamp() + bed.world.now)
    claims = {"tenant": tenant, "cert": "tenant-a", "iat": now, "exp": now + 3600, "jti": "f00d"}
    return jwt.encode(claims, _seeded_key(bed), algorithm="HS256")


@pytest.fixture
def bed() -> Iterator[LocalCmBed]:
    started = LocalCmBed()
    try:
        started.run(started.start())
        yield started
    finally:
        started.close()


def _logged_in(bed: LocalCmBed, tenant: str) -> MasterClient:
    client = bed.client(tenant)
    bed.run(client.login())
    return client


# -- virtual time ------------------------------------------------------------------------------
def test_a_token_forged_with_the_seeded_key_opens_nothing(bed: LocalCmBed) -> None:
    b = _logged_in(bed, "tenant-b")
    bed.run(b.call("AddAsyncConnectionDB", gatewayID="gw-b", connectInfos=[B_DEVICE]))
    attacker = bed.client("tenant-a")
    attacker.token = _forged(bed, "tenant-b")
    read = _refusal(bed, attacker.call("GetAsyncConnectionDB", gatewayID="gw-b"))
    attacker.token = _forged(bed, ADMIN)
    delete = _refusal(
        bed, attacker.call("DeleteAsyncConnectionDB", gatewayID="gw-b", deviceIDs=[2001])
    )
    assert read.code() == delete.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "signature" in read.details()
    stored = bed.run(b.call("GetAsyncConnectionDB", gatewayID="gw-b")).connectInfos
    assert [i.deviceID for i in stored] == [2001]


def test_a_token_works_only_over_the_certificate_it_was_issued_over(bed: LocalCmBed) -> None:
    b = _logged_in(bed, "tenant-b")
    a = bed.client("tenant-a")
    a.token = b.token  # tenant B's genuine token, over tenant A's certificate
    refused = _refusal(bed, a.call("GetDeviceList", gatewayID="gw-b"))
    assert refused.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "'tenant-b'" in refused.details() and "'tenant-a'" in refused.details()
    assert b.token not in refused.details()
    assert bed.run(b.call("GetDeviceList", gatewayID="gw-b")) is not None  # B's own still works


def test_an_administrator_token_works_over_the_administrator_certificate_only(
    bed: LocalCmBed,
) -> None:
    admin = bed.client(ADMIN)
    reply = bed.run(
        admin.login_stub.LoginAdmin(
            login_pb2.LoginAdminRequest(
                adminTenantCert=admin.credential.cert_pem.decode(), tenantID="tenant-a"
            )
        )
    )
    admin.token = reply.jwtToken
    assert bed.run(admin.call("GetDeviceList", gatewayID="gw-a")) is not None
    a = bed.client("tenant-a")
    a.token = reply.jwtToken
    refused = _refusal(bed, a.call("GetDeviceList", gatewayID="gw-a"))
    assert refused.code() == grpc.StatusCode.UNAUTHENTICATED


def test_the_administrator_is_named_administrator(bed: LocalCmBed, tmp_path: Path) -> None:
    """The vendor's quick starts name the administrator tenant ``administrator``: its certificate
    (as ``hil serve connect-master`` writes it) logs in with LoginAdmin; one named ``admin`` is
    an ordinary tenant certificate and is refused."""
    assert ADMIN == "administrator"
    files = write_credentials(bed, tmp_path)
    assert bed.cm_world.ca.verify(files[ADMIN][0].read_bytes()) == "administrator"
    assert files[ADMIN][0].name == "administrator.crt"
    for name, accepted in ((ADMIN, True), ("admin", False)):
        client = bed.client(name)
        request = login_pb2.LoginAdminRequest(
            adminTenantCert=client.credential.cert_pem.decode(), tenantID="tenant-a"
        )
        if accepted:
            assert bed.run(client.login_stub.LoginAdmin(request)).jwtToken
        else:
            refused = _refusal(bed, client.login_stub.LoginAdmin(request))
            assert refused.code() == grpc.StatusCode.PERMISSION_DENIED
            assert "'admin'" in refused.details()


def test_logout_with_another_tenants_token_is_refused_and_that_token_lives_on(
    bed: LocalCmBed,
) -> None:
    b = _logged_in(bed, "tenant-b")
    a = bed.client("tenant-a")
    a.token = b.token
    refused = _refusal(bed, a.login_stub.Logout(login_pb2.LogoutRequest(), metadata=a.metadata()))
    assert refused.code() == grpc.StatusCode.UNAUTHENTICATED
    assert bed.run(b.call("GetDeviceList", gatewayID="gw-b")) is not None


@pytest.mark.parametrize(
    "claims, named",
    [
        ({"exp": "soon"}, "'exp'"),
        ({"exp": [1]}, "'exp'"),
        ({"exp": None}, "'exp'"),
        ({"exp": float("inf")}, "'exp'"),
        ({"tenant": [ADMIN]}, "'tenant'"),
        ({"cert": None}, "'cert'"),
        ({"jti": 7}, "'jti'"),
        ({"exp": 1_000_000}, "expired"),
    ],
)
def test_a_token_with_malformed_claims_is_unauthenticated(
    bed: LocalCmBed, claims: dict[str, Any], named: str
) -> None:
    a = bed.client("tenant-a")
    good = {"tenant": "tenant-a", "cert": "tenant-a", "jti": "x", "exp": 4_000_000_000}
    a.token = bed.cm_world.master.tokens.sign({**good, **claims})  # with the master's own key
    refused = _refusal(bed, a.call("GetDeviceList", gatewayID="gw-a"))
    assert refused.code() == grpc.StatusCode.UNAUTHENTICATED
    assert named in refused.details()


@pytest.mark.parametrize("exp", ["soon", [1]])
def test_a_forged_token_with_a_malformed_exp_is_unauthenticated(bed: LocalCmBed, exp: Any) -> None:
    a = bed.client("tenant-a")
    claims = {"tenant": "tenant-a", "cert": "tenant-a", "jti": "x", "exp": exp}
    a.token = jwt.encode(claims, _seeded_key(bed), algorithm="HS256")
    refused = _refusal(bed, a.call("GetDeviceList", gatewayID="gw-a"))
    assert refused.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize("alg", ["none", "HS512"])
def test_a_token_with_another_algorithm_is_unauthenticated(bed: LocalCmBed, alg: str) -> None:
    a = _logged_in(bed, "tenant-a")
    claims = jwt.decode(a.token, options={"verify_signature": False})
    a.token = jwt.encode(claims, None if alg == "none" else b"k" * 64, algorithm=alg)
    refused = _refusal(bed, a.call("GetDeviceList", gatewayID="gw-a"))
    assert refused.code() == grpc.StatusCode.UNAUTHENTICATED


def test_undecodable_bytes_are_invalid_argument_in_the_virtual_channel(bed: LocalCmBed) -> None:
    a = _logged_in(bed, "tenant-a")
    for method in MASTER_SERVICES[0].methods:
        if method.server_streaming:
            continue
        path = f"/{MASTER_SERVICES[0].full_name}/{method.name}"
        refused = _refusal(bed, a.raw_call(path, UNDECODABLE[0]))
        assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT, path
        assert method.input_type.full_name in refused.details()


def test_an_unknown_long_gateway_id_is_quoted_short(bed: LocalCmBed) -> None:
    a = _logged_in(bed, "tenant-a")
    refused = _refusal(bed, a.call("GetDeviceList", gatewayID="g" * 20_000))
    assert refused.code() == grpc.StatusCode.NOT_FOUND
    assert "gatewayID" in refused.details() and "(20000 characters)" in refused.details()
    assert len(refused.details()) < 300


@pytest.mark.parametrize(
    "rpc, fields",
    [
        ("Disconnect", {}),
        ("DeleteAsyncConnectionDB", {"gatewayID": "gw-a"}),
        ("SetConnectionModeMulti", {}),
    ],
)
def test_a_list_past_the_limit_is_invalid_argument(
    bed: LocalCmBed, rpc: str, fields: dict[str, Any]
) -> None:
    a = _logged_in(bed, "tenant-a")
    ids = list(range(1, 100_001))
    refused = _refusal(bed, a.call(rpc, deviceIDs=ids, **fields))
    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert all(s in refused.details() for s in ("deviceIDs", "100000", str(MAX_ENTRIES)))


def test_a_list_at_the_limit_is_served_with_one_device_list_per_gateway(bed: LocalCmBed) -> None:
    a = _logged_in(bed, "tenant-a")
    asked = []
    master = bed.cm_world.master
    call = master.call

    async def counting(gateway_id: str, rpc: str, request: Any) -> Any:
        asked.append(rpc)
        return await call(gateway_id, rpc, request)

    master.call = counting  # type: ignore[method-assign]
    reply = bed.run(a.call("DisableSSLMulti", deviceIDs=list(range(1, MAX_ENTRIES + 1))))
    assert len(reply.deviceErrors) == MAX_ENTRIES
    assert {e.code for e in reply.deviceErrors} == {grpc.StatusCode.NOT_FOUND.value[0]}
    assert asked == ["GetDeviceList"]


def test_same_seed_same_trace_while_tokens_differ() -> None:
    def run() -> tuple[str, str, bytes]:
        bed = LocalCmBed(seed=7)
        try:
            bed.run(bed.start())
            bed.run(bed.place({"deviceID": 3001, "gateway": "gw-a", "host": 101}))
            a = _logged_in(bed, "tenant-a")
            info = pb.AsyncConnectInfo(deviceID=3001, IPAddr="10.0.0.101", port=51211)
            bed.run(a.call("AddAsyncConnectionDB", gatewayID="gw-a", connectInfos=[info]))
            forged = bed.client("tenant-a")
            forged.token = _forged(bed, ADMIN)
            _refusal(bed, forged.call("GetDeviceList", gatewayID="gw-a"))
            bed.world.run_for(20)
            key = bed.cm_world.master.tokens._key
            return bed.world.trace.dump(), a.token, key
        finally:
            bed.close()

    trace_1, token_1, key_1 = run()
    trace_2, token_2, key_2 = run()
    assert trace_1 == trace_2
    assert token_1 != token_2 and key_1 != key_2
    for secret in (token_1, token_1.rsplit(".", 1)[1], key_1.hex()):
        assert secret not in trace_1


def test_a_terminal_hello_with_bad_fields_is_refused_and_the_gateway_carries_on(
    bed: LocalCmBed,
) -> None:
    net = bed.cm_world.net

    async def hello(fields: dict[str, Any]) -> None:
        reader, writer = await net.open_connection("10.0.0.1", 51212, client_host="10.0.0.66")
        link = terminal_wire.FramedLink(terminal_wire.ByteStream(reader, writer))
        link.send_json(terminal_wire.HELLO, fields)
        await asyncio.sleep(1)
        writer.close()

    for fields in ({"deviceID": 66, "type": "abc"}, {"deviceID": 66, "mode": [1]}):
        bed.run(hello(fields))
    refused = bed.world.trace.select(node="dg-gw-a", event="inbound-failed")
    assert [("type" in r["reason"], "mode" in r["reason"]) for r in refused] == [
        (True, False),
        (False, True),
    ]
    bed.run(bed.place({"deviceID": 3001, "gateway": "gw-a", "host": 101, "mode": 1}))
    a = _logged_in(bed, "tenant-a")
    bed.run(a.call("SetAcceptFilter", gatewayID="gw-a", filter=pb.AcceptFilter(allowAll=True)))
    bed.world.run_for(40)
    listing = bed.run(a.call("GetDeviceList", gatewayID="gw-a")).deviceInfos
    assert [(d.deviceID, d.status) for d in listing] == [(3001, pb.TCP_CONNECTED)]


# -- the real wire -----------------------------------------------------------------------------
class Wire:
    """A real-time bed whose master is served on loopback (grpc.aio, mutual TLS)."""

    def __init__(self) -> None:
        self.bed = LocalCmBed(clock=REAL, scale=10)
        self.bed.run(self.bed.start())
        self.lm: LoopbackMaster = self.bed.run(serve_loopback(self.bed))
        self.a = self.logged_in("tenant-a")
        self.b = self.logged_in("tenant-b")

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.bed.run(coro)

    def logged_in(self, identity: str) -> MasterClient:
        client = self.lm.client(identity)
        self.run(client.login())
        return client

    def refusal(self, attempt: Coroutine[Any, Any, Any]) -> grpc.RpcError:
        return _refusal(self.bed, attempt)

    def close(self) -> None:
        try:
            self.run(self.lm.close())
        finally:
            self.bed.close()


@pytest.fixture(scope="module")
def wire() -> Iterator[Wire]:
    served = Wire()
    try:
        yield served
    finally:
        served.close()


def test_wire_a_token_works_only_over_the_certificate_it_was_issued_over(wire: Wire) -> None:
    a = wire.lm.client("tenant-a")
    a.token = wire.b.token
    refused = wire.refusal(a.call("GetAsyncConnectionDB", gatewayID="gw-b"))
    assert refused.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "'tenant-b'" in refused.details() and wire.b.token not in refused.details()
    a.token = _forged(wire.bed, ADMIN)
    refused = wire.refusal(a.call("GetAsyncConnectionDB", gatewayID="gw-b"))
    assert refused.code() == grpc.StatusCode.UNAUTHENTICATED


def test_wire_undecodable_bytes_are_invalid_argument_on_every_method(wire: Wire) -> None:
    channel = wire.lm.channels[0]  # tenant A's

    async def answer(path: str, streaming: bool, payload: bytes) -> grpc.RpcError:
        metadata = (("token", wire.a.token),)
        try:
            if streaming:
                async for _ in channel.unary_stream(path)(payload, metadata=metadata, timeout=5):
                    pass
            else:
                await channel.unary_unary(path)(payload, metadata=metadata, timeout=5)
        except grpc.RpcError as exc:
            return exc
        raise AssertionError(f"{path} took {payload!r}")

    for service in MASTER_SERVICES:
        for method in service.methods:
            path = f"/{service.full_name}/{method.name}"
            for payload in UNDECODABLE:
                refused = wire.run(answer(path, method.server_streaming, payload))
                assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT, path
                assert method.input_type.full_name in refused.details()


def test_wire_an_unknown_long_gateway_id_is_not_found(wire: Wire) -> None:
    refused = wire.refusal(wire.a.call("GetDeviceList", gatewayID="g" * 20_000))
    assert refused.code() == grpc.StatusCode.NOT_FOUND
    assert "(20000 characters)" in refused.details()


def test_wire_a_huge_list_is_refused_within_the_deadline(wire: Wire) -> None:
    ids = list(range(1, 100_001))
    for rpc in ("SetConnectionModeMulti", "Disconnect", "EnableSSLMulti"):
        request = getattr(mpb, f"{rpc}Request")(deviceIDs=ids)
        call = getattr(wire.a.stub, rpc)(request, metadata=wire.a.metadata(), timeout=15)
        refused = wire.refusal(call)  # DEADLINE_EXCEEDED if the list were worked through
        assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT, rpc
        assert "deviceIDs has 100000 entries" in refused.details()


def test_wire_refuses_a_client_without_the_shared_roots_certificate(wire: Wire) -> None:
    async def without_cert() -> grpc.StatusCode:
        channel = secure_channel(wire.lm.address, wire.bed.cm_world.ca.cert_pem)
        try:
            await channel.unary_unary("/gsdk.login.Login/Logout")(b"", timeout=5)
        except grpc.RpcError as exc:
            return exc.code()
        finally:
            await channel.close()
        return grpc.StatusCode.OK

    assert wire.run(without_cert()) == grpc.StatusCode.UNAVAILABLE
