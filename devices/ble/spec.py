"""A BLE peripheral described by data (a dict, a YAML document, a Gherkin table).

Example::

    name: HR-1
    address: "F0:00:00:00:00:01"       # random static; append "/P" for a public address
    position: [2.0, 0.0]
    tx_power_dbm: 0
    advertising:
      interval_ms: 1000
      type: ADV_IND                     # ADV_IND, ADV_DIRECT_IND, ADV_SCAN_IND, ADV_NONCONN_IND
      local_name: HR-1
      name_in: adv                      # adv | scan_response | none
      service_uuids: ["180D"]
      manufacturer_data: {company_id: 0x004C, data: "0215"}
      # ad_data / scan_response: raw hex, replaces what the fields above would build
    services:
      - uuid: "180D"
        characteristics:
          - uuid: "2A37"
            properties: [read, notify]
            value: "0048"
            model: {kind: counter, period_s: 1.0}   # how the value changes over time
            notify_hz: 1.0
"""

from __future__ import annotations

import dataclasses
import struct
from typing import Any

from bumble import hci
from bumble.core import UUID, AdvertisingData

ADV_TYPES = {"ADV_IND": 0, "ADV_DIRECT_IND": 1, "ADV_SCAN_IND": 2, "ADV_NONCONN_IND": 3}
PROPERTIES = {
    "broadcast": 0x01,
    "read": 0x02,
    "write_without_response": 0x04,
    "write-without-response": 0x04,
    "write": 0x08,
    "notify": 0x10,
    "indicate": 0x20,
}
MODEL_KINDS = ("constant", "counter", "sine", "random_walk")
IO_CAPABILITIES = (
    "DisplayOnly",
    "DisplayYesNo",
    "KeyboardOnly",
    "NoInputNoOutput",
    "KeyboardDisplay",
)
PAIRING_BEHAVIOURS = ("accept", "reject", "timeout", "wrong_passkey")
OOB_KINDS = ("none", "legacy", "secure")
# The fields of a description's ``advertising`` section (see build_advertising).
ADVERTISING_FIELDS = (
    "type",
    "interval_ms",
    "flags",
    "flags_value",
    "service_uuids",
    "manufacturer_data",
    "local_name",
    "name_in",
    "ad_data",
    "scan_response",
)


class SpecError(ValueError):
    """A peripheral description that cannot be built; the message names the field."""


def _hex(value: Any, where: str) -> bytes:
    if isinstance(value, bytes):
        return value
    text = str(value).replace(" ", "")
    if text.lower().startswith("0x"):
        text = text[2:]
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise SpecError(f'{where}: {value!r} is not hex bytes (e.g. "0048")') from exc


def _uuid(value: Any, where: str) -> UUID:
    try:
        return UUID(str(value))
    except (ValueError, TypeError) as exc:
        raise SpecError(f"{where}: {value!r} is not a 16-, 32- or 128-bit UUID") from exc


@dataclasses.dataclass
class ValueModel:
    """How a characteristic value evolves: its encoding and its law over time."""

    kind: str = "constant"
    period_s: float = 1.0  # how often the value changes
    start: float = 0.0
    step: float = 1.0  # counter increment / random-walk step
    amplitude: float = 10.0  # sine
    encoding: str = "u16"  # u8, u16, i16, u32, i32, f32, utf8, raw

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, where: str) -> ValueModel:
        model = cls(**(data or {}))
        if model.kind not in MODEL_KINDS:
            raise SpecError(f"{where}.kind: {model.kind!r} is not one of {', '.join(MODEL_KINDS)}")
        if model.period_s <= 0:
            raise SpecError(f"{where}.period_s must be > 0, got {model.period_s}")
        return model

    def encode(self, x: float) -> bytes:
        formats = {"u8": "<B", "u16": "<H", "i16": "<h", "u32": "<I", "i32": "<i", "f32": "<f"}
        if self.encoding in formats:
            fmt = formats[self.encoding]
            if fmt == "<f":
                return struct.pack(fmt, x)
            bits = struct.calcsize(fmt) * 8
            n = int(round(x))
            if fmt[1].isupper():
                n %= 1 << bits
            else:
                n = max(-(1 << (bits - 1)), min((1 << (bits - 1)) - 1, n))
            return struct.pack(fmt, n)
        if self.encoding == "utf8":
            return f"{x:g}".encode()
        raise SpecError(f"encoding {self.encoding!r} is not one of u8 u16 i16 u32 i32 f32 utf8")


