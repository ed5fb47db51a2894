"""Declared terminals: the real terminals behind an external master's declared gateway, and how
a scenario's terminals are bound to them.

A SUT without world control lists its terminals in ``endpoints.connect-master.devices``. The
step "a terminal 1001 on "gw-a" at host 11" then binds scenario terminal 1001 to the next unused
declared device of the same mode and SSL setting (in declaration order); every later reference
to 1001 or to its scenario address (``10.0.0.11``) is translated to the real device ID, IP and
port. Nothing is placed or powered: the terminals are already on the lab's network.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEVICE_PORT = 51211
MODES = {"server-to-device": 0, "device-to-server": 1}
_KEYS = ("deviceID", "ip", "port", "ssl", "mode")


@dataclass(frozen=True)
class DeclaredTerminal:
    device_id: int
    ip: str
    port: int = DEVICE_PORT
    ssl: bool = False
    mode: int = 0  # 0 SERVER_TO_DEVICE, 1 DEVICE_TO_SERVER (connect.proto)

    def describe(self) -> str:
        return f"{self.device_id} ({_mode_name(self.mode)}, ssl {str(self.ssl).lower()})"


def _mode_name(mode: int) -> str:
    return next(name for name, value in MODES.items() if value == mode)


def parse_devices(raw: Any) -> list[DeclaredTerminal]:
    """The ``devices`` list of a connect-master endpoint; ValueError naming entry and field."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValueError(
            f"devices is {raw!r}; accepted: a list of mappings with {', '.join(_KEYS)}"
        )
    found: list[DeclaredTerminal] = []
    for index, entry in enumerate(raw):
        at = f"devices[{index}]"
        if not isinstance(entry, Mapping):
            raise ValueError(f"{at} is {entry!r}; accepted: a mapping with {', '.join(_KEYS)}")
        unknown = sorted(str(k) for k in entry if k not in _KEYS)
        if unknown:
            raise ValueError(
                f"{at}: unknown field(s) {', '.join(unknown)}; accepted: {', '.join(_KEYS)}"
            )
        device = DeclaredTerminal(
            device_id=_int(entry, "deviceID", at, 1, 0xFFFFFFFF, None),
            ip=_ipv4(entry.get("ip"), at),
            port=_int(entry, "port", at, 1, 65535, DEVICE_PORT),
            ssl=_bool(entry.get("ssl", False), f"{at}.ssl"),
            mode=_mode(entry.get("mode", "server-to-device"), at),
        )
        twin = next((d for d in found if d.device_id == device.device_id), None)
        if twin is not None:
            raise ValueError(f"{at}.deviceID {device.device_id} is declared twice")
        found.append(device)
    return found


def _int(
    entry: Mapping[str, Any], key: str, at: str, low: int, high: int, default: int | None
) -> int:
    value = entry.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        shown = "missing" if value is None else repr(value)
        raise ValueError(f"{at}.{key} is {shown}; accepted: an integer {low}..{high}")
    return value


def _ipv4(value: Any, at: str) -> str:
    if isinstance(value, str):
        try:
            return str(ipaddress.IPv4Address(value))
        except ValueError:
            pass
    shown = "missing" if value is None else repr(value)
    raise ValueError(f'{at}.ip is {shown}; accepted: an IPv4 address such as "192.0.2.31"')


def _bool(value: Any, at: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{at} is {value!r}; accepted: true or false")
    return value


def _mode(value: Any, at: str) -> int:
    if value not in MODES:
        raise ValueError(f"{at}.mode is {value!r}; accepted: {', '.join(MODES)}")
    return MODES[value]


class DeviceBinding:
    """One scenario's binding of its terminals to declared devices."""

    def __init__(self, devices: list[DeclaredTerminal]) -> None:
        self.devices = devices
        self._by_id: dict[int, DeclaredTerminal] = {}
        self._by_ip: dict[str, DeclaredTerminal] = {}

    def bind(self, scenario_id: int, scenario_ip: str, mode: int, ssl: bool) -> DeclaredTerminal:
        """Bind the scenario terminal to the next unused declared device of that mode and SSL."""
        if scenario_id in self._by_id:
            raise ValueError(
                f"scenario terminal {scenario_id} is already bound to declared "
                f"device {self._by_id[scenario_id].device_id}"
            )
        used = set(self._by_id.values())
        for device in self.devices:
            if device not in used and device.mode == mode and device.ssl == ssl:
                self._by_id[scenario_id] = device
                self._by_ip[scenario_ip] = device
                return device
        free = [d.describe() for d in self.devices if d not in used]
        raise ValueError(
            f"scenario terminal {scenario_id} needs a declared {_mode_name(mode)} "
            f"device with ssl {str(ssl).lower()}; unused declared devices: "
            f"{', '.join(free) or 'none'}"
        )

    def device(self, scenario_id: int) -> int:
        """The real device ID of a scenario terminal (IDs never bound stay as written)."""
        bound = self._by_id.get(scenario_id)
        return bound.device_id if bound else scenario_id

    def address(self, scenario_ip: str) -> tuple[str, int]:
        """The real (IP, port) behind a scenario address (others stay, on the device port)."""
        bound = self._by_ip.get(scenario_ip)
        return (bound.ip, bound.port) if bound else (scenario_ip, DEVICE_PORT)
