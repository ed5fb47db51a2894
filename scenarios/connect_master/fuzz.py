"""Fuzz campaigns against the Connect Master's served gRPC interfaces (see
:mod:`scenarios.fuzzing` for the contract and the tally).

* ``grpc``: every rpc of ``ConnectMaster`` and ``Login``, as tenant B (an attacker with a login
  of its own) or with no token at all: real protobuf messages with random field values
  (:mod:`scenarios.connect_master.fuzz_values`), and raw bytes that are mostly no message.
* ``tokens``: every ``ConnectMaster`` rpc and ``Logout`` with a bad token
  (:mod:`scenarios.connect_master.fuzz_tokens`): each must be refused with UNAUTHENTICATED or
  PERMISSION_DENIED; anything else is an auth bypass (or unhandled, for UNKNOWN/INTERNAL).

Each campaign serves a real-time :class:`LocalCmBed`'s master on loopback with mutual TLS
(:mod:`scenarios.connect_master.loopback`), sets up tenant A's bench (an async device stored in
the DB, connected; an accept filter and slaves in the DB; tenant B likewise), throws the inputs
at it a few at a time, and afterwards checks: tenant A's stored settings and device list are
unchanged and A's devices never changed status, A still logs in and reads them, and no
traceback was logged. The ``tokens`` campaign checks tenant B's stored settings too.

Answer classes: the gRPC status name (``OK``, ``INVALID_ARGUMENT``...); UNKNOWN, INTERNAL,
RESOURCE_EXHAUSTED and DATA_LOSS are ``unhandled``; a call past its deadline is a ``hang``;
the server no longer answering is a ``crash``; and an answer the caller must not get (a call
without a token that was not refused, tenant B's call on A's gateway that was not answered like
an unknown gateway, a login for another identity) is an ``auth-bypass``. Input ``i`` of a
campaign comes from ``random.Random(f"{seed}/{interface}/{i}")``, so it can be replayed.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import jwt
from google.protobuf.descriptor import MethodDescriptor

from devices.gateways.connect_master.grpc_wire import MASTER_SERVICES
from devices.gateways.connect_master.master import ADMIN
from devices.gateways.connect_master.protos import connect_pb2 as pb
from devices.gateways.connect_master.protos import login_pb2
from devices.gateways.connect_master.rpc import message_class
from scenarios.connect_master.bed import LocalCmBed
from scenarios.connect_master.client import MasterClient
from scenarios.connect_master.fuzz_tokens import MAKERS, Genuine
from scenarios.connect_master.fuzz_values import MessageFuzzer, raw_payload
from scenarios.connect_master.loopback import LoopbackMaster, serve_loopback
from scenarios.fuzzing import FuzzTally
from sim.clock import REAL

SYSTEM = "connect-master"
INTERFACES = ("grpc", "tokens")
SCALE = 10.0  # world seconds per wall second: a 60 s SearchDevice takes 6 s
CALL_TIMEOUT_S = 15.0
CONCURRENCY = 16
STREAM_SETTLE_S = 0.3
PROBE_EVERY = 500
MAX_MESSAGE_BYTES = 4 * 1024 * 1024  # grpc's default limit on a received message
UNHANDLED = {
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.DATA_LOSS,
}
REFUSED = {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED}
METHODS: list[MethodDescriptor] = [m for s in MASTER_SERVICES for m in s.methods]
A_GATEWAY, B_GATEWAY = "gw-a", "gw-b"
A_DEVICES = {1001: 11, 1002: 12}  # device ID -> host on gw-a
B_DEVICES = {2001: 21}
Progress = Callable[[int, int], None]


def path_of(method: MethodDescriptor) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


@dataclass
class Outcome:
    code: grpc.StatusCode
    reply: bytes = b""


@dataclass
class Bench:
    """The served master, its clients, and what tenant A (and B) must keep."""

    lm: LoopbackMaster
    a: MasterClient
    b: MasterClient
    channels: dict[str, grpc.aio.Channel]
    before: dict[str, Any] = field(default_factory=dict)
    a_changes: list[Any] = field(default_factory=list)

    async def call(
        self, identity: str, method: MethodDescriptor, payload: bytes, token: str | None
    ) -> Outcome:
        """One call by method path with raw bytes; its status and answer."""
        channel = self.channels[identity]
        metadata = (("token", token),) if token is not None else ()
        try:
            if method.server_streaming:
                return await self._stream(channel, method, payload, metadata)
            answer = await channel.unary_unary(path_of(method))(
                payload, metadata=metadata, timeout=CALL_TIMEOUT_S
            )
            return Outcome(grpc.StatusCode.OK, bytes(answer))
        except grpc.RpcError as exc:
            return Outcome(exc.code())

    async def _stream(
        self, channel: grpc.aio.Channel, method: MethodDescriptor, payload: bytes, metadata: Any
    ) -> Outcome:
        """A streaming call's outcome: its status if it ends at once, OK if it stays open."""
        call = channel.unary_stream(path_of(method))(
            payload, metadata=metadata, timeout=CALL_TIMEOUT_S
        )
        try:
            await call.initial_metadata()
            code = await asyncio.wait_for(call.code(), STREAM_SETTLE_S)
        except TimeoutError:
            call.cancel()
            return Outcome(grpc.StatusCode.OK)
        return Outcome(code)


