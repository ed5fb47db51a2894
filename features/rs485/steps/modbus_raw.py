"""Raw Modbus RTU frames: a raw sender on the line drives frames exactly as a step gives them
(the harness computes their CRC unless the step says otherwise) and reads back, raw, whatever
the slave under test answers. Below what a master sends: runt frames, reserved function codes,
quantities out of range, two frames without the silence between them.
"""

from __future__ import annotations

from pytest_bdd import given, then, when

from conformance.evidence import expect
from devices.protocols.modbus_rtu import BROADCAST, EXCEPTION_BIT, MAX_FRAME, Request, cut, frame
from features.rs485.steps.fixtures import Seen
from features.steps.text import step_text
from scenarios.rs485.bed import ModbusLine

WINDOW_S = 0.5  # a 256-byte reply at 9600 baud takes 0.27 s
READ_REGISTERS = 4
WRITE_COIL = 5
WRITE_COILS, WRITE_REGISTERS = 15, 16
FIELDS_ROOM = MAX_FRAME - 10  # data bytes a write request can carry in one frame


def _send(bed: ModbusLine, seen: Seen, name: str, data: bytes) -> None:
    seen.replies[name] = bed.run(bed.probe(name).exchange(data, WINDOW_S))


def _heard(seen: Seen, name: str) -> list[bytes]:
    return list(seen.replies.get(name) or [])


def _reply(bed: ModbusLine, seen: Seen, name: str) -> Request:
    """The one well-formed reply from the slave under test."""
    heard = _heard(seen, name)
    expect(len(heard) == 1, "one reply", [h.hex(" ") for h in heard], f'frames "{name}" heard')
    reply = cut(heard[0])
    expect(
        isinstance(reply, Request) and reply.address == bed.unit,
        f"a well-formed frame from slave {bed.unit}",
        heard[0].hex(" ") if isinstance(reply, Request) else f"{reply}: {heard[0].hex(' ')}",
        "the reply",
    )
    assert isinstance(reply, Request)
    return reply


