"""Sending the outbox: oldest rows first, a window of unacknowledged PUBLISHes, each PUBACK's
reason read and acted on.

What we guarantee (and what the platform may rely on):

* **Nothing is lost.** A row leaves the outbox only when a PUBACK with a success reason (0x00,
  0x10) answered the PUBLISH that carried it, or when it is dead-lettered (below). A broker
  outage, a partition, a gateway crash or restart keep it in SQLite; it is sent again on the
  next connection.
* **Order is kept.** Rows go out in the order they were produced, from the head of the queue;
  after a reconnect the queue is sent again from its head. With ``max_inflight: 1`` (the
  default) this is strict. With a larger window, a retryable refusal of one message while a
  later one was accepted resends the refused rows after it (MQTT acknowledges each PUBLISH on
  its own): choose a window of 1 where order matters more than throughput.
* **Duplicates: only rows whose PUBACK was lost.** A row is sent again only if the PUBACK of
  the PUBLISH carrying it never reached the queue: its connection ended first, or the gateway
  process died first (a graceful stop waits for them). The server may then have processed it
  already; MQTT cannot tell: the DUP flag only marks a resend of the same packet identifier
  *within one session*, and the ThingsBoard transport keeps no session state for a gateway
  (and processes a DUP PUBLISH again), so each new connection starts a clean session (paho is
  rebuilt per connection, paho's own in-memory resend is not used) and resends carry DUP=0
  under new packet ids. Such duplicates are at most the rows in flight at the moment of the
  loss (``max_inflight`` messages), and are byte-identical in what matters: the same device,
  ``ts``, keys and values (a resend may batch them with rows that came since). **The platform
  can therefore dedupe telemetry on (device, ts, key)**; attribute updates, connect and
  disconnect are idempotent. The counter ``possible_duplicates`` counts these rows: each row
  sent again while an earlier send of it went unanswered, across reconnects and restarts.
* **Refusals.** Poison reasons are not retried: 0x99 payload format invalid, 0x90 topic name
  invalid, 0x87 not authorized, 0x95 packet too large. A refused batch is split (its rows are
  sent one by one) to find the poisonous row; that row alone goes to ``dead_letters`` and is
  counted, later rows still flow. Retryable reasons back off (exponential from
  ``retry.initial_s`` to ``retry.max_s``, seeded jitter), holding the queue's head so order is
  kept: 0x97 quota exceeded, 0x83 implementation specific error, 0x80 unspecified error, 0x91
  packet identifier in use. After ``retry.max_attempts`` refusals (0: never) a batch is split
  and a row refused that often on its own is dead-lettered too. MQTT 3.1.1 has no PUBACK
  reason: the platform closes the connection instead; a row in flight each time the server
  closed the connection soon after it was sent, ``poison_after_closes`` times, is
  dead-lettered.
* **Pacing.** ``getSessionLimits`` caps the window (``maxInflightMessages``), the payload size
  (``maxPayloadSize``) and the message rate (``gatewayRateLimits``, else ``rateLimits``: see
  limits.py; PUBLISHes outside the queue use the budget too); rows larger than the payload cap
  on their own are dead-lettered (0x95).

paho's ``MQTTMessageInfo.is_published()`` is true even for a refusing PUBACK, so it is never
consulted: the reason code comes from ``on_publish`` through :meth:`Delivery.on_puback`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from devices.deviations import NO_DEVIATIONS, Deviations
from devices.gateways.mqtt_gateway import events
from devices.gateways.mqtt_gateway.limits import RateLimit, SessionLimits
from devices.gateways.mqtt_gateway.outbox import Outbox, Row
from devices.gateways.mqtt_gateway.topics import TOPIC_OF_KIND, dumps

if TYPE_CHECKING:
    from devices.gateways.mqtt_gateway.config import DeliverySettings
    from sim.world import World

POISON = {0x87: "not authorized", 0x90: "topic name invalid", 0x95: "packet too large",
          0x99: "payload format invalid"}  # fmt: skip
RETRYABLE = {0x80: "unspecified error", 0x83: "implementation specific error",
             0x91: "packet identifier in use", 0x97: "quota exceeded"}  # fmt: skip
MERGEABLE = ("telemetry", "attributes")
MQTT_311 = 4
# A 3.1.1 connection the server closed within this long after a PUBLISH counts as its refusal;
# a partition is noticed only a keep alive later.
CLOSE_REFUSAL_S = 5.0

Publish = Callable[[str, bytes], "int | None"]


@dataclass
class _InFlight:
    rows: list[Row]
    topic: str
    sent_at: float
    payload: bytes = b""

    @property
    def seqs(self) -> list[int]:
        return [r.seq for r in self.rows]


class Delivery:
    """Drives one :class:`Outbox` over whatever connection :meth:`attach` announces."""

    def __init__(
        self,
        world: World,
        outbox: Outbox,
        settings: DeliverySettings,
        publish: Publish,
        node: str,
        emit: Callable[..., Any],
        deviations: Deviations = NO_DEVIATIONS,
    ) -> None:
        self.world = world
        self.outbox = outbox
        self.deviations = deviations
        self._last_accepted: tuple[str, bytes] | None = None  # gateway-duplicate-on-reconnect
        self.settings = settings
        self._publish = publish
        self._node = node
        self._emit = emit
        self._rng = world.rng(f"{node}/delivery")
        self._online = False
        self._sending = True
        self._version = 5
        self._window = settings.max_inflight
        self._max_payload = settings.max_payload_bytes
        self._rates: list[tuple[str | None, RateLimit]] = []
        self._inflight: dict[int, _InFlight] = {}
        self._inflight_seqs: set[int] = set()
        self._isolate_upto = 0
        self._paused_until = 0.0
        self._flushing = False
        self._scheduled = False
        self._timer: asyncio.TimerHandle | None = None
        self._changed = asyncio.Event()

    # -- the connection ----------------------------------------------------------------------
    def attach(self, version: int, limits: SessionLimits | None) -> None:
        """A connection is ready: send from the head of the queue."""
        self._online = True
        self._version = version
        self._window = self.settings.max_inflight
        self._max_payload = self.settings.max_payload_bytes
        self._rates = []
        if limits is not None:
            if limits.max_inflight:
                self._window = min(self._window, limits.max_inflight)
            if limits.max_payload_size:
                self._max_payload = min(self._max_payload, limits.max_payload_size)
            if limits.messages is not None:
                self._rates.append((None, limits.messages))
            if limits.telemetry_messages is not None:
                self._rates.append(("telemetry", limits.telemetry_messages))
        if self.deviations.active("gateway-queue-lost-on-reconnect"):
            self.outbox.drop([r.seq for r in self.outbox.head(len(self.outbox))])
        last = self._last_accepted
        if last is not None and self.deviations.active("gateway-duplicate-on-reconnect"):
            self._publish(*last)  # what the platform already took, sent once more
        self.wake()

    def detach(self) -> None:
        """The connection ended: what was in flight is sent again on the next one."""
        self._online = False
        lost, now = list(self._inflight.values()), self.world.now
        self._inflight.clear()
        self._inflight_seqs.clear()
        self._cancel_timer()
        for flight in lost:
            seqs = flight.seqs
            self.world.trace.emit(
                self._node, "mqtt", "in-flight-at-loss", seqs=seqs, sent_at=flight.sent_at
            )
            if self.deviations.active("gateway-queue-lost-on-reconnect"):
                self.outbox.drop(seqs)  # the official client's known bug: gone with paho's queue
                continue
            if self.deviations.active("gateway-reorder-on-reconnect"):
                for row in flight.rows:  # sent again after everything queued since
                    self.outbox.append(row.kind, row.device, row.body, row.created)
                self.outbox.drop(seqs)
                continue
            if self._version == MQTT_311 and now - flight.sent_at <= CLOSE_REFUSAL_S:
                self.outbox.count_close(seqs)
                self._closed_on(flight)
        self._changed.set()

    def _closed_on(self, flight: _InFlight) -> None:
        """MQTT 3.1.1: the server closed the connection right after this PUBLISH."""
        if len(flight.rows) > 1:
            self._isolate_upto = max(self._isolate_upto, *flight.seqs)
            return
        row = self.outbox.row(flight.rows[0].seq)
        if row is not None and row.closes >= self.settings.poison_after_closes:
            why = f"the server closed the connection {row.closes} times after it (MQTT 3.1.1)"
            self._dead_letter(row.seq, 0x80, why)

    # -- acknowledgements --------------------------------------------------------------------
    def on_puback(self, mid: int, reason: int) -> bool:
        """The PUBACK for ``mid`` carried ``reason``; False if ``mid`` was not ours."""
        flight = self._inflight.pop(mid, None)
        if flight is None:
            return False
        seqs = flight.seqs
        self._inflight_seqs.difference_update(seqs)
        if reason < 0x80:
            self.outbox.delivered(seqs)
            self._last_accepted = (flight.topic, flight.payload)
            self._emit(events.DELIVERED, seqs, reason)
        else:
            self.outbox.count(f"refused_0x{reason:02x}")
            self.world.trace.emit(
                self._node,
                "mqtt",
                "refused",
                seqs=seqs,
                reason=f"0x{reason:02X}",
                reason_name=POISON.get(reason) or RETRYABLE.get(reason) or "failure",
            )
            if reason in POISON and not self.deviations.active("gateway-poison-retried"):
                self._poisoned(flight, reason)
            else:
                self._retry_later(flight, reason)
        self._changed.set()
        self.wake()
        return True

    def _poisoned(self, flight: _InFlight, reason: int) -> None:
        self.outbox.refused(flight.seqs, retryable=False)
        if len(flight.rows) > 1:
            self._isolate_upto = max(self._isolate_upto, *flight.seqs)
            self._emit(events.REFUSED, flight.seqs, reason, "isolate")
            return
        self._dead_letter(flight.rows[0].seq, reason, POISON[reason])

    def _retry_later(self, flight: _InFlight, reason: int) -> None:
        seqs = flight.seqs
        self.outbox.refused(seqs, retryable=True)
        attempts = max(r.attempts for r in flight.rows) + 1
        limit = self.settings.max_attempts
        if self.deviations.active("gateway-poison-retried"):
            limit = 0  # forever
        if limit and attempts >= limit:
            if len(seqs) == 1:
                self._dead_letter(
                    seqs[0], reason, f"refused {attempts} times (last 0x{reason:02X})"
                )
                return
            self._isolate_upto = max(self._isolate_upto, *seqs)  # find the row it is about
        delay = min(
            self.settings.retry_max_s, self.settings.retry_initial_s * 2 ** (attempts - 1)
        ) * self._rng.uniform(0.9, 1.1)
        if self.deviations.active("gateway-refusal-no-backoff"):
            delay = 0.0
        self._paused_until = max(self._paused_until, self.world.now + delay)
        self.world.trace.emit(
            self._node, "mqtt", "backoff", seqs=seqs, attempts=attempts, delay_s=delay
        )
        self._emit(events.REFUSED, seqs, reason, "retry")

    def _dead_letter(self, seq: int, reason: int, why: str) -> None:
        letter = self.outbox.dead_letter(seq, reason, why, self.world.now)
        if letter is not None:
            self.world.trace.emit(
                self._node, "mqtt", "dead-letter", seq=seq, reason=f"0x{reason:02X}", why=why
            )
            self._emit(events.DEAD_LETTERED, seq, reason, why)

    # -- sending -----------------------------------------------------------------------------
    def wake(self) -> None:
        """Rows were added or something changed: look at the queue soon (once per turn)."""
        if not self._scheduled and self._online and self._sending:
            self._scheduled = True
            self.world.loop.call_soon(self._pump)

    def _pump(self) -> None:
        self._scheduled = False
        if self.outbox.closed:
            return
        while self._online and self._sending and len(self._inflight) < self._window:
            now = self.world.now
            if now < self._paused_until:
                self._arm(self._paused_until)
                return
            rows = self.outbox.head(len(self._inflight_seqs) + self.settings.max_batch_rows)
            pending = [r for r in rows if r.seq not in self._inflight_seqs]
            if not pending:
                return
            rows, payload, complete = self._compose(pending)
            if not rows:
                continue  # the head was too large on its own and is dead-lettered
            if not complete and not self._flushing and self.settings.batch_s > 0:
                ready_at = pending[0].created + self.settings.batch_s
                if now < ready_at:
                    self._arm(ready_at)  # let more readings join this message
                    return
            wait = max(
                (r.wait(now) for k, r in self._rates if k in (None, rows[0].kind)), default=0.0
            )
            if wait > 0:
                self._arm(now + wait)
                return
            topic = TOPIC_OF_KIND[rows[0].kind]
            mid = self._publish(topic, payload)
            if mid is None:
                return  # the connection is going away; detach() follows
            for kind, rate in self._rates:
                if kind in (None, rows[0].kind):
                    rate.record(now)
            again = sum(1 for r in rows if r.sends)
            if again:  # an earlier PUBLISH of these rows may have been processed
                self.outbox.count("possible_duplicates", again)
            self.outbox.sending([r.seq for r in rows])
            self._inflight[mid] = _InFlight(rows, topic, now, payload)
            self._inflight_seqs.update(r.seq for r in rows)
            if self.world.trace.recording:
                self.world.trace.emit(
                    self._node,
                    "mqtt",
                    "publish",
                    topic=topic,
                    mid=mid,
                    seqs=[rows[0].seq, rows[-1].seq],
                    rows=len(rows),
                    bytes=len(payload),
                )

    def _compose(self, pending: list[Row]) -> tuple[list[Row], bytes, bool]:
        """The rows of the next message, its payload, and whether it is full (nothing more
        could join it by waiting)."""
        head = pending[0]
        single = head.kind not in MERGEABLE or head.seq <= self._isolate_upto
        rows = [head]
        if not single:
            budget = self._max_payload - 2
            budget -= len(json.dumps(head.device)) + 4 + head.size + 1
            for row in pending[1:]:
                if row.kind != head.kind or row.seq <= self._isolate_upto:
                    break
                if len(rows) >= self.settings.max_batch_rows:
                    break
                cost = len(json.dumps(row.device)) + 4 + row.size + 1
                if cost > budget:
                    break
                budget -= cost
                rows.append(row)
        payload = _payload(rows, self.deviations)
        while len(payload) > self._max_payload and len(rows) > 1:
            rows.pop()
            payload = _payload(rows, self.deviations)
        if len(payload) > self._max_payload:
            why = f"{len(payload)} bytes on its own, the limit is {self._max_payload}"
            self._dead_letter(head.seq, 0x95, why)
            return [], b"", True
        complete = single or len(rows) < len(pending) or len(rows) >= self.settings.max_batch_rows
        return rows, payload, complete

    def _arm(self, when: float) -> None:
        if self._timer is not None and self._timer.when() <= when:
            return
        self._cancel_timer()
        self._timer = self.world.loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.wake()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def note_direct(self) -> None:
        """A PUBLISH outside the queue (RPC reply, re-announcement) used the rate budget."""
        now = self.world.now
        for _kind, rate in self._rates:
            rate.record(now)

    # -- stopping ----------------------------------------------------------------------------
    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    async def settle(self, timeout: float) -> None:
        """Send what is queued without waiting to batch, until the queue is empty (or the
        connection is gone, or ``timeout``); then stop starting new messages and wait for the
        PUBACKs of those in flight (again at most ``timeout``), so a restart resends nothing
        the platform already has."""
        self._flushing = True
        self.wake()
        await self._wait_until(lambda: not len(self.outbox), timeout)
        self._sending = False
        await self._wait_until(lambda: not self._inflight, timeout)

    async def _wait_until(self, done: Callable[[], bool], timeout: float) -> None:
        deadline = self.world.now + timeout
        while self._online and not done():
            remaining = deadline - self.world.now
            if remaining <= 0:
                return
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return

    def close(self) -> None:
        self._online = False
        self._sending = False
        self._cancel_timer()


def _payload(rows: list[Row], deviations: Deviations = NO_DEVIATIONS) -> bytes:
    """The PUBLISH payload carrying ``rows`` (all of one kind)."""
    kind = rows[0].kind
    if kind in ("connect", "disconnect"):
        return dumps(rows[0].body)
    if kind == "claim" and deviations.active("gateway-claim-shape"):
        return dumps({"device": rows[0].device, **rows[0].body})
    if kind == "attributes" and deviations.active("gateway-attributes-flat"):
        flat: dict[str, Any] = {}
        for row in rows:
            flat.update(row.body)
        return dumps(flat)
    if kind == "telemetry":
        series: dict[str, list[Any]] = {}
        for row in rows:
            series.setdefault(row.device, []).append(row.body)
        return dumps(series)
    merged: dict[str, dict[str, Any]] = {}
    for row in rows:
        merged.setdefault(row.device, {}).update(row.body)
    return dumps(merged)
