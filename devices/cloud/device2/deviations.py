"""The ways the reference Device2 service can be told to misbehave (:mod:`devices.deviations`).

``apply_deviations(apis, ["set-applied-without-ack"])`` (the Device2 bed does it for a builtin
SUT declaration's ``deviations:``; ``hil serve device2 --deviate NAME`` too) turns them on for
the service and every product it serves; each hook is a small branch at the place of the
behaviour it bends (``ctx.deviations.active(NAME)``). ``conformance/deviations/device2.yaml``
names, for each, its kind and the requirements whose scenarios must catch it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from devices.deviations import Deviations

if TYPE_CHECKING:
    from devices.cloud.device2.device_apis import Device2Apis

SYSTEM = "device2"

DEVIATIONS: dict[str, str] = {
    "duplicate-add-404": "adding an identity that exists answers 404 instead of 409",
    "set-applied-without-ack": "a set of a sync resource is reported at once, without the "
    "device's acknowledgement",
    "paging-mayloadmore-wrong": "listIdentities says mayLoadMore false on a full page",
    "aggregate-count-off-by-one": "every aggregate bucket counts one value more",
    "credentials-returned": "identity objects carry the stored credential in auth.key",
    "locked-accepted": "a locked identity may provision and connect",
    "expired-late": "auth.expire moves statuses 60 s after the deadline",
    "event-connection-id-missing": "connect events carry no connection_id",
    "identity-format-unchecked": "addIdentity accepts identities of any format",
    "tag-remove-drops-all-values": "removeIdentityTag with a value removes every value",
    "resource-update-ignored": "updateResource answers 204 and changes nothing",
    "metrics-empty": "getDeviceMetrics answers an empty list",
    "restore-duplicates": "a restore adds points already stored again",
    "timestamp-in-ms": "/timestamp answers milliseconds",
}


def device2_deviations(names: Iterable[str] | Deviations) -> Deviations:
    """``names`` as the service's :class:`Deviations` (refusing names it does not declare)."""
    return Deviations.of(names, DEVIATIONS, SYSTEM)


def apply_deviations(apis: Device2Apis, names: Iterable[str] | Deviations) -> Deviations:
    """Turn ``names`` on for the served service and every product it has."""
    value = device2_deviations(names)
    apis.service.deviations = value
    for product in apis.service.products:
        apis.service.gateway(product).ctx.deviations = value
    return value
