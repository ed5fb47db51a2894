"""The server side of one MQTT connection (3.1.1 or 5) as a sans-IO state machine.

:meth:`Session.feed` takes the bytes that arrived and returns what to do: :class:`Send` these
bytes, :class:`Close` the connection. :meth:`Session.tick` does the same when time passes (it
reads no clock but the ``now`` callable it was given); :attr:`Session.deadline` says when it
must next run. The application (:class:`~devices.cloud.mqtt_platform.application.Application`)
sees the CONNECT, each PUBLISH, subscriptions and the end of the connection, and may publish
to the client or disconnect it at any time; output produced outside ``feed``/``tick`` is
announced through ``on_output`` and collected with :meth:`Session.drain`. Nothing raises out of
a session: bad bytes, protocol violations and application exceptions all end in the answer
the spec gives.

Wire decisions (what the specs say, what we do):

* Version: taken from the CONNECT's protocol level. A level this server does not serve is
  answered in the format the client reads: level 5 or above gets an MQTT 5 CONNACK 0x84,
  lower levels (3 = MQTT 3.1 "MQIsdp", 4 when 3.1.1 is switched off) the 3.1.1 return code 1;
  then the connection closes. A first packet other than CONNECT closes it silently; so does
  no CONNECT within ``connect_timeout``.
* Errors after the version is known: MQTT 5 sends DISCONNECT with the reason (0x81 malformed,
  0x82 protocol error, 0x95 packet too large, ...) and closes; 3.1.1 closes. A malformed
  CONNECT of level 5 gets CONNACK with the reason instead (MQTT 5.0 4.13.1).
* Client identifier: an empty one is assigned (``secrets``, never the world's seed) and, under
  MQTT 5, returned as Assigned Client Identifier; 3.1.1 with CleanSession 0 and an empty id
  is refused with return code 2, as 3.1.1 demands.
* Authentication: :meth:`Application.authenticate` answers with an MQTT 5 reason; 3.1.1 maps it
  to return codes 0-5 (:func:`~devices.protocols.mqtt.reasons.v311_connack_code`). Enhanced
  authentication (MQTT 5 Authentication Method, AUTH) is not offered: a CONNECT naming a
  method gets 0x8C bad authentication method, an AUTH packet is a protocol error.
* Keep alive: no packet for 1.5 x the keep alive ends the connection (MQTT 5: DISCONNECT 0x8D
  keep alive timeout). ``server_keep_alive`` overrides the client's value under MQTT 5.
* PUBLISH from the client: the application's reason goes in the PUBACK (QoS 1) or PUBREC
  (QoS 2) under MQTT 5; under 3.1.1, where an acknowledgement cannot say no, a failure closes
  the connection (as the real platform does), also at QoS 0. QoS 2 is delivered once, on the
  PUBLISH; a repeated PUBLISH with the same id before the PUBREL is acknowledged again but not
  delivered again. A topic name with a wildcard is a protocol violation (MQTT 5: DISCONNECT
  0x90; an empty name without alias 0x82). Topic aliases are not offered (Topic Alias Maximum
  0), so an alias is DISCONNECT 0x94; a Subscription Identifier from a client is 0x82; RETAIN
  is not offered under MQTT 5 (Retain Available 0, so a retained PUBLISH is 0x9A) and is passed
  to the application under 3.1.1, which cannot refuse it.
* SUBSCRIBE: each filter is checked (invalid: 0x8F under MQTT 5, 0x80 under 3.1.1), shared
  subscriptions and subscription identifiers are not offered (0x9E per filter; 0xA1 ends the
  connection), then the application grants a QoS (never more than requested) or refuses.
* Server PUBLISH: sent only to a client whose subscriptions match (QoS = the lower of the
  requested and the granted one) unless ``require_subscription`` is False; packet ids 1-65535
  are reused once acknowledged; in-flight QoS 1/2 messages are limited by the client's Receive
  Maximum (MQTT 5) or ``max_inflight`` and the rest wait in order; a packet larger than the
  client's Maximum Packet Size is not sent (MQTT 5.0 3.1.2.24).
* No session state outlives a connection: CONNACK Session Present is always 0, and a client
  asking for a Session Expiry Interval is told 0.
* Will: handed to :meth:`Application.on_will` when the connection ends in any way other than
  a client DISCONNECT with reason 0 (MQTT 5 0x04 keeps it); a Will Delay Interval is not
  waited for.
"""

