"""Batch connect (seed 002, "Batch Connect to a Target Device (v2.0 and above)"):
``POST /gap/batch-connect`` queues devices, ``DELETE /gap/batch-connect`` empties the queue.

How the router works the queue (readings of the seed where it is silent):

* Devices are connected one after the other (the router's serial rule still holds: a manual
  connect request that arrives while a batch attempt runs is refused as busy). Each attempt
  lasts at most ``timeout`` ms; a device is retried until ``per_dev_timeout`` ms have passed
  since its first attempt, then the connection-state stream reports
  ``{"handle": <addr>, "chipId": <chip>, "connectionState": "connect timeout"}`` and the
  router moves on. A successful attempt is reported ``connected`` as any connection is.
* A later POST adds to the existing queue ("could add into existing batch-connect list");
  an address already queued or connected is not queued twice. Each device keeps the
  ``timeout`` / ``per_dev_timeout`` of the request that queued it.
* ``DELETE`` empties the queue; an attempt already on the air runs to its end (aborting a
  controller mid-procedure is not something a client can ask for) but is not retried.
* Only ``timeout`` accepts 20 ms and up (the seed's range for batch connect is 20-20000 ms,
  the single connect's is 200-20000 ms).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from devices.gateways.ble_router import handlers
from devices.gateways.ble_router.central import ADDRESS_TYPES
from devices.gateways.ble_router.errors import ApiError, bad_request
from devices.gateways.ble_router.params import parse_choice, parse_int, parse_mac

if TYPE_CHECKING:
    from devices.gateways.ble_router.router import BleRouter

DEFAULT_TIMEOUT_MS = 5000
MAX_PER_DEV_TIMEOUT_MS = 600_000
_BUSY_RETRY_S = 0.05  # another connect holds the router: try again this much later
_RETRY_PAUSE_S = 0.1  # an attempt that failed faster than this waits out the rest


@dataclass
class BatchEntry:
    mac: str
    addr_type: str
    timeout_s: float
    per_dev_timeout_s: float


class BatchConnector:
    """The router's batch-connect queue and the task that works it."""

    def __init__(self, router: BleRouter) -> None:
        self.router = router
        self.queue: list[BatchEntry] = []
        self.current: BatchEntry | None = None
        self._task: asyncio.Task[None] | None = None
        self._generation = 0

    def add(self, entries: list[BatchEntry]) -> list[str]:
        """Queue what is neither queued nor connected; return the MACs queued."""
        known = {e.mac for e in self.queue} | set(self.router.central.links)
        if self.current is not None:
            known.add(self.current.mac)
        added = []
        for entry in entries:
            if entry.mac not in known:
                self.queue.append(entry)
                known.add(entry.mac)
                added.append(entry.mac)
        if self.queue and (self._task is None or self._task.done()):
            self._task = self.router.world.spawn(
                self._work(self._generation), name=f"{self.router.name}/batch-connect"
            )
        return added

    def clear(self) -> int:
        dropped = len(self.queue)
        self.queue.clear()
        self._generation += 1
        return dropped

    async def _work(self, generation: int) -> None:
        while self.queue and generation == self._generation and self.router.started:
            entry = self.current = self.queue.pop(0)
            try:
                await self._connect_one(entry, generation)
            finally:
                self.current = None

    async def _connect_one(self, entry: BatchEntry, generation: int) -> None:
        central = self.router.central
        loop = asyncio.get_running_loop()
        deadline = loop.time() + entry.per_dev_timeout_s
        attempts = 0
        while generation == self._generation and self.router.started:
            if entry.mac in central.links:
                return
            left = deadline - loop.time()
            if left <= 1e-6:
                break
            if central.connecting is not None:  # a manual connect is running
                await asyncio.sleep(min(_BUSY_RETRY_S, left))
                continue
            attempts += 1
            started = loop.time()
            try:
                await central.connect(entry.mac, entry.addr_type, min(entry.timeout_s, left))
                self.router.trace("batch", "connected", peer=entry.mac, attempts=attempts)
                return
            except ApiError as exc:
                self.router.trace(
                    "batch", "attempt-failed", peer=entry.mac, attempt=attempts, error=exc.message
                )
                # an attempt refused at once (a full chip...) must not spin: pause before retrying
                pause = _RETRY_PAUSE_S - (loop.time() - started)
                if pause > 0:
                    await asyncio.sleep(min(pause, max(deadline - loop.time(), 0.0)))
        if generation != self._generation or entry.mac in central.links:
            return
        chip = self._chip_for_report()
        self.router.trace(
            "batch",
            "connect-timeout",
            peer=entry.mac,
            attempts=attempts,
            per_dev_timeout_ms=round(entry.per_dev_timeout_s * 1000),
        )
        central._emit_state(entry.mac, "connect timeout", chip)

    def _chip_for_report(self) -> int:
        try:
            return self.router.central.pick_chip(None).index
        except ApiError:
            return 0


