"""The Device2 MQTT Device API on the wire (paho in virtual time): anonymous provisioning with
the reply pushed without a subscription, token, password and certificate connections,
``$resource`` and ``$resource.batch`` (timestamp units), QoS 2 refused, cloud-to-device pushes
and their write-back acknowledgement, sync on connect, refusals (CONNACK codes, closed
connections), publish-as, Will messages, and the server name choosing the product."""

from __future__ import annotations

import json
import re

import paho.mqtt.client as paho
import pytest

from devices.cloud.device2.device_config import batch_timestamp_us
from tests.device2_device_support import Stack

US = 1_000_000
PASSWORD = "an mqtt password of 32 bytes...."
BAD_CREDENTIALS, NOT_AUTHORIZED, ID_REJECTED = 0x86, 0x87, 0x85


@pytest.fixture
def stack(tmp_path):
    s = Stack(tmp_path / "d2.db")
    s.resources()
    yield s
    s.close()


def provision(stack, identity="dev-1", payload=b"", ip="192.0.2.60"):
    """Anonymous connection, ``$provision/<identity>``; (client, reply messages)."""
    client = stack.paho(ip=ip)
    assert client.connect() == 0
    topic = f"$provision/{identity}" if identity else "$provision"
    client.publish(topic, payload)
    return client, [m for m in client.messages if m[0].startswith("$provision")]


def token_of(stack, identity="dev-1"):
    anonymous, [(_topic, token)] = provision(stack, identity)
    anonymous.disconnect()
    return token.decode()


def connected(stack, identity="dev-1", **kwargs):
    client = stack.paho(**kwargs)
    assert client.connect("", token_of(stack, identity)) == 0
    return client


# -- provisioning ------------------------------------------------------------------------------
def test_token_provisioning_replies_without_a_subscription(stack):
    client, replies = provision(stack, "dev-1", ip="192.0.2.61")
    [(topic, token)] = replies
    assert topic == "$provision/dev-1" and re.fullmatch(rb"[0-9A-Za-z]{40}", token)
    assert client.client.is_connected()  # the anonymous connection stays until the device leaves
    assert stack.status("dev-1") == "provisioned"
    (event,) = stack.events_of("provisioned", "dev-1")
    assert event["protocol"] == "mqtt" and event["ip"] == "192.0.2.61"
    client.disconnect()
    device = stack.paho()
    assert device.connect("", token.decode()) == 0 and device.connected
    (connect,) = stack.events_of("connect", "dev-1")
    assert connect["protocol"] == "mqtt" and re.fullmatch(
        r"[0-9a-f-]{36}", connect["connection_id"]
    )
    device.disconnect()
    (gone,) = stack.events_of("disconnect", "dev-1")
    assert gone["connection_id"] == connect["connection_id"]


def test_password_provisioning_and_connections(stack):
    stack.call("addIdentity", {"identity": "pw-1", "auth": {"type": "password"}})
    client, [(topic, payload)] = provision(stack, "pw-1", PASSWORD.encode())
    assert topic == "$provision/pw-1" and payload == b""
    client.disconnect()
    good = stack.paho()
    assert good.connect("pw-1", PASSWORD) == 0
    wrong = stack.paho()
    assert wrong.connect("pw-1", "x" * 32) == BAD_CREDENTIALS and not wrong.connected
    stack.call("addIdentity", {"identity": "pw-2", "auth": {"type": "password"}})
    short = stack.paho()
    assert short.connect() == 0
    short.publish("$provision/pw-2", b"short")
    assert not short.connected and stack.status("pw-2") == "whitelisted"


def test_a_generated_identity_arrives_in_the_reply_topic(stack):
    stack.call(
        "updateGatewaySettings",
        {"provisioning": {"generate_identity": True}, "identity_format": {"type": "uuidv4"}},
    )
    client, [(topic, token)] = provision(stack, None)
    identity = topic.split("/", 1)[1]
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", identity
    )
    assert len(token) == 40 and stack.status(identity) == "provisioned"


def test_refused_provisioning_closes_the_connection(stack):
    stack.call("addIdentity", {"identity": "held", "locked": True})
    client, replies = provision(stack, "held")
    assert replies == [] and not client.connected
    stack.call("updateGatewaySettings", {"provisioning": {"presenter_identity": False}})
    client, replies = provision(stack, "stranger")
    assert replies == [] and not client.connected


def test_an_mqtt5_client_is_told_why_in_the_puback(stack):
    stack.call("addIdentity", {"identity": "held", "locked": True})
    client = stack.paho(protocol=paho.MQTTv5)
    assert client.connect() == 0
    mid = client.publish("$provision/held", b"")
    assert client.acks[mid] == NOT_AUTHORIZED and client.connected


def test_an_anonymous_connection_may_only_provision(stack):
    client = stack.paho()
    assert client.connect() == 0
    client.publish("$resource/temperature", b"20")
    assert not client.connected
    assert stack.events_of("data_in") == []


