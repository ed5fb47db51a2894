"""The access controller's pure parts: tokens and credentials, the scan-filter support table and
scan parameters, auto-selection's request parsing and ranking, the RSSI table and the path-loss
inverse, the JSON shapes."""

from __future__ import annotations

import base64
import json

import pytest

from devices.gateways.ble_ac import reports
from devices.gateways.ble_ac.auth import TokenIssuer, basic_credentials, bearer_token
from devices.gateways.ble_ac.errors import InvalidClient, InvalidRequest, Unauthorized
from devices.gateways.ble_ac.positioning import PathLoss
from devices.gateways.ble_ac.registry import HubRecord
from devices.gateways.ble_ac.rssi_table import RssiTable
from devices.gateways.ble_ac.scan_params import (
    COMBINED,
    SELECTION,
    SUPPORT_TABLE,
    scan_query,
    supported,
)
from devices.gateways.ble_ac.selection import parse_aps, parse_connect
from devices.gateways.ble_router.errors import InvalidParameter


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


# -- tokens -------------------------------------------------------------------------------------
def test_tokens_are_issued_for_the_right_secret_and_expire_in_world_time() -> None:
    clock = Clock()
    issuer = TokenIssuer({"dev": "s3cret"}, clock, ttl_s=60)
    token = issuer.issue("dev", "s3cret")
    assert issuer.check(token.value) == token
    clock.t = 59.9
    issuer.check(token.value)
    clock.t = 61
    with pytest.raises(Unauthorized) as expired:
        issuer.check(token.value)
    assert expired.value.reason == "expired" and "expired" in expired.value.message
    with pytest.raises(Unauthorized) as unknown:
        issuer.check("nope")
    assert unknown.value.reason == "unknown"
    with pytest.raises(Unauthorized) as missing:
        issuer.check(None)
    assert missing.value.reason == "missing"
    with pytest.raises(InvalidClient):
        issuer.issue("dev", "wrong")
    with pytest.raises(InvalidClient):
        issuer.issue("other", "s3cret")


def test_two_tokens_differ_and_old_ones_are_forgotten() -> None:
    clock = Clock()
    issuer = TokenIssuer({"dev": "x"}, clock, ttl_s=10)
    first, second = issuer.issue("dev", "x"), issuer.issue("dev", "x")
    assert first.value != second.value and len(first.value) >= 24
    clock.t = 100
    issuer.issue("dev", "x")
    with pytest.raises(Unauthorized) as gone:
        issuer.check(first.value)
    assert gone.value.reason == "unknown"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer abc",
        "Basic",
        "Basic !!!",
        "Basic " + base64.b64encode(b"nocolon").decode(),
    ],
)
def test_malformed_basic_credentials_are_refused(header: str | None) -> None:
    with pytest.raises(InvalidClient):
        basic_credentials(header)


def test_basic_credentials_and_bearer_tokens_are_read() -> None:
    header = "Basic " + base64.b64encode(b"dev:se:cret").decode()
    assert basic_credentials(header) == ("dev", "se:cret")
    assert bearer_token("Bearer abc", None) == "abc"
    assert bearer_token("bearer abc", "q") == "abc"
    assert bearer_token(None, "q") == "q"
    assert bearer_token("Basic xyz", None) is None


# -- the support table and scan parameters ----------------------------------------------------
def test_the_support_table_is_the_seeds() -> None:
    rows = {(r.parameter, r.variant): (r.gateway, r.combined, r.selection) for r in SUPPORT_TABLE}
    assert rows[("filter_uuid", "")] == ("1.3", "1.4.3", "2.0.3")
    assert rows[("filter_duplicates", "=1")] == ("1.3", "2.1.1", "2.0.3")
    assert rows[("timestamp", "")] == ("2.0.3", "2.1.1", None)
    assert rows[("beacon", "")] == ("2.1.1", None, None)
    assert len(SUPPORT_TABLE) == 16
    assert supported("timestamp", COMBINED) and not supported("timestamp", SELECTION)
    assert not supported("beacon", COMBINED)


