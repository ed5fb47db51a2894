"""``gsdk.connect_master.ConnectMaster`` and ``gsdk.login.Login``: the master gateway's client
API (grpc.aio servicer signatures; reached in-process through :mod:`rpc` or over grpc.aio).

Every ConnectMaster call needs the ``token`` metadata from Login, sent over the same client
certificate the token was issued over (:mod:`tokens`); a tenant reaches only its own gateways
(another tenant's gateway is answered exactly like an unknown one, so nothing leaks). Calls
naming a gateway are forwarded as the ``gsdk.connect`` rpc of the same name (same field names,
the gateway ID dropped); calls naming devices find their gateways with one device-list fetch
per gateway per call, however many devices they name.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from google.protobuf import json_format

from devices.gateways.connect_master.connect_service import answers, status_message
from devices.gateways.connect_master.device_gateway import Filter
from devices.gateways.connect_master.errors import (
    CallError,
    check_ids,
    invalid,
    not_found,
    quote,
    quote_ids,
)
from devices.gateways.connect_master.master import ADMIN, MasterGateway
from devices.gateways.connect_master.protos import connect_master_pb2 as mpb
from devices.gateways.connect_master.protos import (
    connect_master_pb2_grpc,
    err_pb2,
    login_pb2,
    login_pb2_grpc,
)
from devices.gateways.connect_master.protos import connect_pb2 as pb
from devices.gateways.connect_master.rpc import message_class
from devices.gateways.connect_master.tokens import TokenClaims

MAX_TENANT_CHARS = 128

_FORWARDED = (
    "Connect",
    "AddAsyncConnection",
    "DeleteAsyncConnection",
    "SetAcceptFilter",
    "GetAcceptFilter",
    "GetPendingList",
    "GetDeviceList",
    "DisconnectAll",
    "SearchDevice",
    "GetSlaveDevice",
    "SetSlaveDevice",
)


def _convert(message: Any, target: Any) -> Any:
    data = json_format.MessageToDict(message, preserving_proto_field_name=True)
    data.pop("gatewayID", None)
    return json_format.ParseDict(data, target())


def _metadata(context: Any, key: str) -> str:
    for k, v in context.invocation_metadata() or ():
        if k == key:
            return v if isinstance(v, str) else v.decode(errors="replace")
    return ""


def peer_identity(context: Any) -> str:
    """The CN of the call's TLS client certificate ('' without one), as grpc reports it."""
    names = context.auth_context().get("x509_common_name") or []
    return names[0].decode(errors="replace") if names else ""


def _claims(master: MasterGateway, context: Any) -> TokenClaims:
    """The claims of the call's token, checked against the call's client certificate."""
    token = _metadata(context, "token")
    if not token and master.deviations.active("token-not-required"):
        peer = peer_identity(context)
        return TokenClaims(tenant=peer, cert=peer, jti="", exp=master.unix_now() + 3600)
    if not token:
        raise CallError(
            grpc.StatusCode.UNAUTHENTICATED,
            "no 'token' metadata; call Login first and send its jwtToken",
        )
    claims = master.tokens.verify(token)
    master.tokens.check_holder(claims, peer_identity(context))
    return claims


