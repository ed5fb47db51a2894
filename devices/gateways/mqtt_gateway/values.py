"""Turning device bytes and registers into telemetry values, and values back into them.

A :class:`ValueCodec` is one mapping entry's ``type`` / ``scale`` / ``offset`` (plus byte or word
order): ``value = raw * scale + offset`` on the way up, ``raw = (value - offset) / scale``
(rounded, range-checked) on the way down. A scale of 0.1 turns register 215 into 21.5; results
are rounded to the scale's decimals so 215 * 0.1 is 21.5, not 21.500000000000004.

BLE characteristic values are bytes (little-endian by default, as GATT profiles are); Modbus
values are 16-bit registers (big-endian words, first word most significant by default).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from devices.gateways.mqtt_gateway.errors import ConfigError

NUMERIC = {
    "int8": "b",
    "uint8": "B",
    "int16": "h",
    "uint16": "H",
    "int32": "i",
    "uint32": "I",
    "float32": "f",
}
BLE_TYPES = (*NUMERIC, "bool", "utf8", "hex")
REGISTER_TYPES = ("int16", "uint16", "int32", "uint32", "float32", "string", "bool")
ORDERS = ("little", "big")


class CodecError(ValueError):
    """A value that cannot be encoded, or bytes/registers that cannot be decoded."""


@dataclass(frozen=True)
class ValueCodec:
    type: str
    scale: float = 1.0
    offset: float = 0.0
    byte_order: str = "little"  # BLE values
    word_order: str = "big"  # Modbus values of two registers
    count: int = 0  # Modbus strings: registers; 0 elsewhere
    decimals: int | None = None

    # -- common ------------------------------------------------------------------------------
    @property
    def numeric(self) -> bool:
        return self.type in NUMERIC

    def _scaled(self, raw: float) -> Any:
        """``raw * scale + offset``, rounded to ``decimals`` (by default the scale's and
        offset's own decimals; raw values are kept as they are unless ``decimals`` is given)."""
        if self.scale == 1 and self.offset == 0:
            return raw if self.decimals is None else round(raw, self.decimals)
        value = raw * self.scale + self.offset
        digits = _decimals(self.scale, self.offset) if self.decimals is None else self.decimals
        if digits == 0 and float(value).is_integer():
            return int(value)
        return round(value, digits)

    def _unscaled(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CodecError(f"{value!r} is not a number (type {self.type})")
        raw = (value - self.offset) / self.scale
        if self.type == "float32":
            return raw
        whole = round(raw)
        bits = struct.calcsize(NUMERIC[self.type]) * 8
        low, high = (
            (0, 2**bits - 1)
            if self.type.startswith("u")
            else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        )
        if not low <= whole <= high:
            raise CodecError(
                f"{value!r} is outside what a {self.type} holds "
                f"({self._scaled(low)} to {self._scaled(high)})"
            )
        return whole

    # -- BLE bytes ---------------------------------------------------------------------------
    def decode_bytes(self, data: bytes) -> Any:
        if self.type in NUMERIC:
            fmt = ("<" if self.byte_order == "little" else ">") + NUMERIC[self.type]
            size = struct.calcsize(fmt)
            if len(data) < size:
                raise CodecError(f"{data.hex()!r} is shorter than a {self.type} ({size} bytes)")
            return self._scaled(struct.unpack(fmt, data[:size])[0])
        if self.type == "bool":
            return any(data)
        if self.type == "utf8":
            return data.decode("utf-8", "replace")
        return data.hex()

    def encode_bytes(self, value: Any) -> bytes:
        if self.type in NUMERIC:
            fmt = ("<" if self.byte_order == "little" else ">") + NUMERIC[self.type]
            return struct.pack(fmt, self._unscaled(value))
        if self.type == "bool":
            if not isinstance(value, bool | int):
                raise CodecError(f"{value!r} is not true or false")
            return b"\x01" if value else b"\x00"
        if self.type == "utf8":
            return str(value).encode()
        try:
            return bytes.fromhex(str(value))
        except ValueError:
            raise CodecError(f'{value!r} is not hex bytes (e.g. "0100")') from None

    # -- Modbus registers --------------------------------------------------------------------
    @property
    def register_count(self) -> int:
        if self.type == "string":
            return self.count
        if self.type == "bool":
            return 1
        return 2 if self.type in ("int32", "uint32", "float32") else 1

    def decode_registers(self, registers: list[int]) -> Any:
        n = self.register_count
        if len(registers) < n:
            raise CodecError(f"{len(registers)} register(s) for a {self.type} needing {n}")
        words = list(registers[:n])
        if self.type == "string":
            raw = b"".join(struct.pack(">H", w) for w in words)
            return raw.rstrip(b"\x00").decode("ascii", "replace")
        if self.type == "bool":
            return bool(words[0])
        if self.word_order == "little":
            words.reverse()
        packed = b"".join(struct.pack(">H", w) for w in words)
        return self._scaled(struct.unpack(">" + NUMERIC[self.type], packed)[0])

    def encode_registers(self, value: Any) -> list[int]:
        if self.type == "string":
            raw = str(value).encode("ascii", "replace")[: self.count * 2]
            raw = raw.ljust(self.count * 2, b"\x00")
            return list(struct.unpack(f">{self.count}H", raw))
        if self.type == "bool":
            return [1 if value else 0]
        packed = struct.pack(">" + NUMERIC[self.type], self._unscaled(value))
        words = list(struct.unpack(f">{len(packed) // 2}H", packed))
        if self.word_order == "little":
            words.reverse()
        return words


def finite(value: Any) -> bool:
    """Whether ``value`` can go into JSON (NaN and infinities cannot)."""
    return not (isinstance(value, float) and not math.isfinite(value))


def _decimals(scale: float, offset: float) -> int:
    digits = 0
    for number in (scale, offset):
        exponent = Decimal(repr(float(number))).normalize().as_tuple().exponent
        if isinstance(exponent, int):
            digits = max(digits, -exponent)
    return digits


def codec_from(fields: Any, kind: str) -> ValueCodec:
    """The codec a mapping entry describes; ``kind`` is ``ble`` or ``modbus``.

    ``fields`` is a :class:`~.config_fields.Fields` (typed loosely to keep this module free of
    the configuration reader)."""
    types = BLE_TYPES if kind == "ble" else REGISTER_TYPES
    type_ = fields.text("type", "uint16" if kind == "modbus" else "uint8", types)
    scale = fields.number("scale", 1.0)
    if scale == 0:
        raise ConfigError(f"{fields.where('scale')}: 0 is not accepted (values would be lost)")
    offset = fields.number("offset", 0.0)
    if (scale != 1 or offset != 0) and type_ not in NUMERIC:
        raise ConfigError(
            f"{fields.where('scale')}: scale/offset apply to numbers only, not to type {type_}"
        )
    decimals = fields.integer("decimals", None, 0, 12) if fields.has("decimals") else None
    if kind == "ble":
        return ValueCodec(
            type_,
            scale,
            offset,
            byte_order=fields.text("byte_order", "little", ORDERS),
            decimals=decimals,
        )
    count = fields.integer("count", low=1, high=123) if type_ == "string" else 0
    return ValueCodec(
        type_,
        scale,
        offset,
        word_order=fields.text("word_order", "big", ORDERS),
        count=count,
        decimals=decimals,
    )
