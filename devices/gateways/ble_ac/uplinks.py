"""The controller's side of each router's uplink: an HTTP client of the router's local API
over the world's IP links, and the SSE streams the controller keeps open to it.

* Every online router gets a ``notification`` stream (``GET /gatt/nodes?event=1``) and a
  ``connection-state`` stream (``GET /management/nodes/connection-state``) for as long as it is
  online: the combined stream's notification and connection messages, and the controller's own
  view of who is connected where (auto-selection load, roaming, the ``state`` message).
* Scan streams (``GET /gap/nodes?event=1&...``) and RSSI watches (``GET /gap/rssi``) are opened
  on demand under a key (``scan/combined``, ``scan/selection``, ``rssi/<device>``) and closed
  when no longer wanted.

A stream that ends or fails while its router is online is reopened after ``retry_s`` (a router
that reboots faster than the dead interval comes back with fresh streams); when a router goes
offline all its streams close, and reopen when it joins again. Each stream's events are parsed
once and emitted (:mod:`.events`): ``notification``, ``connection_state``, and scan reports on
a lean path of their own (:meth:`Uplinks.on_scan`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bumble.utils import EventEmitter

from devices.gateways.ble_ac.events import AP_STATE, CONNECTION_STATE, NOTIFICATION
from devices.protocols.http_client import HttpClient, HttpError, SseStream

if TYPE_CHECKING:
    from devices.gateways.ble_ac.registry import HubRecord, Registry
    from sim.iplink import IpNetwork
    from sim.world import World

ROUTER_PORT = 80
NOTIFICATIONS = "notification"
CONNECTION_STATES = "connection-state"

Handler = Callable[[str, dict[str, Any]], None]
ScanSink = Callable[[str, dict[str, Any], str], None]


@dataclass
class Upstream:
    """One SSE stream to a router, kept open while wanted and the router is online."""

    mac: str
    key: str
    path: str
    params: dict[str, str]
    handler: Handler
    task: asyncio.Task[None] | None = None
    stream: SseStream | None = None
    opened: int = 0
    events: int = 0
    failures: list[str] = field(default_factory=list)


class Uplinks(EventEmitter):
    """HTTP clients of the routers and the streams the controller holds to them."""

    def __init__(
        self,
        world: World,
        net: IpNetwork,
        registry: Registry,
        host: str = "ac",
        retry_s: float = 1.0,
        request_timeout_s: float = 30.0,
    ) -> None:
        super().__init__()
        self.world = world
        self.net = net
        self.registry = registry
        self.host = host
        self.retry_s = retry_s
        self.request_timeout_s = request_timeout_s
        self._wanted: dict[tuple[str, str], Upstream] = {}
        self._clients: dict[tuple[str, str], HttpClient] = {}
        self._scan_sinks: list[ScanSink] = []
        registry.on(AP_STATE, self._on_ap_state)

    # -- clients -----------------------------------------------------------------------------
    def client(self, record: HubRecord) -> HttpClient:
        """An HTTP client of ``record``'s local API, from the controller's host."""
        key = (record.mac, record.ip)
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = HttpClient(
                f"http://{record.ip}:{ROUTER_PORT}",
                connect=self._connect,
                default_timeout=self.request_timeout_s,
            )
        return client

    async def _connect(self, host: str, port: int) -> tuple[Any, Any]:
        return await self.net.open_connection(host, port, client_host=self.host)

    # -- streams -----------------------------------------------------------------------------
    def want(
        self, mac: str, key: str, path: str, params: dict[str, str], handler: Handler
    ) -> Upstream:
        """Keep stream ``key`` open to router ``mac`` (replacing one of the same key)."""
        self.drop(mac, key)
        upstream = self._wanted[(mac, key)] = Upstream(mac, key, path, dict(params), handler)
        record = self.registry.records.get(mac)
        if record is not None and record.online:
            self._start(upstream)
        return upstream

    def drop(self, mac: str, key: str) -> None:
        upstream = self._wanted.pop((mac, key), None)
        if upstream is not None:
            self._stop(upstream)

    def wanted(self, mac: str, key: str) -> Upstream | None:
        return self._wanted.get((mac, key))

    def keys(self, mac: str) -> list[str]:
        return sorted(k for m, k in self._wanted if m == mac)

    def want_scan(self, mac: str, purpose: str, params: dict[str, str]) -> Upstream:
        def handler(ap: str, report: dict[str, Any]) -> None:
            for sink in self._scan_sinks:
                sink(ap, report, purpose)

        return self.want(mac, f"scan/{purpose}", "/gap/nodes", {**params, "event": "1"}, handler)

    def on_scan(self, sink: ScanSink) -> None:
        """Hand every scan report to ``sink`` ``(router mac, report, purpose)``: the
        ``scan_report`` event on the lean path (thousands a second under load, so it skips the
        event emitter)."""
        self._scan_sinks.append(sink)

    def report_scan(self, ap: str, report: dict[str, Any], purpose: str) -> None:
        """A scan report from elsewhere (a relayed scan stream) for the same sinks."""
        for sink in self._scan_sinks:
            sink(ap, report, purpose)

    def _on_ap_state(self, record: HubRecord) -> None:
        if record.online:
            self.want(record.mac, NOTIFICATIONS, "/gatt/nodes", {"event": "1"}, self._notified)
            self.want(
                record.mac, CONNECTION_STATES, "/management/nodes/connection-state", {}, self._state
            )
            for (mac, _key), upstream in self._wanted.items():
                if mac == record.mac and upstream.task is None:
                    self._start(upstream)
        else:
            for (mac, _key), upstream in self._wanted.items():
                if mac == record.mac:
                    self._stop(upstream)

    def _notified(self, ap: str, event: dict[str, Any]) -> None:
        self.emit(NOTIFICATION, ap, event)

    def _state(self, ap: str, event: dict[str, Any]) -> None:
        device, state = event.get("handle"), event.get("connectionState")
        if isinstance(device, str) and isinstance(state, str):
            self.emit(CONNECTION_STATE, ap, device.upper(), state)

    def _start(self, upstream: Upstream) -> None:
        if upstream.task is None:
            upstream.task = self.world.spawn(
                self._run(upstream), name=f"ac/uplink/{upstream.mac}/{upstream.key}"
            )

    def _stop(self, upstream: Upstream) -> None:
        if upstream.stream is not None:
            upstream.stream.close()
            upstream.stream = None
        if upstream.task is not None:
            upstream.task.cancel()
            upstream.task = None

    async def _run(self, upstream: Upstream) -> None:
        loop = asyncio.get_running_loop()
        while True:
            record = self.registry.records.get(upstream.mac)
            if record is None or not record.online:
                return
            stream = upstream.stream = self.client(record).sse(upstream.path, upstream.params)
            try:
                await stream.open()
                if stream.status == 200:
                    upstream.opened += 1
                    self._trace("uplink-stream-open", mac=upstream.mac, stream=upstream.key)
                    async for event in stream:
                        try:
                            data = json.loads(event.data)
                        except ValueError:
                            continue
                        if isinstance(data, dict):
                            upstream.events += 1
                            upstream.handler(upstream.mac, data)
                else:
                    self._failed(upstream, f"{stream.status} {stream.body[:200]!r}")
            except (HttpError, OSError) as exc:
                self._failed(upstream, str(exc))
            finally:
                stream.close()
                upstream.stream = None
            await asyncio.sleep(self.retry_s)
            if loop.is_closed():
                return

    def _failed(self, upstream: Upstream, why: str) -> None:
        upstream.failures.append(why)
        del upstream.failures[:-5]
        self._trace("uplink-stream-failed", mac=upstream.mac, stream=upstream.key, error=why)

    def close(self) -> None:
        for upstream in self._wanted.values():
            self._stop(upstream)

    def _trace(self, event: str, **details: Any) -> None:
        self.world.trace.emit(self.registry.name, "ac", event, **details)
