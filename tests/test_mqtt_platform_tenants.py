"""Tenant isolation: device names are unique per tenant; gateways of different tenants may use the
same device names and never see each other's data, RPCs or attribute pushes. Within a tenant a
device named by another gateway moves there (its RPCs follow it)."""

from __future__ import annotations

import asyncio

import pytest

from devices.cloud.mqtt_platform import NoActiveConnection, RpcTimeout, UnknownDevice, events
from tests.mqtt_platform_support import PlatformBed


@pytest.fixture
def bed():
    b = PlatformBed()
    yield b
    b.close()


def tagged_echo(tag):
    def answer(request):
        data = request["data"]
        return {"device": request["device"], "id": data["id"], "data": tag}

    return answer


def test_two_tenants_same_device_name_never_meet(bed):
    acme = bed.gateway("gw", tenant="acme")
    globex = bed.gateway("gw", tenant="globex")  # the same gateway name, another tenant
    acme.on_rpc = tagged_echo("acme")
    globex.on_rpc = tagged_echo("globex")
    p = bed.platform

    async def main():
        await acme.connect()
        await globex.connect()
        await acme.send("v1/gateway/connect", {"device": "Device A", "type": "acme-type"})
        await globex.send("v1/gateway/telemetry", {"Device A": [{"ts": 1, "values": {"t": 2}}]})
        await acme.send("v1/gateway/telemetry", {"Device A": [{"ts": 1, "values": {"t": 1}}]})
        await acme.send("v1/gateway/attributes", {"Device A": {"secret": "acme"}})
        p.set_shared_attributes("Device A", {"cfg": "for acme"}, tenant="acme")
        request = {"id": 1, "device": "Device A", "client": True, "key": "secret"}
        await globex.send("v1/gateway/attributes/request", request)
        answers = [
            await p.rpc("Device A", "who", tenant="acme"),
            await p.rpc("Device A", "who", tenant="globex"),
        ]
        await asyncio.sleep(0.1)
        return answers

    assert bed.run(main()) == ["acme", "globex"]
    assert [x.value for x in p.telemetry("Device A", tenant="acme")] == [1]
    assert [x.value for x in p.telemetry("Device A", tenant="globex")] == [2]
    assert p.device("Device A", tenant="acme").type == "acme-type"
    assert p.device("Device A", tenant="globex").type == "default"
    assert p.attributes("Device A", tenant="globex") == {}
    assert acme.received("v1/gateway/attributes") == [
        {"device": "Device A", "data": {"cfg": "for acme"}}
    ]
    assert globex.received("v1/gateway/attributes") == []
    assert globex.received("v1/gateway/attributes/response") == [{"id": 1, "device": "Device A"}]
    # each gateway saw exactly one RPC: its own tenant's
    assert [r["data"]["id"] for r in acme.received("v1/gateway/rpc")] == [0]
    assert [r["data"]["id"] for r in globex.received("v1/gateway/rpc")] == [0]
    assert [d.name for d in p.devices("gw", tenant="acme")] == ["Device A"]
    with pytest.raises(UnknownDevice):
        p.telemetry("Device A")  # the default tenant has no such device
    assert sorted((g.tenant, g.name) for g in p.gateways()) == [("acme", "gw"), ("globex", "gw")]


def test_a_reply_from_another_tenant_does_not_answer_an_rpc(bed):
    acme = bed.gateway("gw-a", tenant="acme")
    globex = bed.gateway("gw-b", tenant="globex")
    p = bed.platform

    async def main():
        await acme.connect()
        await globex.connect()
        await acme.send("v1/gateway/connect", {"device": "Device A"})
        await globex.send("v1/gateway/connect", {"device": "Device A"})
        pending = asyncio.ensure_future(p.rpc("Device A", "m", timeout=5, tenant="acme"))
        await asyncio.sleep(0.1)
        forged = {"device": "Device A", "id": 0, "data": "forged"}
        assert await globex.send("v1/gateway/rpc", forged) == 0
        with pytest.raises(RpcTimeout):
            await pending

    bed.run(main())


def test_a_device_moves_to_the_gateway_that_names_it_last(bed):
    first = bed.gateway("gw-1")
    second = bed.gateway("gw-2")
    first.on_rpc = tagged_echo("first")
    second.on_rpc = tagged_echo("second")
    moved = []
    bed.platform.on(events.DEVICE_DISCONNECTED, lambda *args: moved.append(args))
    p = bed.platform

    async def main():
        await first.connect()
        await second.connect()
        await first.send("v1/gateway/connect", {"device": "Roamer", "type": "tag"})
        before = await p.rpc("Roamer", "where")
        await second.send("v1/gateway/connect", {"device": "Roamer", "type": "other"})
        after = await p.rpc("Roamer", "where")
        await first.send("v1/gateway/disconnect", {"device": "Roamer"})  # not its session now
        still = await p.rpc("Roamer", "where")
        await second.disconnect()
        with pytest.raises(NoActiveConnection):
            await p.rpc("Roamer", "where")
        return before, after, still

    assert bed.run(main()) == ("first", "second", "second")
    assert moved[0] == ("default", "Roamer", "gw-1", "moved")
    assert p.device("Roamer").type == "tag"
    assert p.device("Roamer").gateway == "gw-2"
    assert p.devices("gw-1") == []
