"""The gateway's configuration: the documented example loads, and every kind of mistake is
refused with an error naming the field's path, the value and what is accepted; the value codecs
scale and decode as the mapping says."""

from __future__ import annotations

import copy
import struct

import pytest

from devices.gateways.mqtt_gateway import ConfigError, load_config, parse_config
from devices.gateways.mqtt_gateway.config import EXAMPLE, Register
from devices.gateways.mqtt_gateway.values import CodecError, ValueCodec

MINIMAL = {"gateway": {"access_token": "t"}}
METER = {
    "name": "Meter 1",
    "unit": 1,
    "telemetry": [{"key": "t", "table": "input", "address": 4, "type": "int16", "scale": 0.1}],
}
HR = {
    "name": "HR 1",
    "address": "F0:00:00:00:00:01",
    "telemetry": [{"key": "hr", "characteristic": "2A37", "notify": True}],
}


def with_changes(**sections):
    doc = copy.deepcopy(MINIMAL)
    doc.update(copy.deepcopy(sections))
    return doc


def test_the_documented_example_loads(tmp_path):
    config = load_config(EXAMPLE)
    assert config.name == "gw-1" and config.client_id == "gw-1"
    assert config.platform.protocol == 5 and config.platform.session_limits_request
    assert config.delivery.path == str(EXAMPLE.parent / "gw-1-outbox.sqlite")
    assert [d.name for d in config.devices] == ["HR Sensor 1", "Meter 1"]
    meter = config.device("Meter 1")
    assert meter is not None and meter.update("setpoint") is not None
    assert meter.method("getSetpoint").target == Register("holding", 0, 1)
    hr = config.device("HR Sensor 1")
    assert hr.telemetry[0].notify and hr.telemetry[1].poll_s == 30
    assert "A1_TEST_TOKEN" not in repr(config)


def test_defaults():
    config = parse_config(MINIMAL)
    assert config.name == config.client_id == "mqtt-gateway"
    assert config.platform.host == "platform" and config.platform.port == 1883
    assert config.platform.protocol == 5 and config.delivery.max_inflight == 1
    assert config.ble is None and config.modbus is None and config.devices == ()


def test_token_from_the_environment():
    doc = {"gateway": {"access_token_env": "GW_TOKEN"}}
    assert parse_config(doc, environ={"GW_TOKEN": "abc"}).access_token == "abc"
    with pytest.raises(ConfigError, match="'GW_TOKEN' is not set"):
        parse_config(doc, environ={})


def meter(**changes):
    """A document with one Modbus device: METER with ``changes``."""
    return with_changes(modbus={"devices": [{**METER, **changes}]})


def register(role, **entry):
    """A document whose Modbus device has one ``role`` entry (telemetry, rpc, ...)."""
    return meter(**{role: [{"key": "t", "table": "input", "address": 0, **entry}]})


def hr(**changes):
    return with_changes(ble={"devices": [{**HR, **changes}]})


def hr_telemetry(**entry):
    return hr(telemetry=[{"key": "hr", "characteristic": "2A37", **entry}])


