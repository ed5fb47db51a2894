"""The server session state machine, sans-IO: bytes in, actions out, a clock we move by hand."""

from __future__ import annotations

import pytest

from devices.cloud.mqtt_platform import Close, Send, Session, SessionConfig
from devices.protocols.mqtt import (
    PROTOCOL_3_1_1,
    PROTOCOL_5,
    Auth,
    ConnAck,
    Connect,
    Disconnect,
    PacketReader,
    PingReq,
    PingResp,
    Properties,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    Reason,
    SubAck,
    Subscribe,
    Subscription,
    UnsubAck,
    Unsubscribe,
    Will,
    encode,
)
from tests.mqtt_support import TopicLog, without_reason_strings


class Wire:
    """A hand-driven client of one session."""

    def __init__(self, version=PROTOCOL_5, app=None, config=None):
        self.t = 0.0
        self.version = version
        self.app = app if app is not None else TopicLog()
        self.announced = 0
        self.session = Session(
            self.app, lambda: self.t, config, peer="test", on_output=self._announce
        )
        self.reader = PacketReader(version=version)
        self.closed = False
        self.reasons: list[str] = []  # Reason Strings the server sent

    def _announce(self):
        self.announced += 1

    def take(self, actions):
        out = []
        for action in actions:
            assert not self.closed, "output after Close"
            if isinstance(action, Send):
                self.reader.feed(action.data)
                out.extend(without_reason_strings(list(self.reader), self.reasons))
            else:
                assert isinstance(action, Close)
                self.closed = True
        return out

    def raw(self, data: bytes):
        return self.take(self.session.feed(data))

    def send(self, *packets):
        return self.raw(b"".join(encode(p, self.version) for p in packets))

    def connect(self, client_id="gw", **kwargs):
        got = self.send(Connect(client_id, self.version, **kwargs))
        assert isinstance(got[0], ConnAck) and got[0].reason_code == 0, got
        return got[0]

    def tick(self, t):
        self.t = t
        return self.take(self.session.tick(t))

    def drain(self):
        return self.take(self.session.drain())


V5_AND_V311 = pytest.mark.parametrize("version", [PROTOCOL_5, PROTOCOL_3_1_1])


# -- CONNECT -----------------------------------------------------------------------------------
def test_v5_connack_states_what_is_offered():
    w = Wire()
    ack = w.connect(properties=Properties(session_expiry_interval=300))
    p = ack.properties
    assert (p.retain_available, p.subscription_identifier_available) == (0, 0)
    assert p.shared_subscription_available == 0 and p.maximum_packet_size == 1 << 20
    assert p.session_expiry_interval == 0  # no state outlives a connection
    assert p.assigned_client_identifier is None and not ack.session_present
    assert w.session.connected and w.session.client_id == "gw" and w.session.version == 5
    assert w.app.of_kind("connect") == [("connect", "gw", None, 5)]


def test_v5_empty_client_id_is_assigned_and_returned():
    ids = {Wire().connect("").properties.assigned_client_identifier for _ in range(2)}
    assert len(ids) == 2 and all(i.startswith("auto-") for i in ids)


def test_v311_empty_client_id():
    w = Wire(PROTOCOL_3_1_1)
    assert w.connect("").properties == Properties()
    assert w.session.client_id.startswith("auto-")
    w = Wire(PROTOCOL_3_1_1)
    assert w.send(Connect("", PROTOCOL_3_1_1, clean_start=False)) == [ConnAck(2)]
    assert w.closed


@pytest.mark.parametrize(
    ("version", "user", "password", "code"),
    [
        (PROTOCOL_5, "gw", b"wrong", 0x86),
        (PROTOCOL_5, "evil", b"x", 0x87),
        (PROTOCOL_3_1_1, "gw", b"wrong", 4),
        (PROTOCOL_3_1_1, "evil", b"x", 5),
        (PROTOCOL_3_1_1, None, None, 4),
    ],
)
def test_refused_credentials(version, user, password, code):
    app = TopicLog(users={"gw": b"token", "evil": b"x"}, banned={"evil"})
    w = Wire(version, app)
    assert w.send(Connect("c", version, username=user, password=password)) == [ConnAck(code)]
    assert w.closed and not w.session.connected
    assert app.of_kind("disconnect") == []  # never accepted, so never "disconnected"


