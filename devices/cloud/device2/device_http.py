"""The HTTP Device API (facts, section 1) as an aiohttp application on the device hosts.

Routes (``/api:v1/...`` is the One Platform-era synonym of each ``/onep:v1/...``):

* ``POST /provision/activate`` — form ``id=<identity>`` or ``vendor=<pid>&model=<pid>&sn=
  <identity>`` (``vendor``/``model``, when given, must name the product; else 404). 200
  ``text/plain`` with the bare token; 204 when the credential is the device's own (password
  auth: form field ``password``; certificate auth: the TLS client certificate); 404 not
  whitelisted, 409 already provisioned, 415 no (form) Content-Type, 403 locked, expired,
  provisioning disabled or an IP outside ``ip_whitelisting``. An empty or absent ``id`` asks
  the server for an identity (``generate_identity``); it is returned in the
  :attr:`~.device_config.DeviceApiConfig.identity_header` header.
* ``POST /onep:v1/stack/alias`` — write a form ``a1=v1&a2=v2`` (one ``data_in``, one server
  time for all): 204; with ``?r1&r2`` the reads after the write: 200 form or 204.
* ``GET /onep:v1/stack/alias?a1&a2`` — read (``set`` for settable resources, else
  ``reported``): 200 form, 204 when nothing has a value. With ``Request-Timeout: <ms>`` (one
  alias; at most :attr:`~.device_config.DeviceApiConfig.max_request_timeout_ms`) a long poll:
  200 with ``Last-Modified`` and ``<alias>=<value>`` as soon as a ``set`` newer than
  ``If-Modified-Since`` (unix seconds or HTTP-date; default: now) waits for the device, else
  304 when the time is up. The device acknowledges by writing the value back.
* ``POST /onep:v1/stack/record`` — ``alias=<a>&<ts>=<v>...`` (unix seconds): 204; points
  closer than :attr:`~.device_config.DeviceApiConfig.record_conflict_us` to one already
  recorded are not stored and the answer is 409 ``<alias>=<ts>,<ts>&...``.
* ``GET /timestamp`` — the world's unix time in seconds, ``text/plain``, no authentication.
* ``GET /openapi.json`` — this API's description (:mod:`.device_openapi`; not a Murano path).
* ``GET /provision/download`` — content ids (``text/csv``, one per line); ``?id=<id>&info=
  true``: ``<type>,<bytes>,<updated unix s>,<description>``; ``?id=<id>``: the content, with
  ``Range: bytes=X-Y`` answered 206 (``Content-Range``), 416 when unsatisfiable.

Authentication (:mod:`.device_credentials`) on everything but activate and timestamp: 401
for a missing or invalid credential. Publishing as another device: the
:attr:`~.device_config.DeviceApiConfig.publish_as_header` header names it (403 without
permission, 400 when given twice). The ``Host`` header (and the TLS server name) select the
product (:mod:`.device_hosts`); an unknown one is answered by closing the connection. Error
bodies are ``text/plain`` messages naming what was wrong. HTTP is connectionless for the
service: no ``connect``/``disconnect`` events; every write's ``data_in`` event carries the
client's IP, ``protocol`` ``http`` and a ``connection_id`` per TCP connection.
"""

from __future__ import annotations

import logging
import random
import ssl
import uuid
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from devices.cloud.device2 import device_forms as forms
from devices.cloud.device2 import device_openapi
from devices.cloud.device2.clock import US_PER_S
from devices.cloud.device2.context import Session
from devices.cloud.device2.device_config import DeviceApiConfig
from devices.cloud.device2.device_credentials import from_http_headers
from devices.cloud.device2.device_hosts import Hosts, Target, bare_host
from devices.cloud.device2.device_tls import DeviceTls, pem_of_der, pki_client_cas
from devices.cloud.device2.errors import (
    AuthenticationFailed,
    Conflict,
    Device2Error,
    InvalidInput,
    NotFound,
    Refused,
)
from devices.cloud.device2.service import Device2Service
from devices.cloud.device2.set_waiters import SetWaiters
from devices.protocols import openapi
from devices.protocols.x509 import pem_common_name

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
STACK_PREFIXES = ("/onep:v1", "/api:v1")
MAX_BODY = 2 * 1024 * 1024
TARGET = web.RequestKey("device2_target", Target)


class _Unknown(Exception):
    """The request names a host no product serves: close without an answer."""


