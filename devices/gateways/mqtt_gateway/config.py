"""The gateway's configuration: one YAML document, validated into frozen dataclasses.

Every field, with its default, is in ``example.yaml`` next to this module (a test loads it).
Sections: ``gateway`` (name, client id, token), ``platform`` (where and how to connect),
``delivery`` (the persistent queue), ``ble`` and ``modbus`` (the devices and their mappings:
``telemetry``, ``attributes`` read at each connection, ``attribute_updates`` written when the
platform pushes a shared attribute, ``rpc`` methods that ``read`` or ``write``). Errors name
the field by its path (``modbus.devices[0].telemetry[1].type``), the value and what is accepted.

Value fields of every entry: ``type`` (BLE: int8 uint8 int16 uint16 int32 uint32 float32 bool
utf8 hex; Modbus: int16 uint16 int32 uint32 float32 string bool), ``scale``, ``offset``,
``decimals``, ``byte_order`` (BLE, default little), ``word_order`` (Modbus, default big),
``count`` (Modbus strings). A BLE entry may name its ``service`` when a characteristic UUID occurs
in several. Modbus tables: holding, input, coil, discrete (coil/discrete hold ``bool``; only
holding and coil can be written).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from bumble import hci
from bumble.core import UUID

from devices.gateways.mqtt_gateway.config_fields import Fields
from devices.gateways.mqtt_gateway.errors import ConfigError
from devices.gateways.mqtt_gateway.values import ValueCodec, codec_from

EXAMPLE = Path(__file__).with_name("example.yaml")
"""A configuration with every field, commented."""
PROTOCOLS = {"5": 5, "3.1.1": 4}
TABLES = ("holding", "input", "coil", "discrete")
WRITABLE_TABLES = ("holding", "coil")
ACTIONS = ("read", "write")
MAX_READ_REGISTERS = 125


@dataclass(frozen=True)
class Characteristic:
    """Where a BLE value lives: a characteristic UUID (full or short form), maybe its service."""

    uuid: str
    service: str | None = None
    with_response: bool = True  # writes only


@dataclass(frozen=True)
class Register:
    """Where a Modbus value lives."""

    table: str
    address: int
    count: int = 1


@dataclass(frozen=True)
class Point:
    """One mapping entry: a telemetry or attribute key (or an RPC method) and its device value."""

    name: str
    target: Characteristic | Register
    codec: ValueCodec
    action: str = "read"
    notify: bool = False  # BLE telemetry pushed by notifications/indications
    poll_s: float | None = None  # BLE telemetry read periodically


@dataclass(frozen=True)
class DeviceConfig:
    name: str
    kind: str  # "ble" or "modbus"
    type: str = "default"
    telemetry: tuple[Point, ...] = ()
    attributes: tuple[Point, ...] = ()
    attribute_updates: tuple[Point, ...] = ()
    rpc: tuple[Point, ...] = ()
    address: hci.Address | None = None  # BLE
    unit: int = 0  # Modbus
    poll_s: float = 5.0  # Modbus
    offline_after: int = 3  # Modbus

    def update(self, key: str) -> Point | None:
        return next((p for p in self.attribute_updates if p.name == key), None)

    def method(self, name: str) -> Point | None:
        return next((p for p in self.rpc if p.name == name), None)


@dataclass(frozen=True)
class PlatformSettings:
    host: str = "platform"
    port: int = 1883
    protocol: int = 5  # paho's MQTTv5 (5) or MQTTv311 (4)
    keepalive_s: int = 60
    connect_timeout_s: float = 10.0
    reconnect_initial_s: float = 1.0
    reconnect_max_s: float = 60.0
    session_limits_request: bool = True
    session_limits_wait: bool = False
    session_limits_timeout_s: float = 5.0


@dataclass(frozen=True)
class DeliverySettings:
    path: str = ":memory:"
    max_inflight: int = 1
    batch_s: float = 1.0
    max_batch_rows: int = 100
    max_payload_bytes: int = 65536
    retry_initial_s: float = 1.0
    retry_max_s: float = 60.0
    max_attempts: int = 20
    poison_after_closes: int = 3
    drain_s: float = 5.0


@dataclass(frozen=True)
class BleSettings:
    address: str = "C0:00:00:00:AA:01"
    position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    active_scan: bool = False
    connect_timeout_s: float = 5.0
    op_timeout_s: float = 5.0
    devices: tuple[DeviceConfig, ...] = ()


@dataclass(frozen=True)
class ModbusSettings:
    bus: str = "line"
    timeout_s: float = 0.5
    retries: int = 1
    devices: tuple[DeviceConfig, ...] = ()


@dataclass(frozen=True)
class GatewayConfig:
    name: str
    client_id: str
    access_token: str = field(repr=False)
    platform: PlatformSettings = field(default_factory=PlatformSettings)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    device_refresh_s: float = 300.0
    ble: BleSettings | None = None
    modbus: ModbusSettings | None = None

    @property
    def devices(self) -> tuple[DeviceConfig, ...]:
        return (self.ble.devices if self.ble else ()) + (self.modbus.devices if self.modbus else ())

    def device(self, name: str) -> DeviceConfig | None:
        return next((d for d in self.devices if d.name == name), None)


# -- reading -----------------------------------------------------------------------------------
def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> GatewayConfig:
    """Read and validate a YAML configuration file (relative paths in it are relative to it)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_config(data, base_dir=path.parent, environ=environ)