def test_scan_query_turns_json_values_into_router_query_text() -> None:
    query = scan_query(
        {
            "aps": ["CC:1B:E0:E0:00:01"],
            "filter_mac": ["C7:ED:44:24:3E:55", "C7:ED:44*"],
            "filter_rssi": -70,
            "filter_value": [{"offset": "4", "data": "FF0A"}, {"data": "1B"}],
            "filter_duplicates": 3000,
            "chip": 1,
            "active": 0,
            "unknown": "ignored",
        },
        COMBINED,
    )
    assert query == {
        "filter_mac": "C7:ED:44:24:3E:55,C7:ED:44*",
        "filter_rssi": "-70",
        "filter_value": '[{"offset":"4","data":"FF0A"},{"data":"1B"}]',
        "filter_duplicates": "3000",
        "chip": "1",
        "active": "0",
    }


@pytest.mark.parametrize(
    ("body", "use", "error", "named"),
    [
        ({"beacon": 1}, COMBINED, InvalidRequest, "beacon"),
        ({"timestamp": 1}, SELECTION, InvalidRequest, "timestamp"),
        ({"active": 1}, SELECTION, InvalidRequest, "active"),
        ({"filter_rssi": "loud"}, COMBINED, InvalidParameter, "filter_rssi"),
        ({"filter_mac": ["not-a-mac"]}, SELECTION, InvalidParameter, "filter_mac"),
        ({"filter_duplicates": 500}, COMBINED, InvalidParameter, "filter_duplicates"),
        ({"report_interval": 10}, COMBINED, InvalidParameter, "report_interval"),
        ({"chip": 2}, COMBINED, InvalidParameter, "chip"),
        ({"filter_name": {"a": 1}}, COMBINED, InvalidRequest, "filter_name"),
    ],
)
def test_scan_query_refuses_what_the_table_or_the_routers_refuse(
    body: dict, use: str, error: type[Exception], named: str
) -> None:
    with pytest.raises(error) as refused:
        scan_query(body, use)
    assert named in str(refused.value)


# -- auto-selection requests ------------------------------------------------------------------
def test_connect_requests_are_parsed_with_the_seeds_defaults() -> None:
    request = parse_connect({"aps": "*", "devices": ["f7:18:bc:18:f0:3a"]})
    assert request.device == "F7:18:BC:18:F0:3A"
    assert request.aps is None and request.timeout_s == 10.0
    assert not request.roaming and request.rssi is None and request.rssi_interval_ms == 1000
    assert request.discovergatt
    full = parse_connect(
        {
            "aps": ["CC:1B:E0:E7:FE:F8", "cc:1b:e0:e7:fe:f8"],
            "devices": ["F7:18:BC:18:F0:3A"],
            "timeout": "5000",
            "random": 1,
            "rssi": -65,
            "rssi_interval": 500,
            "discovergatt": 0,
        }
    )
    assert full.aps == ("CC:1B:E0:E7:FE:F8",) and full.timeout_s == 5.0
    assert full.roaming and full.rssi == -65 and not full.discovergatt


@pytest.mark.parametrize(
    "body",
    [
        {"aps": "*"},
        {"aps": "*", "devices": []},
        {"aps": "*", "devices": ["F7:18:BC:18:F0:3A", "F7:18:BC:18:F0:3B"]},
        {"aps": [], "devices": ["F7:18:BC:18:F0:3A"]},
        {"aps": "*", "devices": ["F7:18:BC:18:F0:3A"], "timeout": 999},
        {"aps": "*", "devices": ["F7:18:BC:18:F0:3A"], "random": 2},
    ],
)
def test_bad_connect_requests_are_refused(body: dict) -> None:
    with pytest.raises((InvalidRequest, InvalidParameter)):
        parse_connect(body)


def test_aps_star_means_every_router() -> None:
    assert parse_aps("*") is None and parse_aps(["*"]) is None
    assert parse_aps("cc:1b:e0:e0:00:01") == ("CC:1B:E0:E0:00:01",)


