"""ATT write permissions as a real peripheral enforces them.

A characteristic's properties say which procedures a client may use on it; its value attribute's
permissions (Core Specification Vol 3, Part F, 3.2.5) say what the server allows. A write to an
attribute that is not writable is answered with the Error Response ``Write Not Permitted``
(0x03, Vol 3, Part F, 3.4.1.1): the Device Name of the GAP service, a characteristic whose
properties hold neither write nor write-without-response, a service or characteristic
declaration.

Decision: Bumble 0.0.236's GATT server does not check ``READABLE``/``WRITEABLE`` itself (its
write handlers carry a "TODO: check permissions"), so every attribute without ``WRITEABLE``
gets a write path that raises the ATT error (:func:`refuse_unpermitted_writes`); Bumble's
server turns it into the Error Response for a Write Request and drops a Write Command, as the
specification says a server does. Reads are left as they are: every characteristic we build
stays readable.
"""

from __future__ import annotations

from typing import Any

from bumble import att
from bumble.gatt import Characteristic

WRITE_PROPERTIES = (
    Characteristic.Properties.WRITE
    | Characteristic.Properties.WRITE_WITHOUT_RESPONSE
    | Characteristic.Properties.AUTHENTICATED_SIGNED_WRITES
)


def permissions_for(properties: int) -> att.Attribute.Permissions:
    """The value attribute's permissions that follow a characteristic's ``properties``:
    readable, and writable only when a write property is set."""
    permissions = Characteristic.READABLE
    if properties & WRITE_PROPERTIES:
        permissions |= Characteristic.WRITEABLE
    return permissions


def refuse_unpermitted_writes(attributes: list[Any]) -> int:
    """Make every attribute of a GATT server without ``WRITEABLE`` answer writes with ATT
    error 0x03 (Write Not Permitted); how many attributes now refuse. They share one write
    path (Bumble's server names the handle in the Error Response from the request), so a
    crowd of peripherals carries no closure per attribute."""
    refusing = 0
    for attribute in attributes:
        if attribute.permissions & att.Attribute.WRITEABLE:
            continue
        attribute.write_value = _refuse_write
        refusing += 1
    return refusing


async def _refuse_write(_bearer: Any, _value: bytes) -> None:
    raise att.ATT_Error(error_code=att.ATT_WRITE_NOT_PERMITTED_ERROR)
