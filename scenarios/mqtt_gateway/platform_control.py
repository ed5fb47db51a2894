"""Reaching a platform's control surface, the same way for both roles: provision gateways, read
what it stored, set shared attributes, send server-side RPCs.

* :class:`LocalControl`: our platform emulator in this process (the platform role's local bed,
  and the harness's own platform in the gateway role);
* :class:`HttpControl`: a platform's control API over HTTP (``hil serve mqtt-platform`` offers
  one: :mod:`devices.cloud.mqtt_platform.control_api`, ``Authorization: Bearer <admin key>``).

Both answer in the control API's JSON shapes (device info, telemetry points ``{ts, key,
value}``), and an RPC's outcome as an :class:`RpcOutcome` rather than an exception, so a step
can compare it with what the seed promises.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from devices.cloud.mqtt_platform import (
    NoActiveConnection,
    PlatformError,
    RpcTimeout,
    UnknownDevice,
)
from devices.protocols.http_client import HttpClient, HttpError
from scenarios.bed import BedError

if TYPE_CHECKING:
    from devices.cloud.mqtt_platform import Platform

OK, TIMEOUT, NO_CONNECTION, REFUSED = "ok", "timeout", "no-active-connection", "refused"


@dataclass(frozen=True)
class RpcOutcome:
    """How a server-side RPC ended: ``ok`` (``data`` is the gateway's reply), ``timeout``,
    ``no-active-connection`` or ``refused`` (``data`` is the platform's message); ``elapsed``
    in world seconds."""

    outcome: str
    data: Any
    elapsed: float


class PlatformControl(Protocol):
    async def add_gateway(self, name: str, tenant: str = "default") -> str: ...

    async def device(self, name: str, tenant: str = "default") -> dict[str, Any] | None: ...

    async def telemetry(
        self, device: str, key: str | None = None, tenant: str = "default"
    ) -> list[dict[str, Any]]: ...

    async def attributes(
        self, device: str, scope: str = "client", tenant: str = "default"
    ) -> dict[str, Any]: ...

    async def set_shared(
        self, device: str, values: dict[str, Any], tenant: str = "default"
    ) -> bool: ...

    async def rpc(
        self,
        device: str,
        method: str,
        params: Any = None,
        timeout: float | None = None,
        tenant: str = "default",
    ) -> RpcOutcome: ...


class LocalControl:
    """Our platform emulator, called directly."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    async def add_gateway(self, name: str, tenant: str = "default") -> str:
        return self.platform.add_gateway(name, tenant)

    async def device(self, name: str, tenant: str = "default") -> dict[str, Any] | None:
        try:
            return self.platform.device(name, tenant).as_json()
        except UnknownDevice:
            return None

    async def telemetry(
        self, device: str, key: str | None = None, tenant: str = "default"
    ) -> list[dict[str, Any]]:
        try:
            points = self.platform.telemetry(device, key, tenant=tenant)
        except UnknownDevice:
            return []
        return [{"ts": p.ts, "key": p.key, "value": p.value} for p in points]

    async def attributes(
        self, device: str, scope: str = "client", tenant: str = "default"
    ) -> dict[str, Any]:
        try:
            return self.platform.attributes(device, scope, tenant)
        except UnknownDevice:
            return {}

    async def set_shared(
        self, device: str, values: dict[str, Any], tenant: str = "default"
    ) -> bool:
        return self.platform.set_shared_attributes(device, values, tenant)

    async def rpc(
        self,
        device: str,
        method: str,
        params: Any = None,
        timeout: float | None = None,
        tenant: str = "default",
    ) -> RpcOutcome:
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            data = await self.platform.rpc(device, method, params, timeout, tenant)
        except RpcTimeout as exc:
            return RpcOutcome(TIMEOUT, exc.message, loop.time() - started)
        except NoActiveConnection as exc:
            return RpcOutcome(NO_CONNECTION, exc.message, loop.time() - started)
        except PlatformError as exc:
            return RpcOutcome(REFUSED, exc.message, loop.time() - started)
        return RpcOutcome(OK, data, loop.time() - started)


class HttpControl:
    """A platform's control API at ``url`` (see the module docstring)."""

    def __init__(self, url: str, admin_key: str, timeout: float = 30.0) -> None:
        self.http = HttpClient(
            url.rstrip("/"),
            headers={"Authorization": f"Bearer {admin_key}"},
            default_timeout=timeout,
        )

    async def _call(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
        timeout: float | None = None,
    ) -> tuple[int, Any]:
        try:
            response = await self.http.request(
                method, path, params=params, json_body=body, timeout=timeout
            )
        except HttpError as exc:
            raise BedError(f"the platform's control API: {exc}") from None
        try:
            data = response.json()
        except ValueError:
            data = response.text
        if response.status == 401:
            raise BedError(f"the platform's control API refused the admin key: {data}")
        return response.status, data

    async def add_gateway(self, name: str, tenant: str = "default") -> str:
        status, data = await self._call(
            "POST", "/api/gateways", body={"name": name, "tenant": tenant}
        )
        if status != 201:
            raise BedError(f"the platform did not create gateway {name!r}: {status} {data}")
        return str(data["token"])

    async def device(self, name: str, tenant: str = "default") -> dict[str, Any] | None:
        status, data = await self._call("GET", f"/api/devices/{_path(name)}", {"tenant": tenant})
        return data if status == 200 else None

    async def telemetry(
        self, device: str, key: str | None = None, tenant: str = "default"
    ) -> list[dict[str, Any]]:
        params = {"tenant": tenant, **({"key": key} if key else {})}
        status, data = await self._call("GET", f"/api/devices/{_path(device)}/telemetry", params)
        return list(data) if status == 200 else []

    async def attributes(
        self, device: str, scope: str = "client", tenant: str = "default"
    ) -> dict[str, Any]:
        params = {"tenant": tenant, "scope": scope}
        status, data = await self._call("GET", f"/api/devices/{_path(device)}/attributes", params)
        return dict(data) if status == 200 else {}

    async def set_shared(
        self, device: str, values: dict[str, Any], tenant: str = "default"
    ) -> bool:
        path = f"/api/devices/{_path(device)}/attributes/shared"
        status, data = await self._call("POST", path, {"tenant": tenant}, values)
        if status != 200:
            raise BedError(f"the platform refused shared attributes for {device!r}: {data}")
        return bool(data.get("pushed"))

    async def rpc(
        self,
        device: str,
        method: str,
        params: Any = None,
        timeout: float | None = None,
        tenant: str = "default",
    ) -> RpcOutcome:
        body: dict[str, Any] = {"method": method, "params": params}
        if timeout is not None:
            body["timeout"] = timeout * 1000
        loop = asyncio.get_running_loop()
        started = loop.time()
        status, data = await self._call(
            "POST",
            f"/api/devices/{_path(device)}/rpc",
            {"tenant": tenant},
            body,
            timeout=(timeout or 10.0) + 30.0,
        )
        elapsed = loop.time() - started
        message = data.get("error") if isinstance(data, dict) else data
        if status == 200:
            return RpcOutcome(OK, data, elapsed)
        if status == 504:
            return RpcOutcome(TIMEOUT, message, elapsed)
        if status == 409:
            return RpcOutcome(NO_CONNECTION, message, elapsed)
        return RpcOutcome(REFUSED, message, elapsed)


def _path(name: str) -> str:
    return quote(name, safe="")
