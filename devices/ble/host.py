"""Bumble hosts for the simulated world.

Bumble's ``Host`` builds a debug string of every HCI packet in both directions with an eager
f-string, whether or not debug logging is on. With a thousand advertisers that formatting costs
more than the protocol work itself, so :class:`QuietHost` does the same dispatch (snooper
included) without it, unless debug logging for ``bumble.host`` is on.

A Bumble ``Device`` puts about 60 handlers on its host, one per event, and pyee keeps each
event's handlers in an ``OrderedDict`` of about 420 bytes. :class:`QuietHost` keeps them in a
:class:`_Handlers` of about 100 bytes that answers the same mapping calls pyee makes on them, in
the same order: 19 KB less per peripheral, which a crowd of ten thousand feels. Nothing else
changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bumble import hci
from bumble.device import Device
from bumble.host import Host
from bumble.snoop import Snooper
from bumble.transport.common import TransportSink, TransportSource

_logger = logging.getLogger("bumble.host")


class _Handlers:
    """One event's handlers, in the order added: the first in two slots (most events have just
    one), any more in a tuple ``(key, handler, ...)``.

    Answers what pyee asks of its per-event ``OrderedDict`` (``[key] = handler``, ``in``,
    ``pop``, ``len``, ``keys``, ``values``). Handlers change rarely, so each change rebuilds."""

    __slots__ = ("_key", "_handler", "_more")

    def __init__(self) -> None:
        self._key: Any = _NONE
        self._handler: Any = None
        self._more: tuple[Any, ...] = ()

    def _flat(self) -> tuple[Any, ...]:
        return self._more if self._key is _NONE else (self._key, self._handler, *self._more)

    def _set_flat(self, flat: tuple[Any, ...]) -> None:
        if flat:
            self._key, self._handler, self._more = flat[0], flat[1], flat[2:]
        else:
            self._key, self._handler, self._more = _NONE, None, ()

    def _at(self, key: Any) -> int:
        flat = self._flat()
        for i in range(0, len(flat), 2):
            if flat[i] == key:
                return i
        return -1

    def __setitem__(self, key: Any, handler: Any) -> None:
        i, flat = self._at(key), self._flat()
        self._set_flat(
            flat + (key, handler) if i < 0 else flat[:i] + (key, handler) + flat[i + 2 :]
        )

    def __contains__(self, key: Any) -> bool:
        return self._at(key) >= 0

    def pop(self, key: Any) -> Any:
        i = self._at(key)
        if i < 0:
            raise KeyError(key)
        flat = self._flat()
        self._set_flat(flat[:i] + flat[i + 2 :])
        return flat[i + 1]

    def __len__(self) -> int:
        return len(self._flat()) // 2

    def keys(self) -> tuple[Any, ...]:
        return self._flat()[0::2]

    def values(self) -> tuple[Any, ...]:
        if not self._more and self._key is not _NONE:
            return (self._handler,)
        return self._flat()[1::2]


_NONE = object()  # no handler in the slots


class QuietHost(Host):
    def _add_event_handler(self, event: str, k: Callable[..., Any], v: Callable[..., Any]) -> None:
        self.emit("new_listener", event, k)  # before adding, as pyee does
        with self._lock:
            handlers = self._events.get(event)
            if handlers is None:
                handlers = self._events[event] = _Handlers()  # type: ignore[assignment]
            handlers[k] = v

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
