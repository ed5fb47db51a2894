"""What the Modbus application protocol prescribes for a request before a server's data model
sees it, and the identity answers a server gives from its own description.

The checks follow the state diagrams of Modbus Application Protocol Specification V1.1b3 §6: a
function code the server does not implement is exception 1 (checked by the slave against what
it declares); a quantity out of the function's range, a byte count that disagrees with the
quantity, or a coil value other than 0x0000 / 0xFF00 is exception 3; an address outside the
tables (exception 2) and the execution (exception 4) are the data model's business. A request
whose fields are not as long as its function and byte count say is not a request at all: its
frame is discarded like a corrupt one.

Identity (:class:`Identity`): Report Server ID (function 17, §6.13) and Read Device
Identification (function 43 / MEI type 14, §6.21) answer with the device's own vendor, model
and revision, not a library's name.
"""

from __future__ import annotations

from dataclasses import dataclass

# §6.1-6.4, 6.11, 6.12: the quantity each function accepts in one request.
QUANTITY_LIMITS = {1: 2000, 2: 2000, 3: 125, 4: 125, 15: 1968, 16: 123}
COIL_OFF, COIL_ON = 0x0000, 0xFF00
REPORT_SERVER_ID = 17
ENCAPSULATED = 43
MEI_DEVICE_IDENTIFICATION = 14
RUN_ON = 0xFF
# §6.21: read device id codes (1 basic, 2 regular, 3 extended stream access, 4 one object) and
# the object ids each stream access reaches.
STREAM_OBJECTS = {1: range(0x00, 0x03), 2: range(0x00, 0x80), 3: range(0x00, 0x100)}
INDIVIDUAL_ACCESS = 4
CONFORMITY = 0x81  # basic identification, stream and individual access
MAX_IDENTITY_TEXT = 64


def fields_length(function: int, data: bytes) -> int | None:
    """How many bytes a request of ``function`` carries after the function code, given its
    first bytes (its byte count); None for a function whose layout is not known here."""
    if 1 <= function <= 6:
        return 4
    if function in (15, 16):
        return 5 + data[4] if len(data) >= 5 else 5
    if function == REPORT_SERVER_ID:
        return 0
    if function == ENCAPSULATED and data[:1] == bytes([MEI_DEVICE_IDENTIFICATION]):
        return 3
    return None


def illegal_value(function: int, data: bytes) -> bool:
    """Exception 3 by the function's state diagram (fields already of the right length)."""
    limit = QUANTITY_LIMITS.get(function)
    if limit is not None:
        quantity = int.from_bytes(data[2:4], "big")
        if not 1 <= quantity <= limit:
            return True
        if function == 15:
            return data[4] != (quantity + 7) // 8
        if function == 16:
            return data[4] != 2 * quantity
        return False
    if function == 5:
        return int.from_bytes(data[2:4], "big") not in (COIL_OFF, COIL_ON)
    return False


@dataclass(frozen=True)
class Identity:
    """Who a server says it is: VendorName, ProductCode and MajorMinorRevision (the basic
    device identification objects 0, 1 and 2)."""

    vendor: str
    model: str
    revision: str

    def __post_init__(self) -> None:
        for what, text in (("vendor", self.vendor), ("model", self.model)):
            if not text or len(text) > MAX_IDENTITY_TEXT or not text.isascii():
                raise ValueError(
                    f"{what} {text!r} not accepted; accepted: 1 to {MAX_IDENTITY_TEXT} ASCII "
                    "characters"
                )
        if len(self.revision) > MAX_IDENTITY_TEXT or not self.revision.isascii():
            raise ValueError(
                f"revision {self.revision!r} not accepted; accepted: up to "
                f"{MAX_IDENTITY_TEXT} ASCII characters"
            )

    def objects(self) -> dict[int, bytes]:
        return {0: self.vendor.encode(), 1: self.model.encode(), 2: self.revision.encode()}

    def report_server_id(self) -> bytes:
        """The function 17 reply PDU: byte count, server ID (``"<vendor> <model>"``, device
        specific by §6.13), run indicator ON."""
        server_id = f"{self.vendor} {self.model}".encode()
        return bytes([REPORT_SERVER_ID, len(server_id) + 1]) + server_id + bytes([RUN_ON])

    def device_identification(self, data: bytes) -> bytes | int:
        """The function 43 / MEI 14 reply PDU for the request fields ``data`` (MEI type, read
        device id code, object id), or the exception code: 3 for an unknown read code, 2 for an
        unknown object asked for alone. A stream access from an unknown object restarts at
        object 0 (§6.21)."""
        read_code, object_id = data[1], data[2]
        objects = self.objects()
        if read_code == INDIVIDUAL_ACCESS:
            if object_id not in objects:
                return 2
            chosen = {object_id: objects[object_id]}
        elif read_code in STREAM_OBJECTS:
            start = object_id if object_id in objects else 0
            reach = STREAM_OBJECTS[read_code]
            chosen = {k: v for k, v in objects.items() if k >= start and k in reach}
        else:
            return 3
        head = bytes(
            [ENCAPSULATED, MEI_DEVICE_IDENTIFICATION, read_code, CONFORMITY, 0, 0, len(chosen)]
        )
        return head + b"".join(bytes([k, len(v)]) + v for k, v in chosen.items())
