"""The BLE router's connections, GATT, notifications, RSSI, info and error answers, through its
real HTTP API in virtual time."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from devices.ble.gatt_uuids import BATTERY_LEVEL, CCCD, descriptor_handle
from devices.ble.gatt_uuids import HEART_RATE_CONTROL_POINT as HR_CONTROL
from devices.ble.gatt_uuids import HEART_RATE_MEASUREMENT as HR_MEASUREMENT
from devices.ble.gatt_uuids import HEART_RATE_SERVICE as HR_SERVICE
from devices.ble.peripheral import BlePeripheral, add_peripheral
from scenarios.ble_router.bed import LocalBleBed


@pytest.fixture
def bed(make_bed):
    return make_bed(seed=9)


add = add_peripheral  # add(bed, index, position=..., spec_changes=..., **fields)


async def connect(bed, p: BlePeripheral, **body: Any):
    return await bed.client().request(
        "POST", f"/gap/nodes/{p.address}/connection", json_body={"type": "random", **body}
    )


async def get(bed, path: str, **params: Any):
    return await bed.client().request("GET", path, params=params or None)


async def cccd_of(bed, p: BlePeripheral, uuid: str) -> int:
    r = await get(bed, f"/gatt/nodes/{p.address}/characteristics/{uuid}/descriptors")
    assert r.status == 200, r.text
    handle = descriptor_handle(r.json())
    assert handle is not None, r.json()
    return handle


# -- connections -----------------------------------------------------------------------------------
def test_connect_list_disconnect_with_connection_state_events(bed):
    async def main():
        p = await add(bed, 1)
        async with bed.client().sse("/management/nodes/connection-state") as states:
            r = await connect(bed, p, timeout="10000")
            listed = (await get(bed, "/gap/nodes", connection_state="connected")).json()
            up = await states.next(timeout=1)
            gone = await bed.client().request("DELETE", f"/gap/nodes/{p.address}/connection")
            down = await states.next(timeout=1)
            after = (await get(bed, "/gap/nodes", connection_state="connected")).json()
        await asyncio.sleep(0.1)  # the peer hears LL_TERMINATE_IND too
        return p, r, listed, up, gone, down, after

    p, r, listed, up, gone, down, after = bed.world.run(main())
    assert (r.status, r.text, r.headers["content-type"].split(";")[0]) == (200, "OK", "text/plain")
    assert listed == {
        "nodes": [
            {
                "type": "random",
                "bdaddrs": {"bdaddr": p.address, "bdaddrType": "random"},
                "chipId": 0,
                "handle": "",
                "name": "",
                "connectionState": "connected",  # never scanned
                "id": p.address,
                "pairStatus": "none",
            }
        ]
    }
    assert up.json() == {"handle": p.address, "connectionState": "connected", "chipId": 0}
    assert (gone.status, gone.text) == (200, "OK")
    assert down.json() == {"handle": p.address, "connectionState": "disconnected", "chipId": 0}
    assert after == {"nodes": []}
    assert bed.router.connected_nodes() == [] and p.device.connections == {}


def test_link_loss_and_peer_disconnect_are_reported(bed):
    async def main():
        far = await add(bed, 1)
        leaver = await add(bed, 2, position=(0, 2, 0))
        async with bed.client().sse("/management/nodes/connection-state") as states:
            for p in (far, leaver):
                assert (await connect(bed, p)).status == 200
            await states.collect(0.1)
            t0 = bed.world.now
            far.move((500, 0, 0))
            lost = await states.next(timeout=5)
            lost_after = bed.world.now - t0
            connection = next(iter(leaver.device.connections.values()))
            await connection.disconnect()
            left = await states.next(timeout=5)
        return far, leaver, lost, lost_after, left

    far, leaver, lost, lost_after, left = bed.world.run(main())
    assert lost.json() == {"handle": far.address, "connectionState": "disconnected", "chipId": 0}
    assert 0.9 < lost_after < 1.2  # the 1000 ms supervision timeout
    assert left.json()["handle"] == leaver.address
    assert left.json()["connectionState"] == "disconnected"
    reasons = {
        r["peer"]: r["reason"]
        for r in bed.world.trace.select(node=bed.router.name, event="disconnected")
    }
    assert reasons == {far.address: "0x08", leaver.address: "0x13"}


def test_connections_spread_over_chips_and_chips_have_a_maximum(make_bed):
    bed = make_bed(chips=2, max_connections_per_chip=1)

    async def main():
        ps = [await add(bed, i, position=(2, i, 0)) for i in (1, 2, 3)]
        answers = [await connect(bed, p) for p in ps]
        nodes = (await get(bed, "/gap/nodes", connection_state="connected")).json()["nodes"]
        again = await connect(bed, ps[0])  # already connected: OK
        chip_full = await connect(bed, ps[2], chip=1)
        info = (await get(bed, "/cassia/info")).json()
        return answers, nodes, again, chip_full, info

    answers, nodes, again, chip_full, info = bed.world.run(main())
    assert [a.status for a in answers[:2]] == [200, 200]
    assert answers[2].status == 500 and "maximum of 1" in answers[2].text
    assert sorted(n["chipId"] for n in nodes) == [0, 1]
    assert again.status == 200
    assert chip_full.status == 500 and "chip 1" in chip_full.text
    assert [info["chipinfo"][c]["connected"] for c in ("0", "1")] == [1, 1]


def test_connect_parameters_mtu_and_chip_are_honoured(bed):
    async def main():
        a = await add(bed, 1)
        b = await add(bed, 2, position=(0, 2, 0))
        r1 = await connect(bed, a, mtu=100, chip=1)
        r2 = await bed.client().request(
            "POST",
            f"/gap/nodes/{b.address}/connection",
            form={"type": "random", "timeout": "4000", "mtu": "0"},
        )
        nodes = (await get(bed, "/gap/nodes", connection_state="connected")).json()["nodes"]
        return a, b, r1, r2, nodes

    a, b, r1, r2, nodes = bed.world.run(main())
    assert (r1.status, r2.status) == (200, 200), (r1.text, r2.text)
    assert {n["id"]: n["chipId"] for n in nodes} == {a.address: 1, b.address: 0}
    mtus = {
        r["peer"]: r["mtu"] for r in bed.world.trace.select(node=bed.router.name, event="connected")
    }
    assert mtus == {a.address: 100, b.address: 247}


def test_connect_timeout_wrong_type_and_the_serial_rule(bed):
    async def main():
        p = await add(bed, 1)
        absent = "F0:00:00:00:0F:0F"
        first = asyncio.ensure_future(
            bed.client().request(
                "POST",
                f"/gap/nodes/{absent}/connection",
                json_body={"type": "random", "timeout": 2000},
            )
        )
        await asyncio.sleep(0.5)
        busy = await connect(bed, p)
        t0 = bed.world.now
        timed_out = await first
        waited = bed.world.now - t0
        wrong_type = await bed.client().request(
            "POST", f"/gap/nodes/{p.address}/connection", params={"timeout": 300}
        )  # default public
        ok = await connect(bed, p)
        return busy, timed_out, waited, wrong_type, ok

    busy, timed_out, waited, wrong_type, ok = bed.world.run(main())
    assert busy.status == 500 and "busy connecting to F0:00:00:00:0F:0F" in busy.text
    assert timed_out.status == 500 and "timed out after 2000 ms" in timed_out.text
    assert 1.4 < waited < 1.6
    assert wrong_type.status == 500 and "timed out after 300 ms" in wrong_type.text
    assert ok.status == 200


# -- GATT ------------------------------------------------------------------------------------------
def test_discovery_shapes(bed):
    async def main():
        p = await add(bed, 1)
        assert (await connect(bed, p)).status == 200
        base = f"/gatt/nodes/{p.address}"
        return {
            "services": await get(bed, f"{base}/services"),
            "service": await get(bed, f"{base}/services", uuid="180D"),
            "chars": await get(bed, f"{base}/characteristics"),
            "char": await get(bed, f"{base}/characteristics", uuid=HR_CONTROL),
            "in_service": await get(bed, f"{base}/services/180d/characteristics"),
            "descriptors": await get(bed, f"{base}/characteristics/2A37/descriptors"),
            "all": await get(bed, f"{base}/services/characteristics/descriptors"),
            "no_service": await get(bed, f"{base}/services", uuid="FFF0"),
            "no_char": await get(bed, f"{base}/characteristics/2A38/descriptors"),
        }

    r = bed.world.run(main())
    assert all(x.status == 200 for k, x in r.items() if not k.startswith("no_"))
    services = r["services"].json()
    assert [s["uuid"] for s in services][-2:] == [
        HR_SERVICE,
        "0000180f-0000-1000-8000-00805f9b34fb",
    ]
    assert all(set(s) == {"uuid", "primary", "handle"} and s["primary"] for s in services)
    hr = r["service"].json()
    assert hr["uuid"] == HR_SERVICE and hr == next(s for s in services if s["uuid"] == HR_SERVICE)
    chars = {c["uuid"]: c for c in r["chars"].json()}
    assert chars[HR_MEASUREMENT]["properties"] == 0x12  # read | notify
    assert chars[HR_CONTROL]["properties"] == 0x0C  # write | write without response
    assert chars[BATTERY_LEVEL]["properties"] == 0x22  # read | indicate
    assert r["char"].json() == chars[HR_CONTROL]
    assert [c["uuid"] for c in r["in_service"].json()] == [HR_MEASUREMENT, HR_CONTROL]
    measurement = chars[HR_MEASUREMENT]
    assert r["descriptors"].json() == [
        {"handle": measurement["handle"], "properties": 0x12, "uuid": HR_MEASUREMENT},
        {"handle": measurement["handle"] + 1, "uuid": CCCD},
    ]
    tree = {s["uuid"]: s for s in r["all"].json()}
    hr_chars = tree[HR_SERVICE]["characteristics"]
    assert hr_chars[0]["descriptors"] == [
        {"handle": measurement["handle"], "uuid": HR_MEASUREMENT},
        {"handle": measurement["handle"] + 1, "uuid": CCCD},
    ]
    assert set(tree[HR_SERVICE]) == {"uuid", "primary", "characteristics", "handle"}
    assert r["no_service"].status == 404 and "0000fff0-" in r["no_service"].text
    assert r["no_char"].status == 404 and "00002a38-" in r["no_char"].text


def test_gatt_cache_is_reused_unless_discovergatt_0(bed):
    async def main():
        p = await add(bed, 1)
        path = f"/gatt/nodes/{p.address}/services"
        for body in ({}, {}, {"discovergatt": 0}):
            assert (await connect(bed, p, **body)).status == 200
            assert (await get(bed, path)).status == 200
            await bed.client().request("DELETE", f"/gap/nodes/{p.address}/connection")

    bed.world.run(main())
    discovered = bed.world.trace.select(node=bed.router.name, event="discovered")
    assert len(discovered) == 2  # first connection, then the discovergatt=0 one


def test_read_and_write_by_handle(bed):
    async def main():
        p = await add(bed, 1)
        assert (await connect(bed, p)).status == 200
        chars = {
            c["uuid"]: c["handle"]
            for c in (await get(bed, f"/gatt/nodes/{p.address}/characteristics")).json()
        }
        base = f"/gatt/nodes/{p.address}/handle"
        read = await get(bed, f"{base}/{chars[BATTERY_LEVEL]}/value")
        written = await get(bed, f"{base}/{chars[HR_CONTROL]}/value/01A0")
        quiet = await get(bed, f"{base}/{chars[HR_CONTROL]}/value/02", noresponse=1)
        await asyncio.sleep(0.1)
        return p, chars, read, written, quiet

    p, chars, read, written, quiet = bed.world.run(main())
    assert read.json() == {"handle": str(chars[BATTERY_LEVEL]), "value": "64"}
    assert (written.status, written.text) == (200, "OK") and quiet.status == 200
    assert [(uuid.split()[0], value) for _t, uuid, value in p.writes] == [
        ("UUID-16:2A39", b"\x01\xa0"),
        ("UUID-16:2A39", b"\x02"),
    ]
    writes = bed.world.trace.select(node=bed.router.name, layer="gatt", event="write")
    assert [w["response"] for w in writes] == [True, False]


def test_notifications_after_cccd_0100_and_none_after_0000(bed):
    async def main():
        p1 = await add(bed, 1, notify_hz=2.0)
        p2 = await add(bed, 2, position=(0, 2, 0), notify_hz=1.0)
        for p in (p1, p2):
            assert (await connect(bed, p)).status == 200
        async with (
            bed.client().sse("/gatt/nodes", {"event": 1}) as plain,
            bed.client().sse("/gatt/nodes", {"event": 1, "sequence": 1}) as global_seq,
            bed.client().sse(
                "/gatt/nodes", {"event": 1, "sequence": 2, "timestamp": 1}
            ) as per_device,
        ):
            silent = await plain.collect(2)  # nothing subscribed yet
            handles = {}
            for p in (p1, p2):
                handles[p.address] = await cccd_of(bed, p, HR_MEASUREMENT)
                r = await get(
                    bed, f"/gatt/nodes/{p.address}/handle/{handles[p.address]}/value/0100"
                )
                assert r.text == "OK"
            events = await plain.collect(3)
            r = await get(bed, f"/gatt/nodes/{p1.address}/handle/{handles[p1.address]}/value/0000")
            assert r.status == 200
            await plain.collect(0.2)
            after = await plain.collect(3)
            g = await global_seq.collect(0.1)
            d = await per_device.collect(0.1)
        return p1, p2, silent, events, after, g, d

    p1, p2, silent, events, after, g, d = bed.world.run(main())
    assert silent == []
    got = [e.json() for e in events]
    per = {m: [e for e in got if e["id"] == m] for m in (p1.address, p2.address)}
    assert 5 <= len(per[p1.address]) <= 7 and 2 <= len(per[p2.address]) <= 4  # 2 Hz and 1 Hz
    first = per[p1.address][0]
    assert list(first) == ["value", "id", "handle", "dataType"]
    assert first["dataType"] == "notification"
    assert first["handle"] == handles_of(bed, p1) - 1  # the value handle, not the CCCD
    counts = [int.from_bytes(bytes.fromhex(e["value"]), "little") for e in per[p1.address]]
    assert counts == sorted(counts) and len(set(counts)) == len(counts)  # a live counter
    assert {e.json()["id"] for e in after} == {p2.address}  # p1 stopped, p2 goes on
    seqs = [e.json()["seqNum"] for e in g]
    assert seqs == list(range(1, len(seqs) + 1))
    per_dev = {}
    for e in d:
        j = e.json()
        per_dev.setdefault(j["id"], []).append(j["seqNum"])
        assert j["timestamp"].endswith(" UTC")
    assert all(v == list(range(1, len(v) + 1)) for v in per_dev.values())
    assert set(per_dev) == {p1.address, p2.address}


def handles_of(bed, p: BlePeripheral) -> int:
    """The CCCD handle the router wrote 0100 to for ``p`` (from its own trace)."""
    writes = [
        w
        for w in bed.world.trace.select(node=bed.router.name, event="write")
        if w["peer"] == p.address and w["value"] == "0100"
    ]
    return writes[0]["handle"]


def test_indications_after_cccd_0200(bed):
    thermometer = {
        "services": [
            {
                "uuid": "1809",
                "characteristics": [
                    {
                        "uuid": "2A1C",
                        "properties": ["read", "indicate"],
                        "value": "0000",
                        "model": {"kind": "counter", "period_s": 1.0},
                        "notify_hz": 1.0,
                    }
                ],
            }
        ]
    }

    async def main():
        p = await add(bed, 1, spec_changes=thermometer)
        assert (await connect(bed, p)).status == 200
        handle = await cccd_of(bed, p, "2A1C")
        async with bed.client().sse("/gatt/nodes", {"event": 1}) as stream:
            assert (
                await get(bed, f"/gatt/nodes/{p.address}/handle/{handle}/value/0200")
            ).status == 200
            events = await stream.collect(4.5)
        return p, handle, events

    p, handle, events = bed.world.run(main())
    got = [e.json() for e in events]
    assert len(got) == 4 and {e["dataType"] for e in got} == {"indication"}
    assert {e["handle"] for e in got} == {handle - 1}
    assert p.notifications_sent >= 4  # each one was confirmed by the router


def test_rssi_of_a_connection_falls_with_distance(bed):
    async def main():
        p = await add(bed, 1, position=(1, 0, 0))
        assert (await connect(bed, p)).status == 200
        path = f"/gap/nodes/{p.address}/rssi"
        near = [(await get(bed, path)).json() for _ in range(5)]
        p.move((25, 0, 0))
        far = [(await get(bed, path)).json() for _ in range(5)]
        return p, near, far

    p, near, far = bed.world.run(main())
    assert near[0] == {"id": p.address, "rssi": near[0]["rssi"]}
    mean = lambda xs: sum(x["rssi"] for x in xs) / len(xs)  # noqa: E731
    assert mean(near) - mean(far) > 20


# -- the router itself -----------------------------------------------------------------------------
def test_cassia_info_and_container_fields(bed):
    async def main():
        await asyncio.sleep(12)
        return (
            await get(bed, "/cassia/info"),
            await get(bed, "/cassia/info", fields="container"),
            await get(bed, "/cassia/info", fields="cpu"),
        )

    info, container, bad = bed.world.run(main())
    doc = info.json()
    assert doc["mac"] == "CC:1B:E0:E0:00:01" and doc["model"] == "X1000"
    assert doc["version"] and doc["uptime"] == 12
    assert doc["chipinfo"]["0"]["addr"] == "CC:1B:E0:E0:00:1E"
    assert doc["chipinfo"]["1"]["addr"] == "CC:1B:E0:E0:00:1F"
    assert doc["chipinfo"]["1"]["max"] == 11 and doc["chipinfo"]["0"]["status"] == "Idle"
    assert doc["conn_params"] == {
        "type": 0,
        "latency": 0,
        "conn_max_intval": 30,
        "supvtimeout": 1000,
        "conn_min_intval": 7.5,
        "scan_window": 30,
        "scan_intval": 60,
    }
    assert "container" not in doc
    assert container.json()["container"]["status"] in ("running", "stopped")
    assert bad.status == 400 and "fields='cpu'" in bad.text


@pytest.mark.parametrize(
    "method,path,params,body,status,fragment",
    [
        ("POST", "/gap/nodes/XX:00/connection", None, {}, 400, "'XX:00'"),
        ("POST", "/gap/nodes/{p}/connection", None, {"timeout": 1e5}, 400, "timeout=100000.0"),
        ("POST", "/gap/nodes/{p}/connection", None, {"timeout": "abc"}, 400, "timeout='abc'"),
        ("POST", "/gap/nodes/{p}/connection", None, {"type": "static"}, 400, "type='static'"),
        ("POST", "/gap/nodes/{p}/connection", None, {"mtu": 10}, 400, "mtu=10"),
        ("POST", "/gap/nodes/{p}/connection", None, {"mtu": 499}, 400, "mtu=499"),
        ("POST", "/gap/nodes/{p}/connection", None, {"chip": 2}, 400, "chip=2"),
        ("POST", "/gap/nodes/{p}/connection", {"discovergatt": "2"}, None, 400, "discovergatt=2"),
        ("DELETE", "/gap/nodes/{q}/connection", None, None, 500, "is not connected"),
        ("GET", "/gap/nodes/{q}/rssi", None, None, 500, "is not connected"),
        ("GET", "/gatt/nodes/{q}/services", None, None, 500, "is not connected"),
        ("GET", "/gatt/nodes/{p}/services", {"uuid": "xyz"}, None, 400, "'xyz'"),
        ("GET", "/gatt/nodes/{p}/handle/abc/value", None, None, 400, "handle='abc'"),
        ("GET", "/gatt/nodes/{p}/handle/0/value", None, None, 400, "handle=0"),
        ("GET", "/gatt/nodes/{p}/handle/999/value", None, None, 500, "INVALID_HANDLE"),
        ("GET", "/gatt/nodes/{p}/handle/16/value/123", None, None, 400, "odd number"),
        ("GET", "/gatt/nodes/{p}/handle/16/value/GG", None, None, 400, "'GG'"),
        (
            "GET",
            "/gatt/nodes/{p}/handle/16/value/00",
            {"noresponse": "3"},
            None,
            400,
            "noresponse=3",
        ),
        ("GET", "/gatt/nodes/{q}/handle/16/value/00", None, None, 500, "is not connected"),
        ("GET", "/gatt/nodes", None, None, 400, "event=1"),
        ("GET", "/gatt/nodes", {"event": 1, "sequence": 3}, None, 400, "sequence=3"),
    ],
)
def test_bad_requests_get_clear_errors_and_the_router_keeps_serving(
    bed, method, path, params, body, status, fragment
):
    async def main():
        p = await add(bed, 1)
        q = await add(bed, 2, position=(0, 2, 0))
        assert (await connect(bed, p)).status == 200
        target = path.format(p=p.address, q=q.address)
        if path == "/gatt/nodes" and params:
            async with bed.client().sse(target, params) as s:
                answer = SimpleNamespace(status=s.status, text=s.body.decode(), headers=s.headers)
        else:
            answer = await bed.client().request(method, target, params=params, json_body=body)
        still = await get(bed, f"/gatt/nodes/{p.address}/characteristics")
        return answer, still

    answer, still = bed.world.run(main())
    assert answer.status == status and fragment in answer.text, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    assert still.status == 200


def test_malformed_json_body_is_400(bed):
    async def main():
        return await bed.client().request(
            "POST",
            "/gap/nodes/F0:00:00:00:00:01/connection",
            raw=b"{not json",
            headers={"Content-Type": "application/json"},
        )

    r = bed.world.run(main())
    assert r.status == 400 and "not JSON" in r.text


def test_everything_is_traced(bed):
    async def main():
        p = await add(bed, 1)
        async with bed.client().sse("/gatt/nodes", {"event": 1}):
            await connect(bed, p)
            await get(bed, f"/gatt/nodes/{p.address}/handle/16/value")
            await bed.client().request("DELETE", f"/gap/nodes/{p.address}/connection")
        await asyncio.sleep(0.1)

    bed.world.run(main())
    seen = {(r["layer"], r["event"]) for r in bed.world.trace.select(node=bed.router.name)}
    assert {
        ("sse", "open"),
        ("sse", "close"),
        ("hci", "connect"),
        ("hci", "connected"),
        ("gatt", "read"),
        ("hci", "disconnect"),
        ("hci", "disconnected"),
        ("http", "request"),
    } <= seen


def test_same_seed_same_trace():
    def run() -> str:
        bed = LocalBleBed(seed=3)

        async def main():
            await bed.start()
            p = await add(bed, 1)
            async with bed.client().sse("/gap/nodes", {"event": 1, "active": 1}) as s:
                await s.collect(2)
            async with bed.client().sse("/gatt/nodes", {"event": 1}) as s:
                await connect(bed, p)
                await get(bed, f"/gatt/nodes/{p.address}/handle/17/value/0100")
                await s.collect(2)
            p.move((300, 0, 0))
            await asyncio.sleep(2)
            await bed.router.stop()

        try:
            bed.run(main())
            return bed.world.trace.dump()
        finally:
            bed.close()

    first, second = run(), run()
    assert "supervision-timeout" in first and first == second