BATCH: web.AppKey[BatchConnector] = web.AppKey("batch_connector")


def parse_entries(raw: Any, timeout_s: float, per_dev_s: float) -> list[BatchEntry]:
    """The ``list`` parameter: a JSON array of ``{"type": "public"|"random", "addr": MAC}``."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise bad_request(
            f"list={raw!r} is not accepted; expected a JSON array such as "
            '[{"type":"public","addr":"C0:00:5B:D1:B7:25"}]'
        )
    entries = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or "addr" not in item:
            raise bad_request(
                f"list[{i}]={item!r} is not accepted; expected an object "
                '{"type":"public"|"random","addr":"C0:00:5B:D1:B7:25"}'
            )
        mac = parse_mac(item["addr"], f"list[{i}].addr")
        addr_type = parse_choice(f"list[{i}].type", item.get("type", "public"), ADDRESS_TYPES)
        entries.append(BatchEntry(mac, addr_type, timeout_s, per_dev_s))
    return entries


async def batch_connect(request: web.Request) -> web.Response:
    connector = request.app[BATCH]
    body = await handlers.body(request)
    if body is not None and not isinstance(body, dict):
        raise bad_request(
            "the batch-connect body must be a JSON object with list, timeout and per_dev_timeout"
        )
    p = body or {}
    unknown = sorted(set(p) - {"list", "timeout", "per_dev_timeout"})
    if unknown:
        raise bad_request(
            f"unknown batch-connect parameter(s) {', '.join(unknown)}; accepted: "
            "list, timeout, per_dev_timeout"
        )
    timeout = parse_int(
        "timeout",
        p.get("timeout", DEFAULT_TIMEOUT_MS),
        20,
        20000,
        "a timeout in ms from 20 to 20000",
    )
    per_dev = parse_int(
        "per_dev_timeout",
        p.get("per_dev_timeout", timeout * 2),
        timeout,
        MAX_PER_DEV_TIMEOUT_MS,
        f"a timeout in ms from timeout ({timeout}) to {MAX_PER_DEV_TIMEOUT_MS}",
    )
    entries = parse_entries(p.get("list"), timeout / 1000.0, per_dev / 1000.0)
    added = connector.add(entries)
    connector.router.trace(
        "batch",
        "queued",
        added=added,
        timeout_ms=timeout,
        per_dev_timeout_ms=per_dev,
        queue=len(connector.queue),
    )
    return handlers.ok()


async def batch_remove(request: web.Request) -> web.Response:
    connector = request.app[BATCH]
    extra = sorted(k for k in request.query if k != "mac")
    if extra or await handlers.body(request) is not None:
        raise bad_request(
            "DELETE /gap/batch-connect accepts no parameters; got "
            f"{', '.join(extra) or 'a request body'}"
        )
    dropped = connector.clear()
    connector.router.trace("batch", "cleared", dropped=dropped)
    return handlers.ok()


def register(app: web.Application) -> None:
    app[BATCH] = BatchConnector(app[handlers.ROUTER])
    app.router.add_post("/gap/batch-connect", batch_connect)
    app.router.add_delete("/gap/batch-connect", batch_remove)
