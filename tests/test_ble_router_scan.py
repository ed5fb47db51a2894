"""The BLE router's scan stream (``GET /gap/nodes?event=1``) through its real HTTP API, in
virtual time: report shapes, active/passive, every filter, duplicates, SSE limits."""

from __future__ import annotations

import asyncio
import json
import statistics
from collections import Counter
from functools import partial
from typing import Any

import pytest

from devices.ble.peripheral import add_peripheral


@pytest.fixture
def bed(make_bed):
    return make_bed()


# add(bed, index, position=..., **advertising fields): the stock sensor, silent, powered on
add = partial(add_peripheral, notify_hz=0)


async def scan(bed, seconds: float, **params: Any) -> list[dict]:
    async with bed.client().sse("/gap/nodes", {"event": 1, **params}) as stream:
        assert stream.status == 200, stream.body
        events = await stream.collect(seconds)
    return [e.json() for e in events]


def macs(events: list[dict]) -> set[str]:
    return {e["bdaddrs"][0]["bdaddr"] for e in events}


# -- shapes, passive and active --------------------------------------------------------------------
def test_passive_scan_reports_every_advertisement_with_the_seed_shape(bed):
    async def main():
        p1 = await add(bed, 1)
        p2 = await add(bed, 2, position=(0, 3, 0))
        events = await scan(bed, 5)
        return p1, p2, events

    p1, p2, events = bed.world.run(main())
    per_device = Counter(e["bdaddrs"][0]["bdaddr"] for e in events)
    assert set(per_device) == {p1.address, p2.address}
    assert all(n in (4, 5) for n in per_device.values())  # 1 Hz for 5 s, every one
    first = next(e for e in events if e["bdaddrs"][0]["bdaddr"] == p1.address)
    assert list(first) == ["name", "evtType", "rssi", "adData", "bdaddrs"]
    assert first["name"] == "HIL-0001" and first["evtType"] == 0
    assert first["adData"] == p1.spec.ad_data.hex().upper()
    assert first["bdaddrs"] == [{"bdaddr": p1.address, "bdaddrType": "random"}]
    assert all(e["evtType"] != 4 for e in events)  # passive: no scan responses
    assert isinstance(first["rssi"], int) and -60 < first["rssi"] < -30


def test_active_scan_adds_scan_responses_and_names_come_from_the_other_packet(bed):
    async def main():
        p = await add(bed, 7, name_in="scan_response")
        passive = await scan(bed, 3)
        active = await scan(bed, 3, active=1)
        return p, passive, active

    p, passive, active = bed.world.run(main())
    assert passive and all(e["name"] == "(unknown)" for e in passive)
    responses = [e for e in active if e["evtType"] == 4]
    adverts = [e for e in active if e["evtType"] == 0]
    assert len(responses) == 3 and len(adverts) == 3
    assert responses[0]["scanData"] == p.spec.scan_response.hex().upper()
    assert "adData" not in responses[0] and responses[0]["name"] == "HIL-0007"
    # the advertisement carries no name, yet once the scan response was heard it is named
    assert adverts[-1]["name"] == "HIL-0007"
    trace = bed.world.trace.select(node=bed.router.name, layer="hci", event="scan-start")
    assert [r["active"] for r in trace] == [False, True]


def test_a_passive_stream_gets_no_scan_responses_while_another_scans_actively(bed):
    async def main():
        await add(bed, 1)
        passive_task = asyncio.ensure_future(scan(bed, 3))
        active = await scan(bed, 3, active=1)
        return await passive_task, active

    passive, active = bed.world.run(main())
    assert {e["evtType"] for e in passive} == {0}
    assert {e["evtType"] for e in active} == {0, 4}