def quantity_request(function: int, address: int, quantity: int) -> bytes:
    """A request PDU for ``quantity`` items from ``address``; a write carries the byte count
    the quantity needs, cut to what one frame can carry."""
    pdu = bytes([function]) + address.to_bytes(2, "big") + quantity.to_bytes(2, "big")
    if function == WRITE_COILS:
        count = min((quantity + 7) // 8, FIELDS_ROOM)
    elif function == WRITE_REGISTERS:
        count = min(2 * quantity, FIELDS_ROOM)
    else:
        return pdu
    return pdu + bytes([count]) + bytes(count)


# -- the sender -------------------------------------------------------------------------------


@given(step_text('a raw Modbus sender "{name:Q}" on the line'))
def a_probe(modbus_bed: ModbusLine, name: str) -> None:
    modbus_bed.add_probe(name)


# -- frames -----------------------------------------------------------------------------------


@when(step_text('"{p:Q}" sends function {fc:I} with data "{data:Q}" to the slave under test'))
def send_function(modbus_bed: ModbusLine, seen: Seen, p: str, fc: int, data: str) -> None:
    _send(modbus_bed, seen, p, frame(modbus_bed.unit, bytes([fc]) + bytes.fromhex(data)))


@when(step_text('"{p:Q}" broadcasts function {fc:I} with data "{data:Q}"'))
def broadcast_function(modbus_bed: ModbusLine, seen: Seen, p: str, fc: int, data: str) -> None:
    _send(modbus_bed, seen, p, frame(BROADCAST, bytes([fc]) + bytes.fromhex(data)))


@when(
    step_text(
        '"{p:Q}" asks function {fc:I} for {quantity:I} items at address {address:I} '
        "of the slave under test"
    )
)
def send_quantity(
    modbus_bed: ModbusLine, seen: Seen, p: str, fc: int, quantity: int, address: int
) -> None:
    pdu = quantity_request(fc, address, quantity)
    _send(modbus_bed, seen, p, frame(modbus_bed.unit, pdu))


@when(step_text('"{p:Q}" writes the value {value} to the coil at the coil address'))
def write_coil_value(modbus_bed: ModbusLine, seen: Seen, p: str, value: str) -> None:
    address = modbus_bed.declared("coil")
    pdu = bytes([WRITE_COIL]) + address.to_bytes(2, "big") + int(value, 0).to_bytes(2, "big")
    _send(modbus_bed, seen, p, frame(modbus_bed.unit, pdu))


@when(step_text('"{p:Q}" sends the runt frame "{data:Q}"'))
def send_runt(modbus_bed: ModbusLine, seen: Seen, p: str, data: str) -> None:
    _send(modbus_bed, seen, p, bytes.fromhex(data))


@when(step_text('"{p:Q}" broadcasts the header of a write of {n:I} registers without its data'))
def send_header_only(modbus_bed: ModbusLine, seen: Seen, p: str, n: int) -> None:
    header = quantity_request(WRITE_REGISTERS, modbus_bed.declared("writable_register"), n)
    _send(modbus_bed, seen, p, frame(BROADCAST, header[:6]))


@when(step_text('"{p:Q}" sends two reads of the input address without a gap'))
def send_back_to_back(modbus_bed: ModbusLine, seen: Seen, p: str) -> None:
    read = frame(modbus_bed.unit, quantity_request(READ_REGISTERS, modbus_bed.declared("input"), 1))
    _send(modbus_bed, seen, p, read + read)


@when(step_text('"{p:Q}" asks the slave under test for its server ID'))
def ask_server_id(modbus_bed: ModbusLine, seen: Seen, p: str) -> None:
    _send(modbus_bed, seen, p, frame(modbus_bed.unit, bytes([17])))


@when(step_text('"{p:Q}" asks the slave under test for its basic device identification'))
def ask_identification(modbus_bed: ModbusLine, seen: Seen, p: str) -> None:
    _send(modbus_bed, seen, p, frame(modbus_bed.unit, bytes([43, 14, 1, 0])))


# -- what came back ---------------------------------------------------------------------------


@then(step_text('"{p:Q}" heard exception {code:I} to function {fc:I}'))
def heard_exception(modbus_bed: ModbusLine, seen: Seen, p: str, code: int, fc: int) -> None:
    reply = _reply(modbus_bed, seen, p)
    function = (fc | EXCEPTION_BIT) & 0xFF
    expect(
        (reply.function, reply.data) == (function, bytes([code])),
        f"function byte 0x{function:02x}, exception code {code}",
        f"function byte 0x{reply.function:02x}, data {reply.data.hex(' ') or 'none'}",
        "the exception reply",
    )


@then(step_text('"{p:Q}" heard no reply'))
def heard_nothing(seen: Seen, p: str) -> None:
    heard = _heard(seen, p)
    expect(not heard, "silence", [h.hex(" ") for h in heard], f'frames "{p}" heard')


@then(step_text('"{p:Q}" heard at most {n:I} reply'))
def heard_at_most(seen: Seen, p: str, n: int) -> None:
    heard = _heard(seen, p)
    expect(len(heard) <= n, f"at most {n}", [h.hex(" ") for h in heard], f'frames "{p}" heard')


@then(step_text('"{p:Q}" heard a server ID with the run indicator on'))
def heard_server_id(modbus_bed: ModbusLine, seen: Seen, p: str) -> None:
    reply = _reply(modbus_bed, seen, p)
    data = reply.data
    count = data[0] if data else -1
    ok = reply.function == 17 and count == len(data) - 1 >= 2 and data[count] == 0xFF
    expect(
        ok,
        "function 17, a byte count, a server ID, run indicator 0xFF",
        f"function {reply.function}, data {data.hex(' ')}",
        "the Report Server ID reply",
    )


@then(step_text('"{p:Q}" heard the vendor name, product code and revision'))
def heard_identification(modbus_bed: ModbusLine, seen: Seen, p: str) -> None:
    reply = _reply(modbus_bed, seen, p)
    objects = read_objects(reply.data) if reply.function == 43 else {}
    expect(
        {0, 1, 2} <= set(objects) and all(objects[k] for k in (0, 1, 2)),
        "objects 0 (VendorName), 1 (ProductCode), 2 (MajorMinorRevision)",
        {k: v.decode(errors="replace") for k, v in objects.items()}
        or f"function {reply.function}, data {reply.data.hex(' ')}",
        "the Read Device Identification reply",
    )


def read_objects(data: bytes) -> dict[int, bytes]:
    """The objects of a Read Device Identification reply's fields (MEI type first); empty
    when the fields are not one."""
    if len(data) < 6 or data[0] != 14:
        return {}
    objects: dict[int, bytes] = {}
    at = 6
    for _ in range(data[5]):
        if at + 2 > len(data):
            return {}
        object_id, size = data[at], data[at + 1]
        objects[object_id] = data[at + 2 : at + 2 + size]
        at += 2 + size
    return objects
