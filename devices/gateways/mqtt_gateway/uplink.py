"""The gateway's MQTT connection to the platform: paho-mqtt 2.2 on the world's loop through
:class:`~devices.protocols.mqtt.paho_virtual.PahoLink` (no thread; no kernel socket in virtual
time, a real one in real time), with reconnects scheduled on the loop.

One connection at a time, each with a **fresh paho client** and a clean session: the gateway's
own SQLite queue, not paho's in-memory one, decides what is sent again (see delivery.py), so
paho must not resend anything itself. Explicit client identifier; user name = access token
(never traced).

After each CONNACK: SUBSCRIBE to the gateway topics (as the official client: attributes,
attribute responses, RPC, and the gateway's own ``v1/devices/me/rpc/...``), then
``getSessionLimits`` on ``v1/devices/me/rpc/request/<n>``. The connection counts as *ready*
(:meth:`UplinkHandler.uplink_ready`) at once, or, with ``session_limits.wait``, only when the
answer came (no answer within ``timeout_s``: the connection is dropped and tried again).

Reconnects: a lost connection (keep alive timeout, server DISCONNECT, reset, refused CONNACK,
no CONNACK within ``connect_timeout_s``, failed dial) schedules one reconnect on the loop after
an exponential backoff with seeded jitter, reset once a connection is ready. Scheduling is
idempotent per connection: paho may report one loss twice (``on_disconnect`` twice on a keep
alive timeout, upstream issue #870) and a stale client's late callbacks are ignored.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from devices.deviations import NO_DEVIATIONS, Deviations
from devices.gateways.mqtt_gateway.limits import SessionLimits
from devices.gateways.mqtt_gateway.topics import (
    ME_RPC_REQUEST,
    ME_RPC_RESPONSE,
    SUBSCRIPTIONS,
    dumps,
    loads_object,
)
from devices.protocols.mqtt.paho_virtual import Dial, PahoLink, check_paho_hooks

if TYPE_CHECKING:
    from devices.gateways.mqtt_gateway.config import PlatformSettings
    from sim.world import World

STOPPED = "stopped"
WAITING = "waiting"  # for the next attempt
CONNECTING = "connecting"  # dialling, or CONNECT sent
SETTING_UP = "setting-up"  # CONNACK accepted; subscribing, asking getSessionLimits
READY = "ready"


class UplinkHandler(Protocol):
    def uplink_ready(self, version: int, limits: SessionLimits | None) -> None: ...

    def uplink_limits(self, limits: SessionLimits) -> None: ...

    def uplink_lost(self, reason: str) -> None: ...

    def uplink_message(self, topic: str, payload: bytes) -> None: ...

    def uplink_puback(self, mid: int, reason: int) -> None: ...


class Uplink:
    def __init__(
        self,
        world: World,
        settings: PlatformSettings,
        client_id: str,
        token: str,
        dial: Dial,
        node: str,
        handler: UplinkHandler,
        deviations: Deviations = NO_DEVIATIONS,
    ) -> None:
        self.world = world
        self.deviations = deviations
        self.settings = settings
        self.client_id = client_id
        self._token = token
        self._dial = dial
        self._node = node
        self._handler = handler
        check_paho_hooks()  # fail here, loudly, if a paho release dropped what PahoLink uses
        self._rng = world.rng(f"{node}/reconnect")
        self.state = STOPPED
        self.connections = 0  # CONNACKs accepted
        self.limits: SessionLimits | None = None
        self._generation = 0
        self._client: paho.Client | None = None
        self._link: PahoLink | None = None
        self._failures = 0
        self._timer: asyncio.TimerHandle | None = None
        self._attempt_task: asyncio.Task[None] | None = None
        self._me_request = 0
        self._limits_request: int | None = None

    @property
    def ready(self) -> bool:
        return self.state == READY

    @property
    def client(self) -> paho.Client | None:
        """The paho client of the current connection attempt (a new one per attempt)."""
        return self._client

    @property
    def version(self) -> int:
        return self.settings.protocol

    # -- life cycle --------------------------------------------------------------------------
    def start(self) -> None:
        if self.state == STOPPED:
            self.state = WAITING
            self._schedule(0.0)

    async def stop(self) -> None:
        """End the connection with a DISCONNECT (when there is one) and stop reconnecting."""
        client, link = self._client, self._link
        connected = self.state in (SETTING_UP, READY)
        self._halt()
        if client is not None and connected:
            client.disconnect()
            await asyncio.sleep(0.01)  # let PahoLink write the DISCONNECT
        if link is not None:
            link.close()

    def abort(self) -> None:
        """Drop the connection without a word (a crash) and stop reconnecting."""
        link = self._link
        self._halt()
        if link is not None:
            link.close()

    def _halt(self) -> None:
        self.state = STOPPED
        self._generation += 1
        self._cancel_timer()
        if self._attempt_task is not None and not self._attempt_task.done():
            self._attempt_task.cancel()
        self._client, self._link = None, None

    # -- publishing --------------------------------------------------------------------------
    def publish(self, topic: str, payload: bytes, qos: int = 1) -> int | None:
        """Send now; the packet id (0 for QoS 0), None without a usable connection."""
        client = self._client
        if client is None or self.state not in (SETTING_UP, READY):
            return None
        info = client.publish(topic, payload, qos=qos)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            return None
        return info.mid

    # -- connecting --------------------------------------------------------------------------
    def _schedule(self, delay: float) -> None:
        self._cancel_timer()
        self._timer = self.world.loop.call_later(delay, self._begin_attempt)

    def _begin_attempt(self) -> None:
        self._timer = None
        if self.state == WAITING:
            self._attempt_task = self.world.spawn(self._attempt(), name=f"{self._node}/mqtt")

    async def _attempt(self) -> None:
        self._generation += 1
        generation = self._generation
        v5 = self.settings.protocol == paho.MQTTv5
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=paho.MQTTv5 if v5 else paho.MQTTv311,
            clean_session=None if v5 else True,
            reconnect_on_failure=False,
        )
        if self.deviations.active("gateway-token-as-password"):
            client.username_pw_set(self._node, self._token)
        else:
            client.username_pw_set(self._token)
        client.on_connect = partial(self._on_connect, generation)
        client.on_disconnect = partial(self._on_disconnect, generation)
        client.on_publish = partial(self._on_publish, generation)
        client.on_message = partial(self._on_message, generation)
        link = PahoLink(client, self._dial, self.settings.host, self.settings.port)
        self._client, self._link = client, link
        self.state = CONNECTING
        self.world.trace.emit(
            self._node,
            "mqtt",
            "connecting",
            host=self.settings.host,
            port=self.settings.port,
            client_id=self.client_id,
            protocol="5" if v5 else "3.1.1",
        )
        options: dict[str, Any] = {"clean_start": True} if v5 else {}
        try:
            await link.connect(self.settings.keepalive_s, **options)
        except (OSError, TimeoutError) as exc:  # refused, partitioned, unreachable
            self._lost(generation, f"cannot reach {self.settings.host}:{self.settings.port}: {exc}")
            return
        except Exception as exc:  # anything else paho or the link raise: try again later
            self._lost(generation, f"connecting failed: {exc!r}")
            return
        self._timer = self.world.loop.call_later(
            self.settings.connect_timeout_s, self._connect_timed_out, generation
        )

    def _connect_timed_out(self, generation: int) -> None:
        self._timer = None
        if generation == self._generation and self.state == CONNECTING:
            self._lost(generation, f"no CONNACK within {self.settings.connect_timeout_s:g} s")

    # -- paho callbacks (ignored once their client is stale) ----------------------------------
    def _on_connect(
        self, generation: int, client: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any
    ) -> None:
        if generation != self._generation or self.state != CONNECTING:
            return
        self._cancel_timer()
        if reason.is_failure:
            self._lost(generation, f"CONNACK refused: {reason} (0x{reason.value:02X})")
            return
        self.state = SETTING_UP
        self.connections += 1
        self.world.trace.emit(self._node, "mqtt", "connack", reason=f"0x{reason.value:02X}")
        if self.connections == 1 or not self.deviations.active("gateway-no-resubscribe"):
            client.subscribe([(topic, 1) for topic in SUBSCRIPTIONS])
        settings = self.settings
        if self.deviations.active("gateway-no-session-limits"):
            self._become_ready(None)
            return
        if settings.session_limits_request:
            self._me_request += 1
            self._limits_request = self._me_request
            request = {"method": "getSessionLimits", "params": {"timeout": 5000}}
            client.publish(f"{ME_RPC_REQUEST}{self._me_request}", dumps(request), qos=1)
        if settings.session_limits_wait:
            self._timer = self.world.loop.call_later(
                settings.session_limits_timeout_s, self._limits_timed_out, generation
            )
        else:
            self._become_ready(None)

    def _limits_timed_out(self, generation: int) -> None:
        self._timer = None
        if generation == self._generation and self.state == SETTING_UP:
            wait = self.settings.session_limits_timeout_s
            self._lost(generation, f"no getSessionLimits answer within {wait:g} s")

    def _become_ready(self, limits: SessionLimits | None) -> None:
        self.state = READY
        self._failures = 0
        self.world.trace.emit(self._node, "mqtt", "ready", limits=limits.raw if limits else None)
        self._handler.uplink_ready(self.settings.protocol, limits)

    def _on_message(self, generation: int, _c: paho.Client, _u: Any, message: Any) -> None:
        if generation != self._generation:
            return
        topic, payload = message.topic, bytes(message.payload)
        if topic.startswith(ME_RPC_RESPONSE) and self._limits_request is not None:
            if topic == f"{ME_RPC_RESPONSE}{self._limits_request}":
                self._limits_request = None
                answer = loads_object(payload)
                limits = SessionLimits.parse(answer or {})
                self.limits = limits
                self.world.trace.emit(self._node, "mqtt", "session-limits", limits=limits.raw)
                if self.state == SETTING_UP:
                    self._cancel_timer()
                    self._become_ready(limits)
                elif self.state == READY:
                    self._handler.uplink_limits(limits)
                return
        self._handler.uplink_message(topic, payload)

    def _on_publish(
        self, generation: int, _c: paho.Client, _u: Any, mid: int, reason: Any, _p: Any
    ) -> None:
        if generation == self._generation:
            self._handler.uplink_puback(mid, int(reason.value))

    def _on_disconnect(
        self, generation: int, _c: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any
    ) -> None:
        self._lost(generation, f"connection lost: {reason} (0x{reason.value:02X})")

    # -- losing the connection ----------------------------------------------------------------
    def _lost(self, generation: int, reason: str) -> None:
        """End connection ``generation`` and schedule the next attempt (once per connection)."""
        if generation != self._generation or self.state in (WAITING, STOPPED):
            return
        was_ready = self.state == READY
        self.state = WAITING
        self._cancel_timer()
        link = self._link
        self._client, self._link = None, None
        if link is not None:
            self.world.loop.call_soon(link.close)  # not from inside paho's own call stack
        self._failures += 1
        delay = min(
            self.settings.reconnect_max_s,
            self.settings.reconnect_initial_s * 2 ** (self._failures - 1),
        ) * self._rng.uniform(0.8, 1.2)
        self.world.trace.emit(
            self._node, "mqtt", "lost", reason=reason, was_ready=was_ready, retry_in_s=delay
        )
        if was_ready:
            self._handler.uplink_lost(reason)
        self._schedule(delay)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
