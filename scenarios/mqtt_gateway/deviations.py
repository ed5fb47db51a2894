"""The MQTT system's deviations, both reference implementations together: the platform
emulator's (``platform-*``, :mod:`devices.cloud.mqtt_platform.deviations`) and the reference
gateway's (``gateway-*``, :mod:`devices.gateways.mqtt_gateway.deviations`). The
``mqtt-gateway`` deviation catalog and ``hil serve mqtt-gateway`` name this module; a bed hands
each implementation its own share (:func:`split`): the harness never misbehaves itself, so a
gateway-role bed passes only ``gateway-*`` names and a platform-role bed only ``platform-*``.
"""

from __future__ import annotations

from collections.abc import Iterable

from devices.cloud.mqtt_platform.deviations import DEVIATIONS as PLATFORM
from devices.gateways.mqtt_gateway.deviations import DEVIATIONS as GATEWAY

DEVIATIONS: dict[str, str] = {**PLATFORM, **GATEWAY}
HOOK_PACKAGES = ("devices.cloud.mqtt_platform", "devices.gateways.mqtt_gateway")
"""Where the hooks of :data:`DEVIATIONS` are (tests/test_deviations.py looks there)."""


def split(names: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the platform's names, the gateway's names) of ``names``."""
    given = tuple(names)
    return (
        tuple(n for n in given if n in PLATFORM),
        tuple(n for n in given if n in GATEWAY),
    )
