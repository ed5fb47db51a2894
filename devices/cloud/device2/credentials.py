"""Device credentials: made with :mod:`secrets`, kept only one-way hashed, never returned.

* token — 40 characters ``[0-9A-Za-z]`` (facts sheet: clients check ``len == 40`` and
  ``[0-9A-Za-z]{40}``); about 238 random bits, so a SHA-256 digest is stored.
* password — at least 20 bytes (seed); stored as scrypt with a 16-byte random salt.
* certificate — the PEM of an X.509 certificate whose subject CN is the identity; its SHA-256
  fingerprint (of the DER form) is stored. With ``pki.enabled`` it must be issued directly by
  one of ``pki.client_ca`` and valid at the world's current time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import string

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from devices.cloud.device2.errors import AuthenticationFailed, InvalidInput

TOKEN_ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
TOKEN_LENGTH = 40
MIN_PASSWORD_BYTES = 20
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def new_token() -> str:
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


def token_digest(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def password_digest(password: str | bytes) -> str:
    raw = password.encode() if isinstance(password, str) else password
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(raw, salt=salt, **_SCRYPT)
    return f"scrypt:{salt.hex()}:{digest.hex()}"


def password_matches(stored: str | None, password: str | bytes) -> bool:
    if not stored or not stored.startswith("scrypt:"):
        return False
    _, salt, digest = stored.split(":")
    raw = password.encode() if isinstance(password, str) else password
    candidate = hashlib.scrypt(raw, salt=bytes.fromhex(salt), **_SCRYPT)
    return hmac.compare_digest(candidate.hex(), digest)


def check_password(password: object, field: str = "auth.key") -> str:
    if not isinstance(password, str) or len(password.encode()) < MIN_PASSWORD_BYTES:
        raise InvalidInput(field, f"a password of at least {MIN_PASSWORD_BYTES} bytes")
    return password


def load_certificate(pem: object, field: str = "auth.key") -> x509.Certificate:
    if not isinstance(pem, str | bytes):
        raise InvalidInput(field, "a PEM X.509 certificate")
    try:
        return x509.load_pem_x509_certificate(pem.encode() if isinstance(pem, str) else pem)
    except ValueError:
        raise InvalidInput(field, "a PEM X.509 certificate") from None


def common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def certificate_digest(cert: x509.Certificate) -> str:
    der = cert.public_bytes(serialization.Encoding.DER)
    return "cert:" + hashlib.sha256(der).hexdigest()


def verify_chain(cert: x509.Certificate, client_ca: list[str], now: dt.datetime) -> None:
    """AuthenticationFailed unless one of ``client_ca`` issued ``cert`` and it is valid now."""
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise AuthenticationFailed(
            f"certificate {common_name(cert)!r} is not valid at {now.isoformat()} (valid "
            f"{cert.not_valid_before_utc.isoformat()} to {cert.not_valid_after_utc.isoformat()})"
        )
    for pem in client_ca:
        ca = x509.load_pem_x509_certificate(pem.encode())
        try:
            cert.verify_directly_issued_by(ca)
            return
        except Exception:  # a wrong signature, issuer or key type: not this CA
            continue
    raise AuthenticationFailed(
        f"certificate {common_name(cert)!r} is not issued by a CA of pki.client_ca"
    )
