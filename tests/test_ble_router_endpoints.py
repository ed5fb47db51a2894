"""The router's connect parameters (mtu, discovergatt, auto, chip limits), batch connect,
advertising, the RSSI stream and the optional login, through its real HTTP API in virtual
time with Bumble peripherals and a Bumble observer on the simulated radio."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from bumble.snoop import Snooper

from devices.ble.gatt_uuids import descriptor_handle
from devices.ble.observer import BleObserver
from devices.ble.peripheral import BlePeripheral, start_peripheral
from devices.ble.spec import standard_peripheral


@pytest.fixture
def bed(make_bed):
    return make_bed(seed=11)


async def add(
    bed, index: int, position=(2.0, 0.0, 0.0), long_value: int = 0, **kwargs: Any
) -> BlePeripheral:
    spec = standard_peripheral(index, position=position, **kwargs)
    if long_value:
        char = spec["services"][0]["characteristics"][0]
        char["value"] = bytes(range(long_value)).hex()
        char.pop("model")
        char["notify_hz"] = 2.0
    return await start_peripheral(bed, spec)


async def connect(bed, address: str, **body: Any):
    return await bed.client().request(
        "POST", f"/gap/nodes/{address}/connection", json_body={"type": "random", **body}
    )


async def get(bed, path: str, **params: Any):
    return await bed.client().request("GET", path, params=params or None)


async def enable_notifications(bed, p: BlePeripheral) -> None:
    r = await get(bed, f"/gatt/nodes/{p.address}/characteristics/2A37/descriptors")
    cccd = descriptor_handle(r.json())
    assert cccd is not None, r.json()
    assert (await get(bed, f"/gatt/nodes/{p.address}/handle/{cccd}/value/0100")).status == 200


class AttCounter(Snooper):
    """Counts the ATT requests a router chip's host sends (opcode -> count)."""

    def __init__(self) -> None:
        self.requests: dict[int, int] = {}

    def snoop(self, data: bytes, direction: Snooper.Direction) -> None:
        # HCI ACL: 02 | handle(2) | length(2) | L2CAP length(2) | CID(2) | ATT opcode
        if (
            direction == Snooper.Direction.HOST_TO_CONTROLLER
            and len(data) > 9
            and data[0] == 0x02
            and data[7:9] == b"\x04\x00"
        ):
            self.requests[data[9]] = self.requests.get(data[9], 0) + 1


# -- mtu ------------------------------------------------------------------------------------------
def test_mtu_is_exchanged_with_the_peer_and_long_notifications_arrive_whole(bed):
    async def main():
        p = await add(bed, 1, long_value=100)
        small = await add(bed, 2, position=(0, 2, 0), long_value=100)
        capped = await add(bed, 3, position=(0, 3, 0), long_value=100)
        capped.device.gatt_server.max_mtu = 64  # the peripheral's own maximum
        async with bed.client().sse("/gatt/nodes", {"event": "1"}) as stream:
            assert (await connect(bed, p.address)).status == 200  # mtu 0 -> 247
            assert (await connect(bed, small.address, mtu=23)).status == 200
            assert (await connect(bed, capped.address, mtu=498)).status == 200
            for peer in (p, small, capped):
                await enable_notifications(bed, peer)
            events = await stream.collect(2.0)
        peer_mtus = {
            peer.address: next(iter(peer.device.connections.values())).att_mtu
            for peer in (p, small, capped)
        }
        return p, small, capped, [e.json() for e in events], peer_mtus

    p, small, capped, events, peer_mtus = bed.world.run(main())
    traced = {
        r["peer"]: r["mtu"] for r in bed.world.trace.select(node=bed.router.name, event="connected")
    }
    assert traced == {p.address: 247, small.address: 23, capped.address: 64}
    assert peer_mtus == traced  # both ends agree on the exchange
    lengths = {e["id"]: len(bytes.fromhex(e["value"])) for e in events}
    assert lengths == {p.address: 100, small.address: 20, capped.address: 61}
    whole = next(e for e in events if e["id"] == p.address)
    assert whole["value"] == bytes(range(100)).hex().upper()


