"""Wireshark's "exported PDU" framing (pcap link type ``WIRESHARK_UPPER_PDU``, 252) as scapy
layers: a list of tag/length/value options, the first naming the dissector Wireshark hands the
rest of the packet to, then the PDU itself.

It is how a capture says "these bytes are Modbus RTU" with no preference to set in Wireshark:
tag 12 ``mbrtu`` calls Wireshark's Modbus RTU dissector directly. Tag 33 sets the Protocol
column (for a protocol Wireshark has no dissector for, such as OSDP, the PDU goes to ``data``).
Importing this module registers the link type with scapy, so ``rdpcap`` decodes such packets.
"""

from __future__ import annotations

from typing import Any

from scapy.config import conf
from scapy.fields import FieldLenField, PacketListField, ShortEnumField, StrLenField
from scapy.packet import Packet

TAG_END = 0
TAG_DISSECTOR_NAME = 12
TAG_PROTOCOL_COLUMN = 33
_TAG_NAMES = {
    TAG_END: "end of options",
    TAG_DISSECTOR_NAME: "dissector name",
    TAG_PROTOCOL_COLUMN: "protocol column",
}


class ExportedPduTag(Packet):
    """One option: tag, length, value (big endian, values not padded)."""

    name = "exported PDU tag"
    fields_desc = [
        ShortEnumField("tag", TAG_END, _TAG_NAMES),
        FieldLenField("length", None, length_of="value", fmt="!H"),
        StrLenField("value", b"", length_from=lambda p: p.length),
    ]

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return b"", s


def _next_tag(
    _pkt: Packet, _tags: list[Packet], current: Packet | None, remain: bytes
) -> type[Packet] | None:
    if current is not None and current.tag == TAG_END:
        return None
    return ExportedPduTag if len(remain) >= 4 else None


class ExportedPdu(Packet):
    """The options, ending with the end-of-options tag; the PDU is the payload."""

    name = "Wireshark exported PDU"
    fields_desc = [PacketListField("tags", [], next_cls_cb=_next_tag)]

    def value(self, tag: int) -> bytes | None:
        for option in self.tags:
            if option.tag == tag:
                return bytes(option.value)
        return None

    @property
    def dissector(self) -> str | None:
        found = self.value(TAG_DISSECTOR_NAME)
        return found.decode() if found is not None else None


def exported_pdu(dissector: str, protocol_column: str = "", **_: Any) -> ExportedPdu:
    """The header that hands the payload to Wireshark's ``dissector`` (``"data"``: none)."""
    tags = [ExportedPduTag(tag=TAG_DISSECTOR_NAME, value=dissector.encode())]
    if protocol_column:
        tags.append(ExportedPduTag(tag=TAG_PROTOCOL_COLUMN, value=protocol_column.encode()))
    tags.append(ExportedPduTag(tag=TAG_END))
    return ExportedPdu(tags=tags)


conf.l2types.register(252, ExportedPdu)