# -- connecting --------------------------------------------------------------------------------
def test_wrong_credentials_get_return_code_4_and_locking_disconnects(stack):
    client = connected(stack, "dev-1")
    assert stack.paho().connect("", "x" * 40) == BAD_CREDENTIALS
    assert stack.paho().connect("dev-1") == BAD_CREDENTIALS  # a user name, no password
    stack.call("updateIdentity", {"identity": "dev-1", "locked": True})
    stack.sleep(1)
    assert not client.connected and stack.status("dev-1") == "locked"
    (gone,) = stack.events_of("disconnect", "dev-1")
    assert gone["protocol"] == "mqtt"


def test_locked_and_reprovision_are_refused_with_not_authorized(stack):
    token = token_of(stack, "dev-1")
    stack.call("updateIdentity", {"identity": "dev-1", "locked": True})
    assert stack.paho().connect("", token) == NOT_AUTHORIZED
    stack.call("updateIdentity", {"identity": "dev-1", "locked": False})
    assert stack.paho().connect("", token) == 0
    stack.call("updateIdentity", {"identity": "dev-1", "auth": {"expire": stack.now_us + US}})
    stack.sleep(2)
    assert stack.paho().connect("", token) == NOT_AUTHORIZED
    assert stack.status("dev-1") == "reprovision"
    fresh = token_of(stack, "dev-1")
    assert fresh != token and stack.paho().connect("", fresh) == 0


def test_the_client_id_must_be_empty_or_the_identity(stack):
    token = token_of(stack, "dev-1")
    assert stack.paho(client_id="someone-else").connect("", token) == ID_REJECTED
    assert stack.paho(client_id="dev-1").connect("", token) == 0


def test_deleting_the_identity_disconnects_it(stack):
    client = connected(stack, "dev-1")
    stack.call("removeIdentity", {"identity": "dev-1"})
    stack.sleep(1)
    assert not client.connected


# -- publishing --------------------------------------------------------------------------------
def test_resource_publishes_land_in_state_signals_and_events(stack):
    client = connected(stack, "dev-1", ip="192.0.2.70")
    client.publish("$resource/temperature", b"21.25")
    client.publish("$resource/data_in", b'{"001": 3.2}', qos=0)
    client.publish("$resource/undefined", b"x")
    state = stack.state("dev-1")
    assert state["temperature"]["reported"] == 21.25
    assert state["data_in"]["reported"] == '{"001": 3.2}'
    events = stack.events_of("data_in", "dev-1")
    assert [e["payload"][0]["values"] for e in events] == [
        {"temperature": "21.25"},
        {"data_in": '{"001": 3.2}'},
        {"undefined": "x"},
    ]
    assert {e["ip"] for e in events} == {"192.0.2.70"} and events[2]["updated_resources"] == []
    points = stack.call("querySignal", {"identity": "dev-1", "signal": "temperature"})["data"]
    assert [p["value"] for p in points] == [21.25]


def test_batches_take_microseconds_and_the_documented_other_units(stack):
    client = connected(stack, "dev-1")
    t = stack.now_us // US - 100
    batch = [
        {"timestamp": t * US, "values": {"temperature": 1}},  # µs, canonical
        {"timestamp": t + 10, "values": {"temperature": 2}},  # seconds
        {"timestamp": (t + 20) * 1000, "values": {"temperature": 3}},  # milliseconds
        {"timestamp": t + 30.5, "values": {"temperature": 4, "switch": "true"}},
    ]
    client.publish("$resource.batch", json.dumps(batch))
    (event,) = stack.events_of("data_in", "dev-1")
    assert [p["timestamp"] for p in event["payload"]] == [
        t * US,
        (t + 10) * US,
        (t + 20) * US,
        (t + 30) * US + US // 2,
    ]
    state = stack.state("dev-1")
    assert state["temperature"]["reported"] == 4 and state["switch"]["reported"] is True
    assert batch_timestamp_us(1_526_046_488) == 1_526_046_488 * US
    assert batch_timestamp_us(1_526_046_488, "us") == 1_526_046_488


def test_qos2_and_malformed_batches_are_refused(stack):
    client = connected(stack, "dev-1")
    client.publish("$resource/temperature", b"1", qos=2)
    assert not client.connected
    client = connected(stack, "dev-2")
    client.publish("$resource.batch", b'{"not": "a list"}')
    assert not client.connected
    client = connected(stack, "dev-3")
    client.publish("$unknown/topic", b"1")
    assert not client.connected
    assert stack.events_of("data_in") == []