# -- discovergatt ---------------------------------------------------------------------------------
def test_discovergatt_1_uses_the_cache_without_discovery_on_the_air(bed):
    counter = AttCounter()
    for chip in bed.router.central.chips:
        chip.host.snooper = counter
    read_by_group_type = 0x10  # ATT_READ_BY_GROUP_TYPE_REQ: service discovery

    async def cycle(p: BlePeripheral, **body: Any) -> tuple[int, Any]:
        before = counter.requests.get(read_by_group_type, 0)
        assert (await connect(bed, p.address, **body)).status == 200
        services = await get(bed, f"/gatt/nodes/{p.address}/services")
        await bed.client().request("DELETE", f"/gap/nodes/{p.address}/connection")
        return counter.requests.get(read_by_group_type, 0) - before, services.json()

    async def main():
        p = await add(bed, 1)
        return [
            await cycle(p),
            await cycle(p),
            await cycle(p, discovergatt="1"),
            await cycle(p, discovergatt=0),
        ]

    first, cached, cached_explicit, fresh = bed.world.run(main())
    assert first[0] > 0 and fresh[0] == first[0]
    assert cached[0] == 0 and cached_explicit[0] == 0
    assert first[1] == cached[1] == cached_explicit[1] == fresh[1]


def test_discovergatt_1_serves_a_stale_database_and_0_the_new_one(bed):
    async def main():
        old = await add(bed, 1)
        address = old.address
        assert (await connect(bed, address)).status == 200
        before = (await get(bed, f"/gatt/nodes/{address}/services")).json()
        await bed.client().request("DELETE", f"/gap/nodes/{address}/connection")
        await old.power_off()
        spec = standard_peripheral(1, position=(2.0, 0.0, 0.0))
        spec["name"] = "HIL-0001-v2"
        spec["services"] = spec["services"][:1]  # the battery service is gone
        await start_peripheral(bed, spec)
        assert (await connect(bed, address)).status == 200
        stale = (await get(bed, f"/gatt/nodes/{address}/services")).json()
        await bed.client().request("DELETE", f"/gap/nodes/{address}/connection")
        assert (await connect(bed, address, discovergatt=0)).status == 200
        fresh = (await get(bed, f"/gatt/nodes/{address}/services")).json()
        return before, stale, fresh

    before, stale, fresh = bed.world.run(main())
    assert stale == before
    assert len(fresh) == len(before) - 1
    assert "0000180f-0000-1000-8000-00805f9b34fb" not in [s["uuid"] for s in fresh]


# -- auto, chip -----------------------------------------------------------------------------------
def test_auto_is_accepted_and_no_automatic_reconnection_happens(bed):
    async def main():
        p = await add(bed, 1)
        bad = await connect(bed, p.address, auto=2)
        assert (await connect(bed, p.address, auto=1)).status == 200
        p.move((500.0, 0.0, 0.0))
        await asyncio.sleep(3.0)
        lost = bed.router.is_connected(p.address)
        p.move((2.0, 0.0, 0.0))
        await asyncio.sleep(5.0)
        return bad, lost, bed.router.is_connected(p.address)

    bad, lost, back = bed.world.run(main())
    assert bad.status == 400 and "auto=2" in bad.text
    assert (lost, back) == (False, False)


