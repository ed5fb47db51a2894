"""What credential a device presents, by protocol, before the domain judges it.

HTTP (facts, section 1): ``X-Exosite-CIK: <token>``; ``Authorization: token <token>``;
``Authorization: basic base64(":<token>")`` (blank user name) or ``base64("<identity>:
<password>")``; a TLS client certificate (no header needed). A header credential wins over a
certificate. MQTT (section 2): CONNECT with user name ``""`` (or none) and the token as
password; user name ``<identity>`` and its password; a TLS client certificate and no
password; nothing at all is an anonymous connection that may only provision.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass

from devices.cloud.device2.errors import AuthenticationFailed
from devices.cloud.device2.gateway import Gateway


@dataclass(frozen=True)
class Presented:
    """One credential: a token, an identity and password, or a certificate (PEM)."""

    token: str | None = None
    identity: str | None = None
    password: str | bytes | None = None
    certificate_pem: bytes | None = None

    @property
    def kind(self) -> str:
        if self.token is not None:
            return "token"
        if self.password is not None:
            return "password"
        if self.certificate_pem is not None:
            return "certificate"
        return "none"

    def authenticate(
        self, gateway: Gateway, ip: str | None, protocol: str, password_allowed: bool = True
    ) -> str:
        """The identity (AuthenticationFailed / Refused from the domain)."""
        if self.kind == "none":
            raise AuthenticationFailed("no credential presented")
        if self.kind == "password" and not password_allowed:
            raise AuthenticationFailed(f"password authentication is not offered over {protocol}")
        return gateway.authenticate(
            token=self.token,
            identity=self.identity,
            password=self.password,
            certificate_pem=None if self.kind != "certificate" else self.certificate_pem,
            ip=ip,
            protocol=protocol,
        )


def from_http_headers(headers: Mapping[str, str], certificate_pem: bytes | None) -> Presented:
    """The credential of an HTTP request (AuthenticationFailed for a malformed header)."""
    cik = headers.get("X-Exosite-CIK")
    if cik is not None:
        return Presented(token=cik.strip())
    authorization = headers.get("Authorization")
    if authorization is not None:
        scheme, _, value = authorization.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "token" and value.strip():
            return Presented(token=value.strip())
        if scheme == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise AuthenticationFailed(
                    "Authorization basic: not base64 of user:password"
                ) from None
            user, sep, secret = decoded.partition(":")
            if not sep or not secret:
                raise AuthenticationFailed("Authorization basic: expected user:password")
            if not user:
                return Presented(token=secret)
            return Presented(identity=user, password=secret)
        raise AuthenticationFailed(
            f"Authorization scheme {scheme!r} not accepted; accepted: token, basic"
        )
    return Presented(certificate_pem=certificate_pem)


def from_mqtt_connect(
    username: str | None, password: bytes | None, certificate_pem: bytes | None
) -> Presented:
    """The credential of an MQTT CONNECT (``kind`` ``none``: anonymous)."""
    if password:
        if username:
            return Presented(identity=username, password=password)
        try:
            return Presented(token=password.decode("utf-8"))
        except UnicodeDecodeError:
            raise AuthenticationFailed("the token (MQTT password) is not UTF-8 text") from None
    if username:
        raise AuthenticationFailed(f"user name {username!r} without a password")
    return Presented(certificate_pem=certificate_pem)
