"""Bumble hosts for the simulated world.

Bumble's ``Host`` builds a debug string of every HCI packet in both directions with an eager
f-string, whether or not debug logging is on. With a thousand advertisers that formatting costs
more than the protocol work itself, so :class:`QuietHost` does the same dispatch (snooper
included) without it, unless debug logging for ``bumble.host`` is on. Nothing else changes.
"""

from __future__ import annotations

import logging

from bumble import hci
from bumble.device import Device
from bumble.host import Host
from bumble.snoop import Snooper
from bumble.transport.common import TransportSink, TransportSource

_logger = logging.getLogger("bumble.host")


class QuietHost(Host):
    def send_hci_packet(self, packet: hci.HCI_Packet) -> None:
        if _logger.isEnabledFor(logging.DEBUG):
            super().send_hci_packet(packet)
            return
        data = bytes(packet)
        if self.snooper:
            self.snooper.snoop(data, Snooper.Direction.HOST_TO_CONTROLLER)
        if self.hci_sink:
            self.hci_sink.on_packet(data)

    def on_hci_packet(self, packet: hci.HCI_Packet) -> None:
        if _logger.isEnabledFor(logging.DEBUG):
            super().on_hci_packet(packet)
            return
        if self.snooper:
            self.snooper.snoop(bytes(packet), Snooper.Direction.CONTROLLER_TO_HOST)
        if isinstance(packet, hci.HCI_Event):
            self.on_hci_event_packet(packet)
        elif isinstance(packet, hci.HCI_AclDataPacket):
            self.on_hci_acl_data_packet(packet)
        else:
            super().on_hci_packet(packet)


def new_device(
    name: str, address: hci.Address, source: TransportSource, sink: TransportSink
) -> Device:
    """A Bumble ``Device`` whose host talks HCI to a controller: a :class:`RadioController`
    on the simulated radio (both ends), or a real one behind a Bumble transport."""
    return Device(
        name=name, address=address, host=QuietHost(controller_source=source, controller_sink=sink)
    )
