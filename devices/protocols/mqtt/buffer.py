"""Reading and writing MQTT's data representations inside one packet body.

:class:`Reader` walks a complete packet body; running past its end is a Malformed Packet (a
length field that points beyond the Remaining Length). :class:`Writer` builds a body.
"""

from __future__ import annotations

from devices.protocols.mqtt.errors import MalformedPacket
from devices.protocols.mqtt.strings import check_text, decode_text
from devices.protocols.mqtt.varint import decode_varint, encode_varint


class Reader:
    def __init__(self, data: bytes, packet: str) -> None:
        self.data = data
        self.pos = 0
        self.packet = packet

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int, what: str) -> bytes:
        if n > self.remaining:
            raise MalformedPacket(
                f"{self.packet} ends inside its {what} (needs {n} bytes, {self.remaining} left)"
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def u16(self, what: str) -> int:
        return int.from_bytes(self.take(2, what), "big")

    def u32(self, what: str) -> int:
        return int.from_bytes(self.take(4, what), "big")

    def varint(self, what: str) -> int:
        decoded = decode_varint(self.data, self.pos)
        if decoded is None:
            raise MalformedPacket(f"{self.packet} ends inside its {what}")
        value, self.pos = decoded
        return value

    def binary(self, what: str) -> bytes:
        return self.take(self.u16(what), what)

    def string(self, what: str) -> str:
        return decode_text(self.binary(what), f"{self.packet} {what}")

    def string_pair(self, what: str) -> tuple[str, str]:
        return self.string(f"{what} name"), self.string(f"{what} value")

    def rest(self) -> bytes:
        chunk = self.data[self.pos :]
        self.pos = len(self.data)
        return chunk

    def expect_end(self) -> None:
        if self.remaining:
            raise MalformedPacket(f"{self.packet} has {self.remaining} unexpected trailing bytes")


class Writer:
    def __init__(self) -> None:
        self.out = bytearray()

    def u8(self, value: int) -> Writer:
        self.out.append(value)
        return self

    def u16(self, value: int) -> Writer:
        self.out += value.to_bytes(2, "big")
        return self

    def u32(self, value: int) -> Writer:
        self.out += value.to_bytes(4, "big")
        return self

    def varint(self, value: int) -> Writer:
        self.out += encode_varint(value)
        return self

    def binary(self, value: bytes) -> Writer:
        if len(value) > 0xFFFF:
            raise ValueError(f"binary data is {len(value)} bytes long; MQTT holds at most 65535")
        self.out += len(value).to_bytes(2, "big") + value
        return self

    def string(self, value: str, what: str = "string") -> Writer:
        return self.binary(check_text(value, what))

    def raw(self, value: bytes) -> Writer:
        self.out += value
        return self

    def getvalue(self) -> bytes:
        return bytes(self.out)
