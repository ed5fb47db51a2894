"""Developer credentials and access tokens (the OAuth2 client-credentials grant the vendor's
clients use): ``POST /api/oauth2/token`` with HTTP Basic ``client_id:secret`` and
``{"grant_type": "client_credentials"}`` returns a bearer token valid ``ttl_s`` seconds of world
time; every other call carries it as ``Authorization: Bearer <token>`` or as the seed's
``access_token=<token>`` query parameter.

Token values come from :mod:`secrets` (never the world's seeded randomness: a token is a secret,
not a simulation input) and never reach the trace. Expired tokens are remembered for a while so
that their refusal can say "expired" rather than "unknown".
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from devices.deviations import NO_DEVIATIONS, Deviations
from devices.gateways.ble_ac.errors import InvalidClient, Unauthorized

DEFAULT_TTL_S = 3600.0
GRANT_TYPE = "client_credentials"


@dataclass(frozen=True)
class Token:
    value: str
    client_id: str
    issued_at: float
    expires_at: float


class TokenIssuer:
    """Checks developer credentials, issues tokens and checks them, on the world's clock."""

    def __init__(
        self,
        clients: Mapping[str, str],
        now: Callable[[], float],
        ttl_s: float = DEFAULT_TTL_S,
        deviations: Deviations = NO_DEVIATIONS,
    ) -> None:
        if ttl_s <= 0:
            raise ValueError(f"token ttl_s must be > 0, got {ttl_s}")
        self.clients = dict(clients)
        self.now = now
        self.ttl_s = ttl_s
        self.deviations = deviations
        self._tokens: dict[str, Token] = {}
        self.issued = 0

    def issue(self, client_id: str, secret: str) -> Token:
        """A fresh token for ``client_id`` (:class:`InvalidClient` when the pair is wrong)."""
        known = self.clients.get(client_id)
        right = known is not None and hmac.compare_digest(known.encode(), secret.encode())
        if not right and not (known is not None and self.deviations.active("token-any-secret")):
            raise InvalidClient(
                "the developer key and secret (HTTP Basic) are not those of a developer of "
                "this controller"
            )
        self._forget_old()
        now = self.now()
        token = Token(secrets.token_urlsafe(24), client_id, now, now + self.ttl_s)
        self._tokens[token.value] = token
        self.issued += 1
        return token

    def check(self, value: str | None) -> Token:
        """The token ``value`` names, valid now; :class:`Unauthorized` saying why not."""
        if not value:
            raise Unauthorized(
                "missing",
                "no access token: send 'Authorization: Bearer <token>' or access_token=<token>; "
                "get one with POST /api/oauth2/token (HTTP Basic developer key and secret, "
                '{"grant_type":"client_credentials"})',
            )
        token = self._tokens.get(value)
        if token is None:
            raise Unauthorized(
                "unknown",
                "the access token is not one this controller issued; get a new one with "
                "POST /api/oauth2/token",
            )
        now = self.now()
        if now >= token.expires_at and not self.deviations.active("token-expiry-ignored"):
            raise Unauthorized(
                "expired",
                f"the access token expired {now - token.expires_at:.0f} s ago (it was valid "
                f"{self.ttl_s:g} s); get a new one with POST /api/oauth2/token",
            )
        return token

    def _forget_old(self) -> None:
        """Drop tokens expired for longer than one lifetime (their refusal says 'unknown')."""
        horizon = self.now() - self.ttl_s
        for value in [v for v, t in self._tokens.items() if t.expires_at < horizon]:
            del self._tokens[value]


def basic_credentials(header: str | None) -> tuple[str, str]:
    """``Authorization: Basic base64(id:secret)`` -> ``(id, secret)``; :class:`InvalidClient`
    when the header is missing or malformed."""
    scheme, _, encoded = (header or "").strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise InvalidClient(
            "the token request needs HTTP Basic authentication with the developer key and "
            "secret ('Authorization: Basic base64(key:secret)')"
        )
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClient("the HTTP Basic credentials are not base64 of 'key:secret'") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise InvalidClient("the HTTP Basic credentials are not 'key:secret'")
    return client_id, secret


def bearer_token(header: str | None, query_token: str | None) -> str | None:
    """The token a request carries: ``Authorization: Bearer <token>``, else ``access_token=``."""
    scheme, _, value = (header or "").strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return query_token or None