def test_chip_limit_from_chipinfo_and_chip_selection(make_bed):
    bed = make_bed(chips=2, max_connections_per_chip=2)

    async def main():
        info = (await get(bed, "/cassia/info")).json()["chipinfo"]
        ps = [await add(bed, i, position=(2, i, 0)) for i in range(1, 7)]
        on_zero = [await connect(bed, p.address, chip=0) for p in ps[:3]]
        on_one = [await connect(bed, p.address, chip="1") for p in ps[3:5]]
        anywhere = await connect(bed, ps[5].address)
        bad_chip = await connect(bed, ps[5].address, chip=2)
        nodes = (await get(bed, "/gap/nodes", connection_state="connected")).json()["nodes"]
        return (
            info,
            [r.status for r in on_zero],
            on_zero[2].text,
            [r.status for r in on_one],
            anywhere,
            bad_chip,
            nodes,
        )

    info, zero, full_text, one, anywhere, bad_chip, nodes = bed.world.run(main())
    assert [info[c]["max"] for c in ("0", "1")] == [2, 2]
    assert zero == [200, 200, 500] and "chip 0" in full_text and "maximum is 2" in full_text
    assert one == [200, 200]
    assert anywhere.status == 500 and "maximum of 2" in anywhere.text
    assert bad_chip.status == 400 and "chip=2" in bad_chip.text
    assert sorted(n["chipId"] for n in nodes) == [0, 0, 1, 1]


# -- batch connect --------------------------------------------------------------------------------
def test_batch_connect_connects_the_list_and_reports_connect_timeout(bed):
    absent = "F0:00:00:00:0E:0E"

    async def main():
        a = await add(bed, 1)
        b = await add(bed, 2, position=(0, 2, 0))
        async with bed.client().sse("/management/nodes/connection-state") as states:
            t0 = bed.world.now
            r = await bed.client().request(
                "POST",
                "/gap/batch-connect",
                json_body={
                    "list": [
                        {"type": "random", "addr": a.address},
                        {"type": "random", "addr": absent},
                    ],
                    "timeout": "1000",
                    "per_dev_timeout": "2500",
                },
            )
            more = await bed.client().request(
                "POST",
                "/gap/batch-connect",
                json_body={
                    "list": [
                        {"type": "random", "addr": b.address},
                        {"type": "random", "addr": a.address},
                    ]
                },
            )  # a: not twice
            events = []
            while len(events) < 3:
                event = await states.next(timeout=10)
                assert event is not None
                events.append((round(bed.world.now - t0, 1), event.json()))
        return a, b, r, more, events

    a, b, r, more, events = bed.world.run(main())
    assert (r.status, r.text, more.status) == (200, "OK", 200)
    assert [e for _, e in events] == [
        {"handle": a.address, "connectionState": "connected", "chipId": 0},
        {"handle": absent, "connectionState": "connect timeout", "chipId": 1},
        {"handle": b.address, "connectionState": "connected", "chipId": 1},
    ]
    timeout_at = events[1][0]
    assert 2.4 <= timeout_at - events[0][0] <= 2.8  # per_dev_timeout, with retries
    attempts = bed.world.trace.select(node=bed.router.name, event="attempt-failed")
    assert len(attempts) == 3  # 1000 + 1000 + 500 ms


def test_batch_connect_delete_empties_the_queue(bed):
    async def main():
        absent = [f"F0:00:00:00:0D:{i:02X}" for i in range(3)]
        r = await bed.client().request(
            "POST",
            "/gap/batch-connect",
            json_body={"list": [{"type": "random", "addr": m} for m in absent], "timeout": 500},
        )
        await asyncio.sleep(0.2)
        gone = await bed.client().request("DELETE", "/gap/batch-connect")
        with_body = await bed.client().request("DELETE", "/gap/batch-connect", params={"list": "x"})
        await asyncio.sleep(5.0)
        return r, gone, with_body

    r, gone, with_body = bed.world.run(main())
    assert (r.status, gone.status) == (200, 200)
    assert with_body.status == 400 and "no parameters" in with_body.text
    assert bed.world.trace.select(node=bed.router.name, event="cleared")[0]["dropped"] == 2
    assert bed.world.trace.select(node=bed.router.name, event="connect-timeout") == []


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({"list": [{"addr": "nope"}]}, "list[0].addr"),
        ({"list": [{"type": "static", "addr": "F0:00:00:00:0D:01"}]}, "list[0].type"),
        ({"list": "F0:00:00:00:0D:01"}, "JSON array"),
        ({"list": [], "timeout": 19}, "timeout=19"),
        ({"list": [], "timeout": 20001}, "timeout=20001"),
        ({"list": [], "timeout": 1000, "per_dev_timeout": 999}, "per_dev_timeout=999"),
        ({"list": [], "timeout": "soon"}, "timeout='soon'"),
        ({"lst": []}, "lst"),
    ],
)
def test_batch_connect_bad_input_is_400(bed, body, fragment):
    r = bed.world.run(bed.client().request("POST", "/gap/batch-connect", json_body=body))
    assert r.status == 400 and fragment in r.text, r.text


