"""An RS485 line as pcapng: one packet per line frame, stamped when the frame began, carrying
the bytes as the line delivered them (after collisions and noise).

The link type is Wireshark's "exported PDU" (``WIRESHARK_UPPER_PDU``, 252,
:mod:`sim.exported_pdu`): each packet starts with a tag naming the Wireshark dissector for
the frame, so a Modbus RTU line opens dissected (``mbrtu``: unit, function, registers, CRC,
request/response pairs) with no setting at all. Wireshark has no OSDP dissector (4.0); an OSDP
line's frames go to ``data`` with "OSDP" in the Protocol column. Either way the packet comment
names who drove the line and, when the bus was given a summariser, the decoded summary (the
same text as the hex log ``rs485-<bus>.log``).

Disturbed frames are marked three ways: the comment says ``COLLISION`` / ``NOISE n bit(s)
flipped`` / framing errors; the packet flags carry "CRC error" (and "symbol error" for a
collision), shown as Packet flags in Wireshark and filterable as
``frame.packet_flags_crc_error == 1``; the bytes are what a receiver decoded.

The bus knows no protocol: the dissector name, the Protocol column label and the summariser
come from the layer that put the protocol on the line (``scenarios/rs485``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scapy.packet import Raw

from sim.exported_pdu import exported_pdu
from sim.pcap import FLAG_CRC_ERROR, FLAG_SYMBOL_ERROR, LINKTYPE_WIRESHARK_UPPER_PDU, PcapngWriter
from sim.rs485_capture import Summariser

if TYPE_CHECKING:
    from sim.rs485 import LineFrame, Rs485Bus


class BusPcap:
    """Writes every line frame of ``bus`` to ``writer`` (interface ``rs485-<bus>``)."""

    def __init__(
        self,
        bus: Rs485Bus,
        writer: PcapngWriter,
        dissector: str | None = None,
        protocol: str = "",
        summarise: Summariser | None = None,
    ) -> None:
        self.bus = bus
        self.writer = writer
        self.summarise = summarise
        self.interface = writer.interface(
            f"rs485-{bus.name}",
            LINKTYPE_WIRESHARK_UPPER_PDU,
            f"RS485 line {bus.name}, {bus.settings}: one packet per line frame "
            "(comment: drivers, summary, disturbances)",
        )
        self._header = bytes(exported_pdu(dissector or "data", "" if dissector else protocol))
        self.frames = 0
        bus.listeners.append(self.frame)

    def close(self) -> None:
        if self.frame in self.bus.listeners:
            self.bus.listeners.remove(self.frame)

    def frame(self, frame: LineFrame) -> None:
        data = frame.line_bytes
        summary = ""
        if data and self.summarise is not None:
            try:
                summary = self.summarise(data)
            except Exception as exc:  # a summariser must not stop the line
                summary = f"undecodable: {exc}"
        elif not data:
            summary = "no characters"
        notes = frame.notes()
        comment = ", ".join(frame.drivers) + (f": {summary}" if summary else "")
        if notes:
            comment += f" [{'; '.join(notes)}]"
        flags = 0
        if not frame.clean:
            flags |= FLAG_CRC_ERROR
        if frame.collision:
            flags |= FLAG_SYMBOL_ERROR
        packet = self._header + bytes(Raw(data))
        self.writer.write(self.interface, packet, t=frame.start, comment=comment, flags=flags)
        self.frames += 1