# -- filters ---------------------------------------------------------------------------------------
def test_name_filters_exact_prefix_suffix_and_any(bed):
    async def main():
        await add(bed, 1)  # HIL-0001
        await add(bed, 2)  # HIL-0002
        await add(bed, 3, local_name="OTHER-3")
        await add(bed, 4, name_in="none")
        streams = {
            "exact": scan(bed, 3, filter_name="HIL-0002,NOPE"),
            "prefix": scan(bed, 3, filter_name="OTH*"),
            "suffix": scan(bed, 3, filter_name="*0001"),
            "any": scan(bed, 3, filter_name="*"),
            "all": scan(bed, 3),
        }
        results = await asyncio.gather(*streams.values())
        return dict(zip(streams, results, strict=True))

    got = bed.world.run(main())
    names = {k: {e["name"] for e in v} for k, v in got.items()}
    assert names["exact"] == {"HIL-0002"}
    assert names["prefix"] == {"OTHER-3"}
    assert names["suffix"] == {"HIL-0001"}
    assert names["any"] == {"HIL-0001", "HIL-0002", "OTHER-3"}
    assert names["all"] == {"HIL-0001", "HIL-0002", "OTHER-3", "(unknown)"}


def test_mac_filter_exact_and_prefix_and_all_of_with_name(bed):
    async def main():
        ps = [await add(bed, i) for i in (1, 2, 0x101)]
        got = await asyncio.gather(
            scan(bed, 2.5, filter_mac=ps[1].address.lower()),
            scan(bed, 2.5, filter_mac="F0:00:00:00:01*"),
            scan(bed, 2.5, filter_mac="F0:00:00:00:00*", filter_name="HIL-0001,HIL-0257"),
        )
        return ps, got

    ps, (exact, prefix, combined) = bed.world.run(main())
    assert macs(exact) == {ps[1].address}
    assert macs(prefix) == {ps[2].address}  # F0:00:00:00:01:01
    assert macs(combined) == {ps[0].address}  # name and mac must both match


def test_rssi_filter_and_rssi_falls_with_distance(bed):
    async def main():
        near = await add(bed, 1, position=(1, 0, 0))
        far = await add(bed, 2, position=(30, 0, 0))
        everything, strong = await asyncio.gather(scan(bed, 6), scan(bed, 6, filter_rssi=-60))
        return near, far, everything, strong

    near, far, everything, strong = bed.world.run(main())
    rssi = {
        m: [e["rssi"] for e in everything if e["bdaddrs"][0]["bdaddr"] == m]
        for m in (near.address, far.address)
    }
    assert statistics.mean(rssi[near.address]) > statistics.mean(rssi[far.address]) + 20
    assert macs(strong) == {near.address}
    assert all(e["rssi"] >= -60 for e in strong)


def test_uuid_filter_matches_part_of_the_big_endian_uuid(bed):
    async def main():
        hr = await add(bed, 1)  # 180D
        custom = await add(bed, 2, service_uuids=["FFF0"])
        nus = await add(
            bed, 3, service_uuids=["6E400001-B5A3-F393-E0A9-E50E24DCCA9E"], name_in="none"
        )
        got = await asyncio.gather(
            scan(bed, 2.5, filter_uuid="FFF0"),
            scan(bed, 2.5, filter_uuid="180d,B5A3F3"),
            scan(bed, 2.5, filter_uuid="F0FF"),
        )
        return hr, custom, nus, got

    hr, custom, nus, (fff0, several, air_order) = bed.world.run(main())
    assert macs(fff0) == {custom.address}
    assert macs(several) == {hr.address, nus.address}
    assert air_order == []


def test_value_filter_with_offset_without_offset_and_as_a_list(bed):
    async def main():
        ps = [await add(bed, i) for i in (1, 2, 3)]
        # standard adData: 020106 03030D18 05FFFFFF<index:2> 0909<name>; index is at offset 11
        got = await asyncio.gather(
            scan(bed, 2.5, filter_value='{"offset":"11","data":"0002"}'),
            scan(bed, 2.5, filter_value='{"data":"FFFF0003"}'),
            scan(bed, 2.5, filter_value='[{"offset":"11","data":"0001"},{"data":"FFFF0003"}]'),
        )
        return ps, got

    ps, (offset, anywhere, listed) = bed.world.run(main())
    assert macs(offset) == {ps[1].address}
    assert macs(anywhere) == {ps[2].address}
    assert macs(listed) == {ps[0].address, ps[2].address}


