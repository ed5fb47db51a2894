"""The BLE router's BLE side speaks its domain: the central raises domain errors and emits events
with no HTTP in the loop (driven directly, in virtual time), and only the API maps them to a
status and SSE lines."""

from __future__ import annotations

import ast
import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from bumble.utils import EventEmitter

from devices.ble.gatt_uuids import (
    CCCD,
    HEART_RATE_MEASUREMENT,
    cccd_handle,
    descriptor_handle,
    same_uuid,
    uuid128,
)
from devices.ble.peripheral import add_peripheral
from devices.gateways.ble_router import BleRouter, reports
from devices.gateways.ble_router.api_errors import status_of
from devices.gateways.ble_router.central import ScanReport, ScanSubscription
from devices.gateways.ble_router.errors import (
    AttError,
    BleError,
    Busy,
    ChipFull,
    ChipOff,
    InvalidParameter,
    InvalidState,
    LinkLost,
    NotConnected,
    ProcedureFailed,
    StreamLimit,
    Timeout,
    UnknownAttribute,
)
from devices.gateways.ble_router.event_streams import ConnectionStateFeed, NotificationFeed
from devices.gateways.ble_router.events import (
    CONNECTION_STATE,
    NOTIFICATION,
    PAIRING,
    RSSI,
    SCAN_REPORT,
    STOPPED,
)
from devices.gateways.ble_router.pairing import PairRequest
from devices.gateways.ble_router.rssi_monitor import RssiMonitor
from devices.gateways.ble_router.scan_filter import parse_filter
from devices.protocols.http_client import HttpClient
from sim.iplink import IpNetwork
from sim.radio import Radio
from sim.world import World

PACKAGE = Path(__file__).resolve().parents[1] / "devices" / "gateways" / "ble_router"
# The BLE side: no module here may know HTTP (aiohttp) or reach into the API layer.
DOMAIN_MODULES = (
    "advertising",
    "batch",
    "beacons",
    "central",
    "chip",
    "errors",
    "events",
    "gatt",
    "pairing",
    "params",
    "reboot",
    "rssi_monitor",
    "scan_filter",
)
API_MODULES = {
    "api",
    "api_errors",
    "handlers",
    "sse",
    "event_streams",
    "reports",
    "advertise_api",
    "batch_api",
    "login_api",
    "pairing_api",
    "rssi_api",
}


@pytest.fixture
def place():
    """A world, its radio and a powered router that serves no API."""
    world = World(seed=21)
    radio = Radio(world)
    router = BleRouter(world, radio)
    world.run(router.start())
    yield SimpleNamespace(world=world, radio=radio, router=router, central=router.central)
    world.close()


