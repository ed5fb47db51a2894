"""What the platform refuses and how, under MQTT 3.1.1 and 5: unknown tokens at CONNECT, unknown
topics (0x90), payloads that are not JSON or cannot be converted (0x99 / session closed),
missing required fields (connection closed) -- and that nothing acknowledged before is lost."""

from __future__ import annotations

import asyncio

import pytest

from devices.protocols.mqtt import PROTOCOL_3_1_1, PROTOCOL_5, Connect, PacketReader, encode
from tests.mqtt_platform_support import V5, V311, PlatformBed

VERSIONS = pytest.mark.parametrize("protocol", [V311, V5], ids=["3.1.1", "5"])


@pytest.fixture
def bed():
    b = PlatformBed()
    yield b
    b.close()


async def raw_connack(bed, connect: Connect) -> int:
    """The CONNACK reason (MQTT 5) or return code (3.1.1) the platform answers ``connect`` with."""
    reader, writer = await bed.net.open_connection("platform", 1883, client_host="raw")
    writer.write(encode(connect, connect.protocol_level))
    data = await asyncio.wait_for(reader.read(4096), 5)
    packets = PacketReader(version=connect.protocol_level)
    packets.feed(data)
    writer.close()
    return packets.next_packet().reason_code


@pytest.mark.parametrize(
    ("level", "username", "password", "client_id", "expected"),
    [
        (PROTOCOL_5, "no-such-token", None, "gw", 0x86),
        (PROTOCOL_3_1_1, "no-such-token", None, "gw", 4),
        (PROTOCOL_5, "no-such-token", b"pw", "gw", 0x86),
        (PROTOCOL_5, None, None, "gw", 0x85),
        (PROTOCOL_3_1_1, None, None, "gw", 2),
        (PROTOCOL_5, None, None, "", 0x87),
        (PROTOCOL_3_1_1, None, None, "", 5),
    ],
)
def test_unknown_tokens_are_refused_as_the_real_platform_refuses_them(
    bed, level, username, password, client_id, expected
):
    connect = Connect(client_id, level, True, 60, username, password)
    assert bed.run(raw_connack(bed, connect)) == expected
    refused = bed.world.trace.select(event="gateway-refused")
    assert refused and "no-such-token" not in bed.world.trace.dump()


@VERSIONS
def test_a_known_token_is_accepted_and_a_wrong_one_with_paho(bed, protocol):
    good = bed.gateway(protocol=protocol)
    bad = bed.gateway(protocol=protocol, token="x" * 20, client_id="intruder")

    async def main():
        return await good.connect(), await bad.connect()

    assert bed.run(main()) == (0, 0x86)  # paho reports 3.1.1's code 4 as 0x86 too


@VERSIONS
def test_unknown_topic(bed, protocol):
    gw = bed.gateway(protocol=protocol)

    async def main():
        await gw.connect()
        return await gw.send("v1/gateway/unknown", {"A": [{"t": 1}]})

    # MQTT 5: "topic name invalid"; 3.1.1 cannot say no: a plain PUBACK, the message dropped
    assert bed.run(main()) == (0x90 if protocol == V5 else 0)
    assert gw.connected
    assert bed.platform.devices("gw-1") == []
    bad = bed.world.trace.select(event="bad-message")
    assert [(b["topic"], b["reason"]) for b in bad] == [("v1/gateway/unknown", 0x90)]


