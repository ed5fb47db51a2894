"""Server-side RPC through the gateway API: ids per device from 0, replies matched by device and
id, the 10 s default and 5 s minimum timeouts, and "no active connection" once a device's
session is gone (device disconnect, gateway disconnect, silence)."""

from __future__ import annotations

import asyncio

import pytest

from devices.cloud.mqtt_platform import InvalidRequest, NoActiveConnection, RpcTimeout, events
from tests.mqtt_platform_support import V5, V311, PlatformBed

VERSIONS = pytest.mark.parametrize("protocol", [V311, V5], ids=["3.1.1", "5"])


@pytest.fixture
def bed():
    b = PlatformBed()
    yield b
    b.close()


def echo(request):
    data = request["data"]
    return {"device": request["device"], "id": data["id"], "data": {"got": data["params"]}}


@VERSIONS
def test_ids_per_device_from_zero_and_replies_matched(bed, protocol):
    gw = bed.gateway(protocol=protocol)
    gw.on_rpc = echo

    async def main():
        await gw.connect()
        await gw.send("v1/gateway/connect", {"device": "A"})
        await gw.send("v1/gateway/connect", {"device": "B"})
        p = bed.platform
        return [
            await p.rpc("A", "toggle", {"pin": 1}),
            await p.rpc("A", "toggle", {"pin": 2}),
            await p.rpc("B", "read"),
            await p.rpc("A", "toggle", [3]),
        ]

    assert bed.run(main()) == [
        {"got": {"pin": 1}},
        {"got": {"pin": 2}},
        {"got": {}},
        {"got": [3]},
    ]
    requests = gw.received("v1/gateway/rpc")
    assert [(r["device"], r["data"]["id"], r["data"]["method"]) for r in requests] == [
        ("A", 0, "toggle"),
        ("A", 1, "toggle"),
        ("B", 0, "read"),
        ("A", 2, "toggle"),
    ]
    assert requests[0] == {
        "device": "A",
        "data": {"id": 0, "method": "toggle", "params": {"pin": 1}},
    }


def test_concurrent_rpcs_answered_out_of_order(bed):
    gw = bed.gateway()
    held = []
    gw.on_rpc = lambda request: held.append(request)

    async def main():
        await gw.connect()
        await gw.send("v1/gateway/connect", {"device": "A"})
        first = asyncio.ensure_future(bed.platform.rpc("A", "one"))
        second = asyncio.ensure_future(bed.platform.rpc("A", "two"))
        await asyncio.sleep(0.1)
        for request in reversed(held):
            gw.publish(
                "v1/gateway/rpc",
                {"device": "A", "id": request["data"]["id"], "data": request["data"]["method"]},
            )
        # a reply nobody waits for is acknowledged and ignored
        assert await gw.send("v1/gateway/rpc", {"device": "A", "id": 99, "data": None}) == 0
        return await first, await second

    assert bed.run(main()) == ("one", "two")


def test_default_timeout_is_10_s_and_the_minimum_5_s(bed):
    gw = bed.gateway()  # subscribed, never answers
    timed_out = []
    bed.platform.on(events.RPC_TIMED_OUT, lambda *args: timed_out.append(bed.world.now))

    async def attempt(timeout):
        started = bed.world.now
        with pytest.raises(RpcTimeout) as caught:
            await bed.platform.rpc("A", "slow", timeout=timeout)
        return round(bed.world.now - started, 3), caught.value.timeout

    async def main():
        await gw.connect()
        await gw.send("v1/gateway/connect", {"device": "A"})
        return [await attempt(None), await attempt(1), await attempt(7.5)]

    assert bed.run(main()) == [(10.0, 10.0), (5.0, 5.0), (7.5, 7.5)]
    assert len(timed_out) == 3


def test_a_late_reply_after_the_timeout_is_ignored(bed):
    gw = bed.gateway()
    held = []
    gw.on_rpc = held.append

    async def main():
        await gw.connect()
        await gw.send("v1/gateway/connect", {"device": "A"})
        with pytest.raises(RpcTimeout):
            await bed.platform.rpc("A", "m", timeout=5)
        reply = {"device": "A", "id": held[0]["data"]["id"], "data": 1}
        assert await gw.send("v1/gateway/rpc", reply) == 0
        gw.on_rpc = echo
        return await bed.platform.rpc("A", "m")

    assert bed.run(main()) == {"got": {}}


@pytest.mark.parametrize("how", ["device disconnect", "gateway disconnect", "connection lost"])
def test_no_active_connection_once_the_session_is_gone(bed, how):
    gw = bed.gateway()
    gw.on_rpc = echo

    async def main():
        await gw.connect()
        await gw.send("v1/gateway/connect", {"device": "A"})
        assert await bed.platform.rpc("A", "ping") == {"got": {}}
        if how == "device disconnect":
            await gw.send("v1/gateway/disconnect", {"device": "A"})
        elif how == "gateway disconnect":
            await gw.disconnect()
        else:
            bed.net.reset_host("gw0")
            await asyncio.sleep(0.1)
        with pytest.raises(NoActiveConnection, match="'A'"):
            await bed.platform.rpc("A", "ping")

    bed.run(main())


def test_rpc_reaches_the_device_again_after_the_gateway_reconnects(bed):
    gw = bed.gateway()
    gw.on_rpc = echo

    async def main():
        await gw.connect()
        await gw.send("v1/gateway/connect", {"device": "A"})
        await gw.disconnect()
        await gw.connect()
        with pytest.raises(NoActiveConnection):
            await bed.platform.rpc("A", "ping")  # not until the gateway names it again
        await gw.send("v1/gateway/telemetry", {"A": [{"v": 1}]})
        return await bed.platform.rpc("A", "ping")

    assert bed.run(main()) == {"got": {}}


def test_rpc_after_ten_silent_minutes_has_no_connection(bed):
    gw = bed.gateway()
    gw.on_rpc = echo

    async def main():
        await gw.connect()
        await gw.send("v1/gateway/connect", {"device": "A"})
        await asyncio.sleep(601)
        with pytest.raises(NoActiveConnection):
            await bed.platform.rpc("A", "ping")

    bed.run(main())


def test_rpc_to_the_gateway_device_itself(bed):
    gw = bed.gateway()

    def answer(client, _userdata, msg):
        if msg.topic.startswith("v1/devices/me/rpc/request/"):
            request_id = msg.topic.rsplit("/", 1)[1]
            client.publish(f"v1/devices/me/rpc/response/{request_id}", b'{"uptime": 42}', qos=1)

    gw.client.message_callback_add("v1/devices/me/rpc/request/+", answer)

    async def main():
        await gw.connect()
        return await bed.platform.rpc("gw-1", "getUptime")

    assert bed.run(main()) == {"uptime": 42}


def test_bad_rpc_requests(bed):
    async def main():
        bed.platform.add_gateway("gw-x")
        with pytest.raises(InvalidRequest) as caught:
            await bed.platform.rpc("gw-x", "", {})
        assert caught.value.field == "method"
        with pytest.raises(InvalidRequest) as caught:
            await bed.platform.rpc("gw-x", "m", timeout=-1)
        assert caught.value.field == "timeout"
        with pytest.raises(NoActiveConnection):
            await bed.platform.rpc("gw-x", "m")

    bed.run(main())
