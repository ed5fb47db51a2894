"""The link between a device gateway and the master gateway, over an in-world stream.

The device gateway dials the master (port 4010) with mutual TLS; its client certificate's CN is
its gateway ID. Frames (``wire``): CALL ``id u32 | name_len u16 | rpc name | request`` from the
master, RESULT ``id u32 | code u8 | details_len u16 | details | response`` back, STATUS a
serialised ``gsdk.connect.StatusChange``. The requests are real ``gsdk.connect`` messages run
through the gateway's own Connect servicer (:func:`rpc.invoke_unary`).
"""

from __future__ import annotations

import asyncio
import ssl
import struct
from typing import Any

import grpc

from devices.gateways.connect_master.connect_service import ConnectServicer
from devices.gateways.connect_master.device_gateway import DeviceGateway
from devices.gateways.connect_master.protos import connect_pb2 as pb
from devices.gateways.connect_master.rpc import VirtualContext, invoke_unary
from devices.protocols import terminal_wire as wire
from devices.protocols.x509 import tls_context

MASTER_PORT = 4010
CALL_HEAD = struct.Struct(">IH")
RESULT_HEAD = struct.Struct(">IBH")
CODES = {c.value[0]: c for c in grpc.StatusCode}
SERVICE = pb.DESCRIPTOR.services_by_name["Connect"]


def encode_call(call_id: int, name: str, payload: bytes) -> bytes:
    raw = name.encode()
    return CALL_HEAD.pack(call_id, len(raw)) + raw + payload


def encode_result(call_id: int, code: grpc.StatusCode, details: str, payload: bytes) -> bytes:
    raw = details.encode()[:65535]
    return RESULT_HEAD.pack(call_id, code.value[0], len(raw)) + raw + payload


def decode_result(body: bytes) -> tuple[int, grpc.StatusCode, str, bytes]:
    if len(body) < RESULT_HEAD.size:
        raise wire.FrameError(f"RESULT body of {len(body)} bytes; at least {RESULT_HEAD.size}")
    call_id, code, n = RESULT_HEAD.unpack_from(body)
    start = RESULT_HEAD.size
    return (
        call_id,
        CODES.get(code, grpc.StatusCode.UNKNOWN),
        body[start : start + n].decode(errors="replace"),
        body[start + n :],
    )


class Uplink:
    """Keeps a device gateway connected to its master; redials every ``retry_s``."""

    def __init__(self, gateway: DeviceGateway, master_ip: str, retry_s: float = 5.0) -> None:
        self.gw = gateway
        self.master_ip = master_ip
        self.retry_s = retry_s
        self.servicer = ConnectServicer(gateway)
        self._ctx = tls_context(gateway.ca_pem, server_side=False, credential=gateway.credential)
        self._task: asyncio.Task[None] | None = None
        self.sessions = 0

    def start(self) -> None:
        if self._task is None:
            self._task = self.gw.world.spawn(self._run(), name=f"{self.gw.name}-uplink")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        world = self.gw.world
        while True:
            try:
                reader, writer = await self.gw.net.open_connection(
                    self.master_ip, MASTER_PORT, client_host=self.gw.ip
                )
                stream = wire.ByteStream(reader, writer)
                await asyncio.wait_for(stream.start_tls(self._ctx, False), 10.0)
            except (OSError, TimeoutError, ssl.SSLError) as exc:
                world.trace.emit(self.gw.name, "app", "master-dial-failed", error=str(exc))
            else:
                await self._session(wire.FramedLink(stream))
            await asyncio.sleep(self.retry_s)

    async def _session(self, link: wire.FramedLink) -> None:
        world = self.gw.world
        self.sessions += 1
        self.gw.reset()  # non-DB settings do not survive a new master session
        world.trace.emit(self.gw.name, "app", "master-connected")

        def forward(device_id: int, status: int) -> None:
            stamp = self.gw.unix_now()
            if self.gw.deviations.active("status-timestamp-millis"):
                stamp *= 1000
            change = pb.StatusChange(deviceID=device_id, status=status, timestamp=stamp)
            try:
                link.send(wire.STATUS, change.SerializeToString())
            except ConnectionError:
                pass

        self.gw.listeners.append(forward)
        tasks: set[asyncio.Task[None]] = set()
        try:
            link.send(wire.HELLO, self.gw.gateway_id.encode())
            while True:
                kind, body = await link.recv()
                if kind == wire.CALL:
                    task = world.spawn(self._call(link, body))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
        except (ConnectionError, wire.FrameError, ssl.SSLError, OSError) as exc:
            world.trace.emit(self.gw.name, "app", "master-lost", error=str(exc))
        finally:
            self.gw.listeners.remove(forward)
            link.close()

    async def _call(self, link: wire.FramedLink, body: bytes) -> None:
        if len(body) < CALL_HEAD.size:  # no call ID to answer to
            self.gw.world.trace.emit(self.gw.name, "app", "master-bad-call", size=len(body))
            return
        call_id, n = CALL_HEAD.unpack_from(body)
        name = body[CALL_HEAD.size : CALL_HEAD.size + n].decode(errors="replace")
        payload = body[CALL_HEAD.size + n :]
        method = SERVICE.methods_by_name.get(name)
        if method is None or method.server_streaming:
            result = (grpc.StatusCode.UNIMPLEMENTED, f"rpc {name!r} is not callable here", b"")
        else:
            result = await invoke_unary(self.servicer, method, payload, VirtualContext())
        try:
            link.send(wire.RESULT, encode_result(call_id, *result))
        except ConnectionError:
            pass


def parse_status(body: bytes) -> Any:
    try:
        return pb.StatusChange.FromString(body)
    except Exception as exc:  # DecodeError
        raise wire.FrameError(f"STATUS body is not a gsdk.connect.StatusChange: {exc}") from None
