"""The reference MQTT gateway (seed 001, ThingsBoard gateway API): BLE peripherals (through a
Bumble central on the world's radio) and Modbus RTU slaves (through a pymodbus master on an
RS485 bus) bridged to the platform over paho-mqtt, mapped by a YAML configuration.

Build one in a world (virtual time, everything in-world)::

    from devices.gateways.mqtt_gateway import build_gateway

    world = World(seed=1)
    net = IpNetwork(world)                       # the platform listens on it ("platform":1883)
    radio, bus = Radio(world), Rs485Bus(world, "line")
    gateway = build_gateway(world, "gateway.yaml", net=net)   # radio/bus found in world.media
    world.run(gateway.start())
    ...
    world.run(gateway.stop())                    # graceful; or gateway.crash()

On real sockets (real time): ``World(clock=REAL)`` and no ``net``: the gateway dials
``platform.host:platform.port`` over TCP from the world's loop (paho still has no thread).
A restart is a new gateway object on the same configuration (the same ``delivery.path``
queue file) after the old one stopped or crashed.

What is known only at run time (the token a platform issued, the port it bound) goes in
with ``dataclasses.replace`` on the parsed, frozen configuration::

    config = load_config("gateway.yaml")       # or access_token_env: VARIABLE in the file
    config = replace(config, access_token=token,
                     platform=replace(config.platform, host="127.0.0.1", port=port))
    gateway = build_gateway(world, config)

The configuration schema is in :mod:`.config`; what is delivered when (order, duplicates,
poison messages, back-off) in :mod:`.delivery`; the platform may dedupe telemetry on
(device, ts, key). Events: :mod:`.events`; errors: :mod:`.errors`.
"""

from devices.gateways.mqtt_gateway import events
from devices.gateways.mqtt_gateway.config import (
    GatewayConfig,
    load_config,
    parse_config,
)
from devices.gateways.mqtt_gateway.errors import (
    ConfigError,
    DeviceFailure,
    DeviceOffline,
    GatewayError,
    NotConnected,
    RequestTimeout,
    UnknownDevice,
    UnknownMethod,
)
from devices.gateways.mqtt_gateway.gateway import MqttGateway, build_gateway
from devices.gateways.mqtt_gateway.outbox import DeadLetter, Outbox

__all__ = [
    "ConfigError",
    "DeadLetter",
    "DeviceFailure",
    "DeviceOffline",
    "GatewayConfig",
    "GatewayError",
    "MqttGateway",
    "NotConnected",
    "Outbox",
    "RequestTimeout",
    "UnknownDevice",
    "UnknownMethod",
    "build_gateway",
    "events",
    "load_config",
    "parse_config",
]
