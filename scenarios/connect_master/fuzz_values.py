"""Random gsdk requests for the ``grpc`` fuzz campaign: real protobuf messages with field values
drawn from edge cases and random ones (:class:`MessageFuzzer`), and raw request bytes that are
mostly not a valid message (:func:`raw_payload`).

Everything is drawn from the ``random.Random`` given, so one seed and index give one input.
Addresses come from the attacker's own site and from nowhere: the in-world network routes
between the two tenants' sites (real tenants' sites are separate networks), so an address on
the victim's subnet would test that routing, not the master's API.
"""

from __future__ import annotations

import random
import string
from collections.abc import Sequence
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from devices.gateways.connect_master.errors import MAX_ENTRIES
from devices.gateways.connect_master.rpc import message_class

INT32_EDGES = (0, 1, -1, 2**31 - 1, -(2**31), 51211, 51212, 51213, 4010, 65535, 65536)
UINT32_EDGES = (0, 1, 2**32 - 1, 2**31, 60000, 60001, 1001, 1002, 2001, 2002, 5001)
ADDRESSES = (
    "10.0.1.21",
    "10.0.1.99",
    "10.0.1.1",
    "10.0.100.1",
    "127.0.0.1",
    "0.0.0.0",
    "255.255.255.255",
    "1.2.3.4",
    "999.1.1.1",
    "10.0.1",
    "::1",
    "10.0.1.21 ",
)
TEXTS = (
    "",
    "gw-a",
    "gw-b",
    "gw-c",
    "administrator",
    "tenant-a",
    "gw-b\x00",
    "GW-B",
    " gw-b",
    "' OR 1=1 --",
    "%s%s%n",
    "../../etc/passwd",
    "ü\u202e\U0001f600",
    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
)
LONG = ("x" * 65, "g" * 20_000, "\u00e9" * 5_000)


class MessageFuzzer:
    """Fills messages with random values; ``texts`` adds strings worth trying (certificates)."""

    def __init__(self, rng: random.Random, texts: Sequence[str] = ()) -> None:
        self.rng = rng
        self.texts = tuple(TEXTS) + tuple(texts)

    def message(self, descriptor: Descriptor, depth: int = 0, small: bool = False) -> Any:
        """A message of ``descriptor``; ``small``: its lists stay short (it is one of many)."""
        message = message_class(descriptor)()
        for fd in descriptor.fields:
            if self.rng.random() < 0.2:
                continue  # left unset
            if fd.is_repeated:
                self._repeated(message, fd, depth, small)
            elif fd.message_type is not None:
                if depth < 3:
                    sub = self.message(fd.message_type, depth + 1, small)
                    getattr(message, fd.name).CopyFrom(sub)
            else:
                setattr(message, fd.name, self.scalar(fd))
        return message

    def _repeated(self, message: Any, fd: FieldDescriptor, depth: int, small: bool) -> None:
        count = min(self.count(), 200) if small else self.count()
        target = getattr(message, fd.name)
        if fd.message_type is None:
            target.extend(self.scalar(fd) for _ in range(min(count, 50)))
            if count > 50:  # long lists: a run of IDs, cheap to build
                target.extend(self._filler(fd, count - 50))
        elif depth < 3:
            count = min(count, MAX_ENTRIES + 1)
            many = count > 3
            distinct = [
                self.message(fd.message_type, depth + 1, small or many)
                for _ in range(min(count, 3))
            ]
            for i in range(count):
                target.add().CopyFrom(distinct[i % len(distinct)])

    def _filler(self, fd: FieldDescriptor, count: int) -> list[Any]:
        if fd.cpp_type == FieldDescriptor.CPPTYPE_STRING:
            return [self.rng.choice(ADDRESSES)] * count
        if fd.cpp_type == FieldDescriptor.CPPTYPE_BOOL:
            return [True] * count
        start = self.rng.randrange(1, 2**31)
        return list(range(start, start + count))

    def count(self) -> int:
        """How many entries a repeated field gets: mostly few, sometimes past the limit."""
        roll = self.rng.random()
        if roll < 0.25:
            return 0
        if roll < 0.55:
            return 1
        if roll < 0.8:
            return self.rng.randint(2, 5)
        if roll < 0.93:
            return self.rng.randint(6, 200)
        if roll < 0.96:
            return MAX_ENTRIES
        if roll < 0.98:
            return MAX_ENTRIES + 1
        return 100_000

    def scalar(self, fd: FieldDescriptor) -> Any:
        rng = self.rng
        kind = fd.cpp_type
        if kind == FieldDescriptor.CPPTYPE_STRING:
            return self.text(fd.name)
        if kind == FieldDescriptor.CPPTYPE_BOOL:
            return rng.random() < 0.5
        if kind == FieldDescriptor.CPPTYPE_ENUM:
            known = [v.number for v in fd.enum_type.values]
            return rng.choice(known) if rng.random() < 0.6 else rng.choice(INT32_EDGES)
        if kind == FieldDescriptor.CPPTYPE_INT32:
            return (
                rng.choice(INT32_EDGES) if rng.random() < 0.6 else rng.randint(-(2**31), 2**31 - 1)
            )
        if kind == FieldDescriptor.CPPTYPE_UINT32:
            return rng.choice(UINT32_EDGES) if rng.random() < 0.6 else rng.randint(0, 2**32 - 1)
        raise TypeError(f"field {fd.full_name}: no values for C++ type {kind}")

    def text(self, field: str) -> str:
        rng = self.rng
        roll = rng.random()
        if "IPAddr" in field or "subnetMask" in field:
            if roll < 0.7:
                return rng.choice(ADDRESSES)
        elif field == "gatewayID" and roll < 0.6:
            return rng.choice(("gw-a", "gw-b", "gw-b"))
        roll = rng.random()
        if roll < 0.6:
            return rng.choice(self.texts)
        if roll < 0.7:
            return rng.choice(LONG)
        size = rng.randint(1, 80)
        if roll < 0.9:
            return "".join(rng.choice(string.printable) for _ in range(size))
        return "".join(chr(rng.randint(0x20, 0xD7FF)) for _ in range(size))


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def raw_payload(rng: random.Random, valid: bytes) -> bytes:
    """Request bytes for one call: ``valid`` (a good encoding) mutated, or bytes no protobuf
    parser should accept, or random bytes."""
    roll = rng.random()
    if roll < 0.3 and valid:
        data = bytearray(valid)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        return bytes(data)
    if roll < 0.4 and valid:
        return valid[: rng.randrange(len(valid))]
    if roll < 0.5:
        return valid + bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    crafted = (
        b"\x0a\x02\xff\xfe",  # field 1 string with bad UTF-8
        b"\x0a\x7f" + b"a",  # length runs past the end
        b"\x08" + b"\xff" * 11,  # varint longer than 10 bytes
        b"\x00\x01",  # field number 0
        b"\x0b" * 200,  # start-group tags, nested deep
        b"\x0f",  # wire type 7
        b"\x0c",  # end-group without a start
        b"\x12" + _varint(2**31) + b"x",  # huge length
        b"\x0d\x01\x02",  # fixed32 cut short
        bytes(range(256)),
    )
    if roll < 0.8:
        return rng.choice(crafted)
    return bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