class ConnectMasterServicer(connect_master_pb2_grpc.ConnectMasterServicer):
    def __init__(self, master: MasterGateway) -> None:
        self.m = master

    # -- access ------------------------------------------------------------------------------
    def _tenant(self, context: Any) -> str:
        return _claims(self.m, context).tenant

    def _gateways(self, tenant: str) -> list[str]:
        if tenant == ADMIN or self.m.deviations.active("tenant-gateways-shared"):
            return sorted(set(self.m.links) | set(self.m.db.gateways_of(ADMIN)))
        return self.m.visible_gateways(tenant)

    def _gateway(self, context: Any, gateway_id: str) -> str:
        tenant = self._tenant(context)
        if not gateway_id:
            raise invalid("gatewayID is empty; give the ID of one of your device gateways")
        yours = self._gateways(tenant)
        if gateway_id not in yours:
            raise not_found(
                f"gatewayID {quote(gateway_id)} is not one of your gateways; accepted: "
                f"{quote_ids(yours)}"
            )
        return gateway_id

    async def _forward(self, name: str, request: Any, context: Any) -> Any:
        gid = self._gateway(context, request.gatewayID)
        cls = pb.DESCRIPTOR.message_types_by_name[f"{name}Request"]
        reply = await self.m.call(gid, name, _convert(request, message_class(cls)))
        if name == "AddAsyncConnection" and self.m.deviations.active("non-db-async-stored"):
            self.m.db.add_async(gid, list(request.connectInfos))
        return _convert(reply, getattr(mpb, f"{name}Response"))

    async def _device_gateways(self, tenant: str) -> dict[int, str]:
        """Device ID -> the tenant's connected gateway that manages it (one fetch per gateway)."""
        index: dict[int, str] = {}
        for gid in self._gateways(tenant):
            if gid in self.m.links:
                listing = await self.m.call(gid, "GetDeviceList", pb.GetDeviceListRequest())
                for info in listing.deviceInfos:
                    index.setdefault(info.deviceID, gid)
        return index

    @staticmethod
    def _unmanaged(device_id: int, field: str) -> CallError:
        return not_found(
            f"{field}: device {device_id} is not managed by any of your gateways; accepted: "
            "the ID of a device in GetDeviceList of one of your gateways"
        )

    async def _per_device(
        self, context: Any, ids: list[int], rpc: str, make: Callable[[int], Any]
    ) -> list[Any]:
        tenant = self._tenant(context)
        ids = check_ids(ids)
        index = await self._device_gateways(tenant)
        errors = []
        for device_id in ids:
            try:
                gid = index.get(device_id)
                if gid is None:
                    raise self._unmanaged(device_id, "deviceIDs")
                await self.m.call(gid, rpc, make(device_id))
            except CallError as exc:
                if gid is None and self.m.deviations.active("multi-errors-missing"):
                    continue
                errors.append(
                    err_pb2.ErrorResponse(
                        deviceID=device_id, code=exc.code.value[0], msg=exc.message
                    )
                )
        return errors

    async def _single(self, context: Any, device_id: int, rpc: str, request: Any) -> None:
        tenant = self._tenant(context)
        if device_id == 0:
            raise invalid("deviceID is 0; accepted: device IDs 1..4294967295")
        gid = (await self._device_gateways(tenant)).get(device_id)
        if gid is None:
            raise self._unmanaged(device_id, "deviceID")
        await self.m.call(gid, rpc, request)

    # -- forwarded ---------------------------------------------------------------------------
    def __getattribute__(self, name: str) -> Any:
        if name in _FORWARDED:

            @answers
            async def forwarded(self: Any, request: Any, context: Any) -> Any:
                return await self._forward(name, request, context)

            return forwarded.__get__(self)
        return super().__getattribute__(name)

    # -- by device ---------------------------------------------------------------------------
    @answers
    async def Disconnect(self, request: Any, context: Any) -> Any:
        tenant = self._tenant(context)
        ids = check_ids(list(request.deviceIDs))
        index = await self._device_gateways(tenant)
        unknown = [d for d in ids if d not in index]
        if unknown:
            raise not_found(
                f"deviceIDs: devices {quote_ids(unknown)} are not managed by any of your "
                "gateways; accepted: IDs of devices in GetDeviceList of your gateways"
            )
        by_gateway: dict[str, list[int]] = {}
        for device_id in ids:
            by_gateway.setdefault(index[device_id], []).append(device_id)
        for gid, ids in by_gateway.items():
            await self.m.call(gid, "Disconnect", pb.DisconnectRequest(deviceIDs=ids))
        return mpb.DisconnectResponse()

    @answers
    async def SetConnectionMode(self, request: Any, context: Any) -> Any:
        await self._single(
            context,
            request.deviceID,
            "SetConnectionMode",
            pb.SetConnectionModeRequest(
                deviceID=request.deviceID, connectionMode=request.connectionMode
            ),
        )
        return mpb.SetConnectionModeResponse()

    @answers
    async def SetConnectionModeMulti(self, request: Any, context: Any) -> Any:
        errors = await self._per_device(
            context,
            list(request.deviceIDs),
            "SetConnectionMode",
            lambda d: pb.SetConnectionModeRequest(
                deviceID=d, connectionMode=request.connectionMode
            ),
        )
        return mpb.SetConnectionModeMultiResponse(deviceErrors=errors)

    @answers
    async def EnableSSL(self, request: Any, context: Any) -> Any:
        await self._single(
            context, request.deviceID, "EnableSSL", pb.EnableSSLRequest(deviceID=request.deviceID)
        )
        return mpb.EnableSSLResponse()

    @answers
    async def EnableSSLMulti(self, request: Any, context: Any) -> Any:
        errors = await self._per_device(
            context, list(request.deviceIDs), "EnableSSL", lambda d: pb.EnableSSLRequest(deviceID=d)
        )
        return mpb.EnableSSLMultiResponse(deviceErrors=errors)

    @answers
    async def DisableSSL(self, request: Any, context: Any) -> Any:
        await self._single(
            context, request.deviceID, "DisableSSL", pb.DisableSSLRequest(deviceID=request.deviceID)
        )
        return mpb.DisableSSLResponse()

    @answers
    async def DisableSSLMulti(self, request: Any, context: Any) -> Any:
        errors = await self._per_device(
            context,
            list(request.deviceIDs),
            "DisableSSL",
            lambda d: pb.DisableSSLRequest(deviceID=d),
        )
        return mpb.DisableSSLMultiResponse(deviceErrors=errors)

    # -- database ----------------------------------------------------------------------------
    async def _apply(self, gid: str, rpc: str, request: Any) -> None:
        """Apply a DB change now when the gateway is connected (it is pushed again later)."""
        if gid in self.m.links:
            await self.m.call(gid, rpc, request)

    @answers
    async def AddAsyncConnectionDB(self, request: Any, context: Any) -> Any:
        gid = self._gateway(context, request.gatewayID)
        infos = list(request.connectInfos)
        if not infos:
            raise invalid("connectInfos is empty; give at least one AsyncConnectInfo")
        await self._apply(
            gid, "AddAsyncConnection", pb.AddAsyncConnectionRequest(connectInfos=infos)
        )
        self.m.db.add_async(gid, infos)
        return mpb.AddAsyncConnectionDBResponse()

    @answers
    async def DeleteAsyncConnectionDB(self, request: Any, context: Any) -> Any:
        gid = self._gateway(context, request.gatewayID)
        ids = check_ids(list(request.deviceIDs))
        stored = {i.deviceID for i in self.m.db.async_list(gid)}
        missing = [i for i in ids if i not in stored]
        if missing:
            raise not_found(
                f"deviceIDs: devices {quote_ids(missing)} are not in the database of gateway "
                f"{gid!r}; accepted: IDs listed by GetAsyncConnectionDB"
            )
        if not self.m.deviations.active("db-delete-keeps-connection"):
            await self._apply(
                gid, "DeleteAsyncConnection", pb.DeleteAsyncConnectionRequest(deviceIDs=ids)
            )
        self.m.db.delete_async(gid, ids)
        return mpb.DeleteAsyncConnectionDBResponse()

    @answers
    async def GetAsyncConnectionDB(self, request: Any, context: Any) -> Any:
        gid = self._gateway(context, request.gatewayID)
        return mpb.GetAsyncConnectionDBResponse(connectInfos=self.m.db.async_list(gid))

    @answers
    async def SetAcceptFilterDB(self, request: Any, context: Any) -> Any:
        gid = self._gateway(context, request.gatewayID)
        Filter.from_pb(request.filter)  # validated before it is stored
        await self._apply(gid, "SetAcceptFilter", pb.SetAcceptFilterRequest(filter=request.filter))
        self.m.db.set_filter(gid, request.filter)
        return mpb.SetAcceptFilterDBResponse()

    @answers
    async def GetAcceptFilterDB(self, request: Any, context: Any) -> Any:
        gid = self._gateway(context, request.gatewayID)
        stored = self.m.db.get_filter(gid)
        if self.m.deviations.active("db-filter-get-empty"):
            stored = None
        return mpb.GetAcceptFilterDBResponse(filter=stored or pb.AcceptFilter())

    @answers
    async def AddSlaveDeviceDB(self, request: Any, context: Any) -> Any:
        gid = self._gateway(context, request.gatewayID)
        infos = list(request.slaveDeviceInfos)
        if not infos:
            raise invalid("slaveDeviceInfos is empty; give at least one SlaveDeviceInfo")
        await self._apply(gid, "SetSlaveDevice", pb.SetSlaveDeviceRequest(slaveDeviceInfos=infos))
        self.m.db.add_slaves(gid, infos)
        return mpb.AddSlaveDeviceDBResponse()

    @answers
    async def DeleteSlaveDeviceDB(self, request: Any, context: Any) -> Any:
        gid = self._gateway(context, request.gatewayID)
        ids = check_ids(list(request.deviceIDs))
        if self.m.deviations.active("db-slave-delete-ignored"):
            return mpb.DeleteSlaveDeviceDBResponse()
        missing = self.m.db.delete_slaves(gid, ids)
        if missing:
            raise not_found(
                f"deviceIDs: devices {quote_ids(missing)} have no slave information in the "
                f"database of gateway {gid!r}; accepted: IDs listed by GetSlaveDeviceDB"
            )
        return mpb.DeleteSlaveDeviceDBResponse()

    @answers
    async def GetSlaveDeviceDB(self, request: Any, context: Any) -> Any:
        gid = self._gateway(context, request.gatewayID)
        if self.m.deviations.active("db-slaves-get-empty"):
            return mpb.GetSlaveDeviceDBResponse()
        return mpb.GetSlaveDeviceDBResponse(slaveDeviceInfos=self.m.db.slave_list(gid))

    # -- status ------------------------------------------------------------------------------
    async def SubscribeStatus(self, request: Any, context: Any) -> AsyncIterator[Any]:
        try:
            tenant = self._tenant(context)
            if request.queueSize < 0:
                raise invalid(
                    f"queueSize {request.queueSize} not accepted; accepted: 0 (unbounded) or more"
                )
        except CallError as exc:
            await context.abort(exc.code, status_message(exc))
            return
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=request.queueSize)

        leak = self.m.deviations.active("tenant-status-leak")

        def hook(gateway_id: str, change: Any) -> None:
            if leak or gateway_id in self._gateways(tenant):
                if queue.full():
                    queue.get_nowait()
                queue.put_nowait(change)

        self.m.hooks.append(hook)
        try:
            # Initial metadata tells a wire client the subscription is live before any change.
            await context.send_initial_metadata(())
            while True:
                yield await queue.get()
        finally:
            self.m.hooks.remove(hook)