def parse_config(
    data: Any, base_dir: Path | None = None, environ: Mapping[str, str] | None = None
) -> GatewayConfig:
    """Validate a configuration document (the YAML's mapping); ``base_dir`` anchors relative
    paths (the current directory when None); ``environ`` answers ``access_token_env``."""
    root = Fields(data, "")
    gw = root.section("gateway", required=True)
    name = gw.text("name", "mqtt-gateway")
    client_id = gw.text("client_id", name)
    if not client_id:
        raise ConfigError(
            "gateway.client_id must not be empty (paho would invent a random one, and the "
            "platform would see a new client at every restart)"
        )
    token = _token(gw, os.environ if environ is None else environ)
    refresh = gw.number("device_refresh_s", 300.0, above=0, high=540)
    gw.done()
    platform = _platform(root.section("platform"))
    delivery = _delivery(root.section("delivery"), name, base_dir)
    ble = _ble(root.section("ble")) if root.has("ble") else None
    modbus = _modbus(root.section("modbus")) if root.has("modbus") else None
    root.done()
    config = GatewayConfig(name, client_id, token, platform, delivery, refresh, ble, modbus)
    _unique(
        [d.name for d in config.devices],
        "device name",
        "ble.devices / modbus.devices",
    )
    return config


def _token(gw: Fields, environ: Mapping[str, str]) -> str:
    if gw.has("access_token") and gw.has("access_token_env"):
        raise ConfigError("gateway: give access_token or access_token_env, not both")
    if gw.has("access_token_env"):
        variable = gw.text("access_token_env")
        token = environ.get(variable, "")
        if not token:
            raise ConfigError(
                f"gateway.access_token_env: the environment variable {variable!r} is not set"
            )
        return token
    if not gw.has("access_token"):
        raise ConfigError("gateway.access_token (or gateway.access_token_env) is required")
    return gw.text("access_token")


def _platform(f: Fields) -> PlatformSettings:
    protocol = str(f.raw("protocol", "5"))
    if protocol not in PROTOCOLS:
        raise ConfigError(
            f"platform.protocol: {protocol!r} is not accepted; accepted: {', '.join(PROTOCOLS)}"
        )
    reconnect = f.section("reconnect")
    limits = f.section("session_limits")
    settings = PlatformSettings(
        host=f.text("host", "platform"),
        port=f.integer("port", 1883, 1, 65535),
        protocol=PROTOCOLS[protocol],
        keepalive_s=f.integer("keepalive_s", 60, 5, 65535),
        connect_timeout_s=f.number("connect_timeout_s", 10.0, above=0),
        reconnect_initial_s=reconnect.number("initial_s", 1.0, above=0),
        reconnect_max_s=reconnect.number("max_s", 60.0, above=0),
        session_limits_request=limits.flag("request", True),
        session_limits_wait=limits.flag("wait", False),
        session_limits_timeout_s=limits.number("timeout_s", 5.0, above=0),
    )
    if settings.session_limits_wait and not settings.session_limits_request:
        raise ConfigError("platform.session_limits: wait: true needs request: true")
    for section in (reconnect, limits, f):
        section.done()
    return settings


