"""Connect Master worlds as data (YAML files in ``scenarios/connect_master/worlds/``): the device
gateways with their subnets and tenants, the reconnect interval, and the terminals a served
world starts with (``hil serve connect-master --scenario``).

    name: two-gateways
    reconnect_s: 30                 # the device gateways' async reconnect interval
    gateways:
      - {id: gw-a, ip: 10.0.0.1, subnet: 10.0.0.0/24, tenant: tenant-a}
      - {id: gw-b, ip: 10.0.1.1, subnet: 10.0.1.0/24, tenant: tenant-b}
    terminals:                      # placed by `hil serve` (scenarios place their own)
      - {gateway: gw-a, count: 4, first_device: 1, first_host: 100,
         mode: server-to-device, ssl: false}

``two-gateways`` is the world every connect-master scenario assumes (:func:`default_world`).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from scenarios.connect_master.declared import MODES
from scenarios.world_files import read_world_file

WORLDS_DIR = Path(__file__).parent / "worlds"
DEFAULT_WORLD = "two-gateways"
FIRST_SERVED_HOST = 100  # where ``--terminals N`` starts numbering hosts
_TOP = ("name", "reconnect_s", "gateways", "terminals")
_GATEWAY = ("id", "ip", "subnet", "tenant")
_GROUP = ("gateway", "count", "first_device", "first_host", "mode", "ssl")


class WorldError(ValueError):
    """A world file that cannot be used; the message names the file and field."""


@dataclass(frozen=True)
class GatewaySpec:
    gateway_id: str
    ip: str
    subnet: str
    tenant: str

    def host_ip(self, host: int) -> str:
        """The address of host ``host`` (the last octet) on this gateway's subnet."""
        return f"{self.ip.rsplit('.', 1)[0]}.{host}"


@dataclass(frozen=True)
class TerminalGroup:
    """``count`` terminals on one gateway: device IDs and hosts counted up from the first."""

    gateway: str
    count: int
    first_device: int = 1
    first_host: int = FIRST_SERVED_HOST
    mode: int = 0
    ssl: bool = False

    def specs(self) -> list[dict[str, Any]]:
        """What :meth:`scenarios.connect_master.bed.CmBed.place` takes, one per terminal."""
        return [
            {
                "deviceID": self.first_device + i,
                "gateway": self.gateway,
                "host": self.first_host + i,
                "mode": self.mode,
                "ssl": self.ssl,
            }
            for i in range(self.count)
        ]


@dataclass(frozen=True)
class WorldSpec:
    name: str
    gateways: tuple[GatewaySpec, ...]
    reconnect_s: float = 30.0
    terminals: tuple[TerminalGroup, ...] = field(default_factory=tuple)
    source: str = "<memory>"

    def with_tenant(self, tenant: str) -> WorldSpec:
        """The first gateway belongs to ``tenant``; another gateway of that tenant is renamed
        ``<tenant>-other`` (tenant isolation needs two tenants)."""
        first, *rest = self.gateways
        others = tuple(
            replace(g, tenant=f"{g.tenant}-other") if g.tenant == tenant else g for g in rest
        )
        return replace(self, gateways=(replace(first, tenant=tenant), *others))

    def with_terminals(self, count: int) -> WorldSpec:
        """``count`` terminals on the first gateway instead of the file's (devices 1..count)."""
        if not 0 <= count <= 255 - FIRST_SERVED_HOST:
            raise WorldError(
                f"{count} terminals not accepted; accepted: 0..{255 - FIRST_SERVED_HOST} "
                f"(hosts {FIRST_SERVED_HOST}.. of one /24)"
            )
        group = TerminalGroup(self.gateways[0].gateway_id, count)
        return replace(self, terminals=(group,) if count else ())

    def terminal_specs(self) -> list[dict[str, Any]]:
        return [spec for group in self.terminals for spec in group.specs()]


def load_world(name_or_path: str | Path) -> WorldSpec:
    """A world file by name (``worlds/<name>.yaml``) or path."""
    data, source = read_world_file(name_or_path, WORLDS_DIR, "connect-master", WorldError)
    return parse_world(data, source)


@cache
def default_world() -> WorldSpec:
    return load_world(DEFAULT_WORLD)


