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
* Session tokens come from the world's seeded random source (same seed, same trace).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from aiohttp import web

from devices.gateways.ble_router import handlers
from devices.gateways.ble_router.errors import InvalidParameter

if TYPE_CHECKING:
    from devices.gateways.ble_router.router import BleRouter

COOKIE = "session"
FORM_TYPE = "application/x-www-form-urlencoded"
PROTECTED_PREFIX = "/cassia/"
LOGIN_PATH = "/cassia/login"


class LoginGate:
    """The sessions a router has handed out."""

    def __init__(self, router: BleRouter) -> None:
        self.router = router
        self.sessions: set[str] = set()
        self._rng = router.world.rng(f"{router.name}/login")

    @property
    def enabled(self) -> bool:
        return bool(getattr(self.router, "credentials", None))

    def check(self, username: str, password: str) -> bool:
        credentials = getattr(self.router, "credentials", None)
        return bool(credentials) and (username, password) == tuple(credentials)

    def open_session(self) -> str:
        token = f"{self._rng.getrandbits(128):032x}"
        self.sessions.add(token)
        return token

    def allows(self, request: web.Request) -> bool:
        return request.cookies.get(COOKIE, "") in self.sessions


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
            f"and password); got {request.content_type or 'no content type'!r}"
        )
    form = await request.post()
    missing = [k for k in ("username", "password") if not isinstance(form.get(k), str)]
    if missing:
        raise InvalidParameter(
            f"the login form lacks {' and '.join(missing)}; expected "
            "username=<user>&password=<password>"
        )
    username, password = str(form["username"]), str(form["password"])
    if not gate.enabled:
        return web.Response(text="OK", content_type="text/plain")
    if not gate.check(username, password):
        gate.router.trace("http", "login-failed", username=username)
        return web.Response(
            status=401, text=f"login refused: wrong username or password for user {username!r}"
        )
    token = gate.open_session()
    gate.router.trace("http", "login-ok", username=username, sessions=len(gate.sessions))
    response = web.Response(text="OK", content_type="text/plain")
    response.set_cookie(COOKIE, token, path="/", httponly=True)
    return response


def register(app: web.Application) -> None:
    app[GATE] = LoginGate(app[handlers.ROUTER])
    app.middlewares.append(require_login)
    app.router.add_post(LOGIN_PATH, login)