@dataclasses.dataclass
class CharacteristicSpec:
    uuid: UUID
    properties: int
    value: bytes = b""
    model: ValueModel | None = None
    notify_hz: float = 0.0
    descriptors: list[tuple[UUID, bytes]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class ServiceSpec:
    uuid: UUID
    characteristics: list[CharacteristicSpec]


@dataclasses.dataclass
class SecuritySpec:
    """How the peripheral behaves when asked to pair (made real by :mod:`devices.ble.security`).

    ``passkey``: what it displays, or (keyboard devices) what it enters without waiting for a
    user to type; random (from the world's seed) / typed through world control when None.
    ``oob``: ``legacy`` (a 4.1 device with a 16-byte TK, ``oob_tk`` or drawn from the seed;
    needs ``secure_connections: false``) or ``secure`` (LE SC OOB: it shows rand and confirm;
    needs ``secure_connections: true``). ``behaviour``: ``reject`` refuses every pairing,
    ``timeout`` never answers a pairing request, ``wrong_passkey`` mistypes a passkey and
    answers "no" to a numeric comparison.
    """

    io_capability: str = "NoInputNoOutput"
    secure_connections: bool = True
    mitm: bool = False
    bonding: bool = True
    passkey: int | None = None
    behaviour: str = "accept"
    oob: str = "none"
    oob_tk: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> SecuritySpec:
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise SpecError(
                f"{where}: unknown field(s) {', '.join(unknown)}; accepted: "
                f"{', '.join(f.name for f in dataclasses.fields(cls))}"
            )
        sec = cls(**data)
        if sec.io_capability not in IO_CAPABILITIES:
            raise SpecError(
                f"{where}.io_capability: {sec.io_capability!r} is not one of "
                f"{', '.join(IO_CAPABILITIES)}"
            )
        for flag in ("secure_connections", "mitm", "bonding"):
            if not isinstance(getattr(sec, flag), bool):
                raise SpecError(f"{where}.{flag}: {getattr(sec, flag)!r} is not true or false")
        if sec.behaviour not in PAIRING_BEHAVIOURS:
            raise SpecError(
                f"{where}.behaviour: {sec.behaviour!r} is not one of "
                f"{', '.join(PAIRING_BEHAVIOURS)}"
            )
        if sec.passkey is not None and (
            isinstance(sec.passkey, bool)
            or not isinstance(sec.passkey, int)
            or not 0 <= sec.passkey <= 999999
        ):
            raise SpecError(f"{where}.passkey: {sec.passkey!r} is not a number from 0 to 999999")
        if sec.oob not in OOB_KINDS:
            raise SpecError(f"{where}.oob: {sec.oob!r} is not one of {', '.join(OOB_KINDS)}")
        if sec.oob == "legacy" and sec.secure_connections:
            raise SpecError(
                f"{where}: oob 'legacy' is LE legacy (Bluetooth 4.1) pairing; set "
                "secure_connections: false"
            )
        if sec.oob == "secure" and not sec.secure_connections:
            raise SpecError(
                f"{where}: oob 'secure' is LE Secure Connections OOB; set secure_connections: true"
            )
        if sec.oob_tk is not None and len(_hex(sec.oob_tk, f"{where}.oob_tk")) != 16:
            raise SpecError(f"{where}.oob_tk: {sec.oob_tk!r} is not 16 bytes (32 hex digits)")
        return sec


@dataclasses.dataclass
class PeripheralSpec:
    name: str
    address: hci.Address
    position: tuple[float, ...] = (1.0, 0.0, 0.0)
    tx_power_dbm: float = 0.0
    adv_interval_ms: float = 1000.0
    adv_type: int = 0
    ad_data: bytes = b""
    scan_response: bytes = b""
    services: list[ServiceSpec] = dataclasses.field(default_factory=list)
    security: SecuritySpec = dataclasses.field(default_factory=SecuritySpec)
    # A Bumble transport name ("usb:0", "serial:/dev/ttyUSB0,1000000", "tcp-client:host:port"):
    # the peripheral's host then drives that real controller instead of a simulated one.
    hci_transport: str | None = None

    @property
    def address_text(self) -> str:
        return self.address.to_string(False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PeripheralSpec:
        where = f"peripheral {data.get('name', '?')!r}"
        if "name" not in data or "address" not in data:
            raise SpecError(f"{where}: 'name' and 'address' are required")
        address = parse_address(str(data["address"]), where + ".address")
        adv = dict(data.get("advertising") or {})
        adv_type = adv.get("type", "ADV_IND")
        if isinstance(adv_type, str):
            if adv_type not in ADV_TYPES:
                raise SpecError(
                    f"{where}.advertising.type: {adv_type!r} is not one of {', '.join(ADV_TYPES)}"
                )
            adv_type = ADV_TYPES[adv_type]
        interval = float(adv.get("interval_ms", 1000))
        if not 20 <= interval <= 10240:
            raise SpecError(f"{where}.advertising.interval_ms: {interval} is outside 20-10240")
        ad, rsp = build_advertising(adv, str(data["name"]), where)
        services = [
            _service(s, f"{where}.services[{i}]") for i, s in enumerate(data.get("services") or [])
        ]
        sec = data.get("security") or {}
        if not isinstance(sec, dict):
            raise SpecError(f"{where}.security: {sec!r} is not a mapping of security fields")
        security = SecuritySpec.from_dict(sec, where + ".security")
        position = tuple(float(v) for v in data.get("position", (1.0, 0.0, 0.0)))
        return cls(
            name=str(data["name"]),
            address=address,
            position=position,
            tx_power_dbm=float(data.get("tx_power_dbm", 0.0)),
            adv_interval_ms=interval,
            adv_type=adv_type,
            ad_data=ad,
            scan_response=rsp,
            services=services,
            security=security,
            hci_transport=data.get("hci_transport") or None,
        )


def parse_address(text: str, where: str = "address") -> hci.Address:
    """``AA:BB:CC:DD:EE:FF`` (random) or ``AA:BB:CC:DD:EE:FF/P`` (public)."""
    base = text[:-2] if text.endswith("/P") else text
    parts = base.split(":")
    if len(parts) != 6 or not all(len(p) == 2 for p in parts):
        raise SpecError(f"{where}: {text!r} is not a MAC address like F0:00:00:00:00:01")
    try:
        return hci.Address(text)
    except (ValueError, TypeError) as exc:
        raise SpecError(f"{where}: {text!r} is not a MAC address") from exc


def _ad_structure(ad_type: int, payload: bytes) -> bytes:
    return bytes([len(payload) + 1, ad_type]) + payload


def build_advertising(adv: dict[str, Any], default_name: str, where: str) -> tuple[bytes, bytes]:
    """Advertising data and scan response bytes from the declarative fields (or raw hex)."""
    ad = b""
    rsp = b""
    if adv.get("flags", True) is not False:
        ad += _ad_structure(AdvertisingData.FLAGS, bytes([int(adv.get("flags_value", 0x06))]))
    uuids = [_uuid(u, f"{where}.advertising.service_uuids") for u in adv.get("service_uuids", [])]
    for size, ad_type in ((2, 0x03), (4, 0x05), (16, 0x07)):
        group = [u for u in uuids if len(u.to_bytes()) == size]
        if group:
            ad += _ad_structure(ad_type, b"".join(u.to_bytes() for u in group))
    manufacturer = adv.get("manufacturer_data")
    if manufacturer:
        company = int(manufacturer.get("company_id", 0xFFFF))
        ad += _ad_structure(
            0xFF,
            struct.pack("<H", company)
            + _hex(manufacturer.get("data", ""), f"{where}.manufacturer_data"),
        )
    name = adv.get("local_name", default_name)
    name_in = adv.get("name_in", "adv")
    if name and name_in != "none":
        structure = _ad_structure(AdvertisingData.COMPLETE_LOCAL_NAME, str(name).encode())
        if name_in == "scan_response":
            rsp += structure
        elif name_in == "adv":
            ad += structure
        else:
            raise SpecError(
                f"{where}.advertising.name_in: {name_in!r} is not adv, scan_response or none"
            )
    if "ad_data" in adv:
        ad = _hex(adv["ad_data"], f"{where}.advertising.ad_data")
    if "scan_response" in adv:
        rsp = _hex(adv["scan_response"], f"{where}.advertising.scan_response")
    for label, blob in (("advertising data", ad), ("scan response", rsp)):
        if len(blob) > 31:
            raise SpecError(
                f"{where}: {label} is {len(blob)} bytes; legacy advertising carries at most 31"
            )
    return ad, rsp


def _properties(value: Any, where: str) -> int:
    if isinstance(value, int):
        return value
    names = value if isinstance(value, list) else str(value).replace("|", ",").split(",")
    mask = 0
    for name in names:
        key = str(name).strip().lower()
        if key not in PROPERTIES:
            raise SpecError(
                f"{where}.properties: {name!r} is not one of "
                "read, write, write_without_response, notify, indicate, broadcast"
            )
        mask |= PROPERTIES[key]
    return mask


def _service(data: dict[str, Any], where: str) -> ServiceSpec:
    chars = []
    for i, c in enumerate(data.get("characteristics") or []):
        cw = f"{where}.characteristics[{i}]"
        model = ValueModel.from_dict(c["model"], cw + ".model") if c.get("model") else None
        descriptors = [
            (_uuid(d["uuid"], cw), _hex(d.get("value", ""), cw)) for d in c.get("descriptors", [])
        ]
        notify_hz = float(c.get("notify_hz", 0.0))
        if notify_hz < 0:
            raise SpecError(f"{cw}.notify_hz must be >= 0, got {notify_hz}")
        chars.append(
            CharacteristicSpec(
                uuid=_uuid(c.get("uuid"), cw + ".uuid"),
                properties=_properties(c.get("properties", ["read"]), cw),
                value=_hex(c.get("value", ""), cw + ".value"),
                model=model,
                notify_hz=notify_hz,
                descriptors=descriptors,
            )
        )
    return ServiceSpec(uuid=_uuid(data.get("uuid"), where + ".uuid"), characteristics=chars)


def standard_peripheral(
    index: int,
    position: tuple[float, ...] = (2.0, 0.0, 0.0),
    notify_hz: float = 1.0,
    interval_ms: float = 1000.0,
    name_prefix: str = "HIL-",
    spec_changes: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """The stock sensor used by benchmarks and `hil serve`: heart rate + battery + a
    writable control point.

    ``fields`` change it: advertising fields (:data:`ADVERTISING_FIELDS`, e.g. ``name_in``)
    go to its ``advertising`` section, security fields (:class:`SecuritySpec`'s, e.g.
    ``io_capability``) to its ``security`` section; ``spec_changes`` then replaces whole
    top-level entries (e.g. ``services``)."""
    spec = _standard(index, position, notify_hz, interval_ms, name_prefix)
    security_fields = {f.name for f in dataclasses.fields(SecuritySpec)}
    for key, value in fields.items():
        if key in ADVERTISING_FIELDS:
            spec["advertising"][key] = value
        elif key in security_fields:
            spec.setdefault("security", {})[key] = value
        else:
            raise SpecError(
                f"standard peripheral {index}: {key!r} is neither an advertising field "
                f"({', '.join(ADVERTISING_FIELDS)}) nor a security field "
                f"({', '.join(sorted(security_fields))})"
            )
    spec.update(spec_changes or {})
    return spec


def _standard(
    index: int,
    position: tuple[float, ...],
    notify_hz: float,
    interval_ms: float,
    name_prefix: str,
) -> dict[str, Any]:
    return {
        "name": f"{name_prefix}{index:04d}",
        "address": f"F0:00:00:{(index >> 16) & 0xFF:02X}:{(index >> 8) & 0xFF:02X}:"
        f"{index & 0xFF:02X}",
        "position": list(position),
        "advertising": {
            "interval_ms": interval_ms,
            "service_uuids": ["180D"],
            "manufacturer_data": {"company_id": 0xFFFF, "data": f"{index:04X}"},
        },
        "services": [
            {
                "uuid": "180D",
                "characteristics": [
                    {
                        "uuid": "2A37",
                        "properties": ["read", "notify"],
                        "value": "0048",
                        "model": {
                            "kind": "counter",
                            "period_s": 1.0 / notify_hz if notify_hz else 1.0,
                            "start": 60,
                            "encoding": "u16",
                        },
                        "notify_hz": notify_hz,
                    },
                    {
                        "uuid": "2A39",
                        "properties": ["write", "write_without_response"],
                        "value": "00",
                    },
                ],
            },
            {
                "uuid": "180F",
                "characteristics": [
                    {"uuid": "2A19", "properties": ["read", "indicate"], "value": "64"},
                ],
            },
        ],
    }