MISTAKES = [
    ({}, "gateway is required"),
    ({"gateway": {}}, r"gateway.access_token \(or gateway.access_token_env\) is required"),
    ({"gateway": {"access_token": "t", "acces_token": "t"}}, "unknown field.s. acces_token; "),
    ({"gateway": {"access_token": "t", "client_id": ""}}, "client_id must not be empty"),
    (with_changes(platform={"protocol": "4"}), "protocol: '4' is not accepted; accepted: 5, 3.1.1"),
    (with_changes(platform={"port": 70000}), "platform.port: 70000 is above 65535"),
    (with_changes(platform={"keepalive_s": "60"}), "keepalive_s: '60' is not a whole number"),
    (
        with_changes(platform={"session_limits": {"request": False, "wait": True}}),
        "wait: true needs request: true",
    ),
    (with_changes(delivery={"max_inflight": 0}), "delivery.max_inflight: 0 is below 1"),
    (with_changes(delivery={"retry": {"initial_s": 0}}), "retry.initial_s: 0 is not accepted"),
    (
        with_changes(gateway={"access_token": "t", "device_refresh_s": 900}),
        "device_refresh_s: 900 is above 540",
    ),
    (with_changes(modbus={"devices": [{"name": "M"}]}), r"modbus.devices\[0\].unit is required"),
    (meter(telemtry=[]), r"modbus.devices\[0\]: unknown field.s. telemtry; accepted: "),
    (meter(unit=300), r"modbus.devices\[0\].unit: 300 is above 247"),
    (
        register("telemetry", type="int17"),
        r"modbus.devices\[0\].telemetry\[0\].type: 'int17' is not accepted; accepted: int16, ",
    ),
    (
        register("telemetry", table="inputs"),
        r"table: 'inputs' is not accepted; accepted: holding, input, coil, discrete",
    ),
    (register("telemetry", table="coil", type="int16"), "'int16' does not fit table 'coil'"),
    (
        register("attribute_updates"),
        r"updates\[0\].table: 'input' cannot be written; accepted for writes: holding, coil",
    ),
    (
        register("telemetry", address=65535, type="float32"),
        r"telemetry\[0\].address: 65535 is above 65534",
    ),
    (register("attributes", type="string"), r"attributes\[0\].count is required"),
    (register("telemetry", scale=0), r"telemetry\[0\].scale: 0 is not accepted"),
    (
        register("telemetry", table="coil", type="bool", scale=2),
        "scale/offset apply to numbers only",
    ),
    (
        meter(rpc=[{"method": "m", "table": "holding", "address": 0, "action": "toggle"}]),
        r"rpc\[0\].action: 'toggle' is not accepted; accepted: read, write",
    ),
    (
        with_changes(modbus={"devices": [METER, {**METER, "name": "Meter 2"}]}),
        "modbus.devices: the unit id '1' appears twice",
    ),
    (
        meter(telemetry=METER["telemetry"] * 2),
        r"modbus.devices\[0\].telemetry: the key 't' appears twice",
    ),
    (
        with_changes(ble={"devices": [HR]}, modbus={"devices": [{**METER, "name": "HR 1"}]}),
        "the device name 'HR 1' appears twice",
    ),
    (
        hr(address="F0:00:00:00:01"),
        r"ble.devices\[0\].address: 'F0:00:00:00:01' is not a BLE address",
    ),
    (hr_telemetry(), "needs either notify: true or poll_s"),
    (hr_telemetry(notify=True, poll_s=5), "needs either notify: true or poll_s .not both."),
    (
        hr_telemetry(notify=True, characteristic="ZZ"),
        r"characteristic: 'ZZ' is not a 16-, 32- or 128-bit UUID",
    ),
    (hr_telemetry(notify=True, type="string"), "type: 'string' is not accepted; accepted: int8"),
    (
        hr(attributes=[{"key": "b", "characteristic": "2A19", "with_response": False}]),
        r"attributes\[0\]: unknown field.s. with_response",
    ),
    (with_changes(ble={"position": [1]}), r"ble.position: \[1\] is not \[x, y\] or \[x, y, z\]"),
    (with_changes(ble=[1, 2]), r"ble: \[1, 2\] is not a mapping of fields"),
    (with_changes(bluetooth={}), "the document: unknown field.s. bluetooth; accepted: "),
]


@pytest.mark.parametrize(("doc", "message"), MISTAKES)
def test_mistakes_are_refused_naming_the_field(doc, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(doc)


def test_a_broken_file_is_named(tmp_path):
    path = tmp_path / "gw.yaml"
    path.write_text("gateway: {access_token: [unclosed\n")
    with pytest.raises(ConfigError, match="gw.yaml: not valid YAML"):
        load_config(path)
    with pytest.raises(ConfigError, match="cannot read the configuration"):
        load_config(tmp_path / "absent.yaml")


def test_register_codecs_scale_and_order():
    tenth = ValueCodec("int16", scale=0.1)
    assert tenth.decode_registers([215]) == 21.5
    assert tenth.decode_registers([0xFF38]) == -20.0
    assert tenth.encode_registers(42.5) == [425] and tenth.encode_registers(-2) == [0xFFEC]
    with pytest.raises(CodecError, match=r"outside what a int16 holds \(-3276.8 to 3276.7\)"):
        tenth.encode_registers(4000)
    big = ValueCodec("float32")
    words = list(struct.unpack(">HH", struct.pack(">f", 21.5)))
    assert big.decode_registers(words) == 21.5
    little = ValueCodec("float32", word_order="little")
    assert (
        little.decode_registers(words[::-1]) == 21.5
        and little.encode_registers(21.5) == words[::-1]
    )
    assert ValueCodec("uint32", offset=-1000).decode_registers([0, 1500]) == 500
    assert ValueCodec("string", count=4).decode_registers([0x534E, 0x3030, 0x3031, 0]) == "SN0001"
    assert ValueCodec("string", count=2).encode_registers("AB") == [0x4142, 0]
    assert (
        ValueCodec("float32", decimals=1).decode_registers(
            list(struct.unpack(">HH", struct.pack(">f", 21.56)))
        )
        == 21.6
    )


def test_byte_codecs():
    assert ValueCodec("uint16").decode_bytes(b"\x48\x00") == 72
    assert ValueCodec("int16", byte_order="big").decode_bytes(b"\xff\xfe") == -2
    assert ValueCodec("uint8", scale=0.5).encode_bytes(10) == b"\x14"
    assert ValueCodec("hex").decode_bytes(b"\x01\x02") == "0102"
    assert ValueCodec("utf8").encode_bytes("on") == b"on"
    assert ValueCodec("bool").decode_bytes(b"\x00\x01") is True
    with pytest.raises(CodecError, match="shorter than a uint16"):
        ValueCodec("uint16").decode_bytes(b"\x01")
    with pytest.raises(CodecError, match="not a number"):
        ValueCodec("uint8").encode_bytes("ten")
