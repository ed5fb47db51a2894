"""A device on the HTTP Device API, over the project's HTTP client on an in-world link (plain,
or TLS with an optional client certificate), in world time.

It activates (``/provision/activate``: token, password or certificate), writes, records,
reads, and long-polls the aliases it watches; a ``set`` it receives is applied
(:attr:`~.common.SimDevice.applied`) and acknowledged by writing the value back. A 401 on a
data call (expired credentials: ``reprovision``) makes a token device activate again, once; a
403 (locked) stops it. Every call's outcome is noted in :attr:`~.common.SimDevice.log`.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import ssl
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from devices.cloud.device2.device_clients.common import DeviceSpec, Refusal, SimDevice, Values
from devices.cloud.device2.device_forms import FORM_UTF8, encode_form
from devices.protocols import tls
from devices.protocols.http_client import HttpClient, HttpResponse

if TYPE_CHECKING:
    from sim.iplink import IpNetwork
    from sim.world import World

STACK = "/onep:v1/stack"


class HttpDevice(SimDevice):
    """One device talking HTTP to ``host`` (a product's fqdn) in ``net``."""

    protocol = "http"

    def __init__(
        self,
        world: World,
        net: IpNetwork,
        host: str,
        spec: DeviceSpec,
        port: int | None = None,
        tls_context: ssl.SSLContext | None = None,
        server_name: str | None = None,
        identity_header: str = "X-Exosite-Identity",
        publish_as_header: str = "X-Exosite-Publish-As",
    ) -> None:
        super().__init__(world, spec)
        self.net, self.host = net, host
        self.port = port or (443 if tls_context is not None else 80)
        self.identity_header = identity_header
        self.publish_as_header = publish_as_header
        self.transcript: list[dict[str, Any]] = []

        async def connect(h: str, p: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            if tls_context is None:
                return await net.open_connection(h, p, client_host=spec.ip)
            return await tls.open_connection(net, h, p, tls_context, server_name, spec.ip)

        self.http = HttpClient(
            f"http://{host}:{self.port}", connect=connect, recorder=self.transcript.append
        )

    # -- the calls ------------------------------------------------------------------------
    def _auth(self) -> dict[str, str]:
        if self.spec.auth == "password":
            pair = f"{self.identity}:{self.spec.password}".encode()
            return {"Authorization": "basic " + base64.b64encode(pair).decode()}
        if self.token is not None:
            return {"X-Exosite-CIK": self.token}
        return {}  # certificate: the TLS layer carries it

    async def activate(self) -> str:
        """Provision; the identity (made by the service when the spec has none)."""
        form: dict[str, str] = {"id": self.identity or ""}
        if self.spec.auth == "password":
            form["password"] = self.spec.password or ""
        response = await self.http.request(
            "POST",
            "/provision/activate",
            raw=urllib.parse.urlencode(form).encode(),
            headers={"Content-Type": FORM_UTF8},
        )
        if response.status not in (200, 204):
            self.note("refused", call="activate", status=response.status, body=response.text)
            raise Refusal("activate", response.status, response.text.strip())
        self.identity = response.headers.get(self.identity_header.lower(), self.identity)
        if response.status == 200:
            self.token = response.text.strip()
        self.note("provisioned", identity=self.identity, status=response.status)
        assert self.identity is not None
        return self.identity

    async def ensure_activated(self) -> None:
        """Activate unless the device holds its credentials already (a token, a
        certificate); a password device activates once (409 later: it already did)."""
        if self.spec.auth == "certificate" or (self.token is not None and self.identity):
            return
        try:
            await self.activate()
        except Refusal as exc:
            if not (exc.code == 409 and self.spec.auth == "password"):
                raise

    async def _call(self, what: str, method: str, path: str, **kwargs: Any) -> HttpResponse:
        """A data call; a 401 makes a token device activate again (once) and retry."""
        headers = kwargs.pop("headers", {})
        for attempt in (1, 2):
            response = await self.http.request(
                method, path, headers={**headers, **self._auth()}, **kwargs
            )
            if response.status == 401 and attempt == 1 and self.spec.auth == "token":
                self.note("unauthorized", call=what)
                self.token = None
                await self.activate()
                continue
            if response.status in (401, 403):
                self.note("refused", call=what, status=response.status, body=response.text)
                raise Refusal(what, response.status, response.text.strip())
            return response
        raise AssertionError("unreachable")

    async def write(self, values: Mapping[str, Any], publish_as: str | None = None) -> int:
        headers = {"Content-Type": FORM_UTF8}
        if publish_as is not None:
            headers[self.publish_as_header] = publish_as
        body = encode_form(values.items()).encode()
        self.note("sending", values=dict(values))  # the service may store it before we hear
        response = await self._call("write", "POST", f"{STACK}/alias", raw=body, headers=headers)
        self.note("wrote", values=dict(values), status=response.status, publish_as=publish_as)
        return response.status

    async def record(
        self, points: Mapping[str, Sequence[tuple[float, Any]]], publish_as: str | None = None
    ) -> tuple[int, str]:
        """``{alias: [(unix seconds, value), ...]}``: the status and the conflict body."""
        pairs: list[tuple[str, Any]] = []
        for alias, series in points.items():
            pairs.append(("alias", alias))
            pairs += [(_seconds(t), v) for t, v in series]
        headers = {"Content-Type": FORM_UTF8}
        if publish_as is not None:
            headers[self.publish_as_header] = publish_as
        body = encode_form(pairs).encode()
        response = await self._call("record", "POST", f"{STACK}/record", raw=body, headers=headers)
        self.note("recorded", status=response.status, conflicts=response.text)
        return response.status, response.text

    async def read(self, aliases: Iterable[str]) -> dict[str, str]:
        query = "&".join(urllib.parse.quote_plus(a) for a in aliases)
        response = await self._call(
            "read", "GET", f"{STACK}/alias?{query}", headers={"Accept": FORM_UTF8}
        )
        return _form(response)

    async def long_poll(
        self, alias: str, timeout_ms: int = 30_000, since: int | None = None
    ) -> tuple[int, str | None, str | None]:
        """``(status, value, Last-Modified)``: 200 with the set value, or 304."""
        headers = {"Accept": FORM_UTF8, "Request-Timeout": str(timeout_ms)}
        if since is not None:
            headers["If-Modified-Since"] = str(since)
        response = await self._call(
            "long_poll",
            "GET",
            f"{STACK}/alias?{urllib.parse.quote_plus(alias)}",
            headers=headers,
            timeout=timeout_ms / 1000 + 30,
        )
        value = _form(response).get(alias)
        return response.status, value, response.headers.get("last-modified")

    async def timestamp(self) -> int:
        response = await self.http.request("GET", "/timestamp")
        return int(response.text)

    async def download(self, content_id: str | None = None, **params: str) -> HttpResponse:
        query = {"id": content_id, **params} if content_id is not None else params
        suffix = "?" + urllib.parse.urlencode(query) if query else ""
        return await self._call("download", "GET", f"/provision/download{suffix}")

    # -- behaviour ------------------------------------------------------------------------
    async def watch(self, alias: str, timeout_ms: int = 30_000) -> None:
        """Long-poll ``alias`` for ever: apply each ``set`` and acknowledge it.

        ``If-Modified-Since: 0`` asks for any set still waiting (an acknowledged one no longer
        does); a device that does not acknowledge asks for those after the last one seen."""
        since = 0
        while True:
            status, value, modified = await self.long_poll(alias, timeout_ms, since)
            if status == 200 and not self.auto_ack and modified:
                since = int(email.utils.parsedate_to_datetime(modified).timestamp()) + 1
            if status == 200 and value is not None:
                self.applied[alias] = value
                self.note("received", alias=alias, value=value)
                if self.auto_ack:
                    await self.write({alias: value})
                    self.note("acknowledged", alias=alias, value=value)

    async def run(
        self,
        period_s: float = 10.0,
        values: Values | None = None,
        watch: Sequence[str] = (),
        cycles: int | None = None,
        poll_timeout_ms: int = 30_000,
    ) -> None:
        """Activate when needed, then report ``values`` every ``period_s`` while long-polling
        ``watch``; ends after ``cycles`` reports, or when the service refuses the device."""
        values = values or self._default_values()
        watchers: list[asyncio.Task[None]] = []
        try:
            await self.ensure_activated()
            for alias in watch:
                for key, value in (await self.read([alias])).items():
                    self.applied[key] = value
                watchers.append(self.world.spawn(self.watch(alias, poll_timeout_ms)))

            async def report(n: int) -> None:
                await self.write(values(n, self.world.now))

            await self.every(period_s, cycles, report)
        except Refusal as exc:
            self.stopped = exc
            self.note("stopped", call=exc.what, code=exc.code, message=exc.message)
        finally:
            for task in watchers:
                task.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)


def _form(response: HttpResponse) -> dict[str, str]:
    if response.status != 200 or not response.text:
        return {}
    return dict(urllib.parse.parse_qsl(response.text, keep_blank_values=True))


def _seconds(t: float) -> str:
    return str(int(t)) if float(t).is_integer() else repr(float(t))
