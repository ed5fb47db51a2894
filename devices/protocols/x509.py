"""Certificates for the Connect world: one shared root, gateway/master/tenant leaf certificates.

Generated with ``cryptography`` at run time. Ed25519, not ECDSA: its signatures have a fixed
size, so every TLS handshake puts the same number of bytes on the in-world link and takes the
same virtual time (ECDSA's DER signatures vary by a byte or two and reordered events between
runs). Validity runs from 2020 to 2100 so
that OpenSSL's check against the wall clock (the one wall-clock read TLS makes, and it does not
influence the trace) never depends on the day a test runs. The subject CN carries the identity:
a device gateway's ID, a tenant's ID, or ``administrator``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_NOT_BEFORE = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
_NOT_AFTER = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Credential:
    """A PEM certificate and its PEM private key."""

    cert_pem: bytes
    key_pem: bytes

    def write(self, folder: Path, stem: str) -> tuple[Path, Path]:
        folder.mkdir(parents=True, exist_ok=True)
        cert, key = folder / f"{stem}.crt", folder / f"{stem}.key"
        cert.write_bytes(self.cert_pem)
        key.write_bytes(self.key_pem)
        return cert, key


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "gateway-hil"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _pem_key(key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class CertificateAuthority:
    """The shared root: every gateway, the master and every tenant get a leaf from it."""

    def __init__(self, cn: str = "gateway-hil root") -> None:
        self._key = ed25519.Ed25519PrivateKey.generate()
        self.name = _name(cn)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(self.name)
            .public_key(self._key.public_key())
            .serial_number(1)
            .not_valid_before(_NOT_BEFORE)
            .not_valid_after(_NOT_AFTER)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(self._key, None)
        )
        self.cert_pem = self.cert.public_bytes(serialization.Encoding.PEM)
        self._serial = 1

    def issue(
        self, cn: str, server: bool = False, grpc_wire: bool = False, dns_names: Sequence[str] = ()
    ) -> Credential:
        """A leaf certificate for ``cn``; server certificates name localhost and 127.0.0.1, and
        ``dns_names`` besides (a service's domain names, which TLS clients check).

        ``grpc_wire``: an ECDSA P-256 key instead of Ed25519, because gRPC's TLS (BoringSSL)
        refuses Ed25519 handshake signatures; such leaves serve the real gRPC wire only, where
        timing is wall-clock anyway. The root stays Ed25519 and signs both kinds.
        """
        key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey = (
            ec.generate_private_key(ec.SECP256R1())
            if grpc_wire
            else ed25519.Ed25519PrivateKey.generate()
        )
        self._serial += 1
        usage = [ExtendedKeyUsageOID.CLIENT_AUTH]
        if server:  # gateways are servers to terminals and clients of the master
            usage.append(ExtendedKeyUsageOID.SERVER_AUTH)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(self._serial)
            .not_valid_before(_NOT_BEFORE)
            .not_valid_after(_NOT_AFTER)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .add_extension(x509.ExtendedKeyUsage(usage), False)
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                    + [x509.DNSName(name) for name in dns_names]
                ),
                False,
            )
        cert = builder.sign(self._key, None)
        return Credential(cert.public_bytes(serialization.Encoding.PEM), _pem_key(key))

    def verify(self, cert_pem: bytes | str) -> str:
        """The CN of ``cert_pem`` if this root signed it; ValueError naming the problem if not."""
        data = cert_pem.encode() if isinstance(cert_pem, str) else cert_pem
        try:
            cert = x509.load_pem_x509_certificate(data)
        except ValueError as exc:
            raise ValueError(f"not a PEM certificate: {exc}") from None
        try:
            cert.verify_directly_issued_by(self.cert)
        except Exception as exc:  # signature, issuer or algorithm mismatch
            raise ValueError(
                f"certificate {common_name(cert)!r} is not issued by the shared "
                f"root: {exc or type(exc).__name__}"
            ) from None
        return common_name(cert)


def common_name(cert: x509.Certificate) -> str:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else ""


def pem_common_name(pem: bytes) -> str:
    """The CN of a PEM certificate (ValueError if ``pem`` is not one)."""
    return common_name(x509.load_pem_x509_certificate(pem))


def peer_common_name(der: bytes | None) -> str:
    """The CN of a peer certificate given as DER (from ``SSLObject.getpeercert(True)``)."""
    return common_name(x509.load_der_x509_certificate(der)) if der else ""


def tls_context(
    ca_pem: bytes,
    server_side: bool,
    credential: Credential | None = None,
    require_peer: bool = True,
) -> ssl.SSLContext:
    """A TLS 1.2 context trusting only the shared root (the seed: "TLS 1.2 specification")."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server_side else ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = False
    ctx.load_verify_locations(cadata=ca_pem.decode())
    ctx.verify_mode = ssl.CERT_REQUIRED if require_peer else ssl.CERT_NONE
    if credential is not None:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            cert, key = credential.write(Path(tmp), "leaf")
            ctx.load_cert_chain(cert, key)
    return ctx