def test_connectable_filter_keeps_evt_types_0_and_4(bed):
    async def main():
        conn = await add(bed, 1)  # ADV_IND
        beacon = await add(bed, 2, type="ADV_NONCONN_IND")
        scannable = await add(bed, 3, type="ADV_SCAN_IND")
        everything, connectable = await asyncio.gather(
            scan(bed, 3, active=1), scan(bed, 3, active=1, connectable=1)
        )
        return conn, beacon, scannable, everything, connectable

    conn, beacon, scannable, everything, connectable = bed.world.run(main())
    assert {e["evtType"] for e in everything} == {0, 2, 3, 4}
    assert {e["evtType"] for e in connectable} == {0, 4}
    assert beacon.address not in macs(connectable)
    # the seed's rule is literal: scan responses (4) pass, whoever sent them
    assert {(e["bdaddrs"][0]["bdaddr"], e["evtType"]) for e in connectable} == {
        (conn.address, 0),
        (conn.address, 4),
        (scannable.address, 4),
    }


def test_duplicate_filter_once_and_restarted_every_period(bed):
    async def main():
        ps = [await add(bed, i, position=(2, i, 0)) for i in (1, 2)]
        once, restarted = await asyncio.gather(
            scan(bed, 5.5, filter_duplicates=1), scan(bed, 5.5, filter_duplicates=2000)
        )
        return ps, once, restarted

    ps, once, restarted = bed.world.run(main())
    assert Counter(e["bdaddrs"][0]["bdaddr"] for e in once) == {p.address: 1 for p in ps}
    per_device = Counter(e["bdaddrs"][0]["bdaddr"] for e in restarted)
    assert per_device == {p.address: 3 for p in ps}  # periods [0,2) [2,4) [4,5.5)


def test_report_interval_batches_the_latest_report_per_device(bed):
    async def main():
        await add(bed, 1)
        arrivals = []
        async with bed.client().sse("/gap/nodes", {"event": 1, "report_interval": 2000}) as s:
            t0 = bed.world.now
            while bed.world.now - t0 < 5:
                event = await s.next(timeout=5 - (bed.world.now - t0))
                if event is not None:
                    arrivals.append(bed.world.now - t0)
        return arrivals

    arrivals = bed.world.run(main())
    assert len(arrivals) == 2  # one per flush, at 2 s and 4 s
    assert all(abs(a - round(a)) < 0.01 for a in arrivals)


def test_beacon_data_is_decoded_on_request(bed):
    ibeacon = "0201061AFF4C000215B9407F30F5F8466EAFF925556B57FE6D0049000AC5"  # the seed's

    async def main():
        await add(bed, 1, ad_data=ibeacon, type="ADV_NONCONN_IND")
        return await asyncio.gather(scan(bed, 1.5, beacon=1), scan(bed, 1.5))

    decoded, plain = bed.world.run(main())
    assert decoded[0]["beacon"] == {
        "type": "iBeacon",
        "UUID": "B9407F30-F5F8-466E-AFF9-25556B57FE6D",
        "minor": 10,
        "major": 73,
        "txPower": -59,
    }
    assert list(decoded[0])[:2] == ["name", "beacon"] and decoded[0]["adData"] == ibeacon
    assert "beacon" not in plain[0]


def test_timestamp_and_chip_selection(make_bed):
    bed = make_bed()

    async def main():
        await add(bed, 1)
        return await asyncio.gather(scan(bed, 2.5, timestamp=1, chip=1), scan(bed, 2.5, chip="all"))

    stamped, both = bed.world.run(main())
    assert stamped and all(
        e["timestamp"].startswith("2026-01-01 00:00:0") and e["timestamp"].endswith(" UTC")
        for e in stamped
    )
    assert {e["chipId"] for e in both} == {0, 1}  # each chip hears it
    starts = bed.world.trace.select(node=bed.router.name, event="scan-start")
    assert sorted(r["chip"] for r in starts) == [0, 1]


