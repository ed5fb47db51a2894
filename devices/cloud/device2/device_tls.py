"""TLS of the device APIs: the server certificate of the device hosts, the client certificates
of devices (subject CN = identity), and the contexts both sides use.

Certificates come from :class:`devices.protocols.x509.CertificateAuthority` (made at run time,
valid 2020-2100). :meth:`DeviceTls.generate` makes two authorities: one signs the server
certificate (naming every product's ``fqdn``, ``localhost`` and 127.0.0.1), the other the
devices' certificates (:meth:`DeviceTls.device_certificate`).

How the server checks a client certificate's chain was not found (facts, section 3). Ours, in
two steps: the TLS layer accepts a certificate only if it chains to a trusted issuer (the
device authority, any ``extra_client_cas``, and every product's ``pki.client_ca``: a
self-signed device certificate, as the tutorial makes with openssl, is trusted by listing it
in ``extra_client_cas``); the domain then takes its CN as the identity and, with
``pki.enabled``, checks it was issued by one of the product's ``pki.client_ca`` at the world's
time (:mod:`.credentials`). A certificate is optional: a client without one authenticates
with a token or password. The trusted issuers are read at each handshake (settings may change).
"""

from __future__ import annotations

import ssl
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from devices.cloud.device2.service import Device2Service
from devices.protocols.tls import ServerNames
from devices.protocols.x509 import CertificateAuthority, Credential


def _load_chain(ctx: ssl.SSLContext, credential: Credential) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = credential.write(Path(tmp), "leaf")
        ctx.load_cert_chain(cert, key)


def pem_of_der(der: bytes) -> bytes:
    """A DER certificate (``SSLObject.getpeercert(True)``) as PEM, as the domain takes it."""
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)


@dataclass
class DeviceTls:
    """Server and device certificates, and TLS contexts for both ends."""

    server_ca: CertificateAuthority
    server: Credential
    device_ca: CertificateAuthority
    extra_client_cas: list[bytes] = field(default_factory=list)
    names: ServerNames = field(default_factory=ServerNames)
    _contexts: dict[tuple[bytes, ...], ssl.SSLContext] = field(default_factory=dict)

    @classmethod
    def generate(cls, dns_names: Iterable[str] = ()) -> DeviceTls:
        """Fresh authorities and a server certificate naming ``dns_names`` (the products'
        fqdns) besides localhost and 127.0.0.1."""
        server_ca = CertificateAuthority("device2 server root")
        names = sorted({n.lower() for n in dns_names})
        server = server_ca.issue(names[0] if names else "localhost", True, dns_names=names)
        return cls(server_ca, server, CertificateAuthority("device2 device root"))

    def device_certificate(self, identity: str) -> Credential:
        """A client certificate whose subject CN is ``identity``, from the device authority."""
        return self.device_ca.issue(identity)

    # -- server side ----------------------------------------------------------------------
    def server_context(
        self, trusted: Callable[[], Iterable[str | bytes]] | None = None
    ) -> ssl.SSLContext:
        """The device hosts' context: TLS 1.2+, a client certificate optional and verified
        against the device authority, ``extra_client_cas`` and what ``trusted()`` returns at
        the handshake (the products' ``pki.client_ca``); the server name is recorded in
        :attr:`names`."""
        base = self._context(self._issuers(()))

        def switch(obj: Any, _name: str | None, ctx: ssl.SSLContext) -> None:
            wanted = self._context(self._issuers(trusted() if trusted else ()))
            if wanted is not ctx:
                obj.context = wanted

        base.sni_callback = switch
        return self.names.install(base)

    def _issuers(self, more: Iterable[str | bytes]) -> tuple[bytes, ...]:
        pems = [self.device_ca.cert_pem, *self.extra_client_cas]
        pems += [p.encode() if isinstance(p, str) else p for p in more]
        return tuple(dict.fromkeys(p.strip() for p in pems))

    def _context(self, issuers: tuple[bytes, ...]) -> ssl.SSLContext:
        ctx = self._contexts.get(issuers)
        if ctx is None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            _load_chain(ctx, self.server)
            for pem in issuers:
                ctx.load_verify_locations(cadata=pem.decode())
            ctx.verify_mode = ssl.CERT_OPTIONAL
            ctx.num_tickets = 0  # no session resumption: every handshake is a full one
            self._contexts[issuers] = ctx
        return ctx

    # -- client side ----------------------------------------------------------------------
    def client_context(
        self, credential: Credential | None = None, check_hostname: bool = True
    ) -> ssl.SSLContext:
        """A device's context: trusts the server authority, presents ``credential``."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.check_hostname = check_hostname
        ctx.load_verify_locations(cadata=self.server_ca.cert_pem.decode())
        if credential is not None:
            _load_chain(ctx, credential)
        return ctx

    def write(self, folder: Path) -> dict[str, Path]:
        """PEM files for outside clients: the server authority (``server-ca.pem``, what a
        device trusts) and the device authority (``device-ca.pem``)."""
        folder.mkdir(parents=True, exist_ok=True)
        out = {"server_ca": folder / "server-ca.pem", "device_ca": folder / "device-ca.pem"}
        out["server_ca"].write_bytes(self.server_ca.cert_pem)
        out["device_ca"].write_bytes(self.device_ca.cert_pem)
        return out


def pki_client_cas(service: Device2Service) -> list[str]:
    """Every product's ``pki.client_ca`` (issuers the TLS layer trusts besides its own)."""
    cas: list[str] = []
    for product in service.products:
        pki = service.gateway(product).settings.pki or {}
        cas += pki.get("client_ca") or []
    return list(dict.fromkeys(cas))