async def _wait_connected(client: MasterClient, gateway: str, ids: set[int]) -> bool:
    for _ in range(300):
        listing = (await client.call("GetDeviceList", gatewayID=gateway)).deviceInfos
        if {d.deviceID for d in listing if d.status == pb.TCP_CONNECTED} >= ids:
            return True
        await asyncio.sleep(0.1)
    return False


async def _stored(client: MasterClient, gateway: str) -> dict[str, Any]:
    """A tenant's stored settings and its device list (configuration, not status)."""
    state: dict[str, Any] = {}
    for rpc in ("GetAsyncConnectionDB", "GetAcceptFilterDB", "GetSlaveDeviceDB", "GetAcceptFilter"):
        state[rpc] = (await client.call(rpc, gatewayID=gateway)).SerializeToString()
    listing = (await client.call("GetDeviceList", gatewayID=gateway)).deviceInfos
    state["GetDeviceList"] = sorted(
        (d.deviceID, d.IPAddr, d.port, d.autoReconnect, d.useSSL, d.connectionMode) for d in listing
    )
    return state


async def _tenant_bench(
    client: MasterClient, gateway: str, devices: dict[int, int], subnet: str
) -> None:
    first = min(devices)
    infos = [pb.AsyncConnectInfo(deviceID=first, IPAddr=f"{subnet}.{devices[first]}", port=51211)]
    await client.call("AddAsyncConnectionDB", gatewayID=gateway, connectInfos=infos)
    await client.call(
        "SetAcceptFilterDB",
        gatewayID=gateway,
        filter=pb.AcceptFilter(deviceIDs=sorted(devices)[1:] + [first + 500]),
    )
    slaves = [pb.SlaveDeviceInfo(deviceID=first, rs485SlaveDeviceIDs=[first + 4000])]
    await client.call("AddSlaveDeviceDB", gatewayID=gateway, slaveDeviceInfos=slaves)


async def _bench(bed: LocalCmBed) -> Bench:
    await bed.start()
    for device_id, host in {**A_DEVICES, **B_DEVICES}.items():
        gateway = A_GATEWAY if device_id in A_DEVICES else B_GATEWAY
        await bed.place(
            {
                "deviceID": device_id,
                "gateway": gateway,
                "host": host,
                "rs485Slaves": [device_id + 4000],
            }
        )
    lm = await serve_loopback(bed)
    a, b = lm.client("tenant-a"), lm.client("tenant-b")
    await a.login()
    await b.login()
    await _tenant_bench(a, A_GATEWAY, A_DEVICES, "10.0.0")
    await _tenant_bench(b, B_GATEWAY, B_DEVICES, "10.0.1")
    if not (
        await _wait_connected(a, A_GATEWAY, {min(A_DEVICES)})
        and await _wait_connected(b, B_GATEWAY, {min(B_DEVICES)})
    ):
        raise RuntimeError("the fuzz bench's async devices did not connect")
    channels = {i: lm.channel(i) for i in ("tenant-a", "tenant-b", ADMIN)}
    bench = Bench(lm, a, b, channels)
    bench.before = {"a": await _stored(a, A_GATEWAY), "b": await _stored(b, B_GATEWAY)}
    return bench


async def _watch_a(bench: Bench) -> None:
    """Every status change of tenant A's devices during the campaign (there must be none)."""
    async for change in bench.a.subscribe():
        if change.deviceID in A_DEVICES:
            bench.a_changes.append(change)


