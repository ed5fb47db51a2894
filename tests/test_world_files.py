"""The checks every dataclass world file gets (:func:`scenarios.world_files.check_world_keys`):
a mapping with a name, no unknown key, and sections holding only their own keys; each error
names the file and what is accepted."""

from __future__ import annotations

import pytest

from scenarios.ble_ac.worlds import parse_scenario as parse_ac
from scenarios.ble_router.worlds import ScenarioError
from scenarios.ble_router.worlds import parse_scenario as parse_ble
from scenarios.device2.worlds import WorldError as Device2WorldError
from scenarios.device2.worlds import parse_world as parse_device2
from scenarios.mqtt_gateway.worlds import WorldError as MqttWorldError
from scenarios.mqtt_gateway.worlds import parse_world as parse_mqtt

PARSERS = [
    (parse_ble, ScenarioError),
    (parse_ac, ScenarioError),
    (parse_device2, Device2WorldError),
    (parse_mqtt, MqttWorldError),
]


@pytest.mark.parametrize(("parse", "error"), PARSERS)
def test_a_world_without_a_name_is_refused(parse, error) -> None:
    with pytest.raises(error, match=r"w\.yaml: a world is a mapping with at least 'name'"):
        parse(["not", "a", "mapping"], "w.yaml")


@pytest.mark.parametrize(("parse", "error"), PARSERS)
def test_an_unknown_key_is_refused_naming_the_accepted_ones(parse, error) -> None:
    with pytest.raises(error, match=r"unknown keys \['colour'\]; accepted: \[.*'name'"):
        parse({"name": "w", "colour": "blue"}, "w.yaml")


@pytest.mark.parametrize("parse", [parse_ble, parse_ac])
def test_an_unknown_radio_key_is_refused(parse) -> None:
    with pytest.raises(ScenarioError, match=r"radio keys \['wattage'\] unknown; accepted: \["):
        parse({"name": "w", "radio": {"wattage": 3}}, "w.yaml")
