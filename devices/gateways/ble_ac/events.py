"""The names of the events the access controller emits (Bumble ``EventEmitter`` events), with
their arguments. The API subscribes to them to feed its SSE streams.

:class:`~.registry.Registry`:

* ``ap_state`` ``(HubRecord)`` — a router came online (joined) or went offline (its uplink
  went quiet for the dead interval); the record holds the new status and times.

:class:`~.combined.Combined`:

* ``combined`` ``(line)`` — one JSON line of the combined stream (``scan``, ``notification``,
  ``connection_state`` or ``ap_state``), already filtered by what is open.

:class:`~.uplinks.Uplinks`:

* scan reports ``(router mac, report dict, purpose)`` — a scan report a router streamed to the
  controller (``purpose``: ``combined``, ``selection`` or ``relay``); under load these come by
  the thousand, so they take a lean path (``Uplinks.on_scan``) instead of the emitter;
* ``notification`` ``(router mac, event dict)``;
* ``connection_state`` ``(router mac, device mac, state)``.
"""

from __future__ import annotations

AP_STATE = "ap_state"
COMBINED = "combined"
NOTIFICATION = "notification"
CONNECTION_STATE = "connection_state"
