"""Live paho-mqtt 2.2.0 clients of both versions against ``MqttServer`` on a real loopback socket
(plain and TLS). paho runs its own network thread here, as real clients do; the server runs on
the test's asyncio loop with no thread."""

from __future__ import annotations

import asyncio
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devices.cloud.mqtt_platform import MqttServer
from devices.protocols.x509 import CertificateAuthority, tls_context
from tests.mqtt_support import PahoEvents, TopicLog

VERSIONS = pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5], ids=["3.1.1", "5"])


async def until(condition, timeout: float = 10.0) -> None:
    """Poll ``condition`` while the server's loop keeps running (bounded in wall time)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.005)


def make_client(protocol, client_id="gw-1", username=None, password=None):
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=protocol,
        reconnect_on_failure=False,  # else its thread sleeps a second before loop_stop returns
    )
    if username is not None:
        client.username_pw_set(username, password)
    return client, PahoEvents(client)


def acks(events):
    """Packet id -> PUBACK reason, from paho's on_publish (QoS 1 only)."""
    return {e[1]: e[2] for e in events.of_kind("puback")}


async def start(client, port, keepalive=30):
    client.connect_async("127.0.0.1", port, keepalive)
    client.loop_start()


def stop(client):
    client.disconnect()
    client.loop_stop()


@VERSIONS
def test_subscribe_publish_and_acknowledgements(protocol):
    app = TopicLog(users={"token-1": None})
    v5 = protocol == mqtt.MQTTv5

    async def main():
        server = MqttServer(app)
        port = await server.listen_tcp("127.0.0.1", 0)
        client, events = make_client(protocol, username="token-1")
        await start(client, port)
        try:
            await until(lambda: events.of_kind("connack"))
            client.subscribe([("echo/#", 1)])
            await until(lambda: events.of_kind("suback"))
            client.publish("echo/a", b"zero", qos=0)
            one = client.publish("echo/b", b"one", qos=1)
            await until(lambda: len(events.of_kind("message")) == 2)
            await until(lambda: acks(events).get(one.mid) == 0)
            bad = client.publish("json/x", b"{not json", qos=1)
            if v5:
                unknown = client.publish("reject/x", b"{}", qos=1)
                await until(lambda: unknown.mid in acks(events))
                assert acks(events)[bad.mid] == 0x99  # payload format invalid
                assert acks(events)[unknown.mid] == 0x90  # topic name invalid
                assert client.is_connected()
            else:
                await until(lambda: events.of_kind("disconnect"))
                assert bad.mid not in acks(events)  # 3.1.1: the session closes instead
                assert not client.is_connected()
        finally:
            stop(client)
            await server.close()
        return events

    events = asyncio.run(main())
    assert events.of_kind("connack")[0][1] == 0
    assert events.of_kind("suback")[0][2] == [1]
    assert sorted(e[1:] for e in events.of_kind("message")) == [
        ("echo/a", b"zero", 0),
        ("echo/b", b"one", 1),
    ]
    assert app.of_kind("connect")[0][1:] == ("gw-1", "token-1", 4 if protocol == 4 else 5)


@VERSIONS
def test_refused_connect(protocol):
    app = TopicLog(users={"token-1": None})

    async def main():
        server = MqttServer(app)
        port = await server.listen_tcp()
        client, events = make_client(protocol, username="wrong")
        await start(client, port)
        try:
            await until(lambda: events.of_kind("connack"))
        finally:
            stop(client)
            await server.close()
        return events

    # paho reports the 3.1.1 return code 4 as its MQTT 5 equivalent, 0x86
    assert asyncio.run(main()).of_kind("connack")[0][1] == 0x86


def test_v5_empty_client_id_gets_one_assigned():
    async def main():
        server = MqttServer(TopicLog())
        port = await server.listen_tcp()
        client, events = make_client(mqtt.MQTTv5, client_id="")
        await start(client, port)
        try:
            await until(lambda: events.of_kind("connack"))
            assigned = events.of_kind("connack")[0][2]
            assert assigned in server.sessions
        finally:
            stop(client)
            await server.close()
        return assigned

    assert asyncio.run(main()).startswith("auto-")


def test_tls_and_takeover():
    ca = CertificateAuthority()
    server_ctx = tls_context(ca.cert_pem, True, ca.issue("platform", server=True), False)
    app = TopicLog()

    async def main():
        server = MqttServer(app)
        port = await server.listen_tcp("127.0.0.1", 0, ssl_context=server_ctx)
        first, first_events = make_client(mqtt.MQTTv5, client_id="same")
        first.tls_set_context(tls_context(ca.cert_pem, False))
        await start(first, port)
        second, second_events = make_client(mqtt.MQTTv5, client_id="same")
        second.tls_set_context(tls_context(ca.cert_pem, False))
        try:
            await until(lambda: first_events.of_kind("connack"))
            await start(second, port)
            await until(lambda: second_events.of_kind("connack"))
            await until(lambda: first_events.of_kind("disconnect"))
            assert first_events.of_kind("disconnect")[0][1] == 0x8E  # session taken over
            assert server.sessions["same"].connected
        finally:
            stop(first)
            stop(second)
            await server.close()

    asyncio.run(main())
