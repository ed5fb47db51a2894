"""Optional login (seed 002, the note on ``/cassia/*`` in Standalone Router mode):
``POST /cassia/login`` with ``Content-Type: application/x-www-form-urlencoded`` and the form
fields ``username`` and ``password``.

* Login is off unless the router has credentials (``BleRouter(credentials=(user, password))``,
  or ``router.credentials`` set later). Off, every request passes and ``/cassia/login``
  answers 200 (there is nothing to log in to).
* On, every ``/cassia/*`` request other than the login itself answers the login page — HTML,
  status 401 — until the client presents the session cookie a successful login set
  (``Set-Cookie: session=<token>; Path=/; HttpOnly``, answered with 200 ``OK``). The rest of
  the API (``/gap``, ``/gatt``, ``/management``, ``/advertise``) is not behind the login, as
  the seed's note names only ``/cassia/*``.
* Wrong credentials: 401 naming the username (never the password); a missing field or another
  content type: 400 naming what is accepted. The seed's remark that firmware 2.1.1 and later
  encrypt the login in the browser is vendor-specific and not modelled: the form is plain.
* Session tokens are 128 random bits from :mod:`secrets` (never the world's seeded random
  source, which anyone knowing the seed could replay) and are never traced, so same-seed
  traces stay identical. A router keeps at most :data:`MAX_SESSIONS` (the oldest go first).
* Wrong logins are slowed down per client (the peer address): after :data:`FREE_FAILURES`
  wrong logins in a row, the client is locked for 1 s, and every further attempt while locked
  (even with the right password) is answered ``429 Too Many Requests`` with ``Retry-After``
  and doubles the lock (2, 4, 8... s of world time, at most :data:`MAX_LOCK_S`). A wrong login
  once the lock has passed is judged and locks again, for twice as long; a right one clears
  the count. Other clients are not affected, so an attacker locks out only themselves.
"""

from __future__ import annotations

import html
import math
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from devices.gateways.ble_router import handlers
from devices.gateways.ble_router.errors import InvalidParameter
from devices.gateways.ble_router.params import shown

if TYPE_CHECKING:
    from devices.gateways.ble_router.router import BleRouter

COOKIE = "session"
FORM_TYPE = handlers.FORM_TYPE
PROTECTED_PREFIX = "/cassia/"
LOGIN_PATH = "/cassia/login"
MAX_SESSIONS = 64
FREE_FAILURES = 5
MAX_LOCK_S = 600.0
MAX_CLIENTS = 4096  # failure records kept (the unlocked ones go first past this)


@dataclass
class Failures:
    """One client's wrong logins in a row and how long it is locked."""

    count: int = 0
    locked_until: float = 0.0

    def lock(self, now: float) -> float:
        """Count one more failure; from the FREE_FAILURES-th on, lock (returns the lock)."""
        self.count += 1
        if self.count < FREE_FAILURES:
            return 0.0
        wait = min(2.0 ** (self.count - FREE_FAILURES), MAX_LOCK_S)
        self.locked_until = now + wait
        return wait


class LoginGate:
    """The sessions a router has handed out and the clients slowed down for wrong logins."""

    def __init__(self, router: BleRouter) -> None:
        self.router = router
        self.sessions: dict[str, None] = {}  # insertion-ordered: the oldest go first
        self.failures: dict[str, Failures] = {}

    @property
    def enabled(self) -> bool:
        return bool(getattr(self.router, "credentials", None))

    def check(self, username: str, password: str) -> bool:
        credentials = getattr(self.router, "credentials", None)
        if not credentials:
            return False
        user, secret = (str(v).encode() for v in credentials)
        same_user = secrets.compare_digest(username.encode(), user)
        if self.router.deviations.active("login-any-password"):
            return same_user
        return secrets.compare_digest(password.encode(), secret) and same_user

    def open_session(self) -> str:
        token = secrets.token_hex(16)
        self.sessions[token] = None
        while len(self.sessions) > MAX_SESSIONS:
            del self.sessions[next(iter(self.sessions))]
        return token

    def allows(self, request: web.Request) -> bool:
        return request.cookies.get(COOKIE, "") in self.sessions

    def locked_for(self, client: str) -> float:
        """Seconds ``client`` must still wait (0 when it may try)."""
        record = self.failures.get(client)
        return max(0.0, record.locked_until - self.router.world.now) if record else 0.0

    def failed(self, client: str) -> tuple[int, float]:
        """Count a wrong (or locked-out) attempt; returns (failures in a row, lock in s)."""
        if client not in self.failures and len(self.failures) >= MAX_CLIENTS:
            now = self.router.world.now
            for key in [k for k, f in self.failures.items() if f.locked_until <= now]:
                del self.failures[key]
        record = self.failures.setdefault(client, Failures())
        return record.count + 1, record.lock(self.router.world.now)

    def succeeded(self, client: str) -> None:
        self.failures.pop(client, None)