class DeviceHttp:
    """The HTTP Device API over ``service`` (build the application with :meth:`app`)."""

    def __init__(
        self,
        service: Device2Service,
        config: DeviceApiConfig | None = None,
        tls: DeviceTls | None = None,
        waiters: SetWaiters | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.service = service
        self.config = config or DeviceApiConfig()
        self.tls = tls
        self.hosts = Hosts(service, self.config)
        self.waiters = waiters or SetWaiters(service)
        self._rng = rng or service.clock.rng("http-connections")
        self._connections: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()

    def tls_context(self) -> ssl.SSLContext:
        """The server context of the HTTPS device hosts (client certificates optional)."""
        if self.tls is None:
            raise ValueError("HTTPS needs DeviceTls material (DeviceHttp(tls=...))")
        return self.tls.server_context(lambda: pki_client_cas(self.service))

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=MAX_BODY)
        app.router.add_post("/provision/activate", self.activate)
        app.router.add_get("/provision/download", self.download)
        app.router.add_get("/timestamp", self.timestamp)
        for prefix in STACK_PREFIXES:
            app.router.add_post(f"{prefix}/stack/alias", self.write)
            app.router.add_get(f"{prefix}/stack/alias", self.read)
            app.router.add_post(f"{prefix}/stack/record", self.record)
        openapi.publish(app, lambda: device_openapi.describe(self.config))
        app.on_response_prepare.append(self._server_header)
        return app

    # -- every request --------------------------------------------------------------------
    async def _server_header(self, _request: web.Request, response: web.StreamResponse) -> None:
        response.headers["Server"] = self.config.server_header

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            request[TARGET] = self._target(request)
            return await handler(request)
        except _UnsupportedType as exc:
            return _text(415, f"{exc}\n")
        except _Unknown as exc:
            log.info("device HTTP: %s; connection closed", exc)
            if request.transport is not None:
                request.transport.close()
            raise web.HTTPMisdirectedRequest() from None
        except Device2Error as exc:
            return _text(self._status(exc), f"{exc.message}\n")
        except web.HTTPException:
            raise
        except Exception:  # a bug, not bad input: answer 500 and keep serving
            log.exception("device HTTP: %s %s failed", request.method, request.path)
            return _text(500, "internal error (traced on the server)\n")

    def _status(self, exc: Device2Error) -> int:
        if isinstance(exc, AuthenticationFailed):
            return self.config.http_status("bad_credentials")
        if isinstance(exc, Refused):
            return self.config.http_status(exc.reason)
        if isinstance(exc, NotFound):
            return 404
        if isinstance(exc, Conflict):
            return 409
        if isinstance(exc, InvalidInput):
            return 400
        return 500

    def _target(self, request: web.Request) -> Target:
        host = request.headers.get("Host", "")
        target = self.hosts.resolve(host)
        if target is None:
            raise _Unknown(f"Host {host!r} is not a served product's domain")
        server_name = self.tls.names.of(self._ssl_object(request)) if self.tls else None
        if server_name and self.config.check_host and bare_host(server_name) != bare_host(host):
            raise _Unknown(f"TLS server name {server_name!r} is not the Host {host!r}")
        return target

    @staticmethod
    def _ssl_object(request: web.Request) -> Any:
        transport = request.transport
        return transport.get_extra_info("ssl_object") if transport is not None else None

    def _certificate(self, request: web.Request) -> bytes | None:
        ssl_object = self._ssl_object(request)
        der = ssl_object.getpeercert(True) if ssl_object is not None else None
        return pem_of_der(der) if der else None

    @staticmethod
    def _ip(request: web.Request) -> str | None:
        transport = request.transport
        peer = transport.get_extra_info("peername") if transport is not None else None
        return str(peer[0]) if peer else None

    def _session(self, request: web.Request, identity: str) -> Session:
        """The request's connection as the service's events name it (not registered)."""
        transport = request.transport
        connection_id = self._connections.get(transport) if transport is not None else None
        if connection_id is None:
            connection_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
            if transport is not None:
                self._connections[transport] = connection_id
        now = self.service.clock.now_us()
        return Session(connection_id, identity, self._ip(request), "http", now)

    def _authenticate(self, request: web.Request) -> str:
        target: Target = request[TARGET]
        presented = from_http_headers(request.headers, self._certificate(request))
        if target.devmode and presented.kind != "token":
            raise AuthenticationFailed("dev mode accepts token authentication only")
        return presented.authenticate(
            target.gateway, self._ip(request), "http", self.config.http_password_auth
        )

    def _writer(self, request: web.Request) -> tuple[str, Session]:
        """Who the request writes for (publish-as) and the session it comes through."""
        identity = self._authenticate(request)
        session = self._session(request, identity)
        named = request.headers.getall(self.config.publish_as_header, [])
        if len(named) > 1:  # which one is meant is ambiguous: refused, not guessed
            raise InvalidInput(self.config.publish_as_header, "one identity", ", ".join(named))
        publish_as = named[0] if named else None
        if publish_as is not None and publish_as != identity:
            target: Target = request[TARGET]
            target.gateway.check_publish_as(identity, publish_as)
            return publish_as, session
        return identity, session

    @staticmethod
    async def _form_body(request: web.Request, required: bool = False) -> list[tuple[str, str]]:
        """The request's form pairs; _UnsupportedType (415) for a body (or, ``required``, any
        request) without the form Content-Type."""
        body = await request.read()
        if (body or required) and not request.headers.get("Content-Type"):
            raise _UnsupportedType(f"a Content-Type header is required: {forms.FORM}")
        if (body or required) and request.content_type != forms.FORM:
            raise _UnsupportedType(f"Content-Type {request.content_type!r}; accepted {forms.FORM}")
        return forms.parse_form(body)

    # -- provisioning ---------------------------------------------------------------------
    async def activate(self, request: web.Request) -> web.StreamResponse:
        target: Target = request[TARGET]
        gateway = target.gateway
        fields = dict(await self._form_body(request, required=True))
        for name in ("vendor", "model"):
            if name in fields and fields[name] != gateway.product:
                raise NotFound(name, fields[name], name)
        identity = fields.get("id", fields.get("sn")) or None
        certificate = self._certificate(request) if not target.devmode else None
        password = fields.get("password") if self.config.http_password_auth else None
        if identity is None and certificate is not None and "id" not in fields:
            identity = _common_name(certificate)
        result = gateway.provision(
            identity, self._ip(request), "http", password=password, certificate_pem=certificate
        )
        headers = {}
        if identity is None:
            headers[self.config.identity_header] = result.identity
        if result.token is None:
            return web.Response(status=204, headers=headers)
        return web.Response(
            status=200, text=result.token, content_type="text/plain", headers=headers
        )

    # -- data -----------------------------------------------------------------------------
    async def write(self, request: web.Request) -> web.StreamResponse:
        pairs = await self._form_body(request)
        reads = forms.query_aliases(request.query_string)
        identity, session = self._writer(request)
        target: Target = request[TARGET]
        if pairs:
            target.gateway.write(identity, dict(pairs), session=session)
        elif not reads:
            raise InvalidInput("body", "form-encoded writes like a=1&b=2")
        if not reads:
            return web.Response(status=204)
        return self._values(target.gateway.read(identity, reads))

    async def read(self, request: web.Request) -> web.StreamResponse:
        aliases = forms.query_aliases(request.query_string)
        if not aliases:
            raise InvalidInput("query", "the aliases to read, like ?a1&a2")
        identity = self._authenticate(request)
        target: Target = request[TARGET]
        timeout = request.headers.get("Request-Timeout")
        if timeout is None:
            return self._values(target.gateway.read(identity, aliases))
        if len(aliases) != 1:
            raise InvalidInput("query", "exactly one alias to long-poll", "&".join(aliases))
        try:
            timeout_ms = int(timeout.strip())
        except ValueError:
            raise InvalidInput("Request-Timeout", "milliseconds (an integer)", timeout) from None
        if timeout_ms < 0:
            raise InvalidInput("Request-Timeout", "milliseconds (0 or more)", timeout)
        timeout_ms = min(timeout_ms, self.config.max_request_timeout_ms)
        now = self.service.clock.now_us()
        since = forms.since_us(request.headers.get("If-Modified-Since"), now)
        alias = aliases[0]
        found = target.gateway.pending_sets(identity).get(alias)
        if found is None or found[1] <= since:
            found = await self.waiters.wait(
                target.gateway.product, identity, alias, timeout_ms / 1000
            )
        if found is None:
            return web.Response(status=304)
        value, timestamp = found
        return web.Response(
            status=200,
            text=forms.encode_form([(alias, value)]),
            content_type=forms.FORM,
            charset="utf-8",
            headers={"Last-Modified": forms.http_date(timestamp)},
        )

    @staticmethod
    def _values(values: dict[str, Any]) -> web.Response:
        if not values:
            return web.Response(status=204)
        return web.Response(
            status=200,
            text=forms.encode_form(values.items()),
            content_type=forms.FORM,
            charset="utf-8",
        )

    async def record(self, request: web.Request) -> web.StreamResponse:
        pairs = await self._form_body(request, required=True)
        points = forms.parse_record(pairs)
        identity, session = self._writer(request)
        target: Target = request[TARGET]
        kept, conflicts = self._without_conflicts(target, identity, points)
        by_time: dict[int, dict[str, str]] = {}
        for alias, timestamp, value in kept:
            by_time.setdefault(timestamp, {})[alias] = value
        if by_time:
            target.gateway.record(identity, sorted(by_time.items()), session=session)
        if not conflicts:
            return web.Response(status=204)
        body_text = "&".join(
            f"{alias}={','.join(_seconds(t) for t in times)}" for alias, times in conflicts.items()
        )
        return web.Response(status=409, text=body_text, content_type=forms.FORM, charset="utf-8")

    def _without_conflicts(
        self, target: Target, identity: str, points: list[tuple[str, int, str]]
    ) -> tuple[list[tuple[str, int, str]], dict[str, list[int]]]:
        window = self.config.record_conflict_us
        kept: list[tuple[str, int, str]] = []
        conflicts: dict[str, list[int]] = {}
        taken: dict[str, list[int]] = {}
        for alias in dict.fromkeys(a for a, _, _ in points):
            times = [t for a, t, _ in points if a == alias]
            taken[alias] = target.gateway.recorded_times(
                identity, alias, min(times) - window + 1, max(times) + window
            )
        for alias, timestamp, value in points:
            if window and any(abs(timestamp - t) < window for t in taken[alias]):
                conflicts.setdefault(alias, []).append(timestamp)
                continue
            taken[alias].append(timestamp)
            kept.append((alias, timestamp, value))
        return kept, conflicts

    # -- time and content -----------------------------------------------------------------
    async def timestamp(self, _request: web.Request) -> web.StreamResponse:
        seconds = self.service.clock.now_us() // US_PER_S
        if self.service.deviations.active("timestamp-in-ms"):
            seconds = self.service.clock.now_us() // 1000
        return web.Response(text=str(seconds), content_type="text/plain")

    async def download(self, request: web.Request) -> web.StreamResponse:
        self._authenticate(request)
        target: Target = request[TARGET]
        store = target.gateway.contents()
        content_id = request.query.get("id")
        if content_id is None:
            ids = store.ids()
            return web.Response(text="".join(f"{i}\n" for i in ids), content_type="text/csv")
        info = store.info(content_id)
        if request.query.get("info") == "true":
            line = ",".join(
                [
                    info["type"],
                    str(info["length"]),
                    str(info["updated"] // US_PER_S),
                    info["description"],
                ]
            )
            return web.Response(text=line, content_type="text/csv")
        data = store.data(content_id)
        headers = {"Accept-Ranges": "bytes"}
        wanted = request.headers.get("Range")
        if wanted is None:
            return web.Response(body=data, content_type=info["type"], headers=headers)
        span = _byte_range(wanted, len(data))
        if span is None:
            headers["Content-Range"] = f"bytes */{len(data)}"
            return web.Response(status=416, headers=headers)
        first, last = span
        headers["Content-Range"] = f"bytes {first}-{last}/{len(data)}"
        return web.Response(
            status=206, body=data[first : last + 1], content_type=info["type"], headers=headers
        )


class _UnsupportedType(Exception):
    """A body without the form Content-Type (415)."""


def _text(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message, content_type="text/plain")


def _seconds(us: int) -> str:
    return str(us // US_PER_S) if us % US_PER_S == 0 else f"{us / US_PER_S:.6f}".rstrip("0")


def _common_name(pem: bytes) -> str | None:
    return pem_common_name(pem) or None


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """``bytes=X-Y`` / ``bytes=X-`` / ``bytes=-N`` as inclusive offsets, None if unsatisfiable
    (one range only)."""
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec or "-" not in spec:
        return None
    first_text, _, last_text = spec.strip().partition("-")
    try:
        if not first_text:
            count = int(last_text)
            first, last = max(0, size - count), size - 1
        else:
            first = int(first_text)
            last = int(last_text) if last_text else size - 1
    except ValueError:
        return None
    last = min(last, size - 1)
    if first < 0 or first > last:
        return None
    return first, last
