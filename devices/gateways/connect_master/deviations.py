"""The ways the reference Connect Master can be told to misbehave (:mod:`devices.deviations`).

``LocalCmBed(deviations=[...])`` (or ``hil serve connect-master --deviate NAME``, or a SUT
declaration's ``deviations:``) hands them to the master gateway and every device gateway of the
world; each hook is a small branch at the place of the behaviour it bends.
``conformance/deviations/connect-master.yaml`` names, for each, its kind and the requirements
whose scenarios must catch it.
"""

from __future__ import annotations

from collections.abc import Iterable

from devices.deviations import Deviations

SYSTEM = "connect-master"

DEVIATIONS: dict[str, str] = {
    # -- device list and status stream --------------------------------------------------------
    "device-list-autoreconnect-wrong": "GetDeviceList flips every autoReconnect",
    "device-list-address-missing": "GetDeviceList leaves out every device's IPAddr",
    "status-disconnected-missing": "DISCONNECTED status changes never reach the status stream",
    "status-changes-reordered": "a DISCONNECTED change reaches the stream after the next change",
    "status-timestamp-millis": "status changes carry their timestamp in milliseconds",
    # -- connections ----------------------------------------------------------------------------
    "connect-id-wrong": "Connect answers deviceID 0 instead of the device's ID",
    "async-duplicate-connections": "an async reconnection opens a second connection to the device",
    "async-reconnect-never": "an async device that lost its connection is never dialled again",
    "async-delete-keeps-connection": "DeleteAsyncConnection forgets a device, still connected",
    "sync-device-kept": "a Connect device stays in the managed list after its disconnection",
    "disconnect-all-false-error": "DisconnectAll disconnects every device, then answers an error",
    "dead-link-slow": "a silent dead link is noticed after four keep-alive periods, not two",
    "stuck-after-unclean-close": "after a keep-alive timeout the gateway makes no more connections",
    # -- accept filter and pending list ---------------------------------------------------------
    "pending-last-try-zero": "the pending list gives every device lastTry 0",
    "pending-kept-after-accept": "a device stays in the pending list after the filter admits it",
    "filter-removal-ignored": "a device-to-server device removed from the filter stays connected",
    "get-filter-empty": "GetAcceptFilter answers an empty filter",
    # -- search, mode, SSL, slaves --------------------------------------------------------------
    "search-misses-device-to-server": "SearchDevice leaves out device-to-server terminals",
    "set-mode-not-sent": "SetConnectionMode is answered OK but never sent to the terminal",
    "ssl-enable-not-sent": "EnableSSL is answered OK but never sent to the terminal",
    "ssl-disable-not-sent": "DisableSSL is answered OK but never sent to the terminal",
    "tls-reported-as-tcp": "a TLS connection is reported TCP_CONNECTED",
    "ssl-failure-status-swapped": "a failed TLS dial is reported TCP_CANNOT_CONNECT",
    "set-slaves-not-sent": "SetSlaveDevice is stored but never sent to the terminal",
    "get-slaves-not-asked": "GetSlaveDevice answers the assigned slaves, unasked",
    "multi-errors-missing": "Multi calls leave unknown devices out of deviceErrors",
    # -- master: database, tenants, login -------------------------------------------------------
    "db-async-not-pushed": "stored async connections are not pushed when a gateway reconnects",
    "db-filter-not-pushed": "the stored accept filter is not pushed when a gateway reconnects",
    "db-slaves-not-pushed": "stored slaves are not pushed when a gateway reconnects",
    "non-db-async-stored": "AddAsyncConnection is stored in the database like AddAsyncConnectionDB",
    "db-delete-keeps-connection": "DeleteAsyncConnectionDB leaves the device connected",
    "db-filter-get-empty": "GetAcceptFilterDB answers an empty filter",
    "db-slave-delete-ignored": "DeleteSlaveDeviceDB is answered OK and deletes nothing",
    "db-slaves-get-empty": "GetSlaveDeviceDB answers no slaves",
    "tenant-status-leak": "every tenant's status stream carries every gateway's changes",
    "tenant-gateways-shared": "a tenant reaches every gateway, other tenants' ones too",
    "token-not-required": "a ConnectMaster call without a token acts for its certificate's tenant",
    "logout-ignored": "Logout is answered OK and the token keeps working",
}


def cm_deviations(names: Iterable[str] | Deviations = ()) -> Deviations:
    """``names`` checked against :data:`DEVIATIONS` (DeviationError on one it does not hold)."""
    return Deviations.of(names, DEVIATIONS, SYSTEM)