from __future__ import annotations

import logging
import secrets
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from devices.cloud.mqtt_platform.application import Application, ConnectRequest, Message
from devices.protocols.mqtt.codec import MAX_PACKET_SIZE, PacketReader, encode
from devices.protocols.mqtt.errors import MqttError, UnsupportedProtocolVersion
from devices.protocols.mqtt.packet_types import PROTOCOL_3_1_1, PROTOCOL_5
from devices.protocols.mqtt.packets import (
    Auth,
    ConnAck,
    Connect,
    Disconnect,
    Packet,
    PingReq,
    PingResp,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    SubAck,
    Subscribe,
    Subscription,
    UnsubAck,
    Unsubscribe,
)
from devices.protocols.mqtt.properties import Properties
from devices.protocols.mqtt.reasons import (
    SUBACK_FAILURE_V311,
    VALID_REASONS,
    Reason,
    is_failure,
    v311_connack_code,
)
from devices.protocols.mqtt.topics import (
    check_topic_filter,
    check_topic_name,
    is_shared,
    topic_matches,
)

log = logging.getLogger(__name__)

REASON_STRING_MAX = 160
"""MQTT 5 DISCONNECT and refusing CONNACK carry why, cut to this many characters."""


@dataclass(frozen=True)
class Send:
    data: bytes


@dataclass(frozen=True)
class Close:
    detail: str


Action = Send | Close


@dataclass(frozen=True)
class SessionConfig:
    versions: frozenset[int] = frozenset({PROTOCOL_3_1_1, PROTOCOL_5})
    max_packet_size: int = 1 << 20
    """The largest packet accepted (MQTT 5: advertised as Maximum Packet Size)."""
    receive_maximum: int = 65535
    """QoS 2 PUBLISHes the client may have unreleased at once (MQTT 5: advertised)."""
    max_inflight: int = 65535
    """Server PUBLISHes (QoS 1/2) unacknowledged at once, when the client names no lower
    Receive Maximum."""
    connect_timeout: float = 10.0
    server_keep_alive: int | None = None
    retain_available: bool = False
    assigned_id_prefix: str = "auto-"


# Where a server PUBLISH stands: queued (not sent yet), then awaiting the client's answer.
_QUEUED, _AWAITING_PUBACK, _AWAITING_PUBREC, _AWAITING_PUBCOMP = "", "puback", "pubrec", "pubcomp"


@dataclass
class _Outbound:
    publish: Publish
    stage: str = _QUEUED


@dataclass
class _State:
    """What one accepted connection holds."""

    client_id: str
    username: str | None
    version: int
    keepalive: int
    client_receive_maximum: int = 65535
    client_max_packet_size: int = MAX_PACKET_SIZE
    will: Message | None = None
    connect_session_expiry: int = 0
    subscriptions: dict[str, int] = field(default_factory=dict)
    awaiting_pubrel: set[int] = field(default_factory=set)
    outbound: dict[int, _Outbound] = field(default_factory=dict)
    queued: deque[int] = field(default_factory=deque)
    next_packet_id: int = 1


Recorder = Callable[[str, Packet], None]
"""Called with ("in" | "out", packet) for every packet decoded or sent (transcripts)."""


