"""Wire-level steps: a call by its exact method path with a request encoded by hand, and its
answer decoded by hand, as a client built from the facts sheet (not from our .proto files)
would see it. A master whose field numbers, names or paths differ fails here."""

from __future__ import annotations

from typing import Any

from pytest_bdd import parsers, then, when

from conformance.evidence import expect
from features.connect_master.steps.state import CmState, logged_in_client, outcome

# The facts sheet's Status values (gsdk.connect.Status).
STATUS = {
    "DISCONNECTED": 0x00,
    "TCP_CONNECTED": 0x01,
    "TLS_CONNECTED": 0x02,
    "TRY_TO_CONNECT": 0x04,
    "TCP_CANNOT_CONNECT": 0x100,
    "TCP_NOT_ALLOWED": 0x101,
    "TLS_CANNOT_CONNECT": 0x200,
    "TLS_NOT_ALLOWED": 0x201,
}
VARINT, LENGTH_DELIMITED = 0, 2
# Field 1, length-delimited, announcing 127 bytes where 1 follows: no protobuf parser accepts it.
UNDECODABLE = b"\x0a\x7fa"


def encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def encode_string(field: int, text: str) -> bytes:
    raw = text.encode()
    return encode_varint(field << 3 | LENGTH_DELIMITED) + encode_varint(len(raw)) + raw


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(data):
            raise ValueError("truncated varint")
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, i


def decode_fields(data: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) for each field of a protobuf message, in order."""
    fields, i = [], 0
    while i < len(data):
        key, i = _varint(data, i)
        field, wire = key >> 3, key & 7
        if wire == VARINT:
            value, i = _varint(data, i)
        elif wire == LENGTH_DELIMITED:
            size, i = _varint(data, i)
            value, i = data[i : i + size], i + size
        elif wire == 5:
            value, i = data[i : i + 4], i + 4
        elif wire == 1:
            value, i = data[i : i + 8], i + 8
        else:
            raise ValueError(f"wire type {wire} of field {field} is not one protobuf uses here")
        fields.append((field, wire, value))
    return fields


@when(parsers.parse('"{tenant}" calls "{path}" with gatewayID "{gw}" encoded by hand'))
def _(cm: CmState, tenant: str, path: str, gw: str) -> None:
    request = encode_string(1, cm.bed.gateway(gw))  # GetDeviceListRequest{gatewayID=1}
    cm.raw_answer = cm.bed.run(logged_in_client(cm, tenant).raw_call(path, request))


@when(parsers.parse('"{tenant}" calls "{path}" with undecodable bytes'))
def undecodable(cm: CmState, tenant: str, path: str) -> None:
    outcome(cm, logged_in_client(cm, tenant).raw_call(path, UNDECODABLE))


@then(parsers.parse('the error message names "{text}"'))
def message_names(cm: CmState, text: str) -> None:
    details = cm.last_error.details() if cm.last_error is not None else ""
    expect(text in details, f"a message naming {text!r}", details[:300])


@then(
    parsers.parse(
        "the raw answer lists device {device_id:d} in field 1, with its deviceID "
        'in field 1, its IPAddr in field 3 and status "{status}" in field 5'
    )
)
def _(cm: CmState, device_id: int, status: str) -> None:
    answer: bytes = cm.raw_answer
    infos = [decode_fields(v) for f, w, v in decode_fields(answer) if f == 1 and w == 2]
    match = [
        info for info in infos if any(f == 1 and w == VARINT and v == device_id for f, w, v in info)
    ]
    expect(
        len(match) == 1,
        f"one DeviceInfo (field 1) with deviceID {device_id} (field 1)",
        f"{len(infos)} DeviceInfo entries: {infos!r}"[:400],
        "GetDeviceListResponse is not encoded as the facts sheet says",
    )
    info = match[0]
    ip = [v for f, w, v in info if f == 3 and w == LENGTH_DELIMITED]
    st = [v for f, w, v in info if f == 5 and w == VARINT]
    expect(
        len(ip) == 1 and ip[0].count(b".") == 3 and st == [STATUS[status]],
        f"IPAddr (field 3, a dotted address) and status {STATUS[status]} ({status}) in field 5",
        repr(info)[:400],
        "DeviceInfo's field numbers differ from the facts sheet",
    )