class LoginServicer(login_pb2_grpc.LoginServicer):
    """Login with a tenant certificate issued by the shared root, over mutual TLS with that same
    tenant's client certificate (or the administrator's); the token is bound to the client
    certificate of the connection it was issued over."""

    def __init__(self, master: MasterGateway) -> None:
        self.m = master

    def _verified(self, pem: str, context: Any, field: str) -> tuple[str, str]:
        """(CN of ``pem``, CN of the call's client certificate)."""
        if not pem:
            raise invalid(f"{field} is empty; accepted: the tenant certificate in PEM")
        try:
            cn = self.m.ca.verify(pem)
        except ValueError as exc:
            raise CallError(grpc.StatusCode.UNAUTHENTICATED, f"{field}: {exc}") from None
        peer = peer_identity(context)
        if not peer:
            raise CallError(
                grpc.StatusCode.UNAUTHENTICATED,
                "the call carries no client certificate; Login needs mutual TLS",
            )
        if peer not in (cn, ADMIN):
            raise CallError(
                grpc.StatusCode.PERMISSION_DENIED,
                f"{field} names {quote(cn)} but the TLS client certificate is {quote(peer)}",
            )
        return cn, peer

    @answers
    async def Login(self, request: Any, context: Any) -> Any:
        tenant, peer = self._verified(request.tenantCert, context, "tenantCert")
        return login_pb2.LoginResponse(jwtToken=self.m.tokens.issue(tenant, peer))

    @answers
    async def LoginAdmin(self, request: Any, context: Any) -> Any:
        cn, _ = self._verified(request.adminTenantCert, context, "adminTenantCert")
        if cn != ADMIN:
            raise CallError(
                grpc.StatusCode.PERMISSION_DENIED,
                f"adminTenantCert names {quote(cn)}, not the administrator; accepted: the "
                "administrator's certificate over its own connection",
            )
        if len(request.tenantID) > MAX_TENANT_CHARS:
            raise invalid(
                f"tenantID {quote(request.tenantID)} is too long; accepted: at most "
                f"{MAX_TENANT_CHARS} characters, or empty for the administrator itself"
            )
        tenant = request.tenantID or ADMIN
        return login_pb2.LoginAdminResponse(jwtToken=self.m.tokens.issue(tenant, ADMIN))

    @answers
    async def Logout(self, request: Any, context: Any) -> Any:
        if _metadata(context, "token"):
            claims = _claims(self.m, context)
            if not self.m.deviations.active("logout-ignored"):
                self.m.tokens.revoke(claims)
        return login_pb2.LogoutResponse()
