"""Bad login tokens for the ``tokens`` fuzz campaign: forged (with the key an attacker could derive
from the printed seed, or any other), unsigned (``alg`` none), signed with another algorithm,
mutated genuine tokens, expired ones, ones with malformed claims, logged-out ones, and genuine
tokens of another identity (sent over the victim's client certificate).

Each maker returns ``(token, identity)``: the token and the client certificate it is sent over.
None of them may open any rpc.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import string
from collections.abc import Callable
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from devices.gateways.connect_master.master import ADMIN
from devices.gateways.connect_master.tokens import TokenAuthority

VICTIM = "tenant-a"
OTHER = "tenant-b"
IDENTITIES = (VICTIM, OTHER, ADMIN)


@dataclass
class Genuine:
    """Tokens the master really issued, and what an attacker knows."""

    victim: str  # the victim's own token (mutated, it must die)
    other: str  # tenant B's token
    admin: str  # the administrator's LoginAdmin token for the victim's tenant
    logged_out: str  # a victim token that was logged out
    seed_key: bytes  # the key the world's seeded source gives, the old vulnerability
    authority: TokenAuthority  # signs insider tokens: expired ones, malformed claims


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, object], claims: dict[str, object], signature: str = "") -> str:
    raw = [json.dumps(header).encode(), json.dumps(claims).encode()]
    return f"{_b64(raw[0])}.{_b64(raw[1])}.{signature}"


def _hmac(claims: dict[str, object], key: bytes, alg: str = "HS256") -> str:
    """A token signed by hand (PyJWT refuses the short and empty keys an attacker may try)."""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    unsigned = _unsigned({"alg": alg, "typ": "JWT"}, claims)
    signature = hmac.new(key, unsigned[:-1].encode(), digest).digest()
    return unsigned + _b64(signature)


def _same_credential(a: str, b: str) -> bool:
    """Whether two token texts are one credential (same signed part, same signature bytes)."""
    signed_a, _, sig_a = a.rpartition(".")
    signed_b, _, sig_b = b.rpartition(".")
    try:
        return signed_a == signed_b and _unb64(sig_a) == _unb64(sig_b)
    except ValueError:
        return False


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _claims(rng: random.Random) -> dict[str, object]:
    tenant = rng.choice(IDENTITIES)
    return {
        "tenant": tenant,
        "cert": rng.choice((VICTIM, tenant)),
        "iat": 1_700_000_000,
        "exp": 4_000_000_000,
        "jti": f"{rng.getrandbits(64):016x}",
    }


def forged_seed(rng: random.Random, g: Genuine) -> tuple[str, str]:
    return _hmac(_claims(rng), g.seed_key), VICTIM


def forged_key(rng: random.Random, g: Genuine) -> tuple[str, str]:
    key = rng.choice((b"", b"secret", rng.randbytes(32), g.seed_key[:16]))
    return _hmac(_claims(rng), key), VICTIM


def alg_none(rng: random.Random, g: Genuine) -> tuple[str, str]:
    alg = rng.choice(("none", "None", "NONE", "nOnE", "", None))
    signature = rng.choice(("", g.victim.rsplit(".", 1)[1], "AAAA"))
    return _unsigned({"alg": alg, "typ": "JWT"}, _claims(rng), signature), VICTIM


def other_alg(rng: random.Random, g: Genuine) -> tuple[str, str]:
    claims = _claims(rng)
    roll = rng.random()
    if roll < 0.4:
        key = rng.choice((g.seed_key, rng.randbytes(64)))
        return _hmac(claims, key, rng.choice(("HS512", "HS384"))), VICTIM
    if roll < 0.7:
        return jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), "ES256"), VICTIM
    header = {"alg": rng.choice(("RS256", "ES256", "PS256", "EdDSA", "HS1", 7, ["HS256"]))}
    return _unsigned(header, claims, g.victim.rsplit(".", 1)[1]), VICTIM


def mutated(rng: random.Random, g: Genuine) -> tuple[str, str]:
    token = g.victim
    head, body, sig = token.split(".")
    roll = rng.random()
    if roll < 0.35:  # one character changed, so that the credential differs
        while True:
            i = rng.randrange(len(token))
            swap = rng.choice(string.ascii_letters + string.digits + "-_")
            mutant = token[:i] + swap + token[i + 1 :]
            if not _same_credential(mutant, token):
                return mutant, VICTIM
    if roll < 0.5:  # tenant B's claims under the victim's signature
        return f"{head}.{g.other.split('.')[1]}.{sig}", VICTIM
    if roll < 0.6:
        return f"{head}.{body}.", VICTIM
    if roll < 0.7:
        return token[: rng.randrange(1, len(token))], VICTIM
    if roll < 0.8:
        return f"{head}.{body}.{sig}.{sig}", VICTIM
    if roll < 0.9:
        return f"{head}.{body}={rng.choice(('', '=', '==='))}.{sig}", VICTIM
    return rng.choice(("Bearer ", " ", "token=")) + token, VICTIM


def expired(rng: random.Random, g: Genuine) -> tuple[str, str]:
    return g.authority.issue(VICTIM, VICTIM, lifetime_s=-rng.randint(1, 10**6)), VICTIM


def bad_claims(rng: random.Random, g: Genuine) -> tuple[str, str]:
    claims: dict[str, object] = {"tenant": VICTIM, "cert": VICTIM, "jti": "x", "exp": 4 * 10**9}
    name = rng.choice(("exp", "tenant", "cert", "jti"))
    if rng.random() < 0.3:
        del claims[name]
    elif name == "exp":  # not a number, or not a finite one
        claims[name] = rng.choice(("soon", "4000000000", [1], None, {"a": 1}, True, 1e400, -1e400))
    else:  # not a non-empty text
        claims[name] = rng.choice(([1], None, {"a": 1}, True, 123, ""))
    return g.authority.sign(claims), VICTIM


def wrong_identity(rng: random.Random, g: Genuine) -> tuple[str, str]:
    return rng.choice(
        (
            (g.other, VICTIM),
            (g.admin, VICTIM),
            (g.victim, OTHER),
            (g.victim, ADMIN),
            (g.authority.issue(VICTIM, ADMIN), VICTIM),
            (g.authority.issue(ADMIN, OTHER), VICTIM),
        )
    )


def logged_out(rng: random.Random, g: Genuine) -> tuple[str, str]:
    return g.logged_out, VICTIM


def garbage(rng: random.Random, g: Genuine) -> tuple[str, str]:
    size = rng.choice((1, 3, 40, 300, 5000))
    alphabet = string.ascii_letters + string.digits + "-_.=+/ "
    text = "".join(rng.choice(alphabet) for _ in range(size)).strip() or "x"
    return text, VICTIM


Maker = Callable[[random.Random, Genuine], tuple[str, str]]
MAKERS: dict[str, Maker] = {
    "forged-seed": forged_seed,
    "forged-key": forged_key,
    "alg-none": alg_none,
    "other-alg": other_alg,
    "mutated": mutated,
    "expired": expired,
    "bad-claims": bad_claims,
    "wrong-identity": wrong_identity,
    "logged-out": logged_out,
    "garbage": garbage,
}