# -- cloud to device ---------------------------------------------------------------------------
def test_a_set_is_pushed_without_a_subscription_and_acknowledged_by_writing_it_back(stack):
    client = connected(stack, "dev-1")
    assert client.client.subscribe("$resource/#", 1)[0] == 0  # granted, changes nothing
    stack.sleep(1)
    stack.call("setIdentityState", {"identity": "dev-1", "config_io": '{"interval": 5}'})
    stack.sleep(1)
    pushed = [m for m in client.messages if m[0].startswith("$resource/")]
    [(topic, payload)] = pushed
    alias, stamp = topic.split("/")[1:]
    assert alias == "config_io" and payload == b'{"interval": 5}'
    assert stack.gw.pending_sets("dev-1") == {"config_io": ('{"interval": 5}', int(stamp))}
    client.publish("$resource/config_io", payload)  # the acknowledgement
    assert stack.gw.pending_sets("dev-1") == {}
    entry = stack.state("dev-1")["config_io"]
    assert entry["set"] == entry["reported"] == '{"interval": 5}'
    stack.call("setIdentityState", {"identity": "dev-1", "switch": False})
    stack.sleep(1)
    assert client.messages[-1][1] == b"false"


def test_sets_made_while_offline_are_synced_on_connect(stack):
    token = token_of(stack, "dev-1")
    stack.call("setIdentityState", {"identity": "dev-1", "config_io": "a", "switch": True})
    stack.sleep(5)
    device = stack.paho()
    assert device.connect("", token) == 0
    pushed = {m[0].split("/")[1]: m[1] for m in device.messages}
    assert pushed == {"config_io": b"a", "switch": b"true"}


# -- publish-as, Will, TLS ---------------------------------------------------------------------
def test_publish_as_needs_permission(stack):
    stack.call("addIdentity", {"identity": "sensor-1"})
    token = token_of(stack, "gw-1")
    refused = stack.paho()
    assert refused.connect("", token) == 0
    refused.publish("$as/sensor-1/$resource/temperature", b"9")
    assert not refused.connected and stack.events_of("data_in") == []
    stack.call("updateGatewaySettings", {"permission": {"gateway": ["gw-1"]}})
    gateway = stack.paho(ip="192.0.2.80")
    assert gateway.connect("", token) == 0
    gateway.publish("$as/sensor-1/$resource/temperature", b"9")
    batch = [{"timestamp": stack.now_us, "values": {"switch": True}}]
    gateway.publish("$as/sensor-1/$resource.batch", json.dumps(batch))
    gateway.publish("$as/gw-1/$resource/temperature", b"1")  # as itself: always allowed
    assert gateway.connected
    state = stack.state("sensor-1")
    assert state["temperature"]["reported"] == 9 and state["switch"]["reported"] is True
    events = stack.events_of("data_in", "sensor-1")
    assert len(events) == 2 and {e["ip"] for e in events} == {"192.0.2.80"}
    gateway.publish("$as/nobody/$resource/temperature", b"9")
    assert not gateway.connected


def test_a_will_to_a_device_topic_is_written(stack):
    token = token_of(stack, "dev-1")
    client = stack.paho()
    client.client.will_set("$resource/temperature", b"-1", qos=0)
    assert client.connect("", token) == 0
    client.link.close()  # the link drops: no DISCONNECT
    stack.sleep(1)
    assert stack.state("dev-1")["temperature"]["reported"] == -1


def test_certificate_connections_over_tls_and_renewal(stack):
    stack.call("updateGatewaySettings", {"provisioning": {"auth_type": "certificate"}})
    stack.call("addIdentity", {"identity": "cert-1"})
    assert stack.apis.tls is not None
    first = stack.apis.tls.device_certificate("cert-1")
    client = stack.paho(context=stack.apis.tls.client_context(first))
    assert client.connect() == 0
    assert [e["type"] for e in stack.events if e["identity"] == "cert-1"] == [
        "provisioned",
        "connect",
    ]
    client.publish("$resource/temperature", b"3")
    assert stack.state("cert-1")["temperature"]["reported"] == 3
    renewed = stack.apis.tls.device_certificate("cert-1")
    client.publish("$provision/cert-1", renewed.cert_pem)
    assert ("$provision/cert-1", b"") in client.messages
    client.disconnect()
    old = stack.paho(context=stack.apis.tls.client_context(first))
    assert old.connect() == BAD_CREDENTIALS
    new = stack.paho(context=stack.apis.tls.client_context(renewed))
    assert new.connect() == 0


def test_the_tls_server_name_chooses_the_product(tmp_path):
    stack = Stack(tmp_path / "d2.db", products=("example", "other"))
    try:
        stack.call("updateGatewaySettings", {"fqdn": "example.m2.exosite.io"})
        other = stack.service.gateway("other")
        other.call("addIdentity", {"identity": "dev-9"})
        token = other.provision("dev-9").token
        context = stack.client_context()
        context.check_hostname = False
        to_other = stack.paho(context=context, server_name="other.m2.exosite.io")
        assert to_other.connect("", token) == 0
        to_example = stack.paho(context=stack.client_context())
        assert to_example.connect("", token) == BAD_CREDENTIALS  # not a token of "example"
        nowhere = stack.paho(context=context, server_name="nobody.m2.exosite.io")
        assert nowhere.connect("", token) == NOT_AUTHORIZED
        plain = stack.paho()  # no TLS, no name, two products: no default product
        assert plain.connect("", token) == NOT_AUTHORIZED
    finally:
        stack.close()