def parse_world(data: Any, source: str = "<memory>") -> WorldSpec:
    if not isinstance(data, dict):
        raise WorldError(f"{source}: a world is a mapping with {', '.join(_TOP)}")
    _known(data, _TOP, source)
    gateways = tuple(
        _gateway(g, f"{source}: gateways[{i}]")
        for i, g in enumerate(_list(data, "gateways", source))
    )
    if not gateways:
        raise WorldError(f"{source}: gateways is empty; a world needs at least one device gateway")
    ids = [g.gateway_id for g in gateways]
    if len(set(ids)) != len(ids):
        raise WorldError(f"{source}: gateway ids repeat: {ids}")
    reconnect = data.get("reconnect_s", 30.0)
    if isinstance(reconnect, bool) or not isinstance(reconnect, int | float) or reconnect <= 0:
        raise WorldError(f"{source}: reconnect_s {reconnect!r} not accepted; accepted: seconds > 0")
    groups = tuple(
        _group(t, f"{source}: terminals[{i}]", ids)
        for i, t in enumerate(_list(data, "terminals", source))
    )
    devices = [s["deviceID"] for g in groups for s in g.specs()]
    if len(set(devices)) != len(devices):
        raise WorldError(f"{source}: terminal device IDs overlap between groups")
    return WorldSpec(
        name=str(data.get("name") or Path(source).stem),
        gateways=gateways,
        reconnect_s=float(reconnect),
        terminals=groups,
        source=source,
    )


def _known(entry: dict[str, Any], keys: tuple[str, ...], at: str) -> None:
    unknown = sorted(str(k) for k in entry if k not in keys)
    if unknown:
        raise WorldError(
            f"{at}: unknown field(s) {', '.join(unknown)}; accepted: {', '.join(keys)}"
        )


def _list(data: dict[str, Any], key: str, source: str) -> list[Any]:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise WorldError(f"{source}: {key} is {value!r}; accepted: a list of mappings")
    return value


def _gateway(entry: Any, at: str) -> GatewaySpec:
    if not isinstance(entry, dict):
        raise WorldError(f"{at} is {entry!r}; accepted: a mapping with {', '.join(_GATEWAY)}")
    _known(entry, _GATEWAY, at)
    missing = [k for k in _GATEWAY if not entry.get(k)]
    if missing:
        raise WorldError(f"{at}: missing {', '.join(missing)}")
    try:
        subnet = ipaddress.IPv4Network(str(entry["subnet"]), strict=False)
        ip = ipaddress.IPv4Address(str(entry["ip"]))
    except ValueError as exc:
        raise WorldError(f"{at}: {exc}; accepted: an IPv4 address in an IPv4 subnet") from None
    if ip not in subnet or subnet.prefixlen != 24:
        raise WorldError(f"{at}: ip {ip} must lie in subnet {subnet}, a /24")
    return GatewaySpec(str(entry["id"]), str(ip), str(subnet), str(entry["tenant"]))


def _group(entry: Any, at: str, gateways: list[str]) -> TerminalGroup:
    if not isinstance(entry, dict):
        raise WorldError(f"{at} is {entry!r}; accepted: a mapping with {', '.join(_GROUP)}")
    _known(entry, _GROUP, at)
    if entry.get("gateway") not in gateways:
        raise WorldError(f"{at}: gateway {entry.get('gateway')!r} unknown; accepted: {gateways}")
    count = _int(entry, "count", at, 0, 253, None)
    first_host = _int(entry, "first_host", at, 2, 254, FIRST_SERVED_HOST)
    if first_host + count - 1 > 254:
        raise WorldError(f"{at}: hosts {first_host}..{first_host + count - 1} leave the /24")
    first_device = _int(entry, "first_device", at, 1, 0xFFFFFFFF - count, 1)
    mode = entry.get("mode", "server-to-device")
    if mode not in MODES:
        raise WorldError(f"{at}: mode {mode!r} not accepted; accepted: {', '.join(MODES)}")
    ssl = entry.get("ssl", False)
    if not isinstance(ssl, bool):
        raise WorldError(f"{at}: ssl {ssl!r} not accepted; accepted: true or false")
    return TerminalGroup(str(entry["gateway"]), count, first_device, first_host, MODES[mode], ssl)


def _int(entry: dict[str, Any], key: str, at: str, low: int, high: int, default: int | None) -> int:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        shown = "missing" if value is None else repr(value)
        raise WorldError(f"{at}: {key} is {shown}; accepted: an integer {low}..{high}")
    return value