def test_accepted_credentials():
    w = Wire(PROTOCOL_3_1_1, TopicLog(users={"gw": b"token"}))
    w.connect(username="gw", password=b"token")
    assert w.session.username == "gw"


@pytest.mark.parametrize(
    ("served", "level", "name", "answer"),
    [
        ({4}, 5, b"MQTT", "84"),  # MQTT 5 CONNACK 0x84
        ({5}, 4, b"MQTT", "20020001"),  # 3.1.1 return code 1
        ({4, 5}, 3, b"MQIsdp", "20020001"),  # MQTT 3.1
        ({4, 5}, 6, b"MQTT", "84"),  # newer than we know
    ],
)
def test_unsupported_protocol_versions(served, level, name, answer):
    w = Wire(config=SessionConfig(versions=frozenset(served)))
    body = len(name).to_bytes(2, "big") + name + bytes([level, 2]) + b"\x00\x3c"
    body += b"\x00" if level == 5 else b""  # empty property block
    body += b"\x00\x01c"
    actions = w.session.feed(b"\x10" + bytes([len(body)]) + body)
    assert isinstance(actions[1], Close) and len(actions) == 2
    if answer.startswith("2002"):  # the 3.1.1 format, byte for byte
        assert actions[0] == Send(bytes.fromhex(answer))
    else:
        assert w.take(actions) == [ConnAck(Reason.UNSUPPORTED_PROTOCOL_VERSION)]
        assert "level" in w.reasons[0]


def test_v5_connect_with_authentication_method_is_refused():
    w = Wire()
    got = w.send(Connect("c", properties=Properties(authentication_method="SCRAM-SHA-1")))
    assert got == [ConnAck(Reason.BAD_AUTHENTICATION_METHOD)] and w.closed


def test_malformed_v5_connect_gets_connack_with_reason():
    w = Wire()
    # protocol name, level 5, flags with the reserved bit set
    assert w.raw(bytes.fromhex("100d00044d5154540503003c000001") + b"c") == [ConnAck(0x81)]
    assert w.closed


def test_first_packet_must_be_connect():
    w = Wire()
    assert w.send(PingReq()) == [] and w.closed


def test_no_connect_in_time_closes():
    w = Wire()
    assert w.session.deadline == 10.0
    assert w.tick(9.9) == [] and not w.closed
    assert w.tick(10.0) == [] and w.closed


# -- keep alive --------------------------------------------------------------------------------
@V5_AND_V311
def test_keepalive_one_and_a_half_times(version):
    w = Wire(version)
    w.connect(keepalive=10)
    assert w.session.deadline == 15.0
    w.t = 14.0
    assert w.send(PingReq()) == [PingResp()]
    assert w.session.deadline == 29.0
    assert w.tick(28.9) == [] and not w.closed
    got = w.tick(29.0)
    assert w.closed
    assert got == ([Disconnect(Reason.KEEP_ALIVE_TIMEOUT)] if version == PROTOCOL_5 else [])
    assert w.app.of_kind("disconnect") == [("disconnect", "gw", Reason.KEEP_ALIVE_TIMEOUT)]


def test_keepalive_zero_never_times_out():
    w = Wire()
    w.connect(keepalive=0)
    assert w.session.deadline is None
    assert w.tick(1e6) == [] and not w.closed


def test_server_keep_alive_overrides_under_v5():
    w = Wire(config=SessionConfig(server_keep_alive=20))
    assert w.connect(keepalive=600).properties.server_keep_alive == 20
    assert w.session.deadline == 30.0


# -- PUBLISH from the client -------------------------------------------------------------------
def test_v5_puback_carries_the_application_reason():
    w = Wire()
    w.connect()
    got = w.send(
        Publish("v1/x", b"{}", 1, packet_id=1),
        Publish("reject/x", b"{}", 1, packet_id=2),
        Publish("json/x", b"{bad", 1, packet_id=3),
        Publish("json/x", b"{}", 1, packet_id=4),
        Publish("reject/x", b"{}", 0),  # QoS 0: nothing to answer with
    )
    assert got == [PubAck(1), PubAck(2, 0x90), PubAck(3, 0x99), PubAck(4)]
    assert not w.closed and len(w.app.of_kind("publish")) == 5