# -- advertising ----------------------------------------------------------------------------------
def test_router_advertisements_are_heard_by_another_scanner(bed):
    chip0 = bed.router.chip_addresses[0]

    async def main():
        observer = BleObserver(bed.world, bed.radio, position=(3.0, 0.0, 0.0))
        await observer.start(active=True)
        start = await get(
            bed,
            "/advertise/start",
            interval=100,
            ad_type=0,
            ad_data="0201060709526F75746572",
            resp_data="05FF3412ABCD",
        )
        await asyncio.sleep(1.0)
        heard_on = observer.from_address(chip0)
        nonconn = await get(bed, "/advertise/start", interval=200, ad_type=3, ad_data="020106")
        t1 = bed.world.now
        await asyncio.sleep(1.0)
        heard_nonconn = observer.from_address(chip0, since=t1 + 0.01)
        stop = await get(bed, "/advertise/stop")
        t2 = bed.world.now
        await asyncio.sleep(1.0)
        after = observer.from_address(chip0, since=t2 + 0.01)
        await observer.stop()
        return start, heard_on, nonconn, heard_nonconn, stop, after

    start, heard_on, nonconn, heard_nonconn, stop, after = bed.world.run(main())
    assert (start.status, start.text, nonconn.status, stop.status) == (200, "OK", 200, 200)
    adv = [h for h in heard_on if not h.scan_response]
    rsp = [h for h in heard_on if h.scan_response]
    assert 8 <= len(adv) <= 11  # 100 ms + 0-10 ms advDelay
    assert all(h.data.hex().upper() == "0201060709526F75746572" and h.connectable for h in adv)
    assert rsp and all(h.data.hex().upper() == "05FF3412ABCD" for h in rsp)
    assert 4 <= len(heard_nonconn) <= 6
    assert all(
        not h.connectable and not h.scannable and h.data == bytes.fromhex("020106")
        for h in heard_nonconn
    )
    assert after == []


@pytest.mark.parametrize(
    "params, fragment",
    [
        ({"interval": 19, "ad_data": "020106"}, "interval=19"),
        ({"interval": 10001, "ad_data": "020106"}, "interval=10001"),
        ({"ad_type": 5, "ad_data": "020106"}, "ad_type=5"),
        ({"interval": 500}, "ad_data is missing"),
        ({"ad_data": "02010"}, "odd number"),
        ({"ad_data": "zz"}, "not hex"),
        ({"ad_data": "00" * 32}, "at most 31"),
        ({"ad_type": 3, "ad_data": "020106", "resp_data": "020106"}, "resp_data"),
        ({"ad_type": 1, "ad_data": ""}, "peer=<MAC>"),
        ({"ad_data": "020106", "chip": 2}, "chip=2"),
    ],
)
def test_advertise_bad_input_is_400(bed, params, fragment):
    r = bed.world.run(get(bed, "/advertise/start", **params))
    assert r.status == 400 and fragment in r.text, r.text


