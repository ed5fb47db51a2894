"""Unit tests of the BLE router's pure parts: scan filters, AD parsing, parameter validation,
JSON shapes and the chip's advertising-report bytes."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from bumble import hci
from bumble.core import UUID

from devices.ble.gatt_uuids import CCCD
from devices.gateways.ble_router import reports
from devices.gateways.ble_router.api_errors import status_of
from devices.gateways.ble_router.beacons import parse_beacon
from devices.gateways.ble_router.chip import RouterHost, advertising_report_bytes, chip_address
from devices.gateways.ble_router.errors import InvalidParameter
from devices.gateways.ble_router.gatt import (
    GattCharacteristic,
    GattDatabase,
    GattService,
    full_uuid,
)
from devices.gateways.ble_router.params import (
    parse_flag,
    parse_handle,
    parse_hex,
    parse_int,
    parse_mac,
    parse_uuid,
)
from devices.gateways.ble_router.scan_filter import (
    parse_ad,
    parse_duplicates,
    parse_filter,
)

# flags, 16-bit UUIDs 180D + FFF0, manufacturer data, complete name "HIL-0001"
AD = bytes.fromhex("02010605030D18F0FF05FFFFFF0001090948494C2D30303031")
AD_128 = bytes.fromhex("11079ECADC240EE5A9E093F3A3B50100406E")  # 6E400001-B5A3-...


def _bad(fn, *args, fragment: str = "") -> InvalidParameter:
    with pytest.raises(InvalidParameter) as info:
        fn(*args)
    assert status_of(info.value) == 400
    assert fragment in info.value.message
    return info.value


# -- AD parsing ------------------------------------------------------------------------------------
def test_parse_ad_finds_name_and_uuids_big_endian():
    info = parse_ad(AD)
    assert info.name == "HIL-0001"
    assert info.uuids == ("180D", "FFF0")  # air bytes F0 FF -> FFF0, as the seed says
    assert parse_ad(AD_128).uuids == ("6E400001B5A3F393E0A9E50E24DCCA9E",)


def test_parse_ad_prefers_complete_name_and_survives_garbage():
    short_then_complete = bytes.fromhex("0308414203094142") + b""
    assert parse_ad(bytes.fromhex("03084142") + bytes.fromhex("0509") + b"ABCD").name == "ABCD"
    assert parse_ad(short_then_complete).name == "AB"
    assert parse_ad(bytes.fromhex("03084142")).name == "AB"  # shortened only
    assert parse_ad(b"").name is None
    assert parse_ad(bytes.fromhex("0A09414243")).name is None  # truncated structure
    assert parse_ad(bytes.fromhex("00")).uuids == ()  # zero length ends it


# -- the filter ------------------------------------------------------------------------------------
def _match(
    params: dict[str, str], evt=0, mac="F0:00:00:00:00:01", name="HIL-0001", data=AD, rssi=-50
) -> bool:
    f = parse_filter(params)
    return f.match(evt, mac, name, data, rssi, parse_ad(data).uuids)


def test_name_filter_exact_prefix_suffix_any():
    assert _match({"filter_name": "HIL-0001"})
    assert not _match({"filter_name": "HIL-000"})  # exact means exact
    assert _match({"filter_name": "Foo,HIL-0001"})  # any of the list
    assert _match({"filter_name": "HIL*"})
    assert _match({"filter_name": "*0001"})
    assert not _match({"filter_name": "*0002"})
    assert _match({"filter_name": "*"})
    assert not _match({"filter_name": "*"}, name=None)  # "*" needs a name
    assert not _match({"filter_name": "HIL-0001"}, name=None)


def test_mac_filter_exact_and_prefix_case_insensitive():
    assert _match({"filter_mac": "f0:00:00:00:00:01"})
    assert not _match({"filter_mac": "F0:00:00:00:00:02"})
    assert _match({"filter_mac": "AA:BB:CC:DD:EE:FF,F0:00:00*"})
    assert not _match({"filter_mac": "F0:01*"})
    _bad(parse_filter, {"filter_mac": "F0:00:00:00:00"}, fragment="F0:00:00:00:00")
    _bad(parse_filter, {"filter_mac": "zz*"}, fragment="zz*")


def test_rssi_filter_keeps_at_or_above():
    assert _match({"filter_rssi": "-60"}, rssi=-60)
    assert _match({"filter_rssi": "-60"}, rssi=-59)
    assert not _match({"filter_rssi": "-60"}, rssi=-61)
    _bad(parse_filter, {"filter_rssi": "abc"}, fragment="abc")
    _bad(parse_filter, {"filter_rssi": "-200"}, fragment="-127 to 20")


def test_uuid_filter_partial_per_packet():
    assert _match({"filter_uuid": "FFF0"})
    assert _match({"filter_uuid": "fff0"})
    assert _match({"filter_uuid": "80"})  # part of 180D
    assert not _match({"filter_uuid": "F0FF"})  # air order does not match
    assert _match({"filter_uuid": "B5A3F393"}, data=AD_128)
    assert not _match({"filter_uuid": "180D"}, data=AD_128)
    _bad(parse_filter, {"filter_uuid": "6E400001-B5A3"}, fragment="'-'")
    _bad(parse_filter, {"filter_uuid": "XYZ"}, fragment="XYZ")


def test_value_filter_with_and_without_offset_and_lists():
    assert _match({"filter_value": '{"offset":"13","data":"0001"}'})
    assert not _match({"filter_value": '{"offset":"12","data":"0001"}'})
    assert _match({"filter_value": '{"data":"FFFF00"}'})
    assert _match({"filter_value": '[{"offset":"0","data":"AA"},{"offset":0,"data":"0201"}]'})
    assert not _match({"filter_value": '[{"data":"ABCDEF"}]'})
    _bad(parse_filter, {"filter_value": "{offset:7}"}, fragment="not JSON")
    _bad(parse_filter, {"filter_value": '{"offset":"7"}'}, fragment='"data"')
    _bad(parse_filter, {"filter_value": '{"data":"ABC"}'}, fragment="hex")
    _bad(parse_filter, {"filter_value": '{"offset":"x","data":"AB"}'}, fragment="offset")


def test_connectable_means_evt_type_0_or_4():
    assert _match({"connectable": "1"}, evt=0)
    assert _match({"connectable": "1"}, evt=4)
    assert not _match({"connectable": "1"}, evt=3)
    assert not _match({"connectable": "1"}, evt=2)
    _bad(parse_filter, {"connectable": "2"}, fragment="0 or 1")


def test_filter_types_combine_as_all_of():
    params = {"filter_name": "HIL*", "filter_mac": "F0:00:00:00:00:02"}
    assert not _match(params)  # name yes, mac no
    assert _match(params, mac="F0:00:00:00:00:02")
    assert parse_filter({}).empty and not parse_filter({"filter_rssi": "-90"}).empty


def test_duplicates_parameter():
    assert parse_duplicates(None) == (False, None)
    assert parse_duplicates("0") == (False, None)
    assert parse_duplicates("1") == (True, None)
    assert parse_duplicates("2500") == (True, 2.5)
    _bad(parse_duplicates, "500", fragment="greater than 1000")
    _bad(parse_duplicates, "yes", fragment="yes")


# -- parameters ------------------------------------------------------------------------------------
def test_parameter_parsers_name_the_bad_value():
    assert parse_mac("ef:f3:cf:f0:8b:81") == "EF:F3:CF:F0:8B:81"
    _bad(parse_mac, "EF:F3:CF:F0:8B", fragment="EF:F3:CF:F0:8B")
    assert parse_int("timeout", "10000", 200, 20000) == 10000
    assert parse_int("timeout", 300, 200, 20000) == 300
    _bad(parse_int, "timeout", "100", 200, 20000, fragment="timeout=100")
    _bad(parse_int, "timeout", "1e3", 200, 20000, fragment="1e3")
    assert parse_flag("active", "1") and not parse_flag("active", 0)
    _bad(parse_flag, "active", "2", fragment="0 or 1")
    assert parse_handle("37") == 37
    _bad(parse_handle, "0x25", fragment="0x25")
    _bad(parse_handle, "0", fragment="1 to 65535")
    assert parse_hex("value", "FF000c00") == bytes.fromhex("ff000c00")
    _bad(parse_hex, "value", "010", fragment="odd")
    _bad(parse_hex, "value", "01zz", fragment="01zz")
    _bad(parse_hex, "value", "00" * 513, fragment="at most 512")
    assert parse_uuid("180D") == "0000180d-0000-1000-8000-00805f9b34fb"
    assert (
        parse_uuid("6E400001-B5A3-F393-E0A9-E50E24DCCA9E") == "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
    )
    assert parse_uuid("6E400001B5A3F393E0A9E50E24DCCA9E") == "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
    _bad(parse_uuid, "18-0D", fragment="18-0D")
    _bad(parse_uuid, "12345", fragment="12345")


# -- shapes ----------------------------------------------------------------------------------------
def test_scan_report_shape_uses_scan_data_for_scan_responses():
    adv = json.loads(
        reports.scan_report(None, 0, -60, b"\x02\x01\x06", "F0:00:00:00:00:01", "random")
    )
    assert adv == {
        "name": "(unknown)",
        "evtType": 0,
        "rssi": -60,
        "adData": "020106",
        "bdaddrs": [{"bdaddr": "F0:00:00:00:00:01", "bdaddrType": "random"}],
    }
    rsp = json.loads(
        reports.scan_report(
            "X", 4, -61, b"\xab", "CC:1B:E0:00:00:02", "public", stamp="2026-01-01 00:00:00.000 UTC"
        )
    )
    assert rsp["scanData"] == "AB" and "adData" not in rsp and rsp["timestamp"].endswith("UTC")
    assert list(rsp) == ["name", "timestamp", "evtType", "rssi", "scanData", "bdaddrs"]


def test_notification_and_state_shapes():
    n = json.loads(
        reports.notification(b"\xff\x01", "F0:00:00:00:00:01", 16, "notification", seq=3, stamp="t")
    )
    assert n == {
        "seqNum": 3,
        "value": "FF01",
        "id": "F0:00:00:00:00:01",
        "timestamp": "t",
        "handle": 16,
        "dataType": "notification",
    }
    assert json.loads(reports.connection_state("F0:00:00:00:00:01", "connected", 1)) == {
        "handle": "F0:00:00:00:00:01",
        "connectionState": "connected",
        "chipId": 1,
    }
    assert (
        reports.timestamp(dt.datetime(2023, 7, 23, 16, 0, 1, 668000))
        == "2023-07-23 16:00:01.668 UTC"
    )


def test_gatt_shapes_follow_the_seed_examples():
    char = GattCharacteristic(
        "00002a37-0000-1000-8000-00805f9b34fb",
        16,
        15,
        0x12,
        17,
        [(17, CCCD)],
    )
    db = GattDatabase([GattService("0000180d-0000-1000-8000-00805f9b34fb", 14, 17, True, [char])])
    assert reports.database_json(db) == [
        {
            "uuid": "0000180d-0000-1000-8000-00805f9b34fb",
            "primary": True,
            "characteristics": [
                {
                    "descriptors": [
                        {"handle": 16, "uuid": "00002a37-0000-1000-8000-00805f9b34fb"},
                        {"handle": 17, "uuid": "00002902-0000-1000-8000-00805f9b34fb"},
                    ],
                    "handle": 16,
                    "properties": 18,
                    "uuid": "00002a37-0000-1000-8000-00805f9b34fb",
                }
            ],
            "handle": 14,
        }
    ]
    assert full_uuid(UUID("180D")) == "0000180d-0000-1000-8000-00805f9b34fb"
    assert (
        full_uuid(UUID("6E400001-B5A3-F393-E0A9-E50E24DCCA9E"))
        == "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
    )


# -- the chip's HCI bytes -------------------------------------------------------------------------
@pytest.mark.parametrize("evt,data,rssi", [(0, AD, -48), (4, b"", -100), (3, b"\x01" * 31, 5)])
def test_report_bytes_equal_bumbles_and_parse_back(evt, data, rssi):
    address = hci.Address("F0:00:00:00:00:2A")
    bumble = bytes(
        hci.HCI_LE_Advertising_Report_Event(
            [
                hci.HCI_LE_Advertising_Report_Event.Report(
                    event_type=evt,
                    address_type=address.address_type,
                    address=address,
                    data=data,
                    rssi=rssi,
                )
            ]
        )
    )
    ours = advertising_report_bytes(evt, 1, address.address_bytes, data, rssi)
    assert ours == bumble
    got = []
    host = RouterHost.__new__(RouterHost)  # only the fast path is exercised
    host.adv_sink = lambda *args: got.append(args)
    host.snooper = None
    host.ready = True
    host.on_packet(ours)
    assert got == [(evt, 1, address.address_bytes, data, rssi)]


def test_chip_addresses():
    assert chip_address("CC:1B:E0:E0:00:01", 0) == "CC:1B:E0:E0:00:1E"
    assert chip_address("CC:1B:E0:E0:00:01", 1) == "CC:1B:E0:E0:00:1F"


def test_beacons_decode_the_seeds_ibeacon_and_eddystone_frames():
    seed_example = bytes.fromhex("0201061AFF4C000215B9407F30F5F8466EAFF925556B57FE6D0049000AC5")
    assert parse_beacon(seed_example) == {
        "type": "iBeacon",
        "UUID": "B9407F30-F5F8-466E-AFF9-25556B57FE6D",
        "minor": 10,
        "major": 73,
        "txPower": -59,
    }  # 0xC5; the seed's example prints -58
    uid = bytes.fromhex("0303AAFE1716AAFE00EC00112233445566778899AABBCCDDEEFF0000")
    assert parse_beacon(uid) == {
        "type": "Eddystone-UID",
        "txPower": -20,
        "namespace": "00112233445566778899",
        "instance": "AABBCCDDEEFF",
    }
    url = bytes.fromhex("0303AAFE0D16AAFE10EC03") + b"cassia" + bytes.fromhex("07")
    assert parse_beacon(url) == {
        "type": "Eddystone-URL",
        "txPower": -20,
        "url": "https://cassia.com",
    }
    tlm = bytes.fromhex("0303AAFE1116AAFE20000BB818800000001000000020")
    assert parse_beacon(tlm) == {
        "type": "Eddystone-TLM",
        "version": 0,
        "battery": 3000,
        "temperature": 24.5,
        "advCount": 16,
        "secCount": 32,
    }
    assert parse_beacon(AD) is None
    assert json.loads(
        reports.scan_report(
            "x", 3, -1, b"", "F0:00:00:00:00:01", "public", beacon={"type": "iBeacon"}
        )
    )["beacon"] == {"type": "iBeacon"}
