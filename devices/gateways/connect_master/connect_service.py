"""``gsdk.connect.Connect``: the device gateway's service, a thin layer over
:class:`DeviceGateway` (grpc.aio servicer signatures, see :mod:`rpc`)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from devices.gateways.connect_master.device_gateway import DeviceGateway
from devices.gateways.connect_master.errors import (
    CallError,
    bounded,
    check_ids,
    check_sizes,
    invalid,
)
from devices.gateways.connect_master.protos import connect_pb2 as pb
from devices.gateways.connect_master.protos import connect_pb2_grpc, err_pb2
from devices.gateways.connect_master.tokens import redact

Handler = Callable[..., Awaitable[Any]]


def status_message(exc: CallError) -> str:
    """What a client sees of ``exc``: tokens redacted, length bounded."""
    return bounded(redact(exc.message))


def answers(handler: Handler) -> Handler:
    """Bound the request's list sizes (:func:`errors.check_sizes`), then run the handler; a
    :class:`CallError` becomes the call's gRPC status (the node carries on), its message with
    any token redacted and its length bounded."""

    @functools.wraps(handler)
    async def wrapper(self: Any, request: Any, context: Any) -> Any:
        try:
            check_sizes(request)
            return await handler(self, request, context)
        except CallError as exc:
            await context.abort(exc.code, status_message(exc))

    return wrapper


async def per_device(ids: list[int], action: Callable[[int], Awaitable[None]]) -> list[Any]:
    """Run ``action`` for each device; the Multi calls' per-device errors."""
    errors = []
    for device_id in check_ids(list(ids)):
        try:
            await action(device_id)
        except CallError as exc:
            errors.append(
                err_pb2.ErrorResponse(deviceID=device_id, code=exc.code.value[0], msg=exc.message)
            )
    return errors


async def status_stream(
    gateways: list[DeviceGateway],
    queue_size: int,
    admit: Callable[[DeviceGateway], bool] | None = None,
) -> AsyncIterator[Any]:
    """Every status change of ``gateways`` from now on, in order, with its Unix timestamp."""
    if queue_size < 0:
        raise invalid(f"queueSize {queue_size} not accepted; accepted: 0 (unbounded) or more")
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=queue_size)
    hooks = []
    for gw in gateways:

        def hook(device_id: int, status: int, gw: DeviceGateway = gw) -> None:
            change = pb.StatusChange(deviceID=device_id, status=status, timestamp=gw.unix_now())
            if queue.full():
                queue.get_nowait()  # the oldest change makes room, as a bounded queue does
            queue.put_nowait(change)

        gw.listeners.append(hook)
        hooks.append((gw, hook))
    try:
        while True:
            yield await queue.get()
    finally:
        for gw, hook in hooks:
            if hook in gw.listeners:
                gw.listeners.remove(hook)


class ConnectServicer(connect_pb2_grpc.ConnectServicer):
    def __init__(self, gateway: DeviceGateway) -> None:
        self.gw = gateway

    @answers
    async def Connect(self, request: Any, context: Any) -> Any:
        info = request.connectInfo
        device_id = await self.gw.connect(info.IPAddr, info.port, info.useSSL)
        if self.gw.deviations.active("connect-id-wrong"):
            device_id = 0
        return pb.ConnectResponse(deviceID=device_id)

    @answers
    async def AddAsyncConnection(self, request: Any, context: Any) -> Any:
        self.gw.add_async(list(request.connectInfos))
        return pb.AddAsyncConnectionResponse()

    @answers
    async def DeleteAsyncConnection(self, request: Any, context: Any) -> Any:
        self.gw.delete_async(list(request.deviceIDs))
        return pb.DeleteAsyncConnectionResponse()

    @answers
    async def SetAcceptFilter(self, request: Any, context: Any) -> Any:
        self.gw.set_filter(request.filter)
        return pb.SetAcceptFilterResponse()

    @answers
    async def GetAcceptFilter(self, request: Any, context: Any) -> Any:
        if self.gw.deviations.active("get-filter-empty"):
            return pb.GetAcceptFilterResponse(filter=pb.AcceptFilter())
        return pb.GetAcceptFilterResponse(filter=self.gw.filter.to_pb())

    @answers
    async def GetPendingList(self, request: Any, context: Any) -> Any:
        return pb.GetPendingListResponse(deviceInfos=self.gw.pending_list())

    @answers
    async def GetDeviceList(self, request: Any, context: Any) -> Any:
        return pb.GetDeviceListResponse(deviceInfos=self.gw.device_list())

    @answers
    async def Disconnect(self, request: Any, context: Any) -> Any:
        self.gw.disconnect(list(request.deviceIDs))
        return pb.DisconnectResponse()

    @answers
    async def DisconnectAll(self, request: Any, context: Any) -> Any:
        self.gw.disconnect_all()
        if self.gw.deviations.active("disconnect-all-false-error"):
            raise CallError(grpc.StatusCode.INTERNAL, "DisconnectAll failed")
        return pb.DisconnectAllResponse()

    @answers
    async def SearchDevice(self, request: Any, context: Any) -> Any:
        return pb.SearchDeviceResponse(deviceInfos=await self.gw.search(request.timeout))

    @answers
    async def GetSlaveDevice(self, request: Any, context: Any) -> Any:
        return pb.GetSlaveDeviceResponse(slaveDeviceInfos=await self.gw.slave_list())

    @answers
    async def SetSlaveDevice(self, request: Any, context: Any) -> Any:
        await self.gw.set_slaves(list(request.slaveDeviceInfos))
        return pb.SetSlaveDeviceResponse()

    @answers
    async def SetConnectionMode(self, request: Any, context: Any) -> Any:
        await self.gw.set_connection_mode(request.deviceID, request.connectionMode)
        return pb.SetConnectionModeResponse()

    @answers
    async def SetConnectionModeMulti(self, request: Any, context: Any) -> Any:
        errors = await per_device(
            list(request.deviceIDs),
            lambda d: self.gw.set_connection_mode(d, request.connectionMode),
        )
        return pb.SetConnectionModeMultiResponse(deviceErrors=errors)

    @answers
    async def EnableSSL(self, request: Any, context: Any) -> Any:
        await self.gw.set_ssl(request.deviceID, True)
        return pb.EnableSSLResponse()

    @answers
    async def EnableSSLMulti(self, request: Any, context: Any) -> Any:
        errors = await per_device(list(request.deviceIDs), lambda d: self.gw.set_ssl(d, True))
        return pb.EnableSSLMultiResponse(deviceErrors=errors)

    @answers
    async def DisableSSL(self, request: Any, context: Any) -> Any:
        await self.gw.set_ssl(request.deviceID, False)
        return pb.DisableSSLResponse()

    @answers
    async def DisableSSLMulti(self, request: Any, context: Any) -> Any:
        errors = await per_device(list(request.deviceIDs), lambda d: self.gw.set_ssl(d, False))
        return pb.DisableSSLMultiResponse(deviceErrors=errors)

    async def SubscribeStatus(self, request: Any, context: Any) -> AsyncIterator[Any]:
        try:
            async for change in status_stream([self.gw], request.queueSize):
                yield change
        except CallError as exc:
            await context.abort(exc.code, status_message(exc))
