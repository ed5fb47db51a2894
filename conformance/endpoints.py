"""What each profile reads from a SUT declaration's endpoint block, in one place.

``hil conformance`` checks a declaration against its profile here before any scenario runs: the
profile's endpoint block must exist (for an outside SUT), every field must be one the profile's
fixtures read and hold a value they accept, and every capability must be one the harness knows.
The first defect becomes one :class:`~conformance.sut.SutError` line naming the field and what is
accepted. :func:`dial_targets` lists the addresses the harness will connect to, so a run can
probe them first (:mod:`conformance.reachability`).

The builtin SUT runs in the scenario's own world: its blocks are checked when present but never
required, and nothing of it is dialled. A builtin declaration's ``deviations`` must be names of
the profile's deviation catalog (``conformance/deviations/<profile>.yaml``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from conformance.sut import SutDeclaration, SutError

_HOST_PORT = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(?P<port>\d{1,5})$")
_SHOWN_MAX = 60


@dataclass(frozen=True)
class Target:
    """Something the harness connects to: a TCP ``host:port`` or a device path."""

    field: str  # e.g. ``endpoints.ble-router.base_url``
    value: str  # as declared
    host: str | None = None
    port: int | None = None
    path: str | None = None


@dataclass(frozen=True)
class Field:
    """One endpoint field: what it accepts and whether the harness dials it.

    ``valid`` answers True/False, or raises ValueError whose message (starting with the field
    name) replaces the default one. ``sub`` makes the field a mapping checked field by field.
    """

    accepted: str
    valid: Callable[[Any], bool] = lambda value: True
    required: bool = False  # for an outside SUT
    dial: Callable[[str, str], Target] | None = None  # (value, field path) -> target
    sub: Mapping[str, Field] | None = None


@dataclass(frozen=True)
class EndpointSchema:
    profile: str
    fields: Mapping[str, Field]
    capabilities: tuple[str, ...]  # the capabilities scenarios of this profile may need
    bridge: tuple[str, ...] = ()  # an outside SUT declares exactly one of these fields
    # fields an outside SUT must declare, by its role (e.g. a platform's MQTT address)
    by_role: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


# -- value checks -------------------------------------------------------------------------------


def _http_target(value: str, where: str = "") -> Target:
    parts = urlsplit(value)
    port = parts.port  # ValueError for a port out of range or not a number
    if parts.scheme != "http" or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(value)
    if parts.username is not None or parts.password is not None:
        raise ValueError(value)
    return Target(where, value, host=parts.hostname, port=port or 80)


def _host_port_target(value: str, where: str = "") -> Target:
    match = _HOST_PORT.match(value)
    if not match or not 1 <= int(match["port"]) <= 65535:
        raise ValueError(value)
    return Target(where, value, host=match["host"].strip("[]"), port=int(match["port"]))


def _parses(parse: Callable[[str], Any]) -> Callable[[Any], bool]:
    def valid(value: Any) -> bool:
        if not isinstance(value, str):
            return False
        try:
            parse(value)
        except ValueError:
            return False
        return True

    return valid


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _integer(low: int, high: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _line_settings(value: Any) -> bool:
    from sim.uart import LineSettings  # the line's own parser, so both accept the same text

    return _parses(LineSettings.parse)(value)


def _scbk(value: Any) -> bool:
    return value is None or (
        isinstance(value, str) and bool(re.fullmatch(r"[0-9a-f]{32}", value, re.I))
    )


def _declared_devices(value: Any) -> bool:
    from scenarios.connect_master.declared import parse_devices  # raises "devices[i].x ..."

    parse_devices(value)
    return True


def _gateway_list(value: Any) -> bool:
    """Declared gateways: ``[{name, token, tenant?}]``."""
    if not isinstance(value, list):
        return False
    for index, item in enumerate(value):
        if (
            not isinstance(item, Mapping)
            or not _text(item.get("name"))
            or not _text(item.get("token"))
        ):
            raise ValueError(
                f"gateways[{index}] is {_shown(item)}; accepted: a mapping with name and token "
                "(and tenant)"
            )
        unknown = sorted(set(item) - {"name", "token", "tenant"})
        if unknown:
            raise ValueError(
                f"gateways[{index}] has unknown field(s) {', '.join(unknown)}; accepted: name, "
                "token, tenant"
            )
    return True


def _meter_list(value: Any) -> bool:
    """The meters an outside gateway bridges: ``[{name, unit}]``."""
    if not isinstance(value, list) or not value:
        return False
    for index, item in enumerate(value):
        if (
            not isinstance(item, Mapping)
            or not _text(item.get("name"))
            or not _integer(1, 247)(item.get("unit"))
        ):
            raise ValueError(
                f"meters[{index}] is {_shown(item)}; accepted: a mapping with name (text) and "
                "unit (1-247)"
            )
    return True


def _mapping(value: Any) -> bool:
    return isinstance(value, Mapping) and bool(value)


def _device_path(value: str, where: str = "") -> Target:
    return Target(where, value, path=value)


HTTP_URL = "http://host[:port][/path] (plain HTTP)"
HOST_PORT = "host:port (port 1-65535)"
_URL = Field(HTTP_URL, _parses(_http_target), dial=_http_target)
_ADDRESS = Field(HOST_PORT, _parses(_host_port_target), dial=_host_port_target)
_TIME_SCALE = Field(
    "a number > 0 (far-side seconds per wall second, 1 for real equipment)", _positive
)
_FILE = Field("a file path (PEM)", _text, required=True)
_NAME = Field("a non-empty string", _text)
_REGISTER = Field("an address 0-65535", _integer(0, 0xFFFF))
_SETTINGS = Field("'<baud> <data bits><N|E|O><stop bits>', e.g. '9600 8N1'", _line_settings)
_DEVICE = Field("a device path, e.g. /dev/ttyUSB0", _text, dial=_device_path)

_BLE_CAPABILITIES = (
    "scan",
    "connect",
    "gatt",
    "notify",
    "connection-state",
    "info",
    "rssi",
    "batch-connect",
    "advertise",
    "login",
    "pairing",
    "world-control",
    "reboot",
    "radio-faults",
    "load",
)

_AC_CAPABILITIES = (
    "oauth2",
    "token-expiry",
    "hubs",
    "hub-status",
    "router-calls",
    "combined",
    "combined-scan",
    "combined-scan-203",
    "combined-scan-211",
    "auto-selection",
    "auto-selection-211",
    "roaming",
    "positioning",
    "router-faults",
    "reboot",
    "world-control",
    "load",
)

SCHEMAS: dict[str, EndpointSchema] = {
    schema.profile: schema
    for schema in (
        EndpointSchema(
            "ble-router",
            {
                "base_url": replace(_URL, required=True),
                "world_control": _URL,
                "time_scale": _TIME_SCALE,
            },
            _BLE_CAPABILITIES,
        ),
        EndpointSchema(
            "ble-ac",
            {
                "base_url": replace(_URL, required=True),
                "client_id": replace(_NAME, required=True),
                "secret": replace(_NAME, required=True),
                "world_control": _URL,
                "time_scale": _TIME_SCALE,
            },
            _AC_CAPABILITIES,
        ),
        EndpointSchema(
            "connect-master",
            {
                "address": replace(_ADDRESS, required=True),
                "ca": _FILE,
                "cert": _FILE,
                "key": _FILE,
                "tenant": _NAME,
                "gateway": _NAME,
                "other_tenant": Field(
                    "a mapping with tenant, gateway, cert, key",
                    sub={"tenant": _NAME, "gateway": _NAME, "cert": _FILE, "key": _FILE},
                ),
                "admin": Field("a mapping with cert, key", sub={"cert": _FILE, "key": _FILE}),
                "world_control": _URL,
                "time_scale": _TIME_SCALE,
                "devices": Field("a list of {deviceID, ip, port?, ssl?, mode?}", _declared_devices),
            },
            (
                "connect-master",
                "world-control",
                "declared-devices",
                "gateway-restart",
                "master-restart",
                "second-tenant",
                "admin-login",
                "rs485-slave-bus",
                "load",
            ),
        ),
        EndpointSchema(
            "mqtt-gateway",
            {
                # SUT = a platform: where its MQTT listens, how the harness gets gateways
                "mqtt": _ADDRESS,
                "tls": Field("true or false", lambda v: isinstance(v, bool)),
                "ca": Field("a file path (PEM) of the CA to trust for tls", _text),
                "control_url": _URL,
                "admin_key": _NAME,
                "gateways": Field("a list of {name, token, tenant?}", _gateway_list),
                # SUT = a gateway: how to run it, what it bridges and calls things
                "process": Field(
                    "a mapping: how to install, start and stop the outside gateway", _mapping
                ),
                "gateway": _NAME,
                "meters": Field("a non-empty list of {name, unit}", _meter_list),
                "ticks_key": _NAME,
                "setpoint_key": _NAME,
                "serial_key": _NAME,
                "rpc_write": _NAME,
                "rpc_read": _NAME,
                "start_timeout_s": Field("a number of seconds > 0", _positive),
                "time_scale": _TIME_SCALE,
            },
            (
                "mqtt-gateway-role",
                "mqtt-platform-role",
                "mqtt-platform-control",
                "mqtt-v311",
                "mqtt-tenants",
                "mqtt-modbus",
                "mqtt-ble",
                "mqtt-attribute-request",
                "mqtt-gateway-claim",
                "mqtt-network-faults",
            ),
            by_role={"gateway": ("process",), "server": ("mqtt",), "platform": ("mqtt",)},
        ),
        EndpointSchema(
            "device2",
            {
                # the service's management API, its HTTP and MQTT device APIs, the product
                "service_url": replace(_URL, required=True),
                "device_url": replace(_URL, required=True),
                "mqtt": _ADDRESS,
                "product": _NAME,
                "token": _NAME,  # sent as Authorization: Bearer <token> to the management API
                "world_control": _URL,
                "time_scale": _TIME_SCALE,
            },
            (
                "device2-service-restart",
                "device2-link-faults",
                "device2-certificate",
                "device2-restore-archive",
                "load",
            ),
        ),
        EndpointSchema(
            "rs485-modbus",
            {
                "tcp": _ADDRESS,
                "serial": _DEVICE,
                "pty": _DEVICE,
                "world_control": _URL,
                "time_scale": _TIME_SCALE,
                "unit": Field("a slave id 1-247", _integer(1, 247)),
                "settings": _SETTINGS,
                "coil": _REGISTER,
                "discrete_input": _REGISTER,
                "input": _REGISTER,
                "writable_register": _REGISTER,
                "bad_address": _REGISTER,
                "limited_register": _REGISTER,
                "out_of_range_value": Field("a register value 0-65535", _integer(0, 0xFFFF)),
                "unsupported_function": Field("a function code 1-127", _integer(1, 127)),
            },
            ("modbus-rtu", "modbus-multi-slave", "modbus-fault-injection"),
            bridge=("tcp", "serial", "pty"),
        ),
        EndpointSchema(
            "rs485-osdp",
            {
                "tcp": _ADDRESS,
                "serial": _DEVICE,
                "pty": _DEVICE,
                "world_control": _URL,
                "time_scale": _TIME_SCALE,
                "address": Field("an OSDP address 0-126", _integer(0, 126)),
                "settings": _SETTINGS,
                "scbk": Field("null or 16 bytes as 32 hex digits", _scbk),
            },
            (
                "osdp-pd",
                "osdp-secure-channel",
                "osdp-multi-pd",
                "osdp-reader-control",
                "osdp-power-control",
            ),
            bridge=("tcp", "serial", "pty"),
        ),
    )
}


def known_capabilities(extra: Iterable[str] = ()) -> list[str]:
    """Every capability some profile's scenarios may need, plus ``extra`` (e.g. the ones a
    catalog outside ``conformance/catalogs/`` names), sorted."""
    found = {cap for schema in SCHEMAS.values() for cap in schema.capabilities}
    return sorted(found | set(extra))


# -- the check ----------------------------------------------------------------------------------


def check_declaration(
    sut: SutDeclaration, profile: str, catalog_capabilities: Iterable[str] = ()
) -> None:
    """SutError (one line: the file, the field, what is accepted) for the first defect of
    ``sut`` as a SUT of ``profile``; a profile without a schema here gets the capability check
    only."""
    at = str(sut.source or sut.name)
    known = known_capabilities(catalog_capabilities)
    for index, cap in enumerate(sut.capabilities):
        if cap not in known:
            raise SutError(
                f"{at}: capabilities[{index}] {cap!r} is not a capability the harness knows; "
                f"accepted: {', '.join(known)}"
            )
    _check_deviations(sut, profile, at)
    schema = SCHEMAS.get(profile)
    if schema is None:
        return
    block = sut.endpoints.get(profile)
    if block is None:
        if sut.builtin:
            return
        declared = ", ".join(sorted(sut.endpoints)) or "none"
        raise SutError(
            f"{at}: endpoints.{profile} is missing (declared: {declared}); accepted: a mapping "
            f"with {_field_list(schema)}"
        )
    _check_block(block, schema.fields, f"{at}: endpoints.{profile}", outside=not sut.builtin)
    for name in () if sut.builtin else schema.by_role.get(sut.role, ()):
        if name not in block:
            raise SutError(
                f"{at}: endpoints.{profile}.{name} is missing; a SUT of role {sut.role} declares "
                f"it ({schema.fields[name].accepted})"
            )
    if schema.bridge and not sut.builtin:
        given = [key for key in schema.bridge if key in block]
        if len(given) != 1:
            shown = ", ".join(given) if given else "none"
            raise SutError(
                f"{at}: endpoints.{profile} names {shown} as its bridge; accepted: exactly one of "
                "tcp (host:port), serial or pty (a device path)"
            )


def _check_deviations(sut: SutDeclaration, profile: str, at: str) -> None:
    """A deviant builtin SUT names deviations the profile's deviation catalog holds."""
    if not sut.deviations:
        return
    from conformance.deviations import DeviationCatalogError, load_deviations

    try:
        known = load_deviations(profile).names
    except DeviationCatalogError as exc:
        raise SutError(f"{at}: field 'deviations': {exc}") from None
    for index, name in enumerate(sut.deviations):
        if name not in known:
            raise SutError(
                f"{at}: deviations[{index}] {name!r} is not a {profile} deviation; accepted: "
                f"{', '.join(known)}"
            )