def _delivery(f: Fields, name: str, base_dir: Path | None) -> DeliverySettings:
    path = f.text("path", f"{name}-outbox.sqlite")
    if path != ":memory:" and not Path(path).is_absolute():
        path = str((base_dir or Path.cwd()) / path)
    retry = f.section("retry")
    settings = DeliverySettings(
        path=path,
        max_inflight=f.integer("max_inflight", 1, 1, 100),
        batch_s=f.number("batch_s", 1.0, 0, 60),
        max_batch_rows=f.integer("max_batch_rows", 100, 1, 10000),
        max_payload_bytes=f.integer("max_payload_bytes", 65536, 256, 268435455),
        retry_initial_s=retry.number("initial_s", 1.0, above=0),
        retry_max_s=retry.number("max_s", 60.0, above=0),
        max_attempts=retry.integer("max_attempts", 20, 0),
        poison_after_closes=f.integer("poison_after_closes", 3, 1, 100),
        drain_s=f.number("drain_s", 5.0, 0),
    )
    retry.done()
    f.done()
    return settings


def _ble(f: Fields) -> BleSettings:
    address = f.text("address", "C0:00:00:00:AA:01")
    _address(address, f.where("address"))
    position = f.raw("position", [0.0, 0.0, 0.0])
    if (
        not isinstance(position, list)
        or not 2 <= len(position) <= 3
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in position)
    ):
        raise ConfigError(f"{f.where('position')}: {position!r} is not [x, y] or [x, y, z]")
    xyz = tuple(float(v) for v in position) + (0.0,) * (3 - len(position))
    settings = BleSettings(
        address=address,
        position=(xyz[0], xyz[1], xyz[2]),
        active_scan=f.flag("active_scan", False),
        connect_timeout_s=f.number("connect_timeout_s", 5.0, above=0),
        op_timeout_s=f.number("op_timeout_s", 5.0, above=0),
        devices=tuple(_ble_device(d) for d in f.sections("devices")),
    )
    f.done()
    return settings


def _modbus(f: Fields) -> ModbusSettings:
    settings = ModbusSettings(
        bus=f.text("bus", "line"),
        timeout_s=f.number("timeout_s", 0.5, above=0),
        retries=f.integer("retries", 1, 0, 10),
        devices=tuple(_modbus_device(d) for d in f.sections("devices")),
    )
    units = [d.unit for d in settings.devices]
    _unique([str(u) for u in units], "unit id", f.where("devices"))
    f.done()
    return settings


# -- devices -----------------------------------------------------------------------------------
def _ble_device(f: Fields) -> DeviceConfig:
    address = _address(f.text("address"), f.where("address"))
    device = DeviceConfig(
        name=f.text("name"),
        kind="ble",
        type=f.text("type", "default"),
        address=address,
        telemetry=tuple(_ble_point(p, "telemetry") for p in f.sections("telemetry")),
        attributes=tuple(_ble_point(p, "attribute") for p in f.sections("attributes")),
        attribute_updates=tuple(_ble_point(p, "update") for p in f.sections("attribute_updates")),
        rpc=tuple(_ble_point(p, "rpc") for p in f.sections("rpc")),
    )
    f.done()
    _check_lists(device, f)
    return device


