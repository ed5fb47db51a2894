"""One gateway context (a product): every seed operation by name, and the device side.

:meth:`Gateway.call` runs a seed operation with its parameter object (a mapping, as the seed's
service calls take) and returns its JSON-ready result (None for the 204/205 operations). The
device-side methods are typed Python calls for the device APIs built on this domain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from devices.cloud.device2 import (
    connections,
    contents,
    data_in,
    identities,
    metrics,
    permissions,
    queries,
    resources,
    restore,
    signals,
    state,
    subscribers,
    tags,
)
from devices.cloud.device2 import params as p
from devices.cloud.device2.connections import Provisioning
from devices.cloud.device2.context import Context, Session
from devices.cloud.device2.errors import InvalidInput, NotFound
from devices.cloud.device2.lifecycle import sweep
from devices.cloud.device2.settings import Settings
from devices.cloud.device2.store import dumps

if TYPE_CHECKING:
    from devices.cloud.device2.service import Device2Service

Operation = Callable[[Context, p.Params], Any]


def get_gateway_settings(ctx: Context, _params: p.Params) -> dict[str, Any]:
    return ctx.settings.to_json()


def update_gateway_settings(ctx: Context, params: p.Params) -> None:
    settings = ctx.settings.merged(params)
    with ctx.tx() as db:
        db.execute(
            "UPDATE gateways SET settings = ? WHERE product = ?",
            (dumps(settings.raw), ctx.product),
        )
    ctx.settings = settings


def get_solution_pairing(ctx: Context, _params: p.Params) -> dict[str, Any]:
    sync = ctx.settings.raw.get("solution_sync") or {}
    return {"source": sync.get("source"), "target": sync.get("target")}


OPERATIONS: dict[str, Operation] = {
    # identities
    "addIdentity": identities.add_identity,
    "addIdentities": identities.add_identities,  # the vendor's bulk form, not a seed operation
    "countIdentities": identities.count_identities,
    "getIdentity": identities.get_identity,
    "listIdentities": identities.list_identities,
    "makeIdentity": identities.make_identity,
    "removeIdentities": identities.remove_identities,
    "removeIdentity": identities.remove_identity,
    "updateIdentities": identities.update_identities,
    "updateIdentity": identities.update_identity,
    # identity state
    "getIdentityState": state.get_identity_state,
    "setIdentityState": state.set_identity_state,
    # identity tags
    "addIdentityTag": tags.add_identity_tag,
    "getIdentityTag": tags.get_identity_tag,
    "listTagNames": tags.list_tag_names,
    "removeIdentityTag": tags.remove_identity_tag,
    # identity permission (unnamed in the seed)
    "getIdentityPermission": permissions.get_identity_permission,
    "updateIdentityPermission": permissions.update_identity_permission,
    # publish data
    "publishData": data_in.publish_data,
    # solution resources
    "addResource": resources.add_resource,
    "getGatewayResource": resources.get_gateway_resource,
    "getGatewayResourceList": resources.get_gateway_resource_list,
    "updateResource": resources.update_resource,
    # settings (update and pairing unnamed in the seed)
    "getGatewaySettings": get_gateway_settings,
    "updateGatewaySettings": update_gateway_settings,
    "getSolutionPairing": get_solution_pairing,
    # data queries
    "aggrqueryResource": queries.aggrquery_resource,
    "aggrquerySignal": queries.aggrquery_signal,
    "aggrquerySignals": queries.aggrquery_signals,
    "latestSignalsSearch": queries.latest_signals_search,
    "queryResource": queries.query_resource,
    "querySignal": queries.query_signal,
    "querySignalSubscribers": subscribers.query_signal_subscribers,
    "querySignals": queries.query_signals,
    "querySignalsSubscribers": subscribers.query_signals_subscribers,
    # data restore
    "getRestoreStatus": restore.get_restore_status,
    "getRestoreTaskStatus": restore.get_restore_task_status,
    "restoreTime": restore.restore_time,
    "restoreUrl": restore.restore_url,
    "retryRestoreTask": restore.retry_restore_task,
    # device metrics
    "getDeviceMetrics": metrics.get_device_metrics,
}


class Gateway:
    """One product's gateway: settings, identities, resources, data, and device connections."""

    def __init__(self, service: Device2Service, ctx: Context) -> None:
        self.service = service
        self.ctx = ctx

    @property
    def product(self) -> str:
        return self.ctx.product

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    # -- the seed's operations ----------------------------------------------------------------
    def call(self, operation: str, params: Mapping[str, Any] | None = None) -> Any:
        """Run seed operation ``operation`` (e.g. ``"listIdentities"``) with ``params``."""
        fn = OPERATIONS.get(operation)
        if fn is None:
            raise NotFound("operation", operation, "operation")
        if params is None:
            params = {}
        if not isinstance(params, Mapping):
            raise InvalidInput("parameters", "an object", params)
        return fn(self.ctx, params)

    # -- device side: provisioning and connections -------------------------------------------
    def provision(
        self,
        identity: str | None,
        ip: str | None = None,
        protocol: str | None = None,
        password: str | bytes | None = None,
        certificate_pem: str | bytes | None = None,
    ) -> Provisioning:
        """A device provisions (see :mod:`.connections`); the token is in the result only."""
        return connections.provision(self.ctx, identity, ip, protocol, password, certificate_pem)

    def authenticate(
        self,
        token: str | None = None,
        identity: str | None = None,
        password: str | bytes | None = None,
        certificate_pem: str | bytes | None = None,
        ip: str | None = None,
        protocol: str | None = None,
    ) -> str:
        """The identity these credentials belong to (AuthenticationFailed / Refused if not)."""
        return connections.authenticate(
            self.ctx, token, identity, password, certificate_pem, ip, protocol
        )

    def connect(self, identity: str, ip: str | None = None, protocol: str | None = None) -> Session:
        return connections.connect(self.ctx, identity, ip, protocol)

    def disconnect(self, connection_id: str) -> None:
        connections.disconnect(self.ctx, connection_id)

    def sessions(self, identity: str | None = None) -> list[Session]:
        return [s for s in self.ctx.sessions.values() if identity in (None, s.identity)]

    def status(self, identity: str) -> str:
        """The identity's status as ``getIdentity`` shows it (NotFound if unknown)."""
        return identities.get_identity(self.ctx, {"identity": identity})["status"]

    # -- device side: data -----------------------------------------------------------------
    def write(
        self,
        identity: str,
        values: Mapping[str, Any],
        timestamp: int | None = None,
        session: Session | None = None,
    ) -> list[str]:
        """A device write (``data_in``); returns the aliases stored as identity state."""
        return self.record(identity, [(timestamp, values)], session)

    def record(
        self,
        identity: str,
        batches: Sequence[tuple[int | None, Mapping[str, Any]]],
        session: Session | None = None,
    ) -> list[str]:
        """Several timed writes in one ``data_in`` (``$resource.batch``, ``/stack/record``)."""
        ip = session.ip if session else None
        protocol = session.protocol if session else None
        connection_id = session.connection_id if session else None
        return data_in.write(self.ctx, identity, batches, ip, protocol, connection_id)

    def read(self, identity: str, aliases: Iterable[str]) -> dict[str, Any]:
        """What a device reads: ``set`` for settable resources, else ``reported``."""
        return state.read_for_device(self.ctx, identity, aliases)

    def pending_sets(self, identity: str) -> dict[str, tuple[Any, int]]:
        """``{alias: (value, timestamp µs)}`` set from the cloud and not yet acknowledged."""
        return state.pending_sets(self.ctx, identity)

    def recorded_times(self, identity: str, alias: str, start_us: int, end_us: int) -> list[int]:
        """Device times (µs) of the stored points of ``alias`` in ``[start_us, end_us)``."""
        return signals.reported_times(self.ctx, identity, alias, start_us, end_us)

    def check_publish_as(self, gateway_identity: str, target: str) -> None:
        permissions.check_publish_as(self.ctx, gateway_identity, target)

    def upload_content(
        self,
        identity: str,
        content_id: str,
        data: bytes,
        content_type: str = "application/octet-stream",
        content_tags: Mapping[str, Any] | None = None,
        session: Session | None = None,
    ) -> None:
        contents.upload(self.ctx, identity, content_id, data, content_type, content_tags, session)

    def contents(self) -> contents.ContentStore:
        return contents.ContentStore(self.ctx)

    def register_subscriber(
        self, identity: str, signal: str, session_id: str, session_type: str, **fields: Any
    ) -> None:
        subscribers.register(self.ctx, identity, signal, session_id, session_type, **fields)

    def unregister_subscriber(self, identity: str, session_id: str) -> None:
        subscribers.unregister(self.ctx, identity, session_id)

    # -- upkeep -------------------------------------------------------------------------------
    def sweep(self) -> None:
        """Apply passed ``auth.expire`` deadlines now."""
        sweep(self.ctx)

    def archive_day(self, day: str) -> str:
        """Write the day's data (``YYYY-MM-DD``) as a daily archive file; returns its path."""
        return str(restore.write_archive(self.ctx, day))
