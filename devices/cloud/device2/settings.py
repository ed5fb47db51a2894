"""Gateway settings: every configuration parameter of the seed, with its default and checks.

``getGatewaySettings`` returns :meth:`Settings.to_json`; ``updateGatewaySettings`` (our name:
the seed's scripting form is ``Config.setParameters``) merges a partial object, checks it whole
and replaces the stored settings only when every field is valid. Defaults where the seed gives
them (``provisioning.enabled`` true, ``presenter_identity`` true, ``generate_identity`` false,
``ip_whitelisting.enabled`` false, casing ``mixed``); readings where it does not:
``auth_type`` ``token`` (the UI default), ``identity_format.type`` ``opaque``,
``enable_signal_parser`` false, ``fqdn`` ``<product>.m2.exosite.io`` (facts sheet, section 0),
``ip_whitelisting.allowed`` takes IPv4 addresses or CIDR networks, ``root_ca_fingerprint`` is
read-only (null: the reference service has no TLS front). Changing ``identity_format`` does not
re-check identities that already exist.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from devices.cloud.device2.errors import InvalidInput, one_of
from devices.cloud.device2.identity_format import IdentityFormat

AUTH_TYPES = ("certificate", "token", "password")
_REPLACED_WHOLE = ("identity_format",)  # a new type must not inherit the old type's options
_GATEWAY_NAME = r"[\w\-:.]+"
UPDATABLE = (
    "fqdn",
    "provisioning",
    "identity_format",
    "pki",
    "permission",
    "enable_signal_parser",
    "partition_key_level",
    "solution_sync",
)


def defaults(product: str) -> dict[str, Any]:
    return {
        "fqdn": f"{product}.m2.exosite.io",
        "provisioning": {
            "enabled": True,
            "auth_type": "token",
            "generate_identity": False,
            "presenter_identity": True,
            "ip_whitelisting": {"enabled": False, "allowed": []},
        },
        "identity_format": IdentityFormat().to_json(),
        "pki": None,
        "permission": {"gateway": []},
        "enable_signal_parser": False,
        "partition_key_level": None,
        "root_ca_fingerprint": None,
        "solution_sync": {"source": None, "target": None},
    }


@dataclass(frozen=True)
class Settings:
    """A checked settings object and the parts the service acts on."""

    raw: dict[str, Any]
    identity_format: IdentityFormat

    @classmethod
    def load(cls, raw: Mapping[str, Any]) -> Settings:
        return cls(dict(raw), IdentityFormat.parse(raw.get("identity_format")))

    def to_json(self) -> dict[str, Any]:
        return copy.deepcopy(self.raw)

    @property
    def provisioning(self) -> dict[str, Any]:
        return self.raw["provisioning"]

    @property
    def auth_type(self) -> str:
        return self.provisioning["auth_type"]

    @property
    def signal_parser(self) -> bool:
        return bool(self.raw.get("enable_signal_parser"))

    @property
    def gateways(self) -> list[str]:
        """Identities allowed to publish as any other device (``permission.gateway``)."""
        return list((self.raw.get("permission") or {}).get("gateway") or [])

    @property
    def pki(self) -> dict[str, Any] | None:
        return self.raw.get("pki")

    def ip_allowed(self, ip: str | None) -> bool:
        """May a device provision from ``ip`` (``provisioning.ip_whitelisting``)?"""
        rules = self.provisioning.get("ip_whitelisting") or {}
        if not rules.get("enabled"):
            return True
        if not ip:
            return False
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(a, strict=False) for a in rules["allowed"])

    def merged(self, patch: Mapping[str, Any]) -> Settings:
        """These settings with ``patch`` applied, checked whole (InvalidInput if not valid)."""
        if not isinstance(patch, Mapping):
            raise InvalidInput("settings", "an object", patch)
        raw = self.to_json()
        for key, value in patch.items():
            if key not in UPDATABLE:
                raise InvalidInput(key, "an updatable setting, " + one_of(UPDATABLE))
            if key in _REPLACED_WHOLE:
                raw[key] = copy.deepcopy(value)
            elif isinstance(value, Mapping) and isinstance(raw.get(key), Mapping):
                raw[key] = _deep_merge(raw[key], value)
            else:
                raw[key] = copy.deepcopy(value)
        check(raw)
        return Settings.load(raw)


def _deep_merge(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def check(raw: Mapping[str, Any]) -> None:
    """Every field of a whole settings object, or InvalidInput naming the first bad one."""
    fqdn = raw.get("fqdn")
    if not isinstance(fqdn, str) or not re.fullmatch(r"[A-Za-z0-9.\-]{1,253}", fqdn):
        raise InvalidInput("fqdn", "a domain name", fqdn)
    _check_provisioning(raw.get("provisioning"))
    IdentityFormat.parse(raw.get("identity_format"))
    _check_pki(raw.get("pki"))
    permission = raw.get("permission")
    if not isinstance(permission, Mapping):
        raise InvalidInput("permission", "an object", permission)
    gateways = permission.get("gateway", [])
    if not isinstance(gateways, list):
        raise InvalidInput("permission.gateway", "an array of identities", gateways)
    for i, name in enumerate(gateways):
        if not isinstance(name, str) or not re.fullmatch(_GATEWAY_NAME, name):
            raise InvalidInput(
                f"permission.gateway[{i}]", f"a string matching {_GATEWAY_NAME}", name
            )
    if not isinstance(raw.get("enable_signal_parser"), bool):
        raise InvalidInput("enable_signal_parser", "true or false", raw.get("enable_signal_parser"))
    level = raw.get("partition_key_level")
    if level is not None and not isinstance(level, str):
        raise InvalidInput("partition_key_level", "a string or null", level)
    sync = raw.get("solution_sync")
    if not isinstance(sync, Mapping):
        raise InvalidInput("solution_sync", "an object with source and target", sync)
    for side in sync:
        if side not in ("source", "target"):
            raise InvalidInput(f"solution_sync.{side}", one_of(("source", "target")))
        if sync[side] is not None and not isinstance(sync[side], Mapping):
            raise InvalidInput(f"solution_sync.{side}", "an object or null", sync[side])


def _check_provisioning(p: Any) -> None:
    if not isinstance(p, Mapping):
        raise InvalidInput("provisioning", "an object", p)
    known = ("enabled", "auth_type", "generate_identity", "presenter_identity", "ip_whitelisting")
    for key in p:
        if key not in known:
            raise InvalidInput(f"provisioning.{key}", one_of(known))
    for flag in ("enabled", "generate_identity", "presenter_identity"):
        if not isinstance(p.get(flag), bool):
            raise InvalidInput(f"provisioning.{flag}", "true or false", p.get(flag))
    if p.get("auth_type") not in AUTH_TYPES:
        raise InvalidInput("provisioning.auth_type", one_of(AUTH_TYPES), p.get("auth_type"))
    ipw = p.get("ip_whitelisting")
    if not isinstance(ipw, Mapping):
        raise InvalidInput("provisioning.ip_whitelisting", "an object", ipw)
    for key in ipw:
        if key not in ("enabled", "allowed"):
            raise InvalidInput(
                f"provisioning.ip_whitelisting.{key}", one_of(("enabled", "allowed"))
            )
    if not isinstance(ipw.get("enabled"), bool):
        raise InvalidInput(
            "provisioning.ip_whitelisting.enabled", "true or false", ipw.get("enabled")
        )
    allowed = ipw.get("allowed")
    if not isinstance(allowed, list):
        raise InvalidInput(
            "provisioning.ip_whitelisting.allowed", "an array of IPv4 addresses", allowed
        )
    for i, address in enumerate(allowed):
        try:
            network = ipaddress.ip_network(address, strict=False)
        except (TypeError, ValueError):
            network = None
        if network is None or network.version != 4:
            raise InvalidInput(
                f"provisioning.ip_whitelisting.allowed[{i}]",
                "an IPv4 address (or CIDR network)",
                address,
            )


def _check_pki(pki: Any) -> None:
    if pki is None:
        return
    if not isinstance(pki, Mapping):
        raise InvalidInput("pki", "an object or null", pki)
    if "enabled" in pki and not isinstance(pki["enabled"], bool):
        raise InvalidInput("pki.enabled", "true or false", pki["enabled"])
    cas = pki.get("client_ca", [])
    if not isinstance(cas, list):
        raise InvalidInput("pki.client_ca", "an array of PEM certificates", cas)
    for i, pem in enumerate(cas):
        try:
            x509.load_pem_x509_certificate(pem.encode())
        except (AttributeError, ValueError):
            raise InvalidInput(f"pki.client_ca[{i}]", "a PEM certificate", None) from None
    if pki.get("enabled") and not cas:
        raise InvalidInput("pki.client_ca", "at least one CA certificate when pki.enabled is true")
    vendor = pki.get("vendor")
    if vendor is not None:
        if not isinstance(vendor, Mapping):
            raise InvalidInput("pki.vendor", "an object or null", vendor)
        if "name" in vendor and vendor["name"] != "DigiCert":
            raise InvalidInput("pki.vendor.name", one_of(("DigiCert",)), vendor["name"])
        if "options" in vendor and not isinstance(vendor["options"], Mapping):
            raise InvalidInput("pki.vendor.options", "an object", vendor["options"])
