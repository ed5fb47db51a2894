"""Scan parameters the controller passes on to its routers' scan streams: ``POST
/api/aps/scan/open`` (the combined stream) and ``scan_params`` of ``POST
/api/aps/ap-select-switch`` (auto-selection), checked against the seed's scan-filter support
table and validated by the router's own parsers (:mod:`devices.gateways.ble_router.scan_filter`),
so a value the routers would refuse is refused here, before any router is asked.

The seed's table (firmware since which each filter works, per use; a dash: not supported):

=========================  =========  ==============  =================
filter                     gateway    AC combine SSE  AC auto selection
=========================  =========  ==============  =================
filter_uuid                1.3        1.4.3           2.0.3
filter_rssi                1.3        1.4.3           2.0.3
filter_mac exact           1.3        1.4.3           2.0.3
filter_mac prefix          2.0.3      2.0.3           2.0.3
filter_name exact          1.3        1.4.3           2.0.3
filter_name prefix,suffix  2.0.3      2.0.3           2.0.3
filter_value w/ offset     2.0.3      2.0.3           2.0.3
filter_value w/o offset    2.1.1      2.1.1           2.1.1
filter_value multiple      2.1.1      2.1.1           2.1.1
filter_duplicates =1       1.3        2.1.1           2.0.3
filter_duplicates >1000ms  2.0.3      2.1.1           2.0.3
timestamp                  2.0.3      2.1.1           -
connectable                2.1.1      2.1.1           2.1.1
report_interval            2.1.0      2.1.1           2.1.0
beacon                     2.1.1      -               -
ibeacon/eddystone          2.1.1      -               -
=========================  =========  ==============  =================

The reference controller implements the newest column: a parameter the table marks unsupported
for that use (``beacon`` anywhere here; ``timestamp`` for auto-selection) is refused naming the
table. Bodies are JSON, so values may be strings, numbers or lists (``"filter_mac": ["C7:..",
".."]``, ``"filter_rssi": "-70"``) and ``filter_value`` an object or a list of them; each is
turned into the text a router's query takes. Unknown keys are ignored, as the routers ignore
unknown query parameters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from devices.gateways.ble_ac.errors import InvalidRequest
from devices.gateways.ble_router.params import parse_flag, parse_int, shown
from devices.gateways.ble_router.scan_filter import parse_duplicates, parse_filter

GATEWAY, COMBINED, SELECTION = "gateway", "combined", "selection"
USES = (GATEWAY, COMBINED, SELECTION)


@dataclass(frozen=True)
class Support:
    """One row of the seed's support table: since which firmware each use supports it."""

    parameter: str
    variant: str
    gateway: str | None
    combined: str | None
    selection: str | None

    def since(self, use: str) -> str | None:
        return {GATEWAY: self.gateway, COMBINED: self.combined, SELECTION: self.selection}[use]


SUPPORT_TABLE: tuple[Support, ...] = (
    Support("filter_uuid", "", "1.3", "1.4.3", "2.0.3"),
    Support("filter_rssi", "", "1.3", "1.4.3", "2.0.3"),
    Support("filter_mac", "exact match", "1.3", "1.4.3", "2.0.3"),
    Support("filter_mac", "prefix", "2.0.3", "2.0.3", "2.0.3"),
    Support("filter_name", "exact match", "1.3", "1.4.3", "2.0.3"),
    Support("filter_name", "prefix,suffix", "2.0.3", "2.0.3", "2.0.3"),
    Support("filter_value", "w/ offset", "2.0.3", "2.0.3", "2.0.3"),
    Support("filter_value", "w/o offset", "2.1.1", "2.1.1", "2.1.1"),
    Support("filter_value", "multiple values", "2.1.1", "2.1.1", "2.1.1"),
    Support("filter_duplicates", "=1", "1.3", "2.1.1", "2.0.3"),
    Support("filter_duplicates", ">1000ms", "2.0.3", "2.1.1", "2.0.3"),
    Support("timestamp", "", "2.0.3", "2.1.1", None),
    Support("connectable", "", "2.1.1", "2.1.1", "2.1.1"),
    Support("report_interval", "", "2.1.0", "2.1.1", "2.1.0"),
    Support("beacon", "", "2.1.1", None, None),
    Support("ibeacon/eddystone", "", "2.1.1", None, None),
)

# What each use takes besides the table's filters (the seed's parameter lists).
EXTRA = {COMBINED: ("chip", "active"), SELECTION: ()}
LIST_FILTERS = ("filter_mac", "filter_name", "filter_uuid")


def supported(parameter: str, use: str) -> bool:
    """Whether some variant of ``parameter`` works for ``use`` (per the table)."""
    return any(row.parameter == parameter and row.since(use) for row in SUPPORT_TABLE)


def table_parameters() -> list[str]:
    return list(dict.fromkeys(row.parameter for row in SUPPORT_TABLE if "/" not in row.parameter))


def scan_query(body: dict[str, Any], use: str, chips: int = 2) -> dict[str, str]:
    """The router query parameters for ``body``'s scan settings under ``use`` (``combined`` or
    ``selection``); :class:`InvalidRequest` or the router's ``InvalidParameter`` naming what is
    wrong."""
    query: dict[str, str] = {}
    for key in table_parameters():
        if key not in body:
            continue
        if not supported(key, use):
            raise InvalidRequest(
                f"{key} is not accepted for the {_use_name(use)}: the seed's scan-filter "
                f"support table lists it for gateway scans only; accepted: "
                f"{', '.join(k for k in table_parameters() if supported(k, use))}"
            )
        query[key] = _text(key, body[key])
    for key in EXTRA[use]:
        if key in body:
            query[key] = _text(key, body[key])
    if use == SELECTION and "active" in body:
        raise InvalidRequest(
            "active is not accepted in scan_params: auto-selection scans passively (the seed: "
            '"This is passive scanning")'
        )
    parse_filter(query)  # every filter as the routers parse it
    parse_duplicates(query.get("filter_duplicates"))
    for flag in ("timestamp", "active"):
        if flag in query:
            parse_flag(flag, query[flag])
    if "report_interval" in query:
        parse_int(
            "report_interval", query["report_interval"], 1000, 3_600_000, "ms from 1000 to 3600000"
        )
    if "chip" in query:
        parse_int("chip", query["chip"], 0, chips - 1, "0" if chips == 1 else f"0 to {chips - 1}")
    return query


def _text(key: str, value: Any) -> str:
    """A JSON value as query text."""
    if key == "filter_value":
        if isinstance(value, str):
            return value
        if isinstance(value, dict | list):
            return json.dumps(value, separators=(",", ":"))
    elif key in LIST_FILTERS and isinstance(value, list):
        if all(isinstance(v, str) for v in value) and value:
            return ",".join(value)
    elif isinstance(value, str):
        return value
    elif isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise InvalidRequest(
        f"{key}={shown(value)} is not accepted; expected "
        + (
            'an object {"offset":"7","data":"0302E9"} or a list of them'
            if key == "filter_value"
            else "a string or a list of strings"
            if key in LIST_FILTERS
            else "a number or a string"
        )
    )


def _use_name(use: str) -> str:
    return {COMBINED: "combined stream", SELECTION: "auto-selection scan"}.get(use, use)
