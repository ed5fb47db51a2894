"""The Device2 beds (scenarios/device2): the shared verbs on the local bed (virtual time), the
world-control API, worlds, ``hil serve device2`` in its own process (listeners printed, control
API answering) and the remote bed against it over real sockets."""

from __future__ import annotations

import pytest

from devices.protocols.http_client import HttpClient
from scenarios.bed import Bed, BedError
from scenarios.device2.bed import LocalDevice2Bed, RemoteDevice2Bed
from scenarios.device2.load import check_fleet, percentile, place_fleet, provisioning, stop_fleet
from scenarios.device2.worlds import WorldError, load_world, parse_world, populate
from scenarios.device2.worlds import build_bed as build_world_bed
from sim.clock import VIRTUAL
from tests.served import served

US = 1_000_000


@pytest.fixture
def bed(tmp_path):
    local = LocalDevice2Bed(work_dir=tmp_path / "d2")
    local.run(local.start())
    yield local
    local.close()


def ok(response, status=204):
    assert response.status == status, response.text
    return response.json() if status == 200 else None


def test_local_bed_follows_the_bed_protocol_and_devices_run_their_schedules(bed, tmp_path):
    assert isinstance(bed, Bed) and bed.world.clock_mode == VIRTUAL
    client = bed.client()
    ok(bed.run(client.call("addResource", {"alias": "temperature", "format": "number"})))
    assert bed.run(bed.place({"name": "h", "identity": "dev-h", "start": 1})) == "dev-h"
    bed.run(bed.place({"name": "m", "identity": "dev-m", "protocol": "mqtt", "start": 5}))
    bed.run(bed.sleep(25))
    state = ok(bed.run(client.call("getIdentityState", {"identity": "dev-h"})), 200)
    assert state["temperature"]["reported"] == 3
    report = bed.run(bed.device_report("m"))
    assert report["provisioned"] and report["powered"] and report["identity"] == "dev-m"
    bed.run(bed.set_power("m", False))
    bed.run(bed.sleep(1))
    assert [e["type"] for e in bed.events if e["identity"] == "dev-m"][-1] == "disconnect"
    with pytest.raises(BedError, match="no position"):
        bed.run(bed.move("h", [1, 0]))
    with pytest.raises(BedError, match="placed already"):
        bed.run(bed.place({"name": "h"}))
    with pytest.raises(BedError, match="protocol"):
        bed.run(bed.place({"name": "x", "protocol": "coap"}))
    with pytest.raises(BedError, match="unknown fault"):
        bed.run(bed.inject("flood"))
    files = bed.write_evidence(tmp_path / "evidence")
    assert {
        "trace.jsonl",
        "http.jsonl",
        "device-http.jsonl",
        "mqtt.jsonl",
        "devices.jsonl",
        "events.jsonl",
    } <= set(files)
    assert '"type": "CONNECT"' in (tmp_path / "evidence" / "mqtt.jsonl").read_text()


def test_service_restart_keeps_everything_and_a_partition_heals(bed):
    client = bed.client()
    ok(bed.run(client.call("addIdentity", {"identity": "kept"})))
    bed.run(bed.place({"name": "m", "identity": "dev-m", "protocol": "mqtt", "ip": "192.0.2.9"}))
    bed.run(bed.sleep(5))
    bed.run(bed.inject("service_restart"))
    assert bed.restarts == 1
    ok(bed.run(bed.client().call("getIdentity", {"identity": "kept"})), 200)
    bed.run(bed.inject("partition", target="m", seconds=20))
    bed.run(bed.sleep(120))
    device = bed.client("m")
    assert device.stopped is None and len(device.seen("connected")) >= 2
    assert bed.world.trace.records and any(
        r.get("event") == "service_restart" for r in bed.world.trace.records
    )


def test_archive_and_reset(bed):
    url = bed.run(
        bed.archive(
            "2025-12-30",
            [{"identity": "d", "resource": "t", "value": 1, "timestamp": 1767052860 * US}],
        )
    )
    assert url.startswith("file://") and url.endswith("2025-12-30.ndjson")
    ok(bed.run(bed.client().call("addIdentity", {"identity": "gone"})))
    bed.run(bed.place({"name": "h"}))
    bed.run(bed.reset())
    assert bed.devices == {}
    assert ok(bed.run(bed.client().call("countIdentities")), 200) == {"count": 0}