GATE: web.AppKey[LoginGate] = web.AppKey("login_gate")


def login_page(path: str) -> str:
    return (
        "<!DOCTYPE html>\n<html><head><title>Router login</title></head><body>\n"
        f"<p>Log in to use {html.escape(path)}.</p>\n"
        f'<form method="post" action="{LOGIN_PATH}" enctype="{FORM_TYPE}">\n'
        '<input name="username" placeholder="username">\n'
        '<input name="password" type="password" placeholder="password">\n'
        '<button type="submit">Login</button>\n</form>\n</body></html>\n'
    )


@web.middleware
async def require_login(request: web.Request, handler: Any) -> web.StreamResponse:
    gate = request.app[GATE]
    if (
        gate.enabled
        and request.path.startswith(PROTECTED_PREFIX)
        and request.path != LOGIN_PATH
        and not gate.allows(request)
    ):
        gate.router.trace("http", "login-required", path=request.path)
        return web.Response(status=401, text=login_page(request.path), content_type="text/html")
    return await handler(request)


async def login(request: web.Request) -> web.Response:
    gate = request.app[GATE]
    if request.content_type != FORM_TYPE:
        raise InvalidParameter(
            f"the login takes Content-Type: {FORM_TYPE} (form fields username "
            f"and password); got {shown(request.content_type or 'no content type')}"
        )
    fields = await handlers.form(request)
    missing = [k for k in ("username", "password") if k not in fields]
    if missing:
        raise InvalidParameter(
            f"the login form lacks {' and '.join(missing)}; expected "
            "username=<user>&password=<password>"
        )
    username, password = fields["username"], fields["password"]
    if not gate.enabled:
        return web.Response(text="OK", content_type="text/plain")
    client = request.remote or "unknown"
    if gate.locked_for(client) > 0:
        failures, wait = gate.failed(client)
        return too_many(gate, client, failures, wait)
    if not gate.check(username, password):
        failures, wait = gate.failed(client)
        gate.router.trace("http", "login-failed", username=username[:64], failures=failures)
        return web.Response(
            status=401,
            text=f"login refused: wrong username or password for user {shown(username)}",
        )
    gate.succeeded(client)
    token = gate.open_session()
    gate.router.trace("http", "login-ok", username=username[:64], sessions=len(gate.sessions))
    response = web.Response(text="OK", content_type="text/plain")
    response.set_cookie(COOKIE, token, path="/", httponly=True, samesite="Strict")
    return response


def too_many(gate: LoginGate, client: str, failures: int, wait: float) -> web.Response:
    retry = math.ceil(wait)
    gate.router.trace(
        "http", "login-throttled", client=client, failures=failures, retry_after_s=retry
    )
    return web.Response(
        status=429,
        headers={"Retry-After": str(retry)},
        text=f"too many wrong logins in a row ({failures}) from this client; retry after {retry} s",
    )


def register(app: web.Application) -> None:
    app[GATE] = LoginGate(app[handlers.ROUTER])
    app.middlewares.append(require_login)
    app.router.add_post(LOGIN_PATH, login)
