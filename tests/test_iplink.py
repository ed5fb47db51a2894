"""In-world IP links and the HTTP/SSE client over them: latency, order, partitions, resets,
refusals, and a real aiohttp server speaking real HTTP through them."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web

from devices.protocols.http_client import HttpClient, HttpError
from devices.protocols.http_server import serve
from sim.iplink import ConnectionRefused, IpNetwork, LinkProfile
from sim.world import World


@pytest.fixture
def world():
    w = World(seed=2)
    yield w
    w.close()


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


def test_bytes_arrive_after_latency_in_order(world):
    net = IpNetwork(world, LinkProfile(latency_s=0.010, bandwidth_bps=1e6))
    net.listen("server", 7, Echo)

    async def main():
        reader, writer = await net.open_connection("server", 7)
        sent_at = world.now
        for i in range(50):
            writer.write(f"{i:03d},".encode())
        data = b""
        while len(data) < 200:
            data += await reader.read(1000)
        return sent_at, world.now, data

    sent_at, got_at, data = world.run(main())
    assert data.decode().rstrip(",").split(",") == [f"{i:03d}" for i in range(50)]
    assert got_at - sent_at >= 0.020  # two one-way latencies at least


def test_partition_holds_data_until_healed(world):
    net = IpNetwork(world)
    net.listen("server", 7, Echo)

    async def main():
        reader, writer = await net.open_connection("server", 7, client_host="client")
        net.partition("client", "server")
        writer.write(b"hello")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.read(10), 5)
        net.partition("client", "server", False)
        return await asyncio.wait_for(reader.read(10), 5)

    assert world.run(main()) == b"hello"


def test_reset_and_refusal(world):
    net = IpNetwork(world)
    net.listen("server", 7, Echo)

    async def main():
        reader, _writer = await net.open_connection("server", 7)
        assert net.reset_host("server") == 2
        with pytest.raises(ConnectionResetError):
            await reader.read(10)
        with pytest.raises(ConnectionRefused):
            await net.open_connection("server", 8)

    world.run(main())


def test_http_and_sse_through_the_world(world):
    net = IpNetwork(world)

    async def hello(request):
        if request.query.get("fail"):
            return web.Response(status=400, text="invalid fail: accepted values are none")
        return web.json_response({"now": world.now})

    async def stream(request):
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        try:
            for i in range(100):
                await resp.write(f"data: {json.dumps({'i': i})}\n\n".encode())
                await asyncio.sleep(1)
        except ConnectionResetError:
            pass
        return resp

    async def main():
        app = web.Application()
        app.router.add_get("/hello", hello)
        app.router.add_get("/stream", stream)
        served = await serve(app, world, "gw", 80, net)
        transcript: list = []
        client = HttpClient("http://gw:80", connect=net.open_connection, recorder=transcript.append)
        ok = await client.request("GET", "/hello")
        bad = await client.request("GET", "/hello", params={"fail": 1})
        async with client.sse("/stream") as s:
            events = await s.collect(3.5)
        with pytest.raises(HttpError, match="refused"):
            await HttpClient("http://gw:81", connect=net.open_connection).request("GET", "/")
        await served.close()
        return ok, bad, events, transcript

    ok, bad, events, transcript = world.run(main())
    assert ok.status == 200 and ok.headers["date"] == "Thu, 01 Jan 2026 00:00:00 GMT"
    assert bad.status == 400 and "invalid fail" in bad.text
    assert [e.json()["i"] for e in events] == [0, 1, 2, 3]
    assert [t["status"] for t in transcript] == [200, 400, 200]


def test_partition_holds_the_close_and_refuses_new_connections_until_healed(world):
    net = IpNetwork(world)
    ends: list[str] = []

    class Recorder(Echo):
        def eof_received(self):
            ends.append(f"eof at {world.now:.3f}")

    net.listen("server", 7, Recorder)

    async def main():
        _reader, writer = await net.open_connection("server", 7, client_host="client")
        net.partition("client", "server")
        started = world.now
        with pytest.raises(TimeoutError, match="partitioned"):
            await net.open_connection("server", 7, client_host="client")
        refused_after = world.now - started
        writer.close()  # the FIN waits behind the partition
        await asyncio.sleep(1)
        during = list(ends)
        # a connection attempt still retrying its SYN goes through once the path heals
        attempt = asyncio.ensure_future(net.open_connection("server", 7, client_host="client"))
        await asyncio.sleep(2.5)
        net.partition("client", "server", False)
        _r2, w2 = await attempt
        await asyncio.sleep(1)
        return refused_after, during, list(ends), w2

    refused_after, during, after, w2 = world.run(main())
    assert refused_after == pytest.approx(31.0)
    assert during == []
    assert len(after) == 1
    assert not w2.is_closing()