def _check_block(
    block: Mapping[str, Any], fields: Mapping[str, Field], at: str, outside: bool
) -> None:
    unknown = sorted(str(k) for k in block if k not in fields)
    if unknown:
        raise SutError(
            f"{at}: unknown field(s) {', '.join(unknown)}; accepted: {', '.join(fields)}"
        )
    for name, spec in fields.items():
        if name not in block:
            if spec.required and outside:
                raise SutError(f"{at}.{name} is missing; accepted: {spec.accepted}")
            continue
        value = block[name]
        if spec.sub is not None:
            if not isinstance(value, Mapping):
                raise SutError(f"{at}.{name} is {_shown(value)}; accepted: {spec.accepted}")
            _check_block(value, spec.sub, f"{at}.{name}", outside)
            continue
        try:
            ok = spec.valid(value)
        except ValueError as exc:
            raise SutError(f"{at}.{' '.join(str(exc).split())}") from None
        if not ok:
            raise SutError(f"{at}.{name} is {_shown(value)}; accepted: {spec.accepted}")


def dial_targets(sut: SutDeclaration, profile: str) -> list[Target]:
    """What the harness connects to for ``profile``: none for the builtin SUT or an unknown
    profile. Call after :func:`check_declaration`."""
    schema = SCHEMAS.get(profile)
    block = sut.endpoints.get(profile)
    if sut.builtin or schema is None or block is None:
        return []
    return [
        spec.dial(str(block[name]), f"endpoints.{profile}.{name}")
        for name, spec in schema.fields.items()
        if spec.dial is not None and name in block
    ]


def _field_list(schema: EndpointSchema) -> str:
    required = [name for name, spec in schema.fields.items() if spec.required]
    if schema.bridge:
        required.append(" or ".join(schema.bridge))
    roles: dict[tuple[str, ...], list[str]] = {}
    for role, names in schema.by_role.items():
        roles.setdefault(names, []).append(role)
    required += [f"{', '.join(n)} (role {'/'.join(r)})" for n, r in roles.items()]
    return ", ".join(required) or "no required field"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 3] + "..."