def bad_payloads():
    """(topic, payload, MQTT 5 PUBACK reason): 0x99 = payload format invalid (the connection
    stays), 0x83 = required content missing (PUBACK 0x83, then the connection is closed)."""
    return [
        ("v1/gateway/telemetry", b"{not json", 0x99),
        ("v1/gateway/telemetry", b"\xff\xfe", 0x99),
        ("v1/gateway/telemetry", {"A": ["not an object"]}, 0x99),
        ("v1/gateway/telemetry", {"A": [{"ts": "yesterday", "values": {"t": 1}}]}, 0x99),
        ("v1/gateway/telemetry", {"A": [{"t": None}]}, 0x99),
        ("v1/gateway/telemetry", {"A": [{"ts": 2**70, "values": {"t": 1}}]}, 0x99),
        ("v1/gateway/telemetry", b'{"A": [{"t": NaN}]}', 0x99),
        ("v1/gateway/attributes", {"A": {"k": None}}, 0x99),
        ("v1/gateway/claim", {"A": {"secretKey": 5}}, 0x99),
        ("v1/devices/me/rpc/request/x", {"method": "getSessionLimits"}, 0x99),
        ("v1/gateway/connect", {"name": "A"}, 0x83),
        ("v1/gateway/connect", b"", 0x83),
        ("v1/gateway/connect", [{"device": "A"}], 0x83),
        ("v1/gateway/disconnect", {"device": ""}, 0x83),
        ("v1/gateway/telemetry", {"A": {"t": 1}}, 0x83),
        ("v1/gateway/telemetry", {}, 0x83),
        ("v1/gateway/attributes", {"A": 1}, 0x83),
        ("v1/gateway/attributes/request", {"device": "A", "client": True, "key": "k"}, 0x83),
        ("v1/gateway/attributes/request", {"id": 1, "device": "A", "key": "k"}, 0x83),
        ("v1/gateway/attributes/request", {"id": 1, "device": "A", "client": True}, 0x83),
        (
            "v1/gateway/attributes/request",
            {"id": 2**40, "device": "A", "client": True, "key": "k"},
            0x83,
        ),
        ("v1/gateway/rpc", {"device": "A", "id": 0}, 0x83),
        ("v1/gateway/rpc", {"device": "A", "data": {}}, 0x83),
        ("v1/gateway/claim", {"A": "key"}, 0x83),
    ]


@VERSIONS
@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    bad_payloads(),
    ids=[f"{t.rsplit('/', 1)[-1]}-{i}" for i, (t, _p, _r) in enumerate(bad_payloads())],
)
def test_bad_payloads_and_nothing_accepted_is_lost(bed, protocol, topic, payload, reason):
    gw = bed.gateway(protocol=protocol)
    good = {"Device A": [{"ts": 1000, "values": {"t": 1}}]}

    async def main():
        await gw.connect()
        assert await gw.send("v1/gateway/telemetry", good) == 0
        answer = await gw.send(topic, payload)
        await asyncio.sleep(0.1)
        return answer

    answer = bed.run(main())
    if protocol == V5:
        assert answer == reason
        assert gw.connected == (reason == 0x99)
        if reason == 0x83:
            assert gw.events.of_kind("disconnect")[-1][1] == 0x83
    else:  # 3.1.1 has no way to say no: the session is closed, nothing acknowledged
        assert answer is None
        assert not gw.connected
    # what was acknowledged before is there; the refused message left nothing
    points = bed.platform.telemetry("Device A")
    assert [(p.ts, p.key, p.value) for p in points] == [(1000, "t", 1)]
    assert {d.name for d in bed.platform.devices("gw-1")} == {"Device A"}
    assert bed.platform.attributes("Device A") == {}


def test_a_bad_payload_at_qos_0_under_mqtt_5_ends_the_connection(bed):
    gw = bed.gateway(protocol=V5)

    async def main():
        await gw.connect()
        gw.publish("v1/gateway/telemetry", b"{bad", qos=0)
        await asyncio.sleep(0.1)

    bed.run(main())
    assert not gw.connected
    assert gw.events.of_kind("disconnect")[-1][1] == 0x99


def test_the_gateway_reconnects_and_carries_on_after_a_refusal(bed):
    gw = bed.gateway(protocol=V311)

    async def main():
        await gw.connect()
        # QoS 0: paho would resend an unacknowledged QoS 1 message on reconnect (and be
        # refused again: a poison message is the gateway's to drop)
        await gw.send("v1/gateway/connect", {"nodevice": 1}, qos=0)
        assert not gw.connected
        await gw.connect()
        return await gw.send("v1/gateway/telemetry", {"A": [{"ts": 5, "values": {"t": 2}}]})

    assert bed.run(main()) == 0
    assert [(p.ts, p.value) for p in bed.platform.telemetry("A")] == [(5, 2)]
