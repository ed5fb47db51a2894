"""The ways the reference access controller can be told to misbehave (:mod:`devices.deviations`).

``AccessController(..., deviations=["router-offline-slow"])`` (or ``hil serve ble-ac --deviate
NAME``, or a SUT declaration's ``deviations:``) turns them on; each hook is a small branch at the
place of the behaviour it bends. ``conformance/deviations/ble-ac.yaml`` names, for each, its
kind and the requirements whose scenarios must catch it.
"""

from __future__ import annotations

from collections.abc import Iterable

from devices.deviations import Deviations

SYSTEM = "ble-ac"

DEVIATIONS: dict[str, str] = {
    # -- OAuth2 tokens --------------------------------------------------------------------------
    "access-token-param-ignored": "the access_token query parameter is not read (only the "
    "Authorization header is)",
    "token-any-secret": "a token request with a wrong developer secret gets a token",
    "token-expiry-ignored": "tokens never expire: one past its expires_in is still accepted",
    "token-type-wrong": 'the token answer says token_type "mac", not "bearer"',
    # -- router calls (?mac=) -------------------------------------------------------------------
    "proxy-wrong-router": "a router call is made on the router after the one mac= names",
    "missing-mac-not-refused": "a router call without mac= is made on the first router",
    # -- router status --------------------------------------------------------------------------
    "hubs-list-offline": "GET /api/cassia/hubs lists offline routers too",
    "router-offline-slow": "a silent router is declared offline 45 s after the dead interval",
    # -- the combined stream --------------------------------------------------------------------
    "combined-notification-ap-missing": "notification messages of the combined stream do not "
    "name their router (ap)",
    "combined-keepalive-late": "the combined stream's keep-alive message comes every 45 s",
    "combined-filter-rssi-ignored": "filter_rssi of the combined scan is not applied",
    # -- auto-selection -------------------------------------------------------------------------
    "selection-filter-rssi-ignored": "filter_rssi of auto-selection's scan_params is not applied",
    "roaming-not-reselected": "a roaming device (random=1) whose link ends is not connected again",
    # -- positioning ----------------------------------------------------------------------------
    "position-stale-after-move": "a device stays located at its first router while that router "
    "still hears it",
}

# router-offline-slow: how much later than the dead interval a silent router goes offline
SLOW_OFFLINE_S = 45.0
# position-stale-after-move: how long a device's first router may still change
STALE_SETTLE_S = 3.0
# combined-keepalive-late: the keep-alive period it uses instead of the seed's 30 s
LATE_KEEPALIVE_S = 45.0


def ac_deviations(names: Iterable[str] | Deviations = ()) -> Deviations:
    """The controller's deviations from ``names`` (DeviationError on a name not declared)."""
    return Deviations.of(names, DEVIATIONS, SYSTEM)


def without_rssi_filter(query: dict[str, str]) -> dict[str, str]:
    """A scan's router query without its filter_rssi (the ``*-filter-rssi-ignored`` hooks)."""
    return {k: v for k, v in query.items() if k != "filter_rssi"}
