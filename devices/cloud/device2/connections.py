"""The device side of the domain: provisioning, authentication, connections.

The device APIs (HTTP ``/provision/activate``, MQTT ``$provision/<identity>``, X.509 client
certificates) come down to these calls; they raise domain errors, which each device API maps to
its own answer (HTTP 404/409/401/403, MQTT CONNACK codes).

:func:`provision` — a device asks for credentials:

1. ``provisioning.enabled`` false: Refused ``provisioning_disabled``;
   ``ip_whitelisting`` on and ``ip`` not allowed: Refused ``ip_not_allowed``.
2. No identity: with ``generate_identity`` one is made (``identity_format``), else InvalidInput.
3. An identity not matching ``identity_format``: InvalidInput. An unknown one: added as
   ``whitelisted`` with ``presenter_identity``, else NotFound.
4. ``locked``: Refused ``locked``; ``provisioned``: Conflict; ``expired``: the gateway event
   ``expired`` and Refused ``expired``; ``whitelisted`` and ``reprovision`` go on.
5. Credentials of the identity's ``auth.type`` (else the gateway's ``auth_type``): a new token
   (returned once, stored hashed), the device's password (20+ bytes), or its certificate (CN =
   identity; with ``pki.enabled`` issued by a ``client_ca``). Status ``provisioned``, the
   gateway event ``provisioned``.

:func:`authenticate` — a device connects with a token, identity + password, or a certificate;
returns the identity or raises AuthenticationFailed (unknown or wrong credentials) or Refused
(``locked``, ``reprovision``). A certificate for a whitelisted identity with no credentials
provisions it on the spot when provisioning is enabled (facts sheet, section 3).

A certificate for an identity whose credentials expired (``reprovision``) provisions it again
with that certificate; only identities of auth type ``certificate`` (their own, else the
gateway's) are provisioned by presenting one.

Every refusal records a ``connection_error`` metric with its reason. The domain takes a
``password`` from any protocol: the seed says password auth is "MQTT only" while the facts
sheet documents HTTP basic auth with passwords, so each device API decides what it offers.
``protocol`` is free text (the seed does not list its values); the device APIs pass ``http``
or ``mqtt``, ``setIdentityState`` with ``simulate`` passes ``simulate``.
:func:`connect` / :func:`disconnect` track connections (``online``), ``lastseen``/``lastip``, the
connection metrics and the ``connect``/``disconnect`` events.
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass

from devices.cloud.device2 import credentials, identities, metrics
from devices.cloud.device2.context import Context, Session
from devices.cloud.device2.errors import (
    AuthenticationFailed,
    Conflict,
    Device2Error,
    InvalidInput,
    NotFound,
    Refused,
)
from devices.cloud.device2.events import (
    CONNECT,
    DISCONNECT,
    EXPIRED,
    GATEWAY_EVENT,
    PROVISIONED,
    gateway_event,
)
from devices.cloud.device2.lifecycle import EXPIRED as STATUS_EXPIRED
from devices.cloud.device2.lifecycle import (
    PROVISIONED as STATUS_PROVISIONED,
)
from devices.cloud.device2.lifecycle import (
    REPROVISION,
    change_status,
    lifecycle,
    require_identity,
    sweep,
)


@dataclass(frozen=True)
class Provisioning:
    """The result of :func:`provision`: the identity, and its new token (token auth only)."""

    identity: str
    auth_type: str
    token: str | None = None


def _refuse(ctx: Context, identity: str | None, reason: str, error: Device2Error) -> Device2Error:
    """``error``, after recording a ``connection_error`` metric with ``reason``."""
    with ctx.tx():
        metrics.record(ctx, "connection_error", identity, detail=reason)
    return error


def _refused(ctx: Context, identity: str | None, reason: str, message: str) -> Device2Error:
    return _refuse(ctx, identity, reason, Refused(reason, message))


def provision(
    ctx: Context,
    identity: str | None,
    ip: str | None = None,
    protocol: str | None = None,
    password: str | bytes | None = None,
    certificate_pem: str | bytes | None = None,
) -> Provisioning:
    settings = ctx.settings
    if not settings.provisioning["enabled"]:
        raise _refused(ctx, identity, "provisioning_disabled", "provisioning is disabled")
    if not settings.ip_allowed(ip):
        message = f"provisioning from {ip} is not allowed (ip_whitelisting)"
        raise _refused(ctx, identity, "ip_not_allowed", message)
    fmt = settings.identity_format
    sweep(ctx)
    with ctx.tx() as db:
        if identity is None:
            if not settings.provisioning["generate_identity"]:
                raise InvalidInput("identity", "an identity (generate_identity is off)")
            count = ctx.store.one(
                "SELECT COUNT(*) AS n FROM identities WHERE product = ?", (ctx.product,)
            )
            identity = fmt.make(
                ctx.clock.rng("identities"), lambda i: identities.exists(ctx, i), count["n"]
            )
            identities.insert(ctx, identity, {}, False)
        else:
            fmt.check(identity)
        row = _row(ctx, identity)
        if row is None:
            if not settings.provisioning["presenter_identity"]:
                raise NotFound("identity", identity, "identity")
            identities.insert(ctx, identity, {}, False)
            row = _row(ctx, identity)
        assert row is not None
    if row["locked"] and not ctx.deviations.active("locked-accepted"):
        raise _refused(ctx, identity, "locked", f"identity {identity!r} is locked")
    if row["status"] == STATUS_PROVISIONED:
        raise _refuse(
            ctx,
            identity,
            "already_provisioned",
            Conflict(f"identity {identity!r} is already provisioned"),
        )
    if row["status"] == STATUS_EXPIRED:
        event = gateway_event(EXPIRED, identity, ctx.now_us(), ip, protocol)
        with ctx.tx():
            metrics.record(ctx, "connection_error", identity, detail="expired")
            ctx.emit(GATEWAY_EVENT, ctx.product, event)
        raise Refused("expired", f"the provisioning window of {identity!r} has passed")
    auth_type = row["auth_type"] or settings.auth_type
    token = None
    if auth_type == "token":
        token = credentials.new_token()
        secret = credentials.token_digest(token)
    elif auth_type == "password":
        if password is None:
            raise InvalidInput("password", "a password of at least 20 bytes (auth type password)")
        secret = credentials.password_digest(credentials.check_password(password, "password"))
    else:
        if certificate_pem is None:
            raise InvalidInput("certificate", "a client certificate (auth type certificate)")
        secret = identities.secret_for(ctx, "certificate", certificate_pem, identity)
    now = ctx.now_us()
    deadline = row["expire"]
    expire = deadline if auth_type == "certificate" and (deadline or 0) > now else None
    with ctx.tx() as db:
        db.execute(
            "UPDATE identities SET auth_type = ?, secret = ?, expire = ?, lastip = COALESCE(?, "
            "lastip) WHERE product = ? AND identity = ?",
            (auth_type, secret, expire, ip, ctx.product, identity),
        )
        status = lifecycle(True, expire, ctx.now_us())
        change_status(ctx, db, identity, row["status"], status, False)
        ctx.emit(
            GATEWAY_EVENT,
            ctx.product,
            gateway_event(PROVISIONED, identity, ctx.now_us(), ip, protocol),
        )
    ctx.expiry_changed()
    return Provisioning(identity, auth_type, token)


def _row(ctx: Context, identity: str) -> sqlite3.Row | None:
    return ctx.store.one(
        "SELECT * FROM identities WHERE product = ? AND identity = ?", (ctx.product, identity)
    )


def authenticate(
    ctx: Context,
    token: str | None = None,
    identity: str | None = None,
    password: str | bytes | None = None,
    certificate_pem: str | bytes | None = None,
    ip: str | None = None,
    protocol: str | None = None,
) -> str:
    """The identity these credentials belong to (see the module doc for refusals)."""
    sweep(ctx)
    if token is not None:
        row = ctx.store.one(
            "SELECT * FROM identities WHERE product = ? AND secret = ?",
            (ctx.product, credentials.token_digest(token)),
        )
    elif certificate_pem is not None:
        return _authenticate_certificate(ctx, certificate_pem, ip, protocol)
    elif identity is not None and password is not None:
        row = _row(ctx, identity)
        if row is not None and not credentials.password_matches(row["secret"], password):
            row = None
    else:
        row = None
    if row is None:
        raise _refuse(
            ctx, identity, "bad_credentials", AuthenticationFailed("unknown or wrong credentials")
        )
    return _admit(ctx, row)


def _admit(ctx: Context, row: sqlite3.Row) -> str:
    identity = row["identity"]
    if row["locked"]:
        raise _refused(ctx, identity, "locked", f"identity {identity!r} is locked")
    if row["status"] == REPROVISION:
        raise _refused(ctx, identity, "reprovision", f"the credentials of {identity!r} expired")
    return identity


def _authenticate_certificate(
    ctx: Context, pem: str | bytes, ip: str | None, protocol: str | None
) -> str:
    try:
        cert = credentials.load_certificate(pem, "certificate")
    except InvalidInput as exc:
        raise _refuse(ctx, None, "bad_credentials", AuthenticationFailed(exc.message)) from None
    identity = credentials.common_name(cert)
    pki = ctx.settings.pki or {}
    if pki.get("enabled"):
        try:
            credentials.verify_chain(cert, pki.get("client_ca") or [], ctx.clock.world.datetime())
        except AuthenticationFailed as exc:
            raise _refuse(ctx, identity, "bad_certificate", exc) from None
    row = _row(ctx, identity)
    if row is not None and row["secret"] == credentials.certificate_digest(cert):
        return _admit(ctx, row)
    wanted = (row["auth_type"] if row is not None else None) or ctx.settings.auth_type
    may_provision = row is None or row["secret"] is None or row["status"] == REPROVISION
    if may_provision and wanted == "certificate":
        try:
            provision(ctx, identity, ip, protocol, certificate_pem=pem)
        except (NotFound, InvalidInput) as exc:
            raise _refuse(
                ctx, identity, "bad_credentials", AuthenticationFailed(exc.message)
            ) from None
        return identity
    raise _refuse(
        ctx,
        identity,
        "bad_credentials",
        AuthenticationFailed(f"this certificate is not the one associated with {identity!r}"),
    )


def connect(
    ctx: Context, identity: str, ip: str | None = None, protocol: str | None = None
) -> Session:
    """An authenticated device connected: a session, ``online``, the ``connect`` event."""
    now = ctx.now_us()
    connection_id = str(uuid.UUID(int=ctx.clock.rng("connections").getrandbits(128), version=4))
    session = Session(connection_id, identity, ip, protocol, now)
    with ctx.tx() as db:
        require_identity(ctx, identity)
        db.execute(
            "UPDATE identities SET lastseen = ?, lastip = COALESCE(?, lastip) "
            "WHERE product = ? AND identity = ?",
            (now, ip, ctx.product, identity),
        )
        metrics.record(ctx, "connection", identity)
        metrics.record(ctx, "connected", identity, len(ctx.online_identities() | {identity}))
        ctx.emit(
            GATEWAY_EVENT,
            ctx.product,
            gateway_event(
                CONNECT,
                identity,
                now,
                ip,
                protocol,
                None if ctx.deviations.active("event-connection-id-missing") else connection_id,
            ),
        )
    ctx.sessions[connection_id] = session
    return session


def disconnect(ctx: Context, connection_id: str) -> None:
    """The connection ended (unknown ids are ignored: a connection ends once)."""
    session = ctx.sessions.pop(connection_id, None)
    if session is None:
        return
    with ctx.tx():
        metrics.record(ctx, "disconnection", session.identity)
        metrics.record(ctx, "connected", session.identity, len(ctx.online_identities()))
        ctx.emit(
            GATEWAY_EVENT,
            ctx.product,
            gateway_event(
                DISCONNECT,
                session.identity,
                ctx.now_us(),
                session.ip,
                session.protocol,
                connection_id,
            ),
        )