def test_a_small_fleet_is_exact_and_provisions_on_schedule(bed):
    ok(bed.run(bed.client().call("addResource", {"alias": "temperature", "format": "number"})))
    fleet = bed.run(place_fleet(bed, 10, "http", within_s=10, period_s=10))
    bed.run(bed.sleep(65))
    latencies, moments = provisioning(bed, fleet)
    assert max(moments) <= 10 and percentile(latencies, 99) < 1
    bed.run(stop_fleet(bed, fleet))
    result = bed.run(check_fleet(bed, fleet, "1m"))
    assert result.exact and result.written == result.found >= 60, result.summary()


def test_worlds_load_and_refuse_bad_files(tmp_path):
    world = load_world("device2-fleet")
    assert world.devices and world.faults
    with pytest.raises(WorldError, match="faults\\[0\\].action"):
        parse_world({"name": "w", "faults": [{"at": 1, "action": "explode"}]})
    with pytest.raises(WorldError, match="devices\\[0\\]"):
        parse_world({"name": "w", "devices": [{"name": "a", "protocol": "coap"}]})
    with pytest.raises(WorldError, match="unknown keys"):
        parse_world({"name": "w", "radio": {}})
    world_bed = build_world_bed(world, work_dir=tmp_path / "w")
    try:
        world_bed.run(world_bed.start())
        names = world_bed.run(populate(world_bed, world))
        assert len(names) == 21
        world_bed.run(world_bed.sleep(130))
        assert world_bed.restarts == 1
    finally:
        world_bed.close()


def test_hil_serve_device2_prints_listeners_and_serves_control_and_a_remote_bed(tmp_path):
    # No --devices here: resetting a served world while its devices are mid-provisioning on a
    # loaded machine has been seen to stall a reset step (known weakness, see the README); the
    # devices this test needs are placed after the reset.
    with served(
        "device2", "--port", "0", "--control-port", "0", "--devices", "0", "--duration", "60"
    ) as running:
        for role in ("api", "device-http", "device-mqtt", "control"):
            assert running.port(role) > 0, running.output
        assert "0 devices" in running.output
        control = HttpClient(running.address("control"))
        remote = RemoteDevice2Bed(
            running.address("api"),
            running.address("device-http"),
            mqtt=running.address("device-mqtt"),
            control_url=running.address("control"),
        )
        try:
            remote.run(remote.start())  # resets the far side: no devices, a fresh database
            world = remote.run(control.request("GET", "/world")).json()
            assert world["devices"] == [] and world["clock"] == "real"
            ok(
                remote.run(
                    remote.client().call(
                        "addResource", {"alias": "temperature", "format": "number"}
                    )
                )
            )
            remote.run(remote.place({"name": "h", "identity": "dev-h", "start": 1}))
            remote.run(remote.place({"name": "m", "identity": "dev-m", "protocol": "mqtt"}))
            # real time on a possibly busy machine: wait (bounded) until both are provisioned
            # and the HTTP device's first value is stored
            for _ in range(60):
                remote.run(remote.sleep(0.5))
                state = ok(
                    remote.run(remote.client().call("getIdentityState", {"identity": "dev-h"})),
                    200,
                )
                provisioned = remote.client("h").token and remote.client("m").token
                if provisioned and state.get("temperature", {}).get("reported") == 1:
                    break
            assert remote.client("h").token and remote.client("m").token
            assert state["temperature"]["reported"] == 1
            assert {"provisioned", "connect", "data_in"} <= {e["type"] for e in remote.events}
            assert remote.run(remote.service_now_us()) > 1_700_000_000 * US
            remote.run(remote.inject("service_restart"))
            ok(remote.run(remote.client().call("getIdentity", {"identity": "dev-h"})), 200)
            url = remote.run(remote.archive("2025-12-30", []))
            assert url.startswith("file://")
            placed = remote.run(
                control.request(
                    "POST", "/world/devices", json_body={"name": "far", "identity": "far-1"}
                )
            )
            assert placed.status == 201, placed.text
            refused = remote.run(
                control.request(
                    "POST", "/world/devices", json_body={"name": "bad", "auth": "smoke"}
                )
            )
            assert refused.status == 400 and "auth" in refused.json()["error"]
            assert remote.run(control.request("GET", "/world/devices/nope")).status == 404
            doc = remote.run(control.request("GET", "/openapi.json")).json()
            assert "/world/devices/{name}/power" in doc["paths"]
        finally:
            remote.close()