class Session:
    """The server's side of one network connection."""

    def __init__(
        self,
        app: Application,
        now: Callable[[], float],
        config: SessionConfig | None = None,
        peer: str = "",
        on_output: Callable[[], None] | None = None,
        on_connected: Callable[[Session], None] | None = None,
        on_closed: Callable[[Session], None] | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        self.app = app
        self.config = config or SessionConfig()
        self.peer = peer
        self._now = now
        self._on_output = on_output
        self._on_connected = on_connected
        self._on_closed = on_closed
        self._recorder = recorder
        self._reader = PacketReader(self.config.max_packet_size)
        self._outbox: list[Action] = []
        self._depth = 0  # > 0 while feed/tick run: output is returned, not announced
        self._opened_at = now()
        self._last_packet_at = self._opened_at
        self._state: _State | None = None
        self._connect_packet_limit: int | None = None  # the CONNECT's Maximum Packet Size
        self.closed = False
        self.close_reason: int | None = None
        self.close_detail = ""

    # -- the client as the application sees it ----------------------------------------------
    @property
    def client_id(self) -> str:
        return self._state.client_id if self._state else ""

    @property
    def username(self) -> str | None:
        return self._state.username if self._state else None

    @property
    def version(self) -> int | None:
        return self._state.version if self._state else None

    @property
    def connected(self) -> bool:
        return self._state is not None and not self.closed

    @property
    def subscriptions(self) -> dict[str, int]:
        """Topic filter -> granted QoS."""
        return dict(self._state.subscriptions) if self._state else {}

    @property
    def inflight(self) -> int:
        """Server PUBLISHes sent and not yet fully acknowledged."""
        if self._state is None:
            return 0
        return sum(1 for o in self._state.outbound.values() if o.stage != _QUEUED)

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 0,
        retain: bool = False,
        properties: Properties | None = None,
        require_subscription: bool = True,
    ) -> int | None:
        """Send a PUBLISH to the client: the packet id (0 for QoS 0), or None if not sent
        (connection gone, no matching subscription, too large for the client, no free id).
        ``properties`` exist only in MQTT 5 and are left out for a 3.1.1 client."""
        st = self._state
        if st is None or self.closed:
            return None
        check_topic_name(topic)
        if qos not in (0, 1, 2):
            raise ValueError(f"QoS {qos} is not 0, 1 or 2")
        if require_subscription:
            granted = [q for f, q in st.subscriptions.items() if topic_matches(f, topic)]
            if not granted:
                return None
            qos = min(qos, max(granted))
        props = properties or Properties()
        if st.version == PROTOCOL_3_1_1:
            props = Properties()
        packet = Publish(topic, payload, qos, retain, properties=props)
        if qos == 0:
            if not self._fits(packet):
                return None
            self._emit(packet)
            self._announce()
            return 0
        packet.packet_id = 1  # any id: the size does not depend on it
        if not self._fits(packet):
            return None
        packet_id = self._allocate_packet_id()
        if packet_id is None:
            log.warning("%s: no free packet identifier; PUBLISH to %s dropped", self, topic)
            return None
        packet.packet_id = packet_id
        st.outbound[packet_id] = _Outbound(packet)
        st.queued.append(packet_id)
        self._pump()
        self._announce()
        return packet_id

    def disconnect(self, reason: int = Reason.NORMAL_DISCONNECTION, detail: str = "") -> None:
        """Server-initiated end: MQTT 5 DISCONNECT with ``reason``, then close."""
        if self.closed:
            return
        self._fail(reason, detail or f"disconnected by the server (0x{reason:02x})")
        self._announce()

    # -- driving -----------------------------------------------------------------------------
    def feed(self, data: bytes) -> list[Action]:
        """Bytes from the client; what to do about them."""
        if not self.closed and data:
            with self._driving():
                self._reader.feed(data)
                while not self.closed:
                    try:
                        packet = self._reader.next_packet()
                    except MqttError as err:
                        self._on_wire_error(err)
                        break
                    if packet is None:
                        break
                    self._last_packet_at = self._now()
                    self._record("in", packet)
                    self._handle(packet)
        return self.drain()

    def tick(self, now: float | None = None) -> list[Action]:
        """Time passed: enforce the CONNECT timeout and the keep alive."""
        t = self._now() if now is None else now
        if not self.closed:
            with self._driving():
                st = self._state
                if st is None and t >= self._opened_at + self.config.connect_timeout:
                    self._close(
                        Reason.UNSPECIFIED_ERROR,
                        f"no CONNECT within {self.config.connect_timeout:g} s",
                    )
                elif st is not None and st.keepalive and t >= self._keepalive_deadline(st):
                    self._fail(
                        Reason.KEEP_ALIVE_TIMEOUT,
                        f"no packet for 1.5 x keep alive ({st.keepalive} s)",
                    )
        return self.drain()

    @contextmanager
    def _driving(self) -> Iterator[None]:
        """Output made inside is returned, not announced; nothing raises out (a bug here or
        in the application ends the connection with "implementation specific error")."""
        self._depth += 1
        try:
            yield
        except Exception as exc:
            log.exception("%s: internal error", self)
            detail = f"internal error: {type(exc).__name__}"
            try:
                self._fail(Reason.IMPLEMENTATION_SPECIFIC_ERROR, detail)
            except Exception:
                self._close(Reason.IMPLEMENTATION_SPECIFIC_ERROR, detail)
        finally:
            self._depth -= 1

    @property
    def deadline(self) -> float | None:
        """When :meth:`tick` must next run, or None if nothing is timed."""
        if self.closed:
            return None
        st = self._state
        if st is None:
            return self._opened_at + self.config.connect_timeout
        return self._keepalive_deadline(st) if st.keepalive else None

    def connection_lost(self, detail: str = "connection lost") -> None:
        """The network connection is gone (closed by the peer, reset, or after our Close)."""
        if not self.closed:
            self._close(Reason.UNSPECIFIED_ERROR, detail)

    def drain(self) -> list[Action]:
        out, self._outbox = self._outbox, []
        return out

    def __repr__(self) -> str:
        return f"<Session {self.client_id or '?'} from {self.peer or '?'}>"

    # -- inbound packets ---------------------------------------------------------------------
    def _handle(self, packet: Packet) -> None:
        st = self._state
        if st is None:
            if not isinstance(packet, Connect):
                self._close(Reason.PROTOCOL_ERROR, f"first packet is {packet.type.name}")
                return
            self._handle_connect(packet)
            return
        handler = self._HANDLERS.get(type(packet))
        if handler is None:
            self._fail(
                Reason.PROTOCOL_ERROR, f"a client may not send {packet.type.name} to a server"
            )
            return
        handler(self, st, packet)

    def _handle_connect(self, c: Connect) -> None:
        level = c.protocol_level
        self._connect_packet_limit = c.properties.maximum_packet_size
        if level not in self.config.versions:
            self._refuse_version(level, f"protocol level {level} is not served here")
            return
        if level == PROTOCOL_5 and c.properties.authentication_method is not None:
            self._refuse(
                level,
                Reason.BAD_AUTHENTICATION_METHOD,
                f"authentication method {c.properties.authentication_method!r} not offered",
            )
            return
        client_id, assigned = c.client_id, False
        if not client_id:
            if level == PROTOCOL_3_1_1 and not c.clean_start:
                self._refuse(
                    level,
                    Reason.CLIENT_IDENTIFIER_NOT_VALID,
                    "empty client identifier with CleanSession 0",
                )
                return
            client_id, assigned = self.config.assigned_id_prefix + secrets.token_hex(8), True
        request = ConnectRequest(
            client_id=client_id,
            username=c.username,
            password=c.password,
            version=level,
            clean_start=c.clean_start,
            keepalive=c.keepalive,
            assigned=assigned,
            peer=self.peer,
            properties=c.properties,
        )
        reason = self._ask("authenticate", Reason.UNSPECIFIED_ERROR, self.app.authenticate, request)
        if reason != Reason.SUCCESS:
            if reason not in VALID_REASONS["CONNACK"]:
                reason = Reason.UNSPECIFIED_ERROR
            self._refuse(level, reason, f"authentication refused (0x{reason:02x})")
            return
        props = self._connack_properties(c, client_id if assigned else None)
        keepalive = c.keepalive if props.server_keep_alive is None else props.server_keep_alive
        will = None
        if c.will is not None:
            w = c.will
            will = Message(w.topic, w.payload, w.qos, w.retain, properties=w.properties)
        self._state = st = _State(
            client_id=client_id,
            username=c.username,
            version=level,
            keepalive=keepalive,
            client_receive_maximum=c.properties.receive_maximum or 65535,
            client_max_packet_size=c.properties.maximum_packet_size or MAX_PACKET_SIZE,
            will=will,
            connect_session_expiry=c.properties.session_expiry_interval or 0,
        )
        self._reader.version = level
        self._emit(ConnAck(Reason.SUCCESS, False, props))
        if self._on_connected is not None:
            self._on_connected(self)
        self._ask("on_connect", None, self.app.on_connect, self)
        log.debug("%s connected (level %d, keep alive %d)", self, st.version, keepalive)

    def _connack_properties(self, c: Connect, assigned_id: str | None) -> Properties:
        """What an accepting MQTT 5 CONNACK tells the client (nothing under 3.1.1)."""
        props = Properties()
        if c.protocol_level != PROTOCOL_5:
            return props
        cfg = self.config
        props.server_keep_alive = cfg.server_keep_alive
        props.assigned_client_identifier = assigned_id
        if c.properties.session_expiry_interval:
            props.session_expiry_interval = 0  # nothing is kept after the connection
        if cfg.receive_maximum != 65535:
            props.receive_maximum = cfg.receive_maximum
        if cfg.max_packet_size < MAX_PACKET_SIZE:
            props.maximum_packet_size = cfg.max_packet_size
        if not cfg.retain_available:
            props.retain_available = 0
        props.subscription_identifier_available = 0
        props.shared_subscription_available = 0
        return props

    def _handle_publish(self, st: _State, p: Publish) -> None:
        v5 = st.version == PROTOCOL_5
        if p.properties.topic_alias is not None:
            self._fail(Reason.TOPIC_ALIAS_INVALID, "topic alias sent, but Topic Alias Maximum is 0")
            return
        if p.properties.subscription_identifiers:
            self._fail(Reason.PROTOCOL_ERROR, "a client PUBLISH carries a Subscription Identifier")
            return
        if not p.topic:
            self._fail(Reason.PROTOCOL_ERROR, "PUBLISH with an empty topic name and no alias")
            return
        try:
            check_topic_name(p.topic)
        except ValueError as exc:
            self._fail(Reason.TOPIC_NAME_INVALID, str(exc))
            return
        if p.retain and v5 and not self.config.retain_available:
            self._fail(Reason.RETAIN_NOT_SUPPORTED, "retained PUBLISH, but Retain Available is 0")
            return
        if p.qos == 2 and p.packet_id in st.awaiting_pubrel:
            self._emit(PubRec(p.packet_id))  # a resend before PUBREL: already delivered
            return
        if p.qos == 2 and len(st.awaiting_pubrel) >= self.config.receive_maximum:
            self._fail(Reason.RECEIVE_MAXIMUM_EXCEEDED, "more QoS 2 PUBLISHes than allowed")
            return
        message = Message(
            p.topic, p.payload, p.qos, p.retain, p.dup, p.packet_id, properties=p.properties
        )
        reason = self._ask(
            "on_publish", Reason.IMPLEMENTATION_SPECIFIC_ERROR, self.app.on_publish, self, message
        )
        if self.closed:
            return
        valid = VALID_REASONS["PUBACK"]
        if reason not in valid:
            log.warning("%s: on_publish answered 0x%02x, not a PUBACK reason", self, reason)
            reason = Reason.IMPLEMENTATION_SPECIFIC_ERROR
        if not v5 and is_failure(reason):
            self._close(reason, f"PUBLISH to {p.topic!r} refused (0x{reason:02x})")
            return
        assert p.packet_id is not None or p.qos == 0
        if p.qos == 1:
            self._emit(PubAck(p.packet_id or 0, reason if v5 else 0))
        elif p.qos == 2:
            self._emit(PubRec(p.packet_id or 0, reason if v5 else 0))
            if not is_failure(reason):
                st.awaiting_pubrel.add(p.packet_id or 0)

    def _handle_pubrel(self, st: _State, p: PubRel) -> None:
        if p.packet_id in st.awaiting_pubrel:
            st.awaiting_pubrel.discard(p.packet_id)
            self._emit(PubComp(p.packet_id))
        else:
            missing = Reason.PACKET_IDENTIFIER_NOT_FOUND if st.version == PROTOCOL_5 else 0
            self._emit(PubComp(p.packet_id, missing))

    def _handle_puback(self, st: _State, p: PubAck) -> None:
        out = st.outbound.get(p.packet_id)
        if out is None or out.stage != _AWAITING_PUBACK:
            log.debug("%s: PUBACK for unknown packet id %d ignored", self, p.packet_id)
            return
        self._finish_outbound(st, p.packet_id, p.reason_code)

    def _handle_pubrec(self, st: _State, p: PubRec) -> None:
        out = st.outbound.get(p.packet_id)
        if out is None or out.stage not in (_AWAITING_PUBREC, _AWAITING_PUBCOMP):
            missing = Reason.PACKET_IDENTIFIER_NOT_FOUND if st.version == PROTOCOL_5 else 0
            self._emit(PubRel(p.packet_id, missing))
            return
        if is_failure(p.reason_code):
            self._finish_outbound(st, p.packet_id, p.reason_code)
            return
        out.stage = _AWAITING_PUBCOMP
        self._emit(PubRel(p.packet_id))

    def _handle_pubcomp(self, st: _State, p: PubComp) -> None:
        out = st.outbound.get(p.packet_id)
        if out is None or out.stage != _AWAITING_PUBCOMP:
            log.debug("%s: PUBCOMP for unknown packet id %d ignored", self, p.packet_id)
            return
        self._finish_outbound(st, p.packet_id, p.reason_code)

    def _handle_subscribe(self, st: _State, p: Subscribe) -> None:
        v5 = st.version == PROTOCOL_5
        if p.properties.subscription_identifiers:
            self._fail(
                Reason.SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED,
                "SUBSCRIBE with a Subscription Identifier, but they are not offered",
            )
            return
        codes: list[int] = []
        for sub in p.subscriptions:
            code = self._subscribe_one(st, sub, v5)
            if self.closed:
                return
            codes.append(code if not is_failure(code) or v5 else SUBACK_FAILURE_V311)
        self._emit(SubAck(p.packet_id, codes))

    def _subscribe_one(self, st: _State, sub: Subscription, v5: bool) -> int:
        try:
            check_topic_filter(sub.topic_filter, shared_allowed=v5)
        except ValueError as exc:
            log.debug("%s: %s", self, exc)
            return Reason.TOPIC_FILTER_INVALID
        if v5 and is_shared(sub.topic_filter):
            return Reason.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED
        code = self._ask("on_subscribe", Reason.UNSPECIFIED_ERROR, self.app.on_subscribe, self, sub)
        if not is_failure(code):
            code = min(code, sub.qos)
            st.subscriptions[sub.topic_filter] = code
        elif code not in VALID_REASONS["SUBACK"]:
            code = Reason.UNSPECIFIED_ERROR
        return code

    def _handle_unsubscribe(self, st: _State, p: Unsubscribe) -> None:
        codes: list[int] = []
        for topic_filter in p.topic_filters:
            if st.subscriptions.pop(topic_filter, None) is None:
                codes.append(Reason.NO_SUBSCRIPTION_EXISTED)
                continue
            codes.append(Reason.SUCCESS)
            self._ask("on_unsubscribe", None, self.app.on_unsubscribe, self, topic_filter)
            if self.closed:
                return
        self._emit(UnsubAck(p.packet_id, codes if st.version == PROTOCOL_5 else []))

    def _handle_pingreq(self, st: _State, p: PingReq) -> None:
        self._emit(PingResp())

    def _handle_disconnect(self, st: _State, p: Disconnect) -> None:
        expiry = p.properties.session_expiry_interval
        if expiry and not st.connect_session_expiry:
            self._fail(Reason.PROTOCOL_ERROR, "DISCONNECT sets a Session Expiry Interval after 0")
            return
        if p.reason_code != Reason.DISCONNECT_WITH_WILL:
            st.will = None
        self._close(p.reason_code, f"client DISCONNECT (0x{p.reason_code:02x})")

    def _handle_auth(self, st: _State, p: Auth) -> None:
        self._fail(Reason.PROTOCOL_ERROR, "AUTH without an authentication method in CONNECT")

    def _handle_second_connect(self, st: _State, p: Connect) -> None:
        self._fail(Reason.PROTOCOL_ERROR, "a second CONNECT on one connection")

    _HANDLERS: dict[type, Callable[[Session, _State, Any], None]] = {
        Publish: _handle_publish,
        PubRel: _handle_pubrel,
        PubAck: _handle_puback,
        PubRec: _handle_pubrec,
        PubComp: _handle_pubcomp,
        Subscribe: _handle_subscribe,
        Unsubscribe: _handle_unsubscribe,
        PingReq: _handle_pingreq,
        Disconnect: _handle_disconnect,
        Auth: _handle_auth,
        Connect: _handle_second_connect,
    }

    # -- outbound flow -----------------------------------------------------------------------
    def _allocate_packet_id(self) -> int | None:
        st = self._state
        assert st is not None
        for _ in range(65535):
            candidate = st.next_packet_id
            st.next_packet_id = candidate % 65535 + 1
            if candidate not in st.outbound:
                return candidate
        return None

    def _fits(self, packet: Publish) -> bool:
        st = self._state
        assert st is not None
        size = len(encode(packet, st.version))
        if size > st.client_max_packet_size:
            log.info(
                "%s: PUBLISH to %s of %d bytes exceeds the client's maximum packet size %d",
                self,
                packet.topic,
                size,
                st.client_max_packet_size,
            )
            return False
        return True

    def _pump(self) -> None:
        """Send queued QoS 1/2 PUBLISHes while the in-flight window allows."""
        st = self._state
        assert st is not None
        window = min(st.client_receive_maximum, self.config.max_inflight)
        while st.queued and self.inflight < window:
            out = st.outbound[st.queued.popleft()]
            out.stage = _AWAITING_PUBACK if out.publish.qos == 1 else _AWAITING_PUBREC
            self._emit(out.publish)

    def _finish_outbound(self, st: _State, packet_id: int, reason: int) -> None:
        del st.outbound[packet_id]
        self._ask("on_acknowledged", None, self.app.on_acknowledged, self, packet_id, reason)
        if not self.closed:
            self._pump()

    # -- errors and closing ------------------------------------------------------------------
    def _on_wire_error(self, err: MqttError) -> None:
        if self._state is None:
            level = err.protocol_level
            if isinstance(err, UnsupportedProtocolVersion) and level is not None:
                self._refuse_version(level, str(err))
            elif level == PROTOCOL_5 and err.reason in VALID_REASONS["CONNACK"]:
                self._refuse(PROTOCOL_5, err.reason, str(err))
            else:
                self._close(err.reason, str(err))
            return
        self._fail(err.reason, str(err))

    def _refuse_version(self, level: int, detail: str) -> None:
        answer = PROTOCOL_5 if level >= PROTOCOL_5 else PROTOCOL_3_1_1
        self._refuse(answer, Reason.UNSUPPORTED_PROTOCOL_VERSION, detail)

    def _refuse(self, level: int, reason: int, detail: str) -> None:
        """CONNACK with a failure in the format of ``level``, then close."""
        if level == PROTOCOL_5:
            limit = self._connect_packet_limit
            self._emit(self._explained(ConnAck(reason), detail, limit), PROTOCOL_5)
        else:
            self._emit(ConnAck(v311_connack_code(reason)), PROTOCOL_3_1_1)
        self._close(reason, detail)

    def _fail(self, reason: int, detail: str) -> None:
        """End an accepted connection: MQTT 5 DISCONNECT with ``reason`` first."""
        st = self._state
        if st is not None and st.version == PROTOCOL_5 and not self.closed:
            code = reason if reason in VALID_REASONS["DISCONNECT"] else Reason.PROTOCOL_ERROR
            self._emit(self._explained(Disconnect(code), detail, st.client_max_packet_size))
        self._close(reason, detail)

    @staticmethod
    def _explained(packet: ConnAck | Disconnect, detail: str, limit: int | None) -> Packet:
        """``packet`` with ``detail`` as its MQTT 5 Reason String, unless that would make it
        larger than the client accepts (MQTT 5.0 3.2.2.3.9, 3.14.2.2.3)."""
        text = detail[:REASON_STRING_MAX].encode("utf-8", "backslashreplace").decode()
        packet.properties.reason_string = text.replace("\x00", "\\0")
        if len(encode(packet, PROTOCOL_5)) > (limit or MAX_PACKET_SIZE):
            packet.properties.reason_string = None
        return packet

    def _close(self, reason: int, detail: str) -> None:
        if self.closed:
            return
        self.closed = True
        self.close_reason, self.close_detail = reason, detail
        self._outbox.append(Close(detail))
        log.debug("%s closed: %s", self, detail)
        st = self._state
        if st is None:
            return
        if st.will is not None:
            will, st.will = st.will, None
            self._ask("on_will", None, self.app.on_will, self, will)
        if self._on_closed is not None:
            self._on_closed(self)
        self._ask("on_disconnect", None, self.app.on_disconnect, self, reason, detail)

    # -- helpers -----------------------------------------------------------------------------
    def _emit(self, packet: Packet, version: int | None = None) -> None:
        if self.closed:
            return
        level = version or (self._state.version if self._state else PROTOCOL_3_1_1)
        data = encode(packet, level)
        self._record("out", packet)
        if self._outbox and isinstance(self._outbox[-1], Send):
            self._outbox[-1] = Send(self._outbox[-1].data + data)
        else:
            self._outbox.append(Send(data))

    def _announce(self) -> None:
        if self._depth == 0 and self._outbox and self._on_output is not None:
            self._on_output()

    def _record(self, direction: str, packet: Packet) -> None:
        if self._recorder is not None:
            self._recorder(direction, packet)

    def _keepalive_deadline(self, st: _State) -> float:
        return self._last_packet_at + 1.5 * st.keepalive

    def _ask(self, what: str, on_error: Any, fn: Callable[..., Any], *args: Any) -> Any:
        """Call the application; an exception there is logged and answered with ``on_error``."""
        try:
            return fn(*args)
        except Exception:
            log.exception("%s: application %s raised", self, what)
            return on_error


__all__ = ["Action", "Close", "Send", "Session", "SessionConfig"]