async def _after(bench: Bench, tally: FuzzTally, check_b: bool) -> None:
    fresh = bench.lm.client("tenant-a")
    try:
        await fresh.login()
        ok = await _wait_connected(fresh, A_GATEWAY, {min(A_DEVICES)})
        tally.check("tenant A logs in and reads its connected device", ok)
        tally.check(
            "tenant A's stored settings and devices unchanged",
            await _stored(fresh, A_GATEWAY) == bench.before["a"],
        )
    except grpc.RpcError as exc:
        tally.check(f"tenant A's good request answered ({exc.code().name})", False)
    tally.check("tenant A's devices never changed status", not bench.a_changes)
    for change in bench.a_changes[:5]:
        seen = f"device {change.deviceID} -> {pb.Status.Name(change.status)}"
        tally.examples.append({"class": "status-change", "input": seen})
    if check_b:
        try:
            same = await _stored(bench.b, B_GATEWAY) == bench.before["b"]
        except grpc.RpcError:
            same = False
        tally.check("tenant B's stored settings and devices unchanged", same)


# -- the grpc interface ------------------------------------------------------------------------
@dataclass
class GrpcInput:
    index: int
    method: MethodDescriptor
    payload: bytes
    request: Any  # the message the payload parses as, None if it does not
    token: bool  # sent with tenant B's token (else with none)
    raw: bool

    def __repr__(self) -> str:
        what = "raw" if self.raw else "message"
        sent = repr(self.payload[:200]) + ("..." if len(self.payload) > 200 else "")
        return f"#{self.index} {path_of(self.method)} {what} token={self.token} {sent}"


def _grpc_input(seed: int, index: int, texts: list[str]) -> GrpcInput:
    rng = random.Random(f"{seed}/grpc/{index}")
    method = rng.choice(METHODS)
    fuzzer = MessageFuzzer(rng, texts)
    valid = fuzzer.message(method.input_type).SerializeToString()
    raw = rng.random() < 0.25
    payload = raw_payload(rng, valid) if raw else valid
    try:
        request = message_class(method.input_type).FromString(payload)
    except Exception:  # the point of a raw input
        request = None
    token = method.name != "Logout" and rng.random() < 0.85
    return GrpcInput(index, method, payload, request, token, raw)


def _grpc_judge(item: GrpcInput, outcome: Outcome) -> str:
    code = outcome.code
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED and len(item.payload) > MAX_MESSAGE_BYTES:
        return code.name  # grpc's own limit on a received message
    if code in UNHANDLED:
        return "unhandled"
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return "hang"
    service, name, request = item.method.containing_service.name, item.method.name, item.request
    if service == "ConnectMaster":
        if not item.token and code not in (
            grpc.StatusCode.UNAUTHENTICATED,
            grpc.StatusCode.INVALID_ARGUMENT,
        ):
            return "auth-bypass"
        on_a = item.token and getattr(request, "gatewayID", "") == A_GATEWAY
        if on_a and code not in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
            return "auth-bypass"
    elif code == grpc.StatusCode.OK and name in ("Login", "LoginAdmin"):
        if name == "LoginAdmin" or _issued_to(outcome.reply) != ("tenant-b", "tenant-b"):
            return "auth-bypass"  # tenant B is no administrator, and logs in as itself only
    return code.name


def _issued_to(reply: bytes) -> tuple[str, str]:
    """(tenant, certificate) a Login answer's token was issued for (its claims, unverified)."""
    token = login_pb2.LoginResponse.FromString(reply).jwtToken
    claims = jwt.decode(token, options={"verify_signature": False})
    return str(claims.get("tenant")), str(claims.get("cert"))


async def _grpc_one(bench: Bench, item: GrpcInput) -> str:
    token = bench.b.token if item.token else None
    outcome = await bench.call("tenant-b", item.method, item.payload, token)
    return _grpc_judge(item, outcome)


# -- the tokens interface ----------------------------------------------------------------------
TOKEN_METHODS = [m for m in METHODS if m.containing_service.name == "ConnectMaster"] + [
    MASTER_SERVICES[1].methods_by_name["Logout"]
]


@dataclass
class TokenInput:
    index: int
    method: MethodDescriptor
    kind: str
    token: str
    identity: str

    def __repr__(self) -> str:
        shown = self.token if len(self.token) <= 120 else self.token[:120] + "..."
        return f"#{self.index} {path_of(self.method)} {self.kind} over {self.identity}: {shown}"


def _good_request(method: MethodDescriptor) -> bytes:
    """What tenant A could rightly send: its gateway, its device, otherwise empty."""
    request = message_class(method.input_type)()
    fields = method.input_type.fields_by_name
    if "gatewayID" in fields:
        request.gatewayID = A_GATEWAY
    if "deviceID" in fields:
        request.deviceID = min(A_DEVICES)
    if "deviceIDs" in fields:
        request.deviceIDs.append(max(A_DEVICES))
    return bytes(request.SerializeToString())