@pytest.mark.parametrize("qos", [0, 1])
def test_v311_refusal_closes_the_connection(qos):
    w = Wire(PROTOCOL_3_1_1)
    w.connect(will=Will("gone", b"bye"))
    assert w.send(Publish("json/x", b"{}", qos, packet_id=qos or None)) == (
        [PubAck(1)] if qos else []
    )
    assert w.send(Publish("json/x", b"{bad", qos, packet_id=qos or None)) == []
    assert w.closed
    assert w.app.of_kind("will") == [("will", "gw", "gone", b"bye")]
    assert w.app.of_kind("disconnect") == [("disconnect", "gw", 0x99)]


@V5_AND_V311
def test_qos2_is_delivered_once(version):
    w = Wire(version)
    w.connect()
    assert w.send(Publish("a", b"1", 2, packet_id=5)) == [PubRec(5)]
    assert w.send(Publish("a", b"1", 2, dup=True, packet_id=5)) == [PubRec(5)]
    assert w.send(PubRel(5)) == [PubComp(5)]
    assert len(w.app.of_kind("publish")) == 1
    unknown = PubComp(6, Reason.PACKET_IDENTIFIER_NOT_FOUND if version == 5 else 0)
    assert w.send(PubRel(6)) == [unknown]
    if version == PROTOCOL_5:
        assert w.send(Publish("reject/a", b"", 2, packet_id=7)) == [PubRec(7, 0x90)]
        assert w.send(PubRel(7)) == [PubComp(7, Reason.PACKET_IDENTIFIER_NOT_FOUND)]


def test_application_exception_is_an_implementation_error():
    class Broken(TopicLog):
        def on_publish(self, client, message):
            raise RuntimeError("bug")

    w = Wire(app=Broken())
    w.connect()
    assert w.send(Publish("a", b"", 1, packet_id=1)) == [PubAck(1, 0x83)]
    assert w.send(PingReq()) == [PingResp()]


def test_a_bug_answers_implementation_error_and_never_raises():
    class Wrong(TopicLog):
        def on_subscribe(self, client, subscription):
            return "granted"  # not a reason code: the session trips over it

    w = Wire(app=Wrong())
    w.connect()
    assert w.send(Subscribe(1, [Subscription("a")])) == [Disconnect(0x83)]
    assert w.closed and w.reasons == ["internal error: TypeError"]


@pytest.mark.parametrize(
    ("publish", "reason"),
    [
        (Publish("a/+", b"", 0), Reason.TOPIC_NAME_INVALID),
        (Publish("", b"", 0), Reason.PROTOCOL_ERROR),
        (Publish("a", b"", 0, properties=Properties(topic_alias=1)), Reason.TOPIC_ALIAS_INVALID),
        (Publish("a", b"", 0, True), Reason.RETAIN_NOT_SUPPORTED),
        (
            Publish("a", b"", 0, properties=Properties(subscription_identifiers=[1])),
            Reason.PROTOCOL_ERROR,
        ),
    ],
)
def test_v5_publish_violations_disconnect_with_reason(publish, reason):
    w = Wire()
    w.connect()
    assert w.send(publish) == [Disconnect(reason)] and w.closed
    assert w.reasons == [w.session.close_detail]  # the Reason String says why


def test_reason_string_names_the_problem_unless_too_large_for_the_client():
    w = Wire()
    w.connect()
    w.send(Publish("a/+/b", b"", 0))
    assert w.reasons == ["topic name 'a/+/b' contains a wildcard ('+' or '#')"]
    w = Wire()
    w.connect(properties=Properties(maximum_packet_size=8))
    assert w.send(Publish("a/+/b", b"", 0)) == [Disconnect(Reason.TOPIC_NAME_INVALID)]
    assert w.reasons == []
    w = Wire(app=TopicLog(users={}))
    w.send(Connect("c", username="nobody"))
    assert w.reasons == ["authentication refused (0x86)"]


def test_v311_retained_publish_reaches_the_application():
    w = Wire(PROTOCOL_3_1_1)
    w.connect()
    assert w.send(Publish("a", b"r", 1, True, packet_id=1)) == [PubAck(1)]
    assert w.send(Publish("a/#", b"", 0)) == [] and w.closed


