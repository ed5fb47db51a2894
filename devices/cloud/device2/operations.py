"""The operation table: each seed operation's parameters, success status and error statuses.

One table drives the HTTP routes (:mod:`.api`), the coercion of query-string parameters, the
refusal of unknown parameters and the OpenAPI description (:mod:`.openapi`). Parameter types
are JSON Schema types; bounds and defaults are the seed's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from devices.cloud.device2.identity_format import TYPES as IDENTITY_TYPES
from devices.cloud.device2.lifecycle import FILTERS
from devices.cloud.device2.metrics import FUNCTIONS, METRICS, WINDOWS
from devices.cloud.device2.queries import BUCKETS, EPOCHS, PAGE_MAX, TIME_MAX, TIME_MIN
from devices.cloud.device2.resources import FORMATS, RETENTIONS
from devices.cloud.device2.settings import AUTH_TYPES


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # string, integer, number, boolean, array, object, any
    description: str = ""
    required: bool = False
    enum: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    default: Any = None
    pattern: str | None = None
    items: str = "string"

    def schema(self) -> dict[str, Any]:
        s: dict[str, Any] = {} if self.type == "any" else {"type": self.type}
        if self.type == "array":
            s["items"] = {} if self.items == "any" else {"type": self.items}
        for key in ("minimum", "maximum", "default", "pattern"):
            value = getattr(self, key)
            if value is not None:
                s[key] = value
        if self.enum:
            s["enum"] = list(self.enum)
        if self.description:
            s["description"] = self.description
        return s


@dataclass(frozen=True)
class Operation:
    name: str
    summary: str
    tag: str
    params: tuple[Param, ...] = ()
    success: int = 200
    errors: tuple[int, ...] = (400, 404)
    result: dict[str, Any] = field(default_factory=dict)
    open_params: bool = False  # extra keys are values (setIdentityState)

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


def _p(name: str, type_: str = "string", description: str = "", **kw: Any) -> Param:
    return Param(name, type_, description, **kw)


IDENTITY = _p("identity", description="The identity of a device.", required=True)
IDENTITY_RE = _p(
    "identity", description="The identity of a device.", required=True, pattern="^[a-zA-Z0-9_-]+$"
)
AUTH = _p(
    "auth",
    "object",
    "The authentication object: type (certificate, password, token), "
    "key (the credential, never returned), expire (µs since the epoch).",
)
LOCKED = _p("locked", "boolean", "Refuse every connection of this identity.", default=False)
STATUS_FILTER = _p("status", description="Comma-separated statuses: " + ", ".join(FILTERS))
FILTERS_COMMON = (
    _p("before", "number", "lastseen smaller than this (µs)."),
    STATUS_FILTER,
    _p("identity", description="Regular expression searched in the identity."),
    _p("ipaddress", description="lastip equal to this."),
    _p("version", description="Not implemented (accepted, ignored)."),
    _p("tag.name", description="Has a tag of this name."),
    _p("tag.value", description="With tag.name: has this tag value."),
)
LIST_FILTERS = (
    *FILTERS_COMMON,
    _p("after", "number", "lastseen greater than this (µs)."),
    _p("tags", description="JSON array of {name, operator (gt gte lt lte eq ne), value}."),
)
RANGE = (
    _p(
        "start_time",
        "number",
        "Unix seconds (fractions for ms/µs); reported >= start_time.",
        minimum=TIME_MIN,
        maximum=TIME_MAX,
    ),
    _p(
        "end_time",
        "number",
        "Unix seconds; reported < end_time.",
        minimum=TIME_MIN,
        maximum=TIME_MAX,
    ),
    _p("limit", "integer", "Points per page.", minimum=1, maximum=10000, default=1000),
    _p("page", "integer", "Page number.", minimum=1, maximum=PAGE_MAX, default=1),
    _p("epoch", description="Unit of returned times.", enum=tuple(EPOCHS), default="us"),
    _p("group", "boolean", "Merge the result per signal.", default=False),
)
SORTING = (
    _p(
        "sort",
        description="Sort by device or server time.",
        enum=("report", "server"),
        default="report",
    ),
    _p("order", enum=("desc", "asc"), default="desc"),
)
AGGREGATE = (
    _p("bucket", description="Time bucket.", enum=tuple(BUCKETS), default="1h"),
    _p("fields", "array", "Aggregates to return (count, max, min, sum)."),
)
SIGNAL = _p(
    "signal",
    description="A signal id or resource alias.",
    required=True,
    pattern="^[a-zA-Z0-9_%-]+$",
)
SIGNALS = _p("signals", "array", "Signal ids or resource aliases.", required=True)
RESOURCE_Q = _p("resource", description="A resource alias.", required=True)
IDENTITIES_Q = _p("identities", description="Identities, comma-separated.")
RESTORE_COMMON = (
    _p("note", description="A note for the task."),
    _p("signals", "array", "Only these signals."),
    _p("identities", "array", "Only these devices."),
    _p("retention", description="Retention (months; 0 = temporary).", enum=RETENTIONS, default="0"),
)
TASK_ID = _p("task_id", description="A restore task id.", required=True)
RESOURCE_FIELDS = (
    _p("format", description="Format of the values.", enum=FORMATS, default="string"),
    _p("settable", "boolean", "May be set with setIdentityState.", default=False),
    _p("sync", "boolean", "A set value waits for the device's acknowledgement.", default=True),
    _p("unit", description="Unit of measure."),
    _p("allowed", "array", "Allowed values ([min, max] ranges for numbers).", items="any"),
    _p("initial", "any", "Initial set value of each identity (settable only)."),
    _p("timeout", "integer", "Resource timeout (s).", minimum=30, maximum=86400),
    _p("retention", description="Months to keep data.", enum=RETENTIONS, default="12"),
    _p("script", "object", "{qos, enabled} (enable: deprecated)."),
    _p("cloud_sync", "object", "{enable} (deprecated)."),
    _p("replication", "object", "{enabled}."),
)
ALIAS = _p("alias", description="Resource alias: no '.' or '$'.", required=True)
SETTINGS = (
    _p("fqdn", description="Domain devices connect to."),
    _p(
        "provisioning",
        "object",
        "enabled, auth_type (" + ", ".join(AUTH_TYPES) + "), "
        "generate_identity, presenter_identity, ip_whitelisting {enabled, allowed}.",
    ),
    _p(
        "identity_format",
        "object",
        "type (" + ", ".join(IDENTITY_TYPES) + "), prefix, options {casing, length, mac_base}.",
    ),
    _p("pki", "object", "null or {enabled, client_ca [PEM], vendor {name, options}}."),
    _p("permission", "object", "{gateway: [identities that may publish as others]}."),
    _p("enable_signal_parser", "boolean", "Parse data_in/config_io into signals."),
    _p("partition_key_level", description="Partition key level."),
    _p("solution_sync", "object", "{source, target}."),
)

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "status": {"type": "integer"},
        "code": {"type": "integer"},
        "message": {"type": "string"},
        "field": {"type": ["string", "null"]},
    },
}
_IDENTITY_OBJECT = {
    "type": "object",
    "description": "identity, auth, locked, online, status, lastip, lastseen, tags, state",
}
_QUERY_RESULT = {
    "type": "object",
    "properties": {"q": {"type": "object"}, "data": {"type": "array", "items": {"type": "object"}}},
}

_OPS = [
    # identities
    Operation(
        "addIdentity",
        "Add an identity (whitelist it).",
        "Identities",
        (_p("identity", description="The new identity.", required=True), AUTH, LOCKED),
        204,
        (400, 404, 409),
    ),
    Operation(
        "addIdentities",
        "Add many identities (vendor bulk whitelisting).",
        "Identities",
        (
            _p("identities", "array", "Identities to add.", required=True),
            _p("expire", "integer", "auth.expire of every identity (µs)."),
        ),
        204,
        (400, 404),
    ),
    Operation(
        "countIdentities",
        "Count identities matching filters.",
        "Identities",
        LIST_FILTERS,
        200,
        (400, 404),
        {"type": "object", "properties": {"count": {"type": "number"}}},
    ),
    Operation(
        "getIdentity",
        "Get an identity.",
        "Identities",
        (IDENTITY,),
        200,
        (400, 404),
        _IDENTITY_OBJECT,
    ),
    Operation(
        "listIdentities",
        "List identities (sorted by lastseen, newest first).",
        "Identities",
        (
            _p("limit", "integer", "At most this many.", minimum=0, maximum=2000, default=50),
            _p("offset", "integer", "Skip this many.", minimum=0, default=0),
            _p("order", "array", "identity|lastseen|lastip|state.<alias>, [.desc|.asc]"),
            *LIST_FILTERS,
        ),
        200,
        (400, 404),
        {
            "type": "object",
            "properties": {"devices": {"type": "array"}, "mayLoadMore": {"type": "boolean"}},
        },
    ),
    Operation(
        "makeIdentity",
        "Generate a new identity of the identity_format.",
        "Identities",
        (AUTH, LOCKED),
        200,
        (400, 404, 409),
        _IDENTITY_OBJECT,
    ),
    Operation(
        "removeIdentities",
        "Delete identities.",
        "Identities",
        (_p("identities", description="Comma-separated identities.", required=True),),
        204,
        (400, 404),
    ),
    Operation("removeIdentity", "Delete an identity.", "Identities", (IDENTITY,), 205, (400, 404)),
    Operation(
        "updateIdentities",
        "Update the identities matching a query.",
        "Identities",
        (
            *FILTERS_COMMON,
            _p("add", "object", "{tags: [{name, value}]} to add."),
            _p("remove", "object", "{tags: [{name, value?}]} to remove."),
            _p("update", "object", "{state: {alias: value}} to set."),
        ),
        204,
        (400, 404, 409),
    ),
    Operation(
        "updateIdentity",
        "Update an identity's auth or lock.",
        "Identities",
        (IDENTITY, AUTH, _p("locked", "boolean", "Lock or unlock.")),
        204,
        (400, 404),
    ),
    # state
    Operation(
        "getIdentityState",
        "Get the state (set, reported) of an identity.",
        "State",
        (IDENTITY,),
        200,
        (400, 404),
        {"type": "object"},
    ),
    Operation(
        "setIdentityState",
        "Set resource values of an identity (other keys: aliases).",
        "State",
        (IDENTITY, _p("simulate", "boolean", "Act as a device write.", default=False)),
        204,
        (400, 404, 409),
        open_params=True,
    ),
    # tags
    Operation(
        "addIdentityTag",
        "Add tags to an identity.",
        "Tags",
        (
            IDENTITY,
            _p("replace", "boolean", "Replace the values of these names.", default=False),
            _p("tags", "array", "[{name, value}]", required=True, items="object"),
        ),
        204,
        (400, 404),
    ),
    Operation(
        "getIdentityTag",
        "The values of a tag of an identity.",
        "Tags",
        (IDENTITY, _p("name", description="Tag name.", required=True)),
        200,
        (400, 404),
        {"type": "array", "items": {"type": "string"}},
    ),
    Operation(
        "listTagNames",
        "Every tag name in the gateway.",
        "Tags",
        (),
        200,
        (400, 404),
        {"type": "array", "items": {"type": "string"}},
    ),
    Operation(
        "removeIdentityTag",
        "Remove a tag (or some of its values).",
        "Tags",
        (
            IDENTITY,
            _p("name", description="Tag name.", required=True),
            _p("value", description="Only these values (comma-separated)."),
        ),
        204,
        (400, 404),
    ),
    # permission
    Operation(
        "getIdentityPermission",
        "The permission setting of an identity.",
        "Permission",
        (IDENTITY_RE,),
        200,
        (400, 404),
        {"type": "object"},
    ),
    Operation(
        "updateIdentityPermission",
        "Update the permission setting of an identity.",
        "Permission",
        (
            IDENTITY_RE,
            _p("permission", "object", "{subscript, publish_as {identities}}", required=True),
        ),
        204,
        (400, 404),
    ),
    # publish
    Operation(
        "publishData",
        "Store data points directly (no state, no event).",
        "Data",
        (
            _p("identity", description="The device.", required=True),
            _p(
                "payload",
                "array",
                "[{timestamp (µs), values {alias: value}}]",
                required=True,
                items="object",
            ),
        ),
        204,
        (400,),
    ),
    # resources
    Operation(
        "addResource",
        "Define a resource.",
        "Resources",
        (ALIAS, *RESOURCE_FIELDS),
        204,
        (400, 404, 409),
    ),
    Operation(
        "getGatewayResource",
        "Get a resource definition.",
        "Resources",
        (ALIAS,),
        200,
        (400, 404),
        {"type": "object"},
    ),
    Operation(
        "getGatewayResourceList",
        "Every resource definition.",
        "Resources",
        (),
        200,
        (404,),
        {"type": "object"},
    ),
    Operation(
        "updateResource",
        "Update a resource definition.",
        "Resources",
        (ALIAS, *RESOURCE_FIELDS),
        204,
        (400, 404),
    ),
    # settings
    Operation(
        "getGatewaySettings",
        "The gateway settings.",
        "Settings",
        (),
        200,
        (404,),
        {"type": "object"},
    ),
    Operation(
        "updateGatewaySettings",
        "Update gateway settings (partial object).",
        "Settings",
        SETTINGS,
        204,
        (400, 404),
    ),
    Operation(
        "getSolutionPairing",
        "Solution pairing information (source, target).",
        "Settings",
        (),
        200,
        (404,),
        {"type": "object"},
    ),
    # queries
    Operation(
        "aggrqueryResource",
        "Aggregates of a resource per time bucket.",
        "Queries",
        (RESOURCE_Q, IDENTITIES_Q, *RANGE, *AGGREGATE),
        200,
        (400, 404),
        _QUERY_RESULT,
    ),
    Operation(
        "aggrquerySignal",
        "Aggregates of a signal per time bucket.",
        "Queries",
        (IDENTITY_RE, SIGNAL, *RANGE, *AGGREGATE),
        200,
        (400, 404),
        _QUERY_RESULT,
    ),
    Operation(
        "aggrquerySignals",
        "Aggregates of signals per time bucket.",
        "Queries",
        (IDENTITY_RE, SIGNALS, *RANGE, *AGGREGATE),
        200,
        (400, 404),
        _QUERY_RESULT,
    ),
    Operation(
        "latestSignalsSearch",
        "The latest value of every signal.",
        "Queries",
        (
            _p("page", "integer", "Page number.", minimum=1, maximum=PAGE_MAX, default=1),
            _p("limit", "integer", "Items per page.", minimum=1, maximum=2000, default=100),
            _p("reverse", "boolean", "Descending order.", default=False),
            _p("signals", "array", "Only these signals."),
            _p("sort_key", enum=("identity", "signal"), default="identity"),
            _p("identities", "array", "Only these devices."),
        ),
        200,
        (400, 404),
        _QUERY_RESULT,
    ),
    Operation(
        "queryResource",
        "Data points of a resource.",
        "Queries",
        (RESOURCE_Q, IDENTITIES_Q, *RANGE, *SORTING),
        200,
        (400, 404),
        _QUERY_RESULT,
    ),
    Operation(
        "querySignal",
        "Data points of a signal.",
        "Queries",
        (IDENTITY_RE, SIGNAL, *RANGE, *SORTING),
        200,
        (400, 404),
        _QUERY_RESULT,
    ),
    Operation(
        "querySignalSubscribers",
        "Subscribers of a signal.",
        "Queries",
        (IDENTITY_RE, SIGNAL),
        200,
        (400, 404),
        _QUERY_RESULT,
    ),
    Operation(
        "querySignals",
        "Data points of signals, merged.",
        "Queries",
        (IDENTITY_RE, SIGNALS, *RANGE, *SORTING),
        200,
        (400, 404),
        _QUERY_RESULT,
    ),
    Operation(
        "querySignalsSubscribers",
        "Subscribers of signals.",
        "Queries",
        (IDENTITY_RE, SIGNALS),
        200,
        (400, 404),
        _QUERY_RESULT,
    ),
    # restore
    Operation(
        "getRestoreStatus",
        "Every restore task.",
        "Restore",
        (),
        200,
        (404, 500),
        {"type": "array", "items": {"type": "object"}},
    ),
    Operation(
        "getRestoreTaskStatus",
        "The files of a restore task.",
        "Restore",
        (TASK_ID,),
        200,
        (400, 404, 500),
        {"type": "array", "items": {"type": "object"}},
    ),
    Operation(
        "restoreTime",
        "Restore daily archives of a date range.",
        "Restore",
        (
            _p("start_date", description="YYYY-MM-DD", required=True),
            _p("end_date", description="YYYY-MM-DD", required=True),
            *RESTORE_COMMON,
        ),
        200,
        (400, 404, 500),
        {
            "type": "object",
            "properties": {"total": {"type": "integer"}, "task_id": {"type": "string"}},
        },
    ),
    Operation(
        "restoreUrl",
        "Restore daily archives from file:// URLs.",
        "Restore",
        (
            _p("urls", "array", "file:// URLs of daily archive files.", required=True),
            *RESTORE_COMMON,
        ),
        200,
        (400, 404, 500),
        {
            "type": "object",
            "properties": {"total": {"type": "integer"}, "task_id": {"type": "string"}},
        },
    ),
    Operation(
        "retryRestoreTask",
        "Retry the failed files of a task.",
        "Restore",
        (TASK_ID,),
        200,
        (400, 404, 500),
        {"type": "object", "properties": {"message": {"type": "string"}}},
    ),
    # metrics
    Operation(
        "getDeviceMetrics",
        "Aggregated device metrics.",
        "Metrics",
        (
            _p("aggregate_window", enum=tuple(WINDOWS), default="1h"),
            _p("aggregate_fn", enum=tuple(FUNCTIONS), default="count"),
            _p(
                "start_time",
                "integer",
                "Unix seconds (default end_time - 1h).",
                minimum=TIME_MIN,
                maximum=TIME_MAX,
            ),
            _p(
                "end_time",
                "integer",
                "Unix seconds (default now).",
                minimum=TIME_MIN,
                maximum=TIME_MAX,
            ),
            _p("metric_name", enum=METRICS, default="connected"),
            _p("limit", "integer", minimum=1, maximum=2000, default=200),
            _p("offset", "integer", minimum=0, default=0),
            _p("distinct", "boolean", "Group by device.", default=False),
        ),
        200,
        (400, 404),
        {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "time": {"type": "string"},
                    "value": {"type": "number"},
                    "connection_error": {"type": "string"},
                },
            },
        },
    ),
]

OPERATIONS: dict[str, Operation] = {op.name: op for op in _OPS}