def _token_input(seed: int, index: int, genuine: Genuine) -> TokenInput:
    rng = random.Random(f"{seed}/tokens/{index}")
    method = rng.choice(TOKEN_METHODS)
    kind = rng.choice(sorted(MAKERS))
    token, identity = MAKERS[kind](rng, genuine)
    return TokenInput(index, method, kind, token, identity)


async def _token_one(bench: Bench, item: TokenInput) -> str:
    outcome = await bench.call(item.identity, item.method, _good_request(item.method), item.token)
    if outcome.code in REFUSED:
        return outcome.code.name
    if outcome.code in UNHANDLED:
        return "unhandled"
    if outcome.code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return "hang"
    return "auth-bypass"


async def _genuine(bed: LocalCmBed, bench: Bench) -> Genuine:
    admin = bench.lm.client(ADMIN)
    reply = await admin.login_stub.LoginAdmin(
        login_pb2.LoginAdminRequest(
            adminTenantCert=admin.credential.cert_pem.decode(), tenantID="tenant-a"
        )
    )
    leaving = bench.lm.client("tenant-a")
    await leaving.login()
    await leaving.login_stub.Logout(login_pb2.LogoutRequest(), metadata=leaving.metadata())
    master = bed.cm_world.master
    return Genuine(
        victim=bench.a.token,
        other=bench.b.token,
        admin=reply.jwtToken,
        logged_out=leaving.token,
        seed_key=random.Random(f"{bed.world.seed}/{master.name}/jwt").randbytes(32),
        authority=master.tokens,
    )


# -- campaigns ---------------------------------------------------------------------------------
class _Tracebacks(logging.Handler):
    """Counts log records that carry a traceback (an unhandled error somewhere)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or "Traceback" in record.getMessage():
            self.seen.append(f"{record.name}: {record.getMessage()[:200]}")


async def _alive(bench: Bench) -> bool:
    try:
        await bench.a.call("GetDeviceList", gatewayID=A_GATEWAY)
    except grpc.RpcError as exc:
        return exc.code() != grpc.StatusCode.UNAVAILABLE
    return True


async def _run(
    bed: LocalCmBed, interface: str, examples: int, seed: int, progress: Progress | None
) -> FuzzTally:
    tally = FuzzTally(SYSTEM, interface)
    bench = await _bench(bed)
    watcher = asyncio.ensure_future(_watch_a(bench))
    tracebacks = _Tracebacks()
    logging.getLogger().addHandler(tracebacks)
    try:
        if interface == "grpc":
            texts = [c.cert_pem.decode() for c in bench.lm.credentials.values()]

            def make(i: int) -> Any:
                return _grpc_input(seed, i, texts)

            async def one(item: Any) -> str:
                return await _grpc_one(bench, item)
        else:
            genuine = await _genuine(bed, bench)

            def make(i: int) -> Any:
                return _token_input(seed, i, genuine)

            async def one(item: Any) -> str:
                return await _token_one(bench, item)

        done = 0
        for start in range(0, examples, CONCURRENCY):
            batch = [make(i) for i in range(start, min(start + CONCURRENCY, examples))]
            classes = await asyncio.gather(*(one(item) for item in batch))
            for item, answer in zip(batch, classes, strict=True):
                tally.record(answer, item)
            done += len(batch)
            if done % PROBE_EVERY < CONCURRENCY and not await _alive(bench):
                tally.record("crash", f"the master stopped answering after input #{done - 1}")
                break
            if progress is not None:
                progress(done, examples)
        await asyncio.sleep(1.0)  # let what the last inputs set off settle
        await _after(bench, tally, check_b=interface == "tokens")
    finally:
        watcher.cancel()
        await bench.lm.close()
        logging.getLogger().removeHandler(tracebacks)
    tally.check("no traceback in the log", not tracebacks.seen)
    for line in tracebacks.seen[:5]:
        tally.examples.append({"class": "traceback", "input": line})
    return tally


def campaign(
    interface: str, examples: int, seed: int, progress: Progress | None = None
) -> FuzzTally:
    """Run ``examples`` inputs at ``interface`` (one of :data:`INTERFACES`); the tally."""
    if interface == "world-control":  # the HTTP world-control API: scenarios.control_fuzz
        from scenarios import control_fuzz

        return control_fuzz.campaign("connect-master", examples, seed, progress)
    if interface not in INTERFACES:
        raise ValueError(
            f"connect-master fuzz interface {interface!r} unknown; accepted: "
            f"{', '.join(INTERFACES)}"
        )
    bed = LocalCmBed(seed=seed, clock=REAL, scale=SCALE, keep_trace=False)
    try:
        return bed.run(_run(bed, interface, examples, seed, progress))
    finally:
        bed.close()