def test_too_many_unreleased_qos2():
    w = Wire(config=SessionConfig(receive_maximum=2))
    assert w.connect().properties.receive_maximum == 2
    w.send(Publish("a", b"", 2, packet_id=1), Publish("a", b"", 2, packet_id=2))
    assert w.send(Publish("a", b"", 2, packet_id=3)) == [Disconnect(0x93)]


# -- SUBSCRIBE / UNSUBSCRIBE -------------------------------------------------------------------
@V5_AND_V311
def test_subscribe_grants_or_refuses_each_filter(version):
    w = Wire(version)
    w.connect()
    subs = [
        Subscription("v1/gateway/rpc", 1),
        Subscription("a/#/b", 1),
        Subscription("forbidden/x", 0),
        Subscription("$share/g/x", 2),
        Subscription("hi/+", 2),
    ]
    [ack] = w.send(Subscribe(3, subs))
    if version == PROTOCOL_5:
        assert ack == SubAck(3, [1, 0x8F, 0x87, 0x9E, 2])
    else:
        assert ack == SubAck(3, [1, 0x80, 0x80, 2, 2])
    assert w.session.subscriptions["v1/gateway/rpc"] == 1
    [unsub] = w.send(Unsubscribe(4, ["hi/+", "never"]))
    assert unsub == UnsubAck(4, [0, 0x11] if version == PROTOCOL_5 else [])
    assert "hi/+" not in w.session.subscriptions


def test_subscription_identifier_is_refused():
    w = Wire()
    w.connect()
    packet = Subscribe(1, [Subscription("a")], Properties(subscription_identifiers=[4]))
    assert w.send(packet) == [Disconnect(Reason.SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED)]


# -- PUBLISH from the server -------------------------------------------------------------------
@V5_AND_V311
def test_server_publishes_to_matching_subscriptions_only(version):
    w = Wire(version)
    w.connect()
    s = w.session
    assert s.publish("v1/gateway/rpc", b"{}", 1) is None  # not subscribed
    w.send(Subscribe(1, [Subscription("v1/gateway/+", 0), Subscription("v1/gateway/rpc", 1)]))
    assert s.publish("v1/gateway/rpc", b"x", 2) == 1  # delivered at the granted QoS 1
    assert s.publish("v1/gateway/attributes", b"y", 1) == 0  # only QoS 0 granted there
    assert s.publish("other", b"z", 0, require_subscription=False) == 0
    assert w.announced == 3
    assert w.drain() == [
        Publish("v1/gateway/rpc", b"x", 1, packet_id=1),
        Publish("v1/gateway/attributes", b"y", 0),
        Publish("other", b"z", 0),
    ]
    assert s.inflight == 1
    assert w.send(PubAck(1)) == []
    assert s.inflight == 0 and w.app.of_kind("acked") == [("acked", "gw", 1, 0)]


def test_inflight_window_is_the_client_receive_maximum():
    w = Wire()
    w.connect(properties=Properties(receive_maximum=2))
    w.send(Subscribe(1, [Subscription("#", 2)]))
    ids = [w.session.publish("t", bytes([i]), 1) for i in range(4)]
    assert ids == [1, 2, 3, 4]
    assert [p.packet_id for p in w.drain()] == [1, 2]
    assert w.send(PubAck(2)) == [Publish("t", b"\x02", 1, packet_id=3)]
    assert w.send(PubAck(1)) == [Publish("t", b"\x03", 1, packet_id=4)]
    assert w.send(PubAck(1)) == []  # already done: ignored


def test_server_qos2_flow():
    w = Wire()
    w.connect()
    w.send(Subscribe(1, [Subscription("#", 2)]))
    assert w.session.publish("t", b"x", 2) == 1
    assert w.drain() == [Publish("t", b"x", 2, packet_id=1)]
    assert w.send(PubRec(1)) == [PubRel(1)]
    assert w.send(PubComp(1)) == []
    assert w.app.of_kind("acked") == [("acked", "gw", 1, 0)]
    assert w.send(PubRec(9)) == [PubRel(9, Reason.PACKET_IDENTIFIER_NOT_FOUND)]
    assert w.session.publish("t", b"y", 2) == 2
    w.drain()
    assert w.send(PubRec(2, 0x97)) == []  # refused: the exchange ends there
    assert w.app.of_kind("acked")[-1] == ("acked", "gw", 2, 0x97)


