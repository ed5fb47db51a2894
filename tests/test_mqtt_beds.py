"""The MQTT system's beds (both roles), their verbs, the judges they feed (transcript, sniffer,
continuity), ``hil serve mqtt-platform`` / ``hil serve mqtt-gateway`` with their control APIs,
and the remote beds against those served systems (real time, short)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.endpoints import check_declaration
from conformance.sut import SutError, parse_sut
from devices.protocols.http_client import HttpClient
from devices.protocols.mqtt import Connect, PubAck, Publish, encode
from scenarios.bed import BedError
from scenarios.mqtt_gateway.bed import (
    TELEMETRY,
    LocalGatewayBed,
    LocalPlatformBed,
    RemoteGatewayBed,
    RemotePlatformBed,
    readings,
)
from scenarios.mqtt_gateway.continuity import judge_continuity
from scenarios.mqtt_gateway.deviations import DEVIATIONS, split
from scenarios.mqtt_gateway.slaves import TICKS_ADDRESS
from scenarios.mqtt_gateway.transcript import C2S, S2C, Transcript, WireTap
from scenarios.mqtt_gateway.worlds import WORLDS_DIR, WorldError, load_world, parse_world
from tests.served import served

# -- the judges ----------------------------------------------------------------------------------


def test_continuity_names_lost_duplicated_and_reordered_readings() -> None:
    sent = {"A": [1, 2, 3, 4, 5], "B": [10, 11]}
    received = [("A", 1), ("A", 3), ("A", 2), ("A", 3), ("B", 10), ("B", 11), ("A", 5)]
    verdict = judge_continuity(sent, received)
    assert verdict.lost == {"A": [4]}
    assert verdict.duplicated == {"A": [3]}
    assert verdict.reordered == {"A": [2]}
    assert not verdict.ok
    assert verdict.counts() == {
        "sent": 7,
        "received": 7,
        "lost": 1,
        "duplicated": 1,
        "reordered": 1,
    }
    assert "1 lost" in verdict.summary()
    assert judge_continuity({"A": [1, 2]}, [("A", 1), ("A", 2)]).ok


def test_a_resend_after_an_unheard_acknowledgement_is_no_duplicate() -> None:
    sent = {"A": [1, 2]}
    received = [("A", 1), ("A", 1), ("A", 2)]
    assert judge_continuity(sent, received, [("A", 1)]).ok
    assert judge_continuity(sent, received).duplicated == {"A": [1]}
    # excused once, accepted three times: still one too many
    thrice = [("A", 1), ("A", 1), ("A", 1), ("A", 2)]
    assert judge_continuity(sent, thrice, [("A", 1)]).duplicated == {"A": [1]}


def test_telemetry_readings_come_from_arrays_and_plain_maps() -> None:
    payload = {"M1": [{"ts": 1, "values": {"ticks": 5}}, {"ticks": 6}], "M2": {"ticks": 7}}
    assert readings(payload, "ticks") == [("M1", 5), ("M1", 6), ("M2", 7)]
    assert readings("not an object", "ticks") == []


def test_the_transcript_pairs_publishes_with_their_acknowledgements() -> None:
    clock = iter(range(100))
    transcript = Transcript.new(lambda: float(next(clock)))
    hook = transcript.server_hook()
    hook("gw:1", "in", Connect("gw-1", 5, True, 60, "secret-token", None))
    hook(
        "gw:1", "in", Publish(TELEMETRY, b'{"A": [{"ts": 1, "values": {"t": 1}}]}', 1, packet_id=1)
    )
    hook("gw:1", "out", PubAck(1, 0))
    hook("gw:1", "in", Publish(TELEMETRY, b"not json", 1, packet_id=2))
    hook("gw:1", "out", PubAck(2, 0x99))
    first, second = transcript.publishes(TELEMETRY)
    assert transcript.rows[0]["username"] == "<token>"  # never the token itself
    assert "secret-token" not in json.dumps(transcript.rows)
    assert first["payload"] == {"A": [{"ts": 1, "values": {"t": 1}}]}
    assert second["payload_text"] == "not json"
    assert transcript.accepted(first) and not transcript.accepted(second)
    assert transcript.ack_confirmed(first)  # the gateway sent more after the PUBACK
    assert not transcript.ack_confirmed(second)  # nothing came after this one
    assert transcript.accepted_publishes(TELEMETRY) == [first]


def test_a_wire_tap_decodes_both_directions() -> None:
    class Sink:
        written = b""

        def write(self, data: bytes) -> None:
            self.written += data

        def close(self) -> None:
            pass

        def is_closing(self) -> bool:
            return False

        def get_extra_info(self, name: str, default: Any = None) -> Any:
            return default

    class Inner:
        got = b""
        transport: Any = None

        def connection_made(self, transport: Any) -> None:
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            self.got += data

    transcript = Transcript.new(lambda: 0.0)
    inner, sink = Inner(), Sink()
    tap = WireTap(inner, transcript, "gw#1")  # type: ignore[arg-type]
    tap.connection_made(sink)  # type: ignore[arg-type]
    inner.transport.write(encode(Connect("gw-1", 4, True, 60, "tok", None), 4))
    tap.data_received(encode(PubAck(3, 0), 4))
    assert [(r["dir"], r["type"]) for r in transcript.rows] == [(C2S, "CONNECT"), (S2C, "PUBACK")]
    assert sink.written and inner.got  # the bytes went through unchanged


# -- the gateway role, locally ---------------------------------------------------------------------


@pytest.fixture
def gateway_bed(tmp_path: Path) -> Any:
    bed = LocalGatewayBed(work_dir=tmp_path)
    bed.run(bed.start())
    yield bed
    bed.close()


def test_the_gateway_bed_brings_up_platform_meters_and_gateway(gateway_bed: Any) -> None:
    bed = gateway_bed
    control = bed.client()

    async def main() -> Any:
        await bed.sleep(15)
        return (
            await control.device("Meter 1"),
            await control.telemetry("Meter 2", "ticks"),
            await control.rpc("Meter 1", "getSetpoint"),
        )

    meter, ticks, rpc = bed.run(main())
    assert meter["active"] and meter["gateway"] == "gw-1"
    assert len(ticks) >= 10
    assert rpc.outcome == "ok" and rpc.data == {"success": True, "value": 20.0}
    heard = bed.sniffer.ticks(2)
    assert [v for _t, v in heard][-5:] and all(
        a < b for (_, a), (_, b) in zip(heard, heard[1:], strict=False)
    )
    assert {p["value"] for p in ticks} <= {v for _t, v in heard}
    with pytest.raises(BedError, match="one platform"):
        bed.client("another")


def test_gateway_bed_faults_lose_nothing_and_reconnect(gateway_bed: Any) -> None:
    bed = gateway_bed

    async def main() -> None:
        await bed.sleep(3)
        for fault, args in (
            ("broker_outage", {"seconds": 20}),
            ("partition", {"seconds": 100}),
            ("gateway_restart", {}),
            ("gateway_crash", {"down_s": 2}),
            ("platform_restart", {}),
        ):
            await bed.inject(fault, **args)
            await bed.sleep(40)

    bed.run(main())
    verdict = bed.continuity()
    assert verdict.ok, verdict.evidence()
    assert verdict.sent > 150
    assert len(bed.transcript.accepted_connections()) >= 5
    faults = [r["event"] for r in bed.world.trace.records if r["layer"] == "fault"]
    assert faults == [
        "broker_outage",
        "partition",
        "gateway_restart",
        "gateway_crash",
        "platform_restart",
    ]
    with pytest.raises(BedError, match="unknown fault 'meteor'"):
        bed.run(bed.inject("meteor"))


def test_gateway_bed_meters_power_refusals_and_evidence(gateway_bed: Any, tmp_path: Path) -> None:
    bed = gateway_bed

    async def main() -> None:
        await bed.sleep(3)
        await bed.set_power("Meter 1", False)
        await bed.sleep(10)
        await bed.set_power("1", True)
        assert await bed.place({"unit": 9}) == 9
        bed.refuse(TELEMETRY, 0x97, 1)
        await bed.sleep(10)

    bed.run(main())
    disconnects = bed.transcript.accepted_publishes("v1/gateway/disconnect")
    assert [r["payload"] for r in disconnects] == [{"device": "Meter 1"}]
    refused = [
        r
        for r in bed.transcript.publishes(TELEMETRY)
        if (bed.transcript.ack_of(r) or {}).get("reason") == 0x97
    ]
    assert len(refused) == 1
    with pytest.raises(BedError, match="unit 5"):
        bed.run(bed.set_power("5", True))
    with pytest.raises(BedError, match="no position|cannot"):
        bed.run(bed.move("Meter 1", [1, 2, 3]))
    bed.note("something", {"judged": True})
    files = bed.write_evidence(tmp_path / "evidence")
    assert set(files) >= {"trace.jsonl", "mqtt.jsonl", "modbus.jsonl", "findings.json"}
    findings = json.loads((tmp_path / "evidence" / "findings.json").read_text())
    assert findings["something"] == {"judged": True} and "gateway_queue" in findings
    rows = (tmp_path / "evidence" / "modbus.jsonl").read_text().splitlines()
    assert any(json.loads(r)["address"] <= TICKS_ADDRESS for r in rows)


def test_the_gateway_bed_moves_and_powers_its_ble_sensor(gateway_bed: Any) -> None:
    bed = gateway_bed

    async def main() -> Any:
        await bed.sleep(5)
        await bed.move("HR 1", [400.0, 0.0, 0.0])
        await bed.sleep(30)
        away = [r["payload"] for r in bed.transcript.accepted_publishes("v1/gateway/disconnect")]
        await bed.move("HR 1", [2.0, 0.0, 0.0])
        await bed.sleep(30)
        return away, await bed.client().rpc("HR 1", "setControl", {"value": 3})

    away, rpc = bed.run(main())
    assert {"device": "HR 1"} in away
    assert rpc.outcome == "ok" and rpc.data == {"success": True}


def test_a_world_file_places_its_devices_and_arms_its_faults(tmp_path: Path) -> None:
    world = yaml.safe_load((WORLDS_DIR / "gateway-room.yaml").read_text())
    world.update(
        meters=[{"name": "Meter 1", "unit": 1}],
        peripherals=[],
        faults=[{"at": 5, "action": "broker_outage", "seconds": 3}],
    )
    world["gateway"]["modbus"]["devices"] = world["gateway"]["modbus"]["devices"][:1]
    path = tmp_path / "one-meter.yaml"
    path.write_text(yaml.safe_dump(world))
    bed = LocalGatewayBed(world_file=path, work_dir=tmp_path)
    try:
        bed.run(bed.start())
        bed.run(bed.sleep(20))
        assert sorted(bed.meters) == [1] and not bed.peripherals
        assert [r["event"] for r in bed.world.trace.records if r["layer"] == "fault"] == [
            "broker_outage"
        ]
        assert len(bed.transcript.accepted_connections()) == 2
    finally:
        bed.close()
    with pytest.raises(WorldError, match=r"faults\[0\].action 'meteor'"):
        parse_world({"name": "w", "faults": [{"at": 1, "action": "meteor"}]})
    with pytest.raises(WorldError, match="no MQTT world 'nowhere'; built-in worlds: gateway-room"):
        load_world("nowhere")


# -- the platform role, locally --------------------------------------------------------------------


def test_the_platform_bed_gives_gateways_devices_and_faults(tmp_path: Path) -> None:
    bed = LocalPlatformBed(work_dir=tmp_path)

    async def main() -> Any:
        await bed.start()
        gw = await bed.gateway("gw-1")
        assert gw is await bed.gateway("gw-1") and bed.client() is gw
        assert await gw.connect() == 0
        assert await bed.place({"device": "Device A", "type": "meter"}) == "Device A"
        await gw.send(TELEMETRY, {"Device A": [{"ts": 1000, "values": {"t": 1}}]})
        first = await bed.platform_control().rpc("Device A", "ping", {"n": 1})
        await bed.set_power("Device A", False)
        gone = await bed.platform_control().rpc("Device A", "ping", {"n": 2})
        await bed.set_power("Device A", True)
        for fault in ("gateway_restart", "gateway_crash", "broker_outage", "platform_restart"):
            await bed.inject(fault, seconds=2, down_s=1)
            if not gw.connected:
                assert await gw.connect() == 0
        stored = await bed.platform_control().telemetry("Device A", "t")
        return first, gone, stored

    try:
        first, gone, stored = bed.run(main())
        assert first.outcome == "ok" and first.data == {"success": True, "params": {"n": 1}}
        assert gone.outcome == "no-active-connection"
        assert stored == [{"ts": 1000, "key": "t", "value": 1}]  # the platform kept its data
        with pytest.raises(BedError, match="no harness gateway named 'gw-9'"):
            bed.client("gw-9")
        with pytest.raises(BedError, match="no device named"):
            bed.run(bed.set_power("Device Z", False))
        files = bed.write_evidence(tmp_path / "evidence")
        assert {"trace.jsonl", "mqtt.jsonl"} <= set(files)
        types = {r["type"] for r in bed.transcript.rows}
        assert {"CONNECT", "CONNACK", "SUBSCRIBE", "SUBACK", "PUBLISH", "PUBACK"} <= types
    finally:
        bed.close()


def test_deviations_split_by_implementation() -> None:
    assert split(["platform-rpc-ids-from-1", "gateway-qos0"]) == (
        ("platform-rpc-ids-from-1",),
        ("gateway-qos0",),
    )
    assert all(name.startswith(("platform-", "gateway-")) for name in DEVIATIONS)


# -- declarations ----------------------------------------------------------------------------------


def _declaration(role: str, block: dict[str, Any]) -> Any:
    return parse_sut(
        {
            "name": "outside",
            "identity": {"vendor": "v", "model": "m", "firmware": "1"},
            "role": role,
            "endpoints": {"mqtt-gateway": block},
            "capabilities": ["mqtt-platform-role"],
        }
    )


def test_declarations_of_both_roles_are_checked() -> None:
    check_declaration(_declaration("server", {"mqtt": "127.0.0.1:1883"}), "mqtt-gateway")
    with pytest.raises(SutError, match=r"mqtt-gateway.mqtt is missing; a SUT of role server"):
        check_declaration(_declaration("server", {"tls": True}), "mqtt-gateway")
    with pytest.raises(SutError, match=r"mqtt-gateway.process is missing"):
        check_declaration(
            _declaration("gateway", {"meters": [{"name": "M", "unit": 1}]}), "mqtt-gateway"
        )
    with pytest.raises(SutError, match=r"gateways\[0\] is"):
        bad = {"mqtt": "127.0.0.1:1883", "gateways": [{"name": "gw-1"}]}
        check_declaration(_declaration("server", bad), "mqtt-gateway")
    with pytest.raises(SutError, match=r"meters\[0\] is"):
        bad = {"process": {"start": "x"}, "meters": [{"name": "M", "unit": 300}]}
        check_declaration(_declaration("gateway", bad), "mqtt-gateway")


# -- served systems and the remote beds (real time) ---------------------------------------------


def test_served_platform_is_judged_by_the_remote_platform_bed() -> None:
    with served(
        "mqtt-platform", "--port", "0", "--control-port", "0", "--gateways", "1", "--duration", "60"
    ) as running:
        token = next(line.split()[-1] for line in running.lines if line.startswith("gateway gw-1"))
        key = next(line.split()[-1] for line in running.lines if line.startswith("admin key"))
        endpoint = {
            "mqtt": running.address("mqtt"),
            "gateways": [{"name": "gw-1", "token": token}],
            "control_url": running.address("control"),
            "admin_key": key,
        }
        bed = RemotePlatformBed(endpoint)
        try:

            async def main() -> Any:
                await bed.start()
                declared = await bed.gateway("gw-1")
                provisioned = await bed.gateway("gw-2")
                assert await declared.connect() == 0 and await provisioned.connect() == 0
                device = await bed.place({"device": "Device A", "gateway": "gw-2"})
                outcome = await bed.platform_control().rpc(bed.name(device), "ping", {"n": 7})
                stored = await bed.platform_control().device(bed.name(device))
                openapi = await HttpClient(running.address("control")).request(
                    "GET", "/openapi.json"
                )
                return outcome, stored, openapi.status

            outcome, stored, status = bed.run(main())
        finally:
            bed.close()
    assert outcome.outcome == "ok" and outcome.data == {"success": True, "params": {"n": 7}}
    assert stored["name"].startswith("Device A ~") and stored["gateway"].startswith("gw-2 ~")
    assert status == 200


def test_served_platform_speaks_tls_to_a_remote_bed(tmp_path: Path) -> None:
    with served(
        "mqtt-platform", "--port", "0", "--control-port", "0", "--tls", "--tls-dir",
        str(tmp_path), "--duration", "60",
    ) as running:  # fmt: skip
        token = next(line.split()[-1] for line in running.lines if line.startswith("gateway gw-1"))
        endpoint = {
            "mqtt": running.address("mqtt"),
            "tls": True,
            "ca": str(tmp_path / "ca.crt"),
            "gateways": [{"name": "gw-1", "token": token}],
        }
        bed = RemotePlatformBed(endpoint)
        try:

            async def main() -> tuple[int, Any]:
                gw = await bed.gateway("gw-1")
                reason = await gw.connect()
                body = {"Device A": [{"ts": 1, "values": {"t": 1}}]}
                return reason, await gw.send(TELEMETRY, body)

            connack, answer = bed.run(main())
        finally:
            bed.close()
    assert "MQTT over TLS" in running.output
    assert connack == 0 and answer == 0
    assert bed.control is None  # no control_url declared: stored data cannot be read


def test_served_gateway_world_control() -> None:
    with served(
        "mqtt-gateway", "--port", "0", "--control-port", "0", "--duration", "60"
    ) as running:
        control = HttpClient(running.address("control"))

        async def main() -> list[Any]:
            out = []
            for _ in range(50):
                world = (await control.request("GET", "/world")).json()
                if world["gateway"]["connected"]:
                    break
                await asyncio.sleep(0.1)
            out.append(world)
            for method, path, body in (
                ("POST", "/world/meters", {"unit": 7}),
                ("POST", "/world/meters/7/power", {"on": False}),
                ("POST", "/world/meters/99/power", {"on": False}),
                ("POST", "/world/peripherals/HR%201/position", {"position": [5, 0, 0]}),
                ("POST", "/world/faults", {"fault": "broker_outage", "seconds": 1}),
                ("POST", "/world/faults", {"fault": "meteor"}),
                ("GET", "/world/mqtt?since=0", None),
                ("GET", "/world/modbus", None),
                ("GET", "/openapi.json", None),
            ):
                response = await control.request(method, path, json_body=body)
                out.append((response.status, response.json()))
            return out

        loop = asyncio.new_event_loop()
        try:
            world, *answers = loop.run_until_complete(main())
        finally:
            loop.close()
    assert world["gateway"]["name"] == "gw-1" and world["gateway"]["connected"], world
    assert [m["unit"] for m in world["meters"]] == [1, 2]
    statuses = [status for status, _ in answers]
    assert statuses == [201, 200, 404, 200, 202, 400, 200, 200, 200]
    assert "unit 99" in answers[2][1]["error"]
    assert any(r["type"] == "CONNECT" for r in answers[6][1])
    assert answers[8][1]["info"]["title"] == "MQTT gateway world control"


@pytest.mark.slow
def test_the_remote_gateway_bed_runs_an_outside_gateway_process(tmp_path: Path) -> None:
    """Our own reference gateway, served in a process of its own (``hil serve mqtt-gateway
    --broker ... --modbus ...``), judged as an outside gateway in front of the bed's meters
    and platform."""
    process = {
        "start": [
            sys.executable,
            "-m",
            "conformance.cli",
            "serve",
            "mqtt-gateway",
            "--broker",
            "{broker_host}:{broker_port}",
            "--token",
            "{token}",
            "--modbus",
            "{modbus_host}:{modbus_port}",
            "--control-port",
            "0",
            "--state-dir",
            "{workdir}",
        ],
        "stop": {"signal": "SIGTERM", "timeout_s": 10},
        "ready": {"connect": True, "timeout_s": 60},
    }
    bed = RemoteGatewayBed({"process": process, "start_timeout_s": 60}, work_dir=tmp_path)
    try:

        async def main() -> Any:
            await bed.start()
            await asyncio.sleep(6)
            outcome = await bed.client().rpc("Meter 2", "setSetpoint", 44.5)
            await bed.inject("gateway_restart", down_s=0.5)
            await asyncio.sleep(4)
            return outcome

        outcome = bed.run(main())
        assert outcome.outcome == "ok" and outcome.data == {"success": True}
        assert 445 in [v for _t, v in bed.sniffer.writes(2, 0)]
        verdict = bed.continuity(settle_s=3)
        assert verdict.ok and verdict.sent >= 6, verdict.evidence()
        files = bed.write_evidence(tmp_path / "evidence")
        assert "gateway.stdout.log" in files and "mqtt.jsonl" in files
        log = (tmp_path / "evidence" / "gateway.stdout.log").read_text()
        assert "ready" in log and bed.token not in json.dumps(bed.transcript.rows)
    finally:
        bed.close()


def test_the_builtin_declaration_declares_both_roles() -> None:
    from conformance.sut import load_sut

    builtin = load_sut("builtin")
    assert builtin.has("mqtt-gateway-role") and builtin.has("mqtt-platform-role")
    check_declaration(builtin, "mqtt-gateway")
    assert yaml.safe_load(yaml.safe_dump(dict(builtin.endpoint("mqtt-gateway"))))["meters"]
