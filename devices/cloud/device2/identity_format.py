"""``identity_format``: which identities a gateway accepts, and how it makes new ones.

Types (seed and facts sheet, section 4):

* ``mac:48`` ``MM:MM:MM:SS:SS:SS``, ``mac-48`` ``MM-MM-MM-SS-SS-SS``, ``mac.48``
  ``MMM.MMM.SSS.SSS`` — 12 hex digits; ``options.mac_base`` (the manufacturer's first 3 octets,
  6 hex digits, written with or without separators) must then be the first 6 digits.
* ``uuidv4`` — ``xxxxxxxx-xxxx-4xxx-Nxxx-xxxxxxxxxxxx`` with N in 8, 9, a, b.
* ``base10`` / ``base16`` — ``prefix`` then digits (``0-9`` / ``0-9a-f``); ``options.length``
  counts the digits only (not the prefix).
* ``opaque`` — any non-empty UTF-8 string.

``options.casing`` (``lower``, ``upper``, ``mixed``; default ``mixed``) applies to the whole
identity including the prefix: ``lower`` refuses any upper-case letter, ``upper`` any
lower-case one. Readings where the seed is silent: the prefix is matched without regard to case
(casing alone decides case); an identity may be at most :data:`MAX_IDENTITY_BYTES` long; made
identities use lower case unless casing is ``upper``; ``base10``/``base16`` without a length are
made with :data:`DEFAULT_MADE_DIGITS` digits and ``opaque`` ones are 16 hex digits.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from devices.cloud.device2.errors import Conflict, InvalidInput, one_of

TYPES = ("mac:48", "mac-48", "mac.48", "uuidv4", "base10", "base16", "opaque")
CASINGS = ("lower", "upper", "mixed")
MAX_IDENTITY_BYTES = 512
DEFAULT_MADE_DIGITS = {"base10": 10, "base16": 16}
_MAC_SEP = {"mac:48": ":", "mac-48": "-", "mac.48": "."}
_HEX = "0123456789abcdef"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", re.I)
_MAKE_ATTEMPTS = 64


@dataclass(frozen=True)
class IdentityFormat:
    type: str = "opaque"
    prefix: str = ""
    casing: str = "mixed"
    length: int | None = None
    mac_base: str | None = None  # 6 lower-case hex digits

    # -- settings -----------------------------------------------------------------------------
    @classmethod
    def parse(
        cls, spec: Mapping[str, Any] | None, field: str = "identity_format"
    ) -> IdentityFormat:
        """The format described by a settings object (InvalidInput naming the bad field)."""
        if spec is None:
            return cls()
        if not isinstance(spec, Mapping):
            raise InvalidInput(field, "an object", spec)
        for key in spec:
            if key not in ("type", "prefix", "options"):
                raise InvalidInput(f"{field}.{key}", one_of(("type", "prefix", "options")))
        kind = spec.get("type", "opaque")
        if kind not in TYPES:
            raise InvalidInput(f"{field}.type", one_of(TYPES), kind)
        options = spec.get("options") or {}
        if not isinstance(options, Mapping):
            raise InvalidInput(f"{field}.options", "an object", options)
        for key in options:
            if key not in ("casing", "length", "mac_base"):
                raise InvalidInput(
                    f"{field}.options.{key}", one_of(("casing", "length", "mac_base"))
                )
        casing = options.get("casing") or "mixed"
        if casing not in CASINGS:
            raise InvalidInput(f"{field}.options.casing", one_of(CASINGS), casing)
        prefix = spec.get("prefix") or ""
        if not isinstance(prefix, str):
            raise InvalidInput(f"{field}.prefix", "a string", prefix)
        if prefix and kind not in ("base10", "base16"):
            raise InvalidInput(
                f"{field}.prefix", "a prefix only with type base10 or base16", prefix
            )
        if not _cased(prefix, casing):
            raise InvalidInput(f"{field}.prefix", f"a prefix in {casing} case", prefix)
        length = options.get("length")
        if length is not None:
            if isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= 256:
                raise InvalidInput(f"{field}.options.length", "an integer from 1 to 256", length)
            if kind not in ("base10", "base16"):
                raise InvalidInput(
                    f"{field}.options.length", "a length only with type base10 or base16", length
                )
        mac_base = options.get("mac_base")
        if mac_base is not None:
            if kind not in _MAC_SEP:
                raise InvalidInput(
                    f"{field}.options.mac_base", "a MAC base only with a mac type", mac_base
                )
            digits = re.sub(r"[:.\-]", "", mac_base) if isinstance(mac_base, str) else ""
            if not re.fullmatch(r"[0-9a-fA-F]{6}", digits):
                raise InvalidInput(
                    f"{field}.options.mac_base", "3 octets as 6 hex digits, e.g. 00:1A:2B", mac_base
                )
            mac_base = digits.lower()
        return cls(kind, prefix, casing, length, mac_base)

    def to_json(self) -> dict[str, Any]:
        options: dict[str, Any] = {"casing": self.casing}
        if self.length is not None:
            options["length"] = self.length
        if self.mac_base is not None:
            options["mac_base"] = self.mac_base
        spec: dict[str, Any] = {"type": self.type, "options": options}
        if self.prefix:
            spec["prefix"] = self.prefix
        return spec

    # -- checking -----------------------------------------------------------------------------
    def describe(self) -> str:
        text = {
            "mac:48": "a MAC address MM:MM:MM:SS:SS:SS",
            "mac-48": "a MAC address MM-MM-MM-SS-SS-SS",
            "mac.48": "a MAC address MMM.MMM.SSS.SSS",
            "uuidv4": "a version 4 UUID like e5fa76f8-1220-45c9-b972-3e2345851677",
            "base10": "decimal digits",
            "base16": "hex digits",
            "opaque": "any non-empty UTF-8 string",
        }[self.type]
        if self.length is not None:
            text += f", exactly {self.length} of them"
        if self.prefix:
            text = f"{self.prefix!r} followed by {text}"
        if self.mac_base:
            text += f" starting with the MAC base {self.mac_base}"
        if self.casing != "mixed":
            text += f", in {self.casing} case"
        return text

    def check(self, identity: Any, field: str = "identity") -> str:
        """``identity`` if it matches; InvalidInput saying what is accepted if not."""
        if not isinstance(identity, str) or not self.matches(identity):
            raise InvalidInput(field, self.describe(), identity)
        return identity

    def matches(self, identity: str) -> bool:
        if not identity or len(identity.encode()) > MAX_IDENTITY_BYTES:
            return False
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in identity):
            return False
        if not _cased(identity, self.casing):
            return False
        if self.type == "opaque":
            return True
        if self.type == "uuidv4":
            return bool(_UUID.fullmatch(identity))
        if self.type in _MAC_SEP:
            return self._mac_digits(identity) is not None
        if self.prefix:
            if identity[: len(self.prefix)].lower() != self.prefix.lower():
                return False
            identity = identity[len(self.prefix) :]
        digits = "0-9" if self.type == "base10" else "0-9a-fA-F"
        count = "+" if self.length is None else f"{{{self.length}}}"
        return bool(re.fullmatch(f"[{digits}]{count}", identity))

    def _mac_digits(self, identity: str) -> str | None:
        sep = re.escape(_MAC_SEP[self.type])
        group = 3 if self.type == "mac.48" else 2
        count = 3 if self.type == "mac.48" else 5
        if not re.fullmatch(
            f"[0-9a-fA-F]{{{group}}}(?:{sep}[0-9a-fA-F]{{{group}}}){{{count}}}", identity
        ):
            return None
        digits = re.sub(r"[:.\-]", "", identity).lower()
        if self.mac_base and not digits.startswith(self.mac_base):
            return None
        return digits

    # -- making -------------------------------------------------------------------------------
    def space(self) -> int | None:
        """How many distinct identities :meth:`make` can produce (None: practically unlimited)."""
        if self.type in _MAC_SEP:
            return 16**6 if self.mac_base else None
        if self.type in ("base10", "base16") and self.length is not None:
            return (10 if self.type == "base10" else 16) ** self.length
        return None

    def make(self, rng: random.Random, taken: Callable[[str], bool], count_taken: int) -> str:
        """A new identity that ``taken`` says is free; Conflict when the range is exhausted."""
        space = self.space()
        if space is not None and count_taken >= space:
            raise Conflict(f"could not make an identity: all {space} of {self.describe()} exist")
        for _ in range(_MAKE_ATTEMPTS):
            candidate = self._render(rng.randrange(space) if space else None, rng)
            if not taken(candidate):
                return candidate
        if space is not None and space <= 1 << 20:
            start = rng.randrange(space)
            for i in range(space):
                candidate = self._render((start + i) % space, rng)
                if not taken(candidate):
                    return candidate
        raise Conflict(f"could not make an identity: {self.describe()} is exhausted")

    def _render(self, index: int | None, rng: random.Random) -> str:
        if self.type in _MAC_SEP:
            if self.mac_base:
                digits = self.mac_base + f"{index:06x}"
            else:
                digits = f"{rng.getrandbits(48):012x}"
            group = 3 if self.type == "mac.48" else 2
            text = _MAC_SEP[self.type].join(digits[i : i + group] for i in range(0, 12, group))
        elif self.type == "uuidv4":
            bits = rng.getrandbits(128)
            bits = (bits & ~(0xF << 76)) | (4 << 76)  # version 4
            bits = (bits & ~(0x3 << 62)) | (0x2 << 62)  # variant 10xx
            h = f"{bits:032x}"
            text = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        elif self.type in ("base10", "base16"):
            base = 10 if self.type == "base10" else 16
            length = self.length or DEFAULT_MADE_DIGITS[self.type]
            value = index if index is not None else rng.randrange(base**length)
            number = str(value) if base == 10 else f"{value:x}"
            text = self.prefix + number.rjust(length, "0")
        else:
            text = "".join(rng.choice(_HEX) for _ in range(16))
        return (
            text.upper()
            if self.casing == "upper"
            else text.lower()
            if self.casing == "lower"
            else text
        )


def _cased(text: str, casing: str) -> bool:
    if casing == "lower":
        return text == text.lower()
    if casing == "upper":
        return text == text.upper()
    return True
