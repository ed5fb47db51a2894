"""The platform's SQLite storage: a PUBACK goes out only after its message is committed, a
restart on the same file (graceful or not) loses nothing acknowledged, tokens are stored only
as SHA-256 hashes and never appear in the trace."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3

import pytest

from devices.cloud.mqtt_platform import NameTaken, Platform
from devices.protocols.mqtt import PubAck
from tests.mqtt_platform_support import V5, V311, PlatformBed

VERSIONS = pytest.mark.parametrize("protocol", [V311, V5], ids=["3.1.1", "5"])


@VERSIONS
def test_every_puback_follows_the_commit(tmp_path, protocol):
    db = tmp_path / "platform.db"
    bed = PlatformBed(db=db)
    gw = bed.gateway(protocol=protocol)
    reader = sqlite3.connect(db)
    committed_at_ack: list[int] = []

    def recorder(direction, packet):
        # the server is about to send a PUBACK: another connection must already see the rows
        if direction == "out" and isinstance(packet, PubAck):
            count = reader.execute("SELECT COUNT(*) FROM telemetry").fetchone()[0]
            committed_at_ack.append(count)

    bed.platform.server.recorder = recorder  # read by each new connection
    try:

        async def main():
            await gw.connect()
            for i in range(5):
                gw.publish("v1/gateway/telemetry", {"A": [{"ts": i, "values": {"n": i}}]})
            await asyncio.sleep(0.5)

        bed.run(main())
    finally:
        reader.close()
        bed.close()
    assert committed_at_ack == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("graceful", [True, False], ids=["graceful", "crash"])
def test_a_restart_on_the_same_file_loses_nothing_acknowledged(tmp_path, graceful):
    db = tmp_path / "platform.db"
    bed = PlatformBed(db=db)
    gw = bed.gateway("gw-1", tenant="acme")
    gw.on_rpc = lambda r: {"device": r["device"], "id": r["data"]["id"], "data": "pong"}
    try:

        async def before():
            await gw.connect()
            await gw.send("v1/gateway/connect", {"device": "A", "type": "meter"})
            mids = [
                gw.publish("v1/gateway/telemetry", {"A": [{"ts": 1000 + i, "values": {"kwh": i}}]})
                for i in range(20)
            ]
            gw.publish("v1/gateway/attributes", {"A": {"fw": "2.0"}})
            gw.publish("v1/gateway/claim", {"A": {"secretKey": "s"}})
            await asyncio.sleep(0.5)
            bed.platform.set_shared_attributes("A", {"interval": 60}, tenant="acme")
            return mids

        mids = bed.run(before())
        assert all(gw.acks().get(m) == 0 for m in mids)
        old = bed.platform
        if graceful:
            bed.restart(db)
        else:  # the old process "dies": its connections drop, its database is never closed
            bed.run(old.server.close())
            bed.platform = Platform(bed.world, db, old.config)
            bed.platform.listen(bed.net, "platform", 1883)

        async def after():
            await asyncio.sleep(1)
            assert await gw.connect() == 0  # the same token still logs in
            await gw.send("v1/gateway/telemetry", {"A": [{"ts": 5000, "values": {"kwh": 99}}]})
            return await bed.platform.rpc("A", "ping", tenant="acme")

        assert bed.run(after()) == "pong"
        p = bed.platform
        points = p.telemetry("A", tenant="acme")
        assert [(x.ts, x.value) for x in points] == [(1000 + i, i) for i in range(20)] + [
            (5000, 99)
        ]
        assert p.attributes("A", tenant="acme") == {"fw": "2.0"}
        assert p.attributes("A", "shared", tenant="acme") == {"interval": 60}
        device = p.device("A", tenant="acme")
        assert device.type == "meter" and device.gateway == "gw-1"
        assert device.claim is not None and device.claim.secret_key == "s"
        with pytest.raises(NameTaken):
            p.add_gateway("gw-1", "acme")
        if not graceful:
            old.store.close()
    finally:
        bed.close()


def test_tokens_are_stored_as_hashes_and_never_traced(tmp_path):
    db = tmp_path / "platform.db"
    bed = PlatformBed(db=db)
    gw = bed.gateway("gw-1")
    same_as_token = bed.gateway("gw-2")
    same_as_token.client._client_id = same_as_token.token.encode()  # a client id = its token
    wrong = bed.gateway(token="W" * 20, client_id="W" * 20)
    try:

        async def main():
            await gw.connect()
            await same_as_token.connect()
            await wrong.connect()
            await gw.send("v1/gateway/telemetry", {"A": [{"t": 1}]})
            await gw.send("v1/gateway/connect", {"x": 1})  # refused: closes the connection

        bed.run(main())
        stored = {
            name: digest
            for name, digest in sqlite3.connect(db).execute(
                "SELECT d.name, g.token_sha256 FROM gateways g JOIN devices d ON d.id = g.device_id"
            )
        }
        assert stored["gw-1"] == hashlib.sha256(gw.token.encode()).hexdigest()
        raw = db.read_bytes()
        trace = bed.world.trace.dump()
        for token in (gw.token, same_as_token.token, wrong.token):
            assert token.encode() not in raw
            assert token not in trace
        assert '"client_id":"<token>"' in trace
        assert all(
            "token" not in info.as_json() for info in bed.platform.gateways()
        )  # never returned after add_gateway
    finally:
        bed.close()