def test_publish_larger_than_the_client_accepts_is_not_sent():
    w = Wire()
    w.connect(properties=Properties(maximum_packet_size=64))
    w.send(Subscribe(1, [Subscription("#", 1)]))
    assert w.session.publish("t", b"x" * 100, 1) is None
    assert w.session.publish("t", b"x" * 10, 1) == 1


def test_v311_publish_drops_properties():
    w = Wire(PROTOCOL_3_1_1)
    w.connect()
    w.send(Subscribe(1, [Subscription("#", 0)]))
    w.session.publish("t", b"", properties=Properties(content_type="json"))
    assert w.drain() == [Publish("t", b"")]


def test_packet_ids_skip_those_in_flight():
    w = Wire()
    w.connect()
    w.send(Subscribe(1, [Subscription("#", 1)]))
    st = w.session._state
    st.next_packet_id = 65535
    assert [w.session.publish("t", b"", 1) for _ in range(3)] == [65535, 1, 2]
    w.send(PubAck(1))
    st.next_packet_id = 65535
    assert w.session.publish("t", b"", 1) == 1


# -- the end -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ending", "will_kept"),
    [
        (Disconnect(), False),
        (Disconnect(Reason.DISCONNECT_WITH_WILL), True),
        (None, True),  # the network connection just drops
    ],
)
def test_will_on_every_end_but_a_normal_disconnect(ending, will_kept):
    w = Wire()
    w.connect(will=Will("status/gw", b"offline", 1))
    if ending is None:
        w.session.connection_lost()
    else:
        assert w.send(ending) == [] and w.closed
    assert bool(w.app.of_kind("will")) == will_kept
    assert len(w.app.of_kind("disconnect")) == 1
    assert not w.session.connected and w.session.publish("t", b"") is None


def test_disconnect_may_not_set_session_expiry_after_zero():
    w = Wire()
    w.connect()
    bad = Disconnect(0, Properties(session_expiry_interval=10))
    assert w.send(bad) == [Disconnect(Reason.PROTOCOL_ERROR)]


@V5_AND_V311
def test_server_initiated_disconnect(version):
    w = Wire(version)
    w.connect()
    w.session.disconnect(Reason.ADMINISTRATIVE_ACTION)
    assert w.announced == 1
    assert w.drain() == ([Disconnect(0x98)] if version == PROTOCOL_5 else [])
    assert w.closed
    assert w.session.feed(encode(PingReq(), version)) == []  # nothing after the end


@pytest.mark.parametrize(
    ("packet", "reason"),
    [
        (ConnAck(), Reason.PROTOCOL_ERROR),
        (SubAck(1, [0]), Reason.PROTOCOL_ERROR),
        (PingResp(), Reason.PROTOCOL_ERROR),
        (Connect("again"), Reason.PROTOCOL_ERROR),
        (Auth(), Reason.PROTOCOL_ERROR),
    ],
)
def test_packets_a_client_may_not_send(packet, reason):
    w = Wire()
    w.connect()
    assert w.send(packet) == [Disconnect(reason)] and w.closed


@V5_AND_V311
def test_malformed_and_oversized_packets(version):
    w = Wire(version, config=SessionConfig(max_packet_size=128))
    w.connect()
    got = w.raw(b"\x30\x03\x00\x01")  # incomplete: waits
    assert got == [] and not w.closed
    w = Wire(version, config=SessionConfig(max_packet_size=128))
    w.connect()
    got = w.send(Publish("t", b"x" * 200))
    assert got == ([Disconnect(0x95)] if version == PROTOCOL_5 else []) and w.closed
    w = Wire(version)
    w.connect()
    got = w.raw(b"\x00\x00")
    assert got == ([Disconnect(0x81)] if version == PROTOCOL_5 else []) and w.closed


def test_one_chunk_holds_connect_and_following_packets():
    w = Wire(PROTOCOL_3_1_1)
    data = encode(Connect("c", PROTOCOL_3_1_1), PROTOCOL_3_1_1)
    data += encode(Publish("a", b"", 1, packet_id=1), PROTOCOL_3_1_1)
    data += encode(PingReq(), PROTOCOL_3_1_1)
    assert w.raw(data) == [ConnAck(), PubAck(1), PingResp()]