def test_scanning_stops_when_the_last_stream_closes(bed):
    async def main():
        await add(bed, 1)
        await scan(bed, 1.5)
        await asyncio.sleep(0.1)
        info = (await bed.client().request("GET", "/cassia/info")).json()
        return info

    info = bed.world.run(main())
    assert info["chipinfo"]["0"]["scan_en"] == "0"
    events = [
        r["event"]
        for r in bed.world.trace.select(node=bed.router.name, layer="hci")
        if r["event"].startswith("scan-")
    ]
    assert events == ["scan-subscribe", "scan-start", "scan-unsubscribe", "scan-stop"]
    assert bed.router.open_streams == 0


# -- errors and limits -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "params,fragment",
    [
        ({"active": "2"}, "active=2"),
        ({"filter_rssi": "strong"}, "filter_rssi='strong'"),
        ({"filter_rssi": "-300"}, "filter_rssi=-300"),
        ({"filter_duplicates": "500"}, "filter_duplicates=500"),
        ({"filter_mac": "12:34"}, "'12:34'"),
        ({"filter_uuid": "FF-F0"}, "'FF-F0'"),
        ({"filter_value": "{bad"}, "not JSON"),
        ({"chip": "5"}, "chip=5"),
        ({"report_interval": "10"}, "report_interval=10"),
        ({"timestamp": "yes"}, "timestamp='yes'"),
    ],
)
def test_bad_scan_parameters_are_400_and_open_no_stream(bed, params, fragment):
    async def main():
        async with bed.client().sse("/gap/nodes", {"event": 1, **params}) as s:
            return s.status, s.body.decode()

    status, body = bed.world.run(main())
    assert status == 400 and fragment in body, body
    assert bed.router.open_streams == 0


def test_gap_nodes_without_event_or_state_is_400(bed):
    r = bed.world.run(bed.client().request("GET", "/gap/nodes"))
    assert r.status == 400 and "event=1" in r.text
    r = bed.world.run(bed.client().request("GET", "/gap/nodes", params={"event": 2}))
    assert r.status == 400 and "event='2'" in r.text


def test_sse_stream_limit_answers_500_and_frees_slots_when_clients_leave(make_bed):
    bed = make_bed(max_sse_streams=3)

    async def main():
        c = bed.client()
        opened = [
            c.sse("/gap/nodes", {"event": 1, "filter_name": "never"}),
            c.sse("/gatt/nodes", {"event": 1}),
            c.sse("/management/nodes/connection-state"),
        ]
        for s in opened:
            await s.open()
            assert s.status == 200
        extra = c.sse("/management/nodes/connection-state")
        await extra.open()
        refused = (extra.status, extra.body.decode(), bed.router.open_streams)
        opened[0].close()  # a client goes away silently
        await asyncio.sleep(0.05)
        after_close = bed.router.open_streams
        again = c.sse("/gap/nodes", {"event": 1})
        await again.open()
        ok = again.status
        again.close()
        for s in opened[1:]:
            s.close()
        info = await c.request("GET", "/cassia/info")  # still serving
        return refused, after_close, ok, info.status

    (status, body, open_then), after_close, ok, info_status = bed.world.run(main())
    assert status == 500 and "too many SSE streams" in body and "3" in body
    assert open_then == 3 and after_close == 2 and ok == 200 and info_status == 200


def test_scan_events_are_json_lines_in_data_fields(bed):
    async def main():
        await add(bed, 1)
        reader, writer = await bed.net.open_connection("router", 80)
        writer.write(b"GET /gap/nodes?event=1 HTTP/1.1\r\nHost: router\r\n\r\n")
        await asyncio.sleep(1.5)
        raw = await reader.read(65536)
        writer.close()
        return raw.decode()

    raw = bed.world.run(main())
    head, _, body = raw.partition("\r\n\r\n")
    assert "text/event-stream" in head
    lines = [line for line in body.splitlines() if line.startswith("data: ")]
    assert lines and json.loads(lines[0][len("data: ") :])["name"] == "HIL-0001"
