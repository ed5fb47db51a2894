"""What a libosdp reader must not be handed, and what it answers instead.

Found by the RS485 fuzz campaign (:mod:`scenarios.rs485.fuzz_osdp`): libosdp 3.2.9's PD, when
it enforces the secure channel (it has a key), takes the whole process down (a segmentation
fault inside ``refresh()``) on one plain packet (no security block) addressed to it whose
command code libosdp does not implement: 0x63, 0x6F, 0x70-0x72, 0x78-0x7A, 0x7D-0x7F,
0x81-0xA0, 0xA6. One outside control panel behind a bridge could stop ``hil serve rs485``
that way. Without a key libosdp answers the same packets with osdp_NAK, error code 3 (unknown
command code), as OSDP asks of a PD for a command it does not implement.

:class:`PacketGuard` sits between the line and libosdp: such a packet never reaches libosdp,
and the reader answers it with that NAK itself (same sequence number, same check). It looks at
each packet's first six bytes (start of message, address, length, control, command code)
across line frames, since libosdp reads a byte stream: a head split over two frames is caught
when its command code arrives.
"""

from __future__ import annotations

from devices.protocols.osdp_frame import (
    BROADCAST,
    CONTROL_CRC,
    CONTROL_SCB,
    REPLY_BIT,
    SOM,
    build,
)

CRASHING_COMMANDS = frozenset(
    {0x63, 0x6F, 0x70, 0x71, 0x72, 0x78, 0x79, 0x7A, 0x7D, 0x7E, 0x7F, *range(0x81, 0xA1), 0xA6}
)
NAK = 0x41
UNKNOWN_COMMAND = 0x03
HEAD = 6  # SOM, address, length (2), control, command code


class PacketGuard:
    """Screens what the line hands the reader at ``address``."""

    def __init__(self, address: int) -> None:
        self.address = address
        self.refused = 0
        self._tail = b""  # the last bytes libosdp was handed: a head may continue in the next

    def screen(self, data: bytes) -> tuple[bytes, bytes | None]:
        """``(what libosdp may have of data, the reply to drive instead)``: all of ``data`` and
        None, or nothing and the NAK for the packet it must not see."""
        view = self._tail + data
        start = len(view) - len(data)
        at = view.find(SOM)
        while 0 <= at <= len(view) - HEAD:
            address, control, code = view[at + 1], view[at + 4], view[at + 5]
            if (
                at + HEAD > start
                and address in (self.address, BROADCAST)
                and not control & CONTROL_SCB
                and code in CRASHING_COMMANDS
            ):
                self.refused += 1
                reply = bytes([NAK, UNKNOWN_COMMAND])
                return b"", build(address | REPLY_BIT, control & (0x03 | CONTROL_CRC), reply)
            at = view.find(SOM, at + 1)
        self._tail = view[-(HEAD - 1) :]
        return data, None
