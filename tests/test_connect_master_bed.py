"""The Connect Master bed's own verbs, its world files, the placement spec and the world-control
API (served inside the world, virtual time): what they accept, and what they refuse by name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devices.protocols.http_client import HttpClient
from devices.protocols.http_server import serve
from scenarios.bed import Bed, BedError
from scenarios.connect_master.bed import LocalCmBed, RemoteCmBed, parse_name, slave_name
from scenarios.connect_master.control import control_app
from scenarios.connect_master.placement import TerminalSpec
from scenarios.connect_master.serve import gateway_role, served_world
from scenarios.connect_master.worlds import (
    WorldError,
    default_world,
    load_world,
    parse_world,
)
from scenarios.serving import ServeOptions

GATEWAYS = ["gw-a", "gw-b"]


@pytest.fixture
def bed() -> Iterator[LocalCmBed]:
    bed = LocalCmBed(seed=4)
    bed.run(bed.start())
    yield bed
    bed.close()


def _place(bed: LocalCmBed, device_id: int, host: int, **spec: Any) -> int:
    return bed.run(bed.place({"deviceID": device_id, "gateway": "gw-a", "host": host, **spec}))


# -- world files -------------------------------------------------------------------------------


def test_the_default_world_is_the_one_every_scenario_assumes() -> None:
    world = default_world()
    assert [(g.gateway_id, g.ip, g.subnet, g.tenant) for g in world.gateways] == [
        ("gw-a", "10.0.0.1", "10.0.0.0/24", "tenant-a"),
        ("gw-b", "10.0.1.1", "10.0.1.0/24", "tenant-b"),
    ]
    assert world.reconnect_s == 30.0 and world.gateways[0].host_ip(81) == "10.0.0.81"
    assert [s["deviceID"] for s in world.terminal_specs()] == [1, 2, 3, 4]
    assert world.terminal_specs()[0] == {
        "deviceID": 1,
        "gateway": "gw-a",
        "host": 100,
        "mode": 0,
        "ssl": False,
    }


def test_serve_options_reshape_the_world() -> None:
    world = served_world(ServeOptions(), _Extra(terminals=2, tenant="tenant-b"))
    assert [g.tenant for g in world.gateways] == ["tenant-b", "tenant-b-other"]
    assert [s["host"] for s in world.terminal_specs()] == [100, 101]
    assert served_world(ServeOptions(), _Extra(terminals=0)).terminal_specs() == []
    with pytest.raises(
        WorldError, match="no connect-master world 'atlantis'; built-in worlds: two-gateways"
    ):
        served_world(ServeOptions(scenario="atlantis"), _Extra())
    assert gateway_role("gw-a") == "gateway-a" and gateway_role("lobby") == "gateway-lobby"


class _Extra:
    def __init__(self, terminals: int | None = None, tenant: str | None = None) -> None:
        self.terminals, self.tenant = terminals, tenant


def test_a_world_file_by_path(tmp_path: Path) -> None:
    path = tmp_path / "lobby.yaml"
    path.write_text(
        "gateways: [{id: lobby, ip: 192.0.2.1, subnet: 192.0.2.0/24, tenant: t}]\n"
        "terminals: [{gateway: lobby, count: 2, first_device: 70, mode: device-to-server}]\n",
        encoding="utf-8",
    )
    world = load_world(path)
    assert world.name == "lobby" and world.reconnect_s == 30.0
    assert [(s["deviceID"], s["mode"]) for s in world.terminal_specs()] == [(70, 1), (71, 1)]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"gateways": []}, "gateways is empty"),
        ({"gateways": [{"id": "g", "ip": "10.0.0.1", "subnet": "10.0.0.0/24"}]}, "missing tenant"),
        (
            {"gateways": [{"id": "g", "ip": "10.0.9.1", "subnet": "10.0.0.0/24", "tenant": "t"}]},
            "ip 10.0.9.1 must lie in subnet 10.0.0.0/24",
        ),
        ({"routers": []}, "unknown field(s) routers"),
        (
            {
                "gateways": [{"id": "g", "ip": "10.0.0.1", "subnet": "10.0.0.0/24", "tenant": "t"}],
                "terminals": [{"gateway": "h", "count": 1}],
            },
            "gateway 'h' unknown; accepted: ['g']",
        ),
        (
            {
                "gateways": [{"id": "g", "ip": "10.0.0.1", "subnet": "10.0.0.0/24", "tenant": "t"}],
                "terminals": [{"gateway": "g", "count": 10, "first_host": 250}],
            },
            "hosts 250..259 leave the /24",
        ),
    ],
)
def test_bad_world_files_are_refused_by_field(data: dict[str, Any], message: str) -> None:
    with pytest.raises(WorldError) as refused:
        parse_world(data, "w.yaml")
    assert message in str(refused.value) and str(refused.value).startswith("w.yaml")


# -- placement ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"deviceID": 0, "gateway": "gw-a", "host": 5}, "deviceID 0 not accepted"),
        ({"deviceID": 5, "gateway": "gw-z", "host": 5}, "gateway 'gw-z' unknown"),
        ({"deviceID": 5, "gateway": "gw-a", "host": 255}, "host 255 not accepted"),
        ({"deviceID": 5, "gateway": "gw-a", "host": 5, "mode": 2}, "mode 2 not accepted"),
        ({"deviceID": 5, "gateway": "gw-a", "host": 5, "ssl": "yes"}, "ssl 'yes' not accepted"),
        ({"deviceID": 5, "gateway": "gw-a", "host": 5, "colour": 1}, "unknown field(s) ['colour']"),
        ({"deviceID": 5, "gateway": "gw-a", "host": 5, "slaveReaders": [1]}, "slaveReaders [1]"),
    ],
)
def test_placement_names_the_bad_field(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as refused:
        TerminalSpec.from_dict(spec, GATEWAYS)
    assert message in str(refused.value)


def test_placement_round_trips() -> None:
    spec = {"deviceID": 5, "gateway": "gw-b", "host": 9, "slaveReaders": {"1": 5001}}
    parsed = TerminalSpec.from_dict(spec, GATEWAYS)
    assert parsed.slave_readers == {1: 5001}
    assert TerminalSpec.from_dict(parsed.to_dict(), GATEWAYS) == parsed


# -- the local bed -----------------------------------------------------------------------------


def test_the_local_bed_follows_the_bed_protocol_and_refuses_by_name(bed: LocalCmBed) -> None:
    assert isinstance(bed, Bed)
    assert _place(bed, 1601, 81) == 1601
    state = bed.run(bed.terminal_state(1601))
    assert state["IPAddr"] == "10.0.0.81" and state["powered"]
    bed.run(bed.set_power("1601", False))
    assert not bed.run(bed.terminal_state(1601))["powered"]
    with pytest.raises(BedError, match="has no position"):
        bed.run(bed.move("1601", [1.0, 2.0]))
    with pytest.raises(BedError, match="unknown fault 'flood'; this bed injects gateway_restart"):
        bed.run(bed.inject("flood"))
    with pytest.raises(BedError, match="no terminal 1700; placed: \\[1601\\]"):
        bed.run(bed.set_power("1700", True))
    with pytest.raises(BedError, match="no device gateway 'gw-z'"):
        bed.run(bed.inject("gateway_restart", target="gw-z"))
    with pytest.raises(BedError, match="already a terminal"):
        _place(bed, 1601, 82)
    with pytest.raises(BedError, match="node name 'reader-1' not understood"):
        parse_name("reader-1")
    assert parse_name(slave_name(1601, 5001)) == (1601, 5001)


def test_faults_land_in_the_trace_and_the_gateway_links_again(
    bed: LocalCmBed, tmp_path: Path
) -> None:
    _place(bed, 1601, 81)
    pushes = bed.cm_world.master.pushes
    bed.run(bed.inject("gateway_restart", target="gw-a"))
    assert bed.cm_world.master.pushes > pushes
    bed.run(bed.inject("unplug", target="1601"))
    bed.run(bed.inject("master_restart"))
    assert bed.cm_world.all_linked()
    faults = [r for r in bed.world.trace.records if r["layer"] == "fault"]
    assert [(r["node"], r["event"]) for r in faults] == [
        ("gw-a", "gateway_restart"),
        ("1601", "unplug"),
        ("master", "master_restart"),
    ]
    assert bed.write_evidence(tmp_path) == {"trace.jsonl": "timeline"}
    assert '"fault"' in (tmp_path / "trace.jsonl").read_text(encoding="utf-8")


def test_a_remote_bed_needs_an_address() -> None:
    with pytest.raises(BedError, match="declares no 'address'"):
        RemoteCmBed({})


# -- world control -----------------------------------------------------------------------------


def test_world_control_routes_act_on_the_bed(bed: LocalCmBed) -> None:
    net = bed.cm_world.net

    async def exchange() -> list[tuple[int, Any]]:
        served = await serve(control_app(bed), bed.world, "10.0.200.1", 80, net=net)
        client = HttpClient(served.url, connect=net.open_connection)
        calls: list[tuple[str, str, Any]] = [
            ("POST", "/world/terminals", {"deviceID": 7, "gateway": "gw-a", "host": 7}),
            ("POST", "/world/terminals", {"deviceID": 8, "gateway": "gw-q", "host": 8}),
            ("POST", "/world/terminals/7/power", {"on": "off"}),
            ("POST", "/world/terminals/7/cable", {"plugged": False}),
            ("GET", "/world/terminals/9", None),
            ("POST", "/world/gateways/gw-b/restart", None),
            ("POST", "/world/gateways/gw-q/restart", None),
            ("GET", "/world", None),
        ]
        answers = []
        for method, path, body in calls:
            response = await client.request(method, path, json_body=body)
            answers.append((response.status, response.json()))
        await served.close()
        return answers

    placed, bad_gw, bad_power, unplugged, unknown, restarted, bad_restart, world = bed.run(
        exchange()
    )
    assert placed[0] == 201 and placed[1]["deviceID"] == 7 and placed[1]["maxSessions"] == 0
    assert bad_gw == (400, {"error": "gateway 'gw-q' unknown; accepted: ['gw-a', 'gw-b']"})
    assert bad_power == (400, {"error": "'on' must be true or false, got 'off'"})
    assert unplugged == (200, {"plugged": False})
    assert unknown[0] == 404 and "no terminal '9'; known: [7]" in unknown[1]["error"]
    assert restarted == (200, {"restarted": "gw-b", "reconnected": True})
    assert bad_restart[0] == 404
    assert world[1]["terminals"] == [7] and world[1]["gateways"]["gw-a"]["connected"]