def _imports(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("module", DOMAIN_MODULES)
def test_the_ble_side_imports_no_http(module):
    imported = _imports(module)
    assert not any(name.split(".")[0] == "aiohttp" for name in imported), imported
    api = {f"devices.gateways.ble_router.{m}" for m in API_MODULES}
    assert not imported & api, imported & api


def test_central_raises_domain_errors_without_http(place):
    central = place.central

    async def main() -> dict[str, BleError]:
        p = await add_peripheral(place, 1)
        out: dict[str, BleError] = {}
        for name, call in {
            "read": central.read(p.address, 3),
            "rssi": central.rssi(p.address),
            "disconnect": central.disconnect(p.address),
        }.items():
            with pytest.raises(NotConnected) as err:
                await call
            out[name] = err.value
        await central.connect(p.address, "random", 5.0)
        with pytest.raises(UnknownAttribute) as unknown:
            await central.characteristic(p.address, uuid128("2a6e") or "")
        out["unknown"] = unknown.value
        with pytest.raises(AttError) as att:
            await central.write(p.address, 0x7FFF, b"\x01", with_response=True)
        out["att"] = att.value
        with pytest.raises(Timeout) as timeout:
            await central.connect("F0:00:00:00:00:99", "random", 0.5)
        out["timeout"] = timeout.value
        return out

    out = place.world.run(main())
    assert out["read"].mac == "F0:00:00:00:00:01"
    assert "is not connected" in out["read"].message and status_of(out["read"]) == 500
    assert out["unknown"].kind == "characteristic" and status_of(out["unknown"]) == 404
    assert out["unknown"].uuid == "00002a6e-0000-1000-8000-00805f9b34fb"
    assert out["att"].code == 0x01 and "ATT error 0x01" in out["att"].message
    assert status_of(out["att"]) == 500
    assert "timed out after 500 ms" in out["timeout"].message


def test_the_serial_rule_and_chip_limits_are_domain_errors(place):
    central = place.central

    async def main() -> tuple[BleError, BleError]:
        p1 = await add_peripheral(place, 1)
        p2 = await add_peripheral(place, 2, position=(0.0, 2.0, 0.0))
        first = asyncio.ensure_future(central.connect(p1.address, "random", 5.0))
        await asyncio.sleep(0)
        with pytest.raises(Busy) as busy:
            await central.connect(p2.address, "random", 5.0)
        await first
        central.max_connections_per_chip = 0
        with pytest.raises(ChipFull) as full:
            central.pick_chip(None)
        return busy.value, full.value

    busy, full = place.world.run(main())
    assert "busy connecting to F0:00:00:00:00:01" in busy.message
    assert "maximum of 0 connections" in full.message
    assert status_of(busy) == status_of(full) == 500


def test_central_emits_connection_states_and_notifications(place):
    central = place.central
    states: list[tuple[Any, ...]] = []
    notes: list[tuple[Any, ...]] = []
    central.on(CONNECTION_STATE, lambda *args: states.append(args))
    central.on(NOTIFICATION, lambda *args: notes.append(args))

    async def main() -> str:
        p = await add_peripheral(place, 1, notify_hz=2.0)
        await central.connect(p.address, "random", 5.0)
        char = await central.characteristic(p.address, HEART_RATE_MEASUREMENT)
        cccd = descriptor_handle([{"handle": h, "uuid": u} for h, u in char.descriptors])
        assert cccd is not None
        await central.write(p.address, cccd, b"\x01\x00", with_response=True)
        await asyncio.sleep(2.2)
        await central.disconnect(p.address)
        await asyncio.sleep(0.1)
        return p.address

    mac = place.world.run(main())
    assert states == [(mac, "connected", 0), (mac, "disconnected", 0)]
    assert len(notes) >= 4
    assert {(n[0], n[3]) for n in notes} == {(mac, "notification")}
    assert all(isinstance(n[2], bytes) for n in notes)


def test_a_scan_subscription_emits_reports_and_the_central_stops_them(place):
    central = place.central
    got: list[ScanReport] = []
    stopped: list[bool] = []
    sub = ScanSubscription(
        place.world, parse_filter({"filter_name": "HIL-0002"}), active=False, chips=(0,)
    )
    sub.on(SCAN_REPORT, got.append)
    central.on(STOPPED, lambda: stopped.append(True))

    async def main() -> None:
        await add_peripheral(place, 1)
        await add_peripheral(place, 2, position=(0.0, 2.0, 0.0))
        await central.subscribe_scan(sub)
        await asyncio.sleep(3.5)
        central.power_off()

    place.world.run(main())
    assert len(got) >= 3 and {r.name for r in got} == {"HIL-0002"}
    assert {r.mac for r in got} == {"F0:00:00:00:00:02"} and got[0].evt_type == 0
    assert stopped == [True] and sub.closed
    line = reports.scan_report(got[0].name, 0, got[0].rssi, got[0].data, got[0].mac, "random")
    assert '"bdaddr":"F0:00:00:00:00:02"' in line


def test_the_rssi_monitor_emits_readings_and_skips_lost_links(place):
    central = place.central
    readings: list[tuple[str, int]] = []
    monitor = RssiMonitor(central, threshold=127, interval_s=1.0, macs=None)
    monitor.on(RSSI, lambda mac, rssi: readings.append((mac, rssi)))

    async def main() -> str:
        p = await add_peripheral(place, 1)
        await central.connect(p.address, "random", 5.0)
        monitor.start()
        await asyncio.sleep(2.5)
        p.move((500.0, 0.0, 0.0))  # out of range: readings stop, the link times out
        await asyncio.sleep(4.0)
        monitor.stop()
        return p.address

    mac = place.world.run(main())
    assert readings[:2] and all(m == mac and -90 < r < 0 for m, r in readings)
    assert central.links == {}


def test_pairing_errors_and_events_are_domain_ones(place):
    central = place.central
    ended: list[tuple[str, int]] = []
    central.on(PAIRING, lambda mac, status: ended.append((mac, status)))

    async def main() -> tuple[BleError, BleError]:
        p = await add_peripheral(place, 1)
        with pytest.raises(InvalidState) as no_bond:
            await central.pairing.unbond(p.address)
        with pytest.raises(InvalidState) as nothing:
            central.pairing.awaited_input(p.address)
        step = await central.pairing.pair(p.address, PairRequest(addr_type="random"))
        assert (step.status, step.status_name) == (1, "Pairing Successful")
        return no_bond.value, nothing.value

    no_bond, nothing = place.world.run(main())
    assert "holds no bond" in no_bond.message and "waiting for input" in nothing.message
    assert ended == [("F0:00:00:00:00:01", 1)]


@pytest.mark.parametrize(
    "error, status",
    [
        (InvalidParameter("x=1 is not accepted"), 400),
        (UnknownAttribute("AA:BB:CC:DD:EE:FF", "service", "u", "no such service"), 404),
        (NotConnected("AA:BB:CC:DD:EE:FF", "not connected"), 500),
        (Busy("busy"), 500),
        (ChipFull("full"), 500),
        (ChipOff("off"), 500),
        (InvalidState("nothing waits"), 500),
        (StreamLimit(24, 24, "too many"), 500),
        (ProcedureFailed("failed"), 500),
        (Timeout("late"), 500),
        (AttError(0x0A, "ATT_ATTRIBUTE_NOT_FOUND_ERROR", "att"), 500),
        (LinkLost("lost"), 500),
    ],
)
def test_the_api_maps_each_domain_error_to_a_status(error, status):
    assert status_of(error) == status


def test_the_api_answers_domain_errors_with_their_status_and_message():
    world = World(seed=3)
    try:
        radio = Radio(world)
        net = IpNetwork(world)
        router = BleRouter(world, radio, max_sse_streams=1)

        async def main() -> list[tuple[int, str]]:
            served = await router.serve(net)
            client = HttpClient(served.url, connect=net.open_connection)
            answers = []
            for path in (
                "/gatt/nodes/F0:00:00:00:00:01/handle/3/value",
                "/gatt/nodes/F0:00:00:00:00:01/handle/0/value",
            ):
                r = await client.request("GET", path)
                answers.append((r.status, r.text))
            async with client.sse("/management/nodes/connection-state") as first:
                assert first.status == 200
                async with client.sse("/gatt/nodes", {"event": 1}) as second:
                    answers.append((second.status, second.body.decode()))
            return answers

        not_connected, bad_handle, too_many = world.run(main())
    finally:
        world.close()
    assert not_connected[0] == 500 and "F0:00:00:00:00:01 is not connected" in not_connected[1]
    assert bad_handle[0] == 400 and "handle=0 is out of range" in bad_handle[1]
    assert too_many[0] == 500 and "too many SSE streams: 1 of at most 1" in too_many[1]


class _Lines:
    """An outbox stand-in: the lines a feed pushed."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.dropped = 0

    def push(self, line: str) -> None:
        self.lines.append(line)


def test_feeds_turn_domain_events_into_the_seeds_sse_lines():
    world = World(seed=1)
    try:
        central = EventEmitter()
        notes = NotificationFeed(central, world, sequence=2)  # type: ignore[arg-type]
        states = ConnectionStateFeed(central)  # type: ignore[arg-type]
        notes_out, states_out = _Lines(), _Lines()
        world.run(notes.start(notes_out))  # type: ignore[arg-type]
        world.run(states.start(states_out))  # type: ignore[arg-type]
        for mac in ("AA:00:00:00:00:01", "AA:00:00:00:00:02", "AA:00:00:00:00:01"):
            central.emit(NOTIFICATION, mac, 3, b"\x01\x02", "notification")
        central.emit(CONNECTION_STATE, "AA:00:00:00:00:01", "connect timeout", 1)
        assert notes.stop() == {} and states.stop() == {}
        central.emit(NOTIFICATION, "AA:00:00:00:00:01", 3, b"\x03", "indication")
    finally:
        world.close()
    assert [json.loads(line)["seqNum"] for line in notes_out.lines] == [1, 1, 2]
    assert json.loads(notes_out.lines[0]) == {
        "seqNum": 1,
        "value": "0102",
        "id": "AA:00:00:00:00:01",
        "handle": 3,
        "dataType": "notification",
    }
    assert states_out.lines == [
        '{"handle":"AA:00:00:00:00:01","connectionState":"connect timeout","chipId":1}'
    ]


def test_cccd_lookups_read_any_uuid_spelling():
    tree = [
        {
            "uuid": "0000180d-0000-1000-8000-00805f9b34fb",
            "characteristics": [
                {"uuid": "2A37", "descriptors": [{"handle": 3}, {"handle": "4", "uuid": "2902"}]}
            ],
        }
    ]
    assert CCCD == "00002902-0000-1000-8000-00805f9b34fb"
    assert cccd_handle(tree, HEART_RATE_MEASUREMENT) == 4
    assert cccd_handle(tree, "2a19") is None
    assert same_uuid("0x2902", CCCD) and not same_uuid("29", "29")
    assert uuid128("18-0D") is None and uuid128("0000180D") == uuid128("180d")
    assert same_uuid("UUID-16:2A37 (Heart Rate Measurement)", HEART_RATE_MEASUREMENT)
    assert uuid128("UUID-16:2A37") is None  # not a spelling the API accepts
