"""The memory trims of a peripheral's stack keep Bumble's and pyee's behaviour: the host's
compact handler table, one shared write refusal for read-only attributes, and random streams
made on first use."""

from __future__ import annotations

import asyncio

import pytest
from bumble import att
from bumble.gatt import Characteristic, CharacteristicValue, Descriptor

from devices.ble.att_permissions import refuse_unpermitted_writes
from devices.ble.host import QuietHost, _Handlers
from devices.ble.security import PeripheralSecurity
from devices.ble.spec import SecuritySpec
from sim.world import World


def test_handlers_answer_as_pyee_ordered_dict() -> None:
    handlers = _Handlers()
    first, second, third = (lambda: 1), (lambda: 2), (lambda: 3)
    handlers[first] = first
    handlers[second] = second
    handlers[third] = third
    handlers[second] = "replaced"  # a key set again keeps its place
    assert list(handlers.keys()) == [first, second, third]
    assert list(handlers.values()) == [first, "replaced", third]
    assert second in handlers and len(handlers) == 3
    assert handlers.pop(first) is first
    assert list(handlers.keys()) == [second, third] and first not in handlers
    with pytest.raises(KeyError):
        handlers.pop(first)
    handlers.pop(second), handlers.pop(third)
    assert not handlers and len(handlers) == 0


def test_quiet_host_events_dispatch_in_order_once_and_after_removal() -> None:
    async def main() -> list[str]:
        host = QuietHost()
        heard: list[str] = []

        def a(x: str) -> None:
            heard.append("a" + x)

        def b(x: str) -> None:
            heard.append("b" + x)

        host.on("e", a)
        host.on("e", b)
        host.once("e", lambda x: heard.append("once" + x))
        assert host.listeners("e")[:2] == [a, b]
        host.emit("e", "1")
        host.emit("e", "2")
        host.remove_listener("e", a)
        host.emit("e", "3")
        host.remove_listener("e", b)
        assert "e" not in host.event_names()
        host.emit("e", "4")
        return heard

    assert asyncio.run(main()) == ["a1", "b1", "once1", "a2", "b2", "b3"]


def test_read_only_attributes_refuse_writes_and_writable_ones_take_them() -> None:
    read_only = Characteristic(
        "2A37", Characteristic.Properties.READ, Characteristic.READABLE, CharacteristicValue()
    )
    writable = Characteristic(
        "2A38",
        Characteristic.Properties.WRITE,
        Characteristic.READABLE | Characteristic.WRITEABLE,
        b"\x00",
    )
    described = Descriptor("2901", Descriptor.READABLE, b"label")
    read_only.handle, described.handle = 7, 9
    assert refuse_unpermitted_writes([read_only, writable, described]) == 2
    for attribute in (read_only, described):
        with pytest.raises(att.ATT_Error) as refused:
            asyncio.run(attribute.write_value(None, b"\x01"))
        assert refused.value.error_code == att.ATT_WRITE_NOT_PERMITTED_ERROR
    asyncio.run(writable.write_value(None, b"\x05"))
    assert writable.value == b"\x05"


def test_pairing_stream_is_made_on_first_use_with_the_tk_first() -> None:
    world = World(seed=3)
    quiet = PeripheralSecurity(world, "p1", SecuritySpec())
    assert "p1/smp" not in world._streams  # a peripheral that never pairs draws nothing
    tk = quiet.tk
    assert len(tk) == 16 and quiet.tk == tk
    again = World(seed=3).rng("p1/smp")
    assert again.randbytes(16) == tk  # the TK is the stream's first 16 bytes, as before
    assert quiet.rng.randrange(1_000_000) == again.randrange(1_000_000)