# -- the RSSI stream ------------------------------------------------------------------------------
def test_rssi_stream_threshold_interval_and_filter_mac(bed):
    async def main():
        near = await add(bed, 1, position=(1.0, 0.0, 0.0))
        far = await add(bed, 2, position=(0.0, 25.0, 0.0))
        for p in (near, far):
            assert (await connect(bed, p.address)).status == 200
        async with bed.client().sse("/gap/rssi") as every:
            all_events = [(bed.world.now, e.json()) for e in await every.collect(3.05)]
        async with bed.client().sse("/gap/rssi", {"rssi": "-60", "rssi_interval": "500"}) as weak:
            weak_events = [e.json() for e in await weak.collect(2.05)]
        prefix = near.address[:8] + "*"
        async with bed.client().sse("/gap/rssi", {"filter_mac": prefix}) as one:
            one_events = [e.json() for e in await one.collect(2.05)]
        bad = await get(bed, "/gap/rssi", rssi_interval="fast")
        bad_mac = await get(bed, "/gap/rssi", filter_mac="nope")
        return near, far, all_events, weak_events, one_events, bad, bad_mac

    near, far, all_events, weak_events, one_events, bad, bad_mac = bed.world.run(main())
    assert len(all_events) == 6  # 2 links x 3 s at 1000 ms
    by_id: dict[str, list[int]] = {}
    for _, e in all_events:
        by_id.setdefault(e["id"], []).append(e["rssi"])
    assert set(by_id) == {near.address, far.address}
    assert max(by_id[far.address]) < min(by_id[near.address])
    assert len(weak_events) == 4 and {e["id"] for e in weak_events} == {far.address}
    assert all(e["rssi"] < -60 for e in weak_events)
    assert one_events and {e["id"] for e in one_events} <= {near.address, far.address}
    assert bad.status == 400 and "rssi_interval='fast'" in bad.text
    assert bad_mac.status == 400 and "nope" in bad_mac.text


# -- login ----------------------------------------------------------------------------------------
def test_login_protects_cassia_apis_until_a_session_cookie_is_shown(make_bed):
    bed = make_bed(credentials=("admin", "s3cret"))

    async def main():
        page = await get(bed, "/cassia/info")
        gap = await get(bed, "/gap/nodes", connection_state="connected")
        wrong = await bed.client().request(
            "POST", "/cassia/login", form={"username": "admin", "password": "nope"}
        )
        as_json = await bed.client().request(
            "POST", "/cassia/login", json_body={"username": "admin", "password": "x"}
        )
        missing = await bed.client().request("POST", "/cassia/login", form={"username": "admin"})
        ok = await bed.client().request(
            "POST", "/cassia/login", form={"username": "admin", "password": "s3cret"}
        )
        cookie = ok.headers.get("set-cookie", "").split(";")[0]
        info = await bed.client().request("GET", "/cassia/info", headers={"Cookie": cookie})
        forged = await bed.client().request("GET", "/cassia/info", headers={"Cookie": "session=00"})
        return page, gap, wrong, as_json, missing, ok, cookie, info, forged

    page, gap, wrong, as_json, missing, ok, cookie, info, forged = bed.world.run(main())
    assert page.status == 401 and page.headers["content-type"].startswith("text/html")
    assert "<form" in page.text and "/cassia/login" in page.text
    assert gap.status == 200  # only /cassia/* is behind it
    assert wrong.status == 401 and "admin" in wrong.text and "nope" not in wrong.text
    assert as_json.status == 400 and "x-www-form-urlencoded" in as_json.text
    assert missing.status == 400 and "password" in missing.text
    assert (ok.status, ok.text) == (200, "OK") and cookie.startswith("session=")
    assert info.status == 200 and info.json()["mac"] == bed.router.mac
    assert forged.status == 401


def test_login_is_off_by_default(bed):
    async def main():
        return (
            await get(bed, "/cassia/info"),
            await bed.client().request(
                "POST", "/cassia/login", form={"username": "a", "password": "b"}
            ),
        )

    info, login = bed.world.run(main())
    assert info.status == 200 and (login.status, login.text) == (200, "OK")
