"""What the service emits (a Bumble-style ``EventEmitter``: ``service.on(name, handler)``).

* :data:`GATEWAY_EVENT` ``(product, event)`` — the seed's gateway ``event`` object, a dict with
  ``type`` (one of :data:`TYPES`), ``identity``, ``ip``, ``protocol``, ``connection_id``
  (null when not from a device connection) and ``timestamp`` (µs since the epoch, the world's
  clock); ``data_in`` adds ``payload`` ``[{"timestamp": µs, "values": {alias: value}}]`` and
  ``updated_resources`` (the aliases stored as identity state); ``content_in`` adds ``payload``
  ``{"id", "length", "tags", "type"}``. When each type is emitted: ``connect``/``disconnect``
  from :meth:`~.connections.Connections.connect`/``disconnect``; ``data_in`` for every device
  write (also ``setIdentityState`` with ``simulate``), even for aliases with no resource;
  ``content_in`` for a device upload; ``deleted`` per removed identity; ``provisioned`` when a
  device provisions; ``expired`` when a device tries to provision after its window closed (the
  seed: "failed to provision because its provisioning window has expired").
* :data:`STATE_SET` ``(product, identity, values, timestamp)`` — the cloud assigned ``set``
  values that wait for the device (resources with ``sync`` true): the device side pushes them
  (MQTT ``$resource/<alias>/<ts>``) or answers a long poll.
* :data:`STATUS_CHANGED` ``(product, identity, old, new)`` — an identity's status moved
  (``whitelisted``, ``provisioned``, ``expired``, ``reprovision``, ``locked``), including when
  ``auth.expire`` passes (at that instant of the world's clock).

Events are emitted only after the change they report is committed to the database.
"""

from __future__ import annotations

from typing import Any

GATEWAY_EVENT = "event"
STATE_SET = "state_set"
STATUS_CHANGED = "status_changed"

CONNECT = "connect"
DISCONNECT = "disconnect"
DATA_IN = "data_in"
CONTENT_IN = "content_in"
DELETED = "deleted"
PROVISIONED = "provisioned"
EXPIRED = "expired"
TYPES = (CONNECT, DISCONNECT, DATA_IN, CONTENT_IN, DELETED, PROVISIONED, EXPIRED)


def gateway_event(
    kind: str,
    identity: str,
    timestamp: int,
    ip: str | None = None,
    protocol: str | None = None,
    connection_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One gateway event object with the seed's fields."""
    assert kind in TYPES, kind
    return {
        "type": kind,
        "identity": identity,
        "ip": ip,
        "protocol": protocol,
        "connection_id": connection_id,
        "timestamp": timestamp,
        **extra,
    }