def _modbus_device(f: Fields) -> DeviceConfig:
    device = DeviceConfig(
        name=f.text("name"),
        kind="modbus",
        type=f.text("type", "default"),
        unit=f.integer("unit", low=1, high=247),
        poll_s=f.number("poll_s", 5.0, above=0),
        offline_after=f.integer("offline_after", 3, 1, 1000),
        telemetry=tuple(_register_point(p, "telemetry") for p in f.sections("telemetry")),
        attributes=tuple(_register_point(p, "attribute") for p in f.sections("attributes")),
        attribute_updates=tuple(
            _register_point(p, "update") for p in f.sections("attribute_updates")
        ),
        rpc=tuple(_register_point(p, "rpc") for p in f.sections("rpc")),
    )
    f.done()
    _check_lists(device, f)
    return device


def _check_lists(device: DeviceConfig, f: Fields) -> None:
    for label, points in (
        ("telemetry", device.telemetry),
        ("attributes", device.attributes),
        ("attribute_updates", device.attribute_updates),
    ):
        _unique([p.name for p in points], "key", f.where(label))
    _unique([p.name for p in device.rpc], "method", f.where("rpc"))


def _name_and_action(f: Fields, role: str) -> tuple[str, str]:
    if role == "rpc":
        return f.text("method"), f.text("action", choices=ACTIONS)
    return f.text("key"), "write" if role == "update" else "read"


def _ble_point(f: Fields, role: str) -> Point:
    name, action = _name_and_action(f, role)
    uuid = _uuid(f.text("characteristic"), f.where("characteristic"))
    service = _uuid(f.text("service"), f.where("service")) if f.has("service") else None
    with_response = f.flag("with_response", True) if action == "write" else True
    notify, poll_s = False, None
    if role == "telemetry":
        notify = f.flag("notify", False)
        poll_s = f.number("poll_s", above=0) if f.has("poll_s") else None
        if notify == (poll_s is not None):
            raise ConfigError(
                f"{f.path}: a BLE telemetry entry needs either notify: true or poll_s (not both)"
            )
    point = Point(
        name,
        Characteristic(uuid, service, with_response),
        codec_from(f, "ble"),
        action,
        notify,
        poll_s,
    )
    f.done()
    return point


def _register_point(f: Fields, role: str) -> Point:
    name, action = _name_and_action(f, role)
    table = f.text("table", choices=TABLES)
    codec = codec_from(f, "modbus")
    if (table in ("coil", "discrete")) != (codec.type == "bool"):
        raise ConfigError(
            f"{f.where('type')}: {codec.type!r} does not fit table {table!r}; coil and discrete "
            "tables hold bool, holding and input registers hold numbers or strings"
        )
    if action == "write" and table not in WRITABLE_TABLES:
        raise ConfigError(
            f"{f.where('table')}: {table!r} cannot be written; accepted for writes: "
            f"{', '.join(WRITABLE_TABLES)}"
        )
    count = codec.register_count
    address = f.integer("address", low=0, high=65536 - count)
    point = Point(name, Register(table, address, count), codec, action)
    f.done()
    return point


# -- small checks ------------------------------------------------------------------------------
def _address(text: str, where: str) -> hci.Address:
    base = text[:-2] if text.endswith("/P") else text
    parts = base.split(":")
    if len(parts) != 6 or not all(len(p) == 2 for p in parts):
        raise ConfigError(f"{where}: {text!r} is not a BLE address like F0:00:00:00:00:01")
    try:
        address_type = (
            hci.Address.PUBLIC_DEVICE_ADDRESS
            if text.endswith("/P")
            else hci.Address.RANDOM_DEVICE_ADDRESS
        )
        return hci.Address(base, address_type)
    except (ValueError, TypeError):
        raise ConfigError(f"{where}: {text!r} is not a BLE address") from None


def _uuid(text: str, where: str) -> str:
    try:
        UUID(text)
    except (ValueError, TypeError):
        raise ConfigError(
            f'{where}: {text!r} is not a 16-, 32- or 128-bit UUID (e.g. "2A37")'
        ) from None
    return text


def _unique(names: list[str], what: str, where: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ConfigError(f"{where}: the {what} {name!r} appears twice; each must be unique")
        seen.add(name)
