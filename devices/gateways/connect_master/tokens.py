"""The master gateway's login tokens: HS256 JWTs bound to the client certificate they were
issued over.

Decision (secrets vs. the world's seed): the signing key and every token ID come from
:mod:`secrets`, never from the world's seeded random source. The seed is printed in every
report, so a key derived from it would let anyone mint a token for any tenant. Nothing random
here reaches the trace, so same-seed runs stay byte-identical while their tokens differ.

A token carries ``tenant`` (whose gateways it reaches), ``cert`` (the CN of the TLS client
certificate it was issued over: the tenant's own, or ``administrator`` for LoginAdmin), ``iat``,
``exp`` and ``jti``. A call is accepted only when its client certificate is the token's
``cert``, so a token copied to another tenant's connection is worthless. Expiry is checked
against the world's calendar time (PyJWT's own ``exp`` check reads the wall clock, so it is
turned off and done here). Every way a token can be wrong ends in UNAUTHENTICATED with a
message that names what is wrong and never quotes the token.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from devices.gateways.connect_master.errors import quote, unauthenticated

ALGORITHM = "HS256"
LIFETIME_S = 24 * 3600
MAX_TOKEN_CHARS = 4096  # ours are about 250; anything longer is not one of ours
VERIFIED_KEPT = 4096  # verified tokens remembered (all forgotten when full)
_JWT = re.compile(r"eyJ[\w-]*\.[\w-]*\.[\w-]*")


def redact(text: str) -> str:
    """``text`` with every JWT-shaped substring replaced: for messages and trace records."""
    return _JWT.sub("<token redacted>", text)


@dataclass(frozen=True)
class TokenClaims:
    tenant: str
    cert: str  # CN of the client certificate the token was issued over
    jti: str
    exp: int


def _integer(claims: dict[str, Any], name: str) -> int:
    value = claims.get(name)
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or (isinstance(value, float) and not math.isfinite(value)):
        raise unauthenticated(
            f"token claim {name!r} is {type(value).__name__}, not a Unix time; accepted: a "
            "token from Login"
        )
    return int(value)


def _text(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise unauthenticated(
            f"token claim {name!r} is missing or not a text; accepted: a token from Login"
        )
    return value


def _calendar(unix: int) -> str:
    try:
        return dt.datetime.fromtimestamp(unix, dt.UTC).isoformat()
    except (OverflowError, ValueError, OSError):
        return f"Unix time {unix}"


class TokenAuthority:
    """Issues, verifies and revokes tokens with one secret key; ``clock`` gives Unix seconds
    (the world's calendar). One authority outlives master restarts in a world, as a key store
    and revocation list kept on disk would."""

    def __init__(self, clock: Callable[[], int]) -> None:
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._revoked: set[str] = set()
        # token -> its claims, once its signature verified: the signature of one text under
        # one key never changes, and checking it costs more than the rest of a call; the
        # revocation list and the expiry are checked on every call all the same
        self._verified: dict[str, TokenClaims] = {}

    def sign(self, claims: dict[str, Any]) -> str:
        """``claims`` signed with this authority's key as they are (no check)."""
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def issue(self, tenant: str, cert: str, lifetime_s: int = LIFETIME_S) -> str:
        """A token for ``tenant``, usable over the client certificate named ``cert``."""
        now = self._clock()
        claims = {
            "tenant": tenant,
            "cert": cert,
            "iat": now,
            "exp": now + lifetime_s,
            "jti": secrets.token_hex(8),
        }
        return self.sign(claims)

    def verify(self, token: str) -> TokenClaims:
        """The claims of a token this authority issued, still valid; UNAUTHENTICATED if not."""
        if len(token) > MAX_TOKEN_CHARS:
            raise unauthenticated(
                f"token is {len(token)} characters long; accepted: a token from Login (at most "
                f"{MAX_TOKEN_CHARS})"
            )
        found = self._verified.get(token)
        if found is None:
            found = self._decode(token)
            if len(self._verified) >= VERIFIED_KEPT:
                self._verified.clear()
            self._verified[token] = found
        if found.jti in self._revoked:
            raise unauthenticated("token was logged out; log in again")
        if found.exp < self._clock():
            raise unauthenticated(f"token expired at {_calendar(found.exp)}; log in again")
        return found

    def _decode(self, token: str) -> TokenClaims:
        """The claims of a token whose signature verifies under this authority's key."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                # the claims are checked below, with messages that name them
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "verify_jti": False,
                    "verify_sub": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise unauthenticated(
                "token signature does not verify: it was not issued by this master; log in again"
            ) from None
        except jwt.InvalidAlgorithmError:
            raise unauthenticated(
                f"token algorithm not accepted; accepted: {ALGORITHM} tokens from Login"
            ) from None
        except Exception as exc:  # PyJWTError, and anything a mangled token may raise
            raise unauthenticated(
                f"token is not a JWT issued by Login ({type(exc).__name__}); log in again"
            ) from None
        if not isinstance(claims, dict):
            raise unauthenticated("token payload is not a JSON object; log in again")
        return TokenClaims(
            tenant=_text(claims, "tenant"),
            cert=_text(claims, "cert"),
            jti=_text(claims, "jti"),
            exp=_integer(claims, "exp"),
        )

    def check_holder(self, claims: TokenClaims, peer: str) -> None:
        """UNAUTHENTICATED unless the call's client certificate ``peer`` is the token's."""
        if not peer:
            raise unauthenticated(
                "the call carries no client certificate; accepted: calls over mutual TLS with "
                "the certificate the token was issued over"
            )
        if claims.cert != peer:
            raise unauthenticated(
                f"the token was issued over client certificate {quote(claims.cert)} but this "
                f"call comes with client certificate {quote(peer)}; log in over this connection"
            )

    def revoke(self, claims: TokenClaims) -> None:
        self._revoked.add(claims.jti)
