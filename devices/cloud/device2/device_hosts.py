"""Which product a device connection is for: the HTTP ``Host`` header or the TLS server name,
matched against each gateway's ``fqdn`` (``getGatewaySettings.fqdn``, by default
``<product>.m2.exosite.io``; facts, section 0).

``<product>.devmode-m2.<rest>`` (``.m2.`` of the fqdn become ``.devmode-m2.``) is the same
product in dev mode (token authentication only). Names compare without case and without a
port. A name no product claims resolves to the configured default product unless hosts are
checked (:class:`~.device_config.DeviceApiConfig`).
"""

from __future__ import annotations

from dataclasses import dataclass

from devices.cloud.device2.device_config import DeviceApiConfig
from devices.cloud.device2.gateway import Gateway
from devices.cloud.device2.service import Device2Service

DEVMODE_FROM, DEVMODE_TO = ".m2.", ".devmode-m2."


@dataclass(frozen=True)
class Target:
    """The gateway a connection is for, and whether it came in through the dev-mode name."""

    gateway: Gateway
    devmode: bool = False


def bare_host(host: str | None) -> str:
    """``host`` lower-cased, without a port (``[::1]:80`` -> ``::1``)."""
    if not host:
        return ""
    text = host.strip().lower()
    if text.startswith("["):
        return text[1 : text.find("]")] if "]" in text else text[1:]
    if text.count(":") == 1:
        text = text.split(":", 1)[0]
    return text.rstrip(".")


class Hosts:
    """Resolves names to gateways of ``service`` under ``config``."""

    def __init__(self, service: Device2Service, config: DeviceApiConfig) -> None:
        self.service = service
        self.config = config

    def names(self) -> dict[str, Target]:
        """Every served name -> its target (the settings may change: read each time)."""
        out: dict[str, Target] = {}
        for product in self.service.products:
            gateway = self.service.gateway(product)
            fqdn = str(gateway.settings.raw.get("fqdn") or "").lower()
            if not fqdn:
                continue
            out[fqdn] = Target(gateway)
            if self.config.devmode and DEVMODE_FROM in f".{fqdn}":
                dev = f".{fqdn}".replace(DEVMODE_FROM, DEVMODE_TO, 1)[1:]
                out.setdefault(dev, Target(gateway, devmode=True))
        return out

    def default(self) -> Target | None:
        product = self.config.default_product
        if product is None:
            products = self.service.products
            if len(products) != 1:
                return None
            product = products[0]
        if product not in self.service.products:
            return None
        return Target(self.service.gateway(product))

    def resolve(self, name: str | None, named_required: bool = True) -> Target | None:
        """The target of ``name`` (a Host header or a TLS server name); None when it is
        refused. ``named_required`` False: a connection that had no way to name a host (MQTT
        without TLS) goes to the default product even when hosts are checked."""
        host = bare_host(name)
        target = self.names().get(host) if host else None
        if target is not None:
            return target
        if host and self.config.check_host:
            return None
        if not host and self.config.check_host and named_required:
            return None
        return self.default()
