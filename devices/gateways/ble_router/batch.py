"""Batch connect (seed 002, "Batch Connect to a Target Device (v2.0 and above)"): the router's
queue of devices to connect (``POST /gap/batch-connect`` adds to it, ``DELETE`` empties it; the
routes are :mod:`.batch_api`).

How the router works the queue (readings of the seed where it is silent):

* Devices are connected one after the other (the router's serial rule still holds: a manual
  connect request that arrives while a batch attempt runs is refused as busy). Each attempt
  lasts at most ``timeout`` ms; a device is retried until ``per_dev_timeout`` ms have passed
  since its first attempt, then the central emits the connection state ``connect timeout``
  (the connection-state stream reports
  ``{"handle": <addr>, "chipId": <chip>, "connectionState": "connect timeout"}``) and the
  router moves on. A successful attempt is reported ``connected`` as any connection is. An
  attempt the central refuses or that fails (any :class:`~.errors.BleError`) is retried.
* A later POST adds to the existing queue ("could add into existing batch-connect list");
  an address already queued or connected is not queued twice. Each device keeps the
  ``timeout`` / ``per_dev_timeout`` of the request that queued it.
* ``DELETE`` empties the queue; an attempt already on the air runs to its end (aborting a
  controller mid-procedure is not something a client can ask for) but is not retried.
* A reboot empties the queue too (it lives in RAM).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from devices.gateways.ble_router.errors import BleError, ChipFull, ChipOff

if TYPE_CHECKING:
    from devices.gateways.ble_router.router import BleRouter

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
        """Empty the queue; the worker gives up after its current attempt, and the next
        :meth:`add` starts a fresh one."""
        dropped = len(self.queue)
        self.queue.clear()
        self._generation += 1
        self._task = None
        return dropped

    async def _work(self, generation: int) -> None:
        while self.queue and generation == self._generation and self.router.started:
            entry = self.current = self.queue.pop(0)
            try:
                await self._connect_one(entry, generation)
            finally:
                if self.current is entry:
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
            except BleError as exc:
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
        if not self.router.deviations.active("batch-timeout-not-reported"):
            central.report_state(entry.mac, "connect timeout", chip)

    def _chip_for_report(self) -> int:
        try:
            return self.router.central.pick_chip(None).index
        except (ChipOff, ChipFull):
            return 0