# -- the RSSI table and the path-loss inverse -------------------------------------------------
def test_the_rssi_table_keeps_a_window_and_ranks_by_mean() -> None:
    clock = Clock()
    table = RssiTable(clock, window_s=10)
    table.observe("A", "D", -70, "random")
    table.observe("B", "D", -60, "random")
    clock.t = 5
    table.observe("A", "D", -50, "random")
    assert table.means("D") == {"A": -60.0, "B": -60.0}
    assert table.best("D") == ("A", -60.0)  # a tie goes to the first MAC
    clock.t = 12
    assert table.means("D") == {"A": -50.0}
    assert table.means("D", since=13) == {}
    assert table.first_heard("D") == 5 and table.addr_type("D") == "random"
    clock.t = 30
    assert list(table.devices()) == [] and table.best("D") is None


def test_the_distance_inverts_the_radios_path_loss() -> None:
    model = PathLoss()
    assert model.distance_m(-40.0) == pytest.approx(1.0)
    assert model.distance_m(-62.0) == pytest.approx(10.0)


# -- shapes -----------------------------------------------------------------------------------
def _record(status: str) -> HubRecord:
    return HubRecord(
        "CC:1B:E0:E0:00:01",
        "00" * 12,
        "r",
        "X1000",
        "2.2",
        "10.0.0.1",
        "10.0.0.1",
        1,
        status=status,
    )


def test_hub_forms_follow_the_seeds_online_and_offline_examples() -> None:
    online, offline = reports.hub(_record("online"), 0), reports.hub(_record("offline"), 0)
    assert list(online)[:5] == ["_id", "id", "mac", "name", "group"]
    assert online["groupcolor"] == "undefined" and online["update_progress"] == 100
    assert "groupcolor" not in offline and offline["update_version"] == ""
    assert json.loads(reports.hub_status(_record("offline"), 0, "u")) == {
        "mac": "CC:1B:E0:E0:00:01",
        "status": "offline",
    }


def test_a_combined_scan_message_carries_the_seeds_names() -> None:
    line = reports.combined_scan(
        "CC:1B:E0:E0:00:01",
        {
            "name": "T",
            "evtType": 3,
            "rssi": -40,
            "adData": "0201",
            "bdaddrs": [{"bdaddr": "F0:00:00:00:00:01", "bdaddrType": "random"}],
        },
    )
    message = json.loads(line)
    assert message["dataType"] == "scan" and message["ap"] == "CC:1B:E0:E0:00:01"
    assert message["evt_type"] == 3 and "evtType" not in message
    assert message["bdaddrs"] == [
        {"bdaddr": "F0:00:00:00:00:01", "bdad": "F0:00:00:00:00:01", "bdaddrType": "random"}
    ]


# -- worlds -----------------------------------------------------------------------------------
def test_every_world_file_builds_and_names_its_nodes_once() -> None:
    import random

    from scenarios.ble_ac.worlds import WORLDS_DIR, load_scenario, peripheral_specs

    files = sorted(WORLDS_DIR.glob("*.yaml"))
    assert files
    for path in files:
        scenario = load_scenario(path.stem)
        routers = scenario.router_list()
        assert len({r["name"] for r in routers}) == len(routers)
        specs = peripheral_specs(scenario, random.Random(1))
        assert len({s["name"] for s in specs}) == len({s["address"] for s in specs}) == len(specs)


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"name": "w", "faults": [{"at": 1, "action": "explode", "target": "A"}]}, "action"),
        ({"name": "w", "faults": [{"at": 1, "action": "router_reboot", "target": "Z"}]}, "Z"),
        ({"name": "w", "faults": [{"at": -1, "action": "router_reboot", "target": "A"}]}, "at"),
        ({"name": "w", "radio": {"warp": 1}}, "warp"),
        ({"name": "w", "colour": "red"}, "colour"),
    ],
)
def test_bad_world_files_are_refused_naming_the_field(data: dict, named: str) -> None:
    from scenarios.ble_ac.worlds import parse_scenario
    from scenarios.ble_router.worlds import ScenarioError

    with pytest.raises(ScenarioError) as refused:
        parse_scenario(data)
    assert named in str(refused.value)
