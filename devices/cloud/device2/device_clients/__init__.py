"""Simulated devices of the Device2 service: real clients of its device APIs, in world time.

::

    spec = DeviceSpec("dev-1", auth="token", ip="192.0.2.10")
    device = HttpDevice(world, net, "example.m2.exosite.io", spec)
    await device.run(period_s=10, watch=["config_io"], cycles=6)   # activate, report, poll
    device = MqttDevice(world, net, "example.m2.exosite.io", spec,
                        tls_context=tls.client_context(tls.device_certificate("dev-1")))
    await device.run(period_s=10, cycles=6)      # provision, connect, publish, take sets
    gateway = GatewayDevice(device, ["sensor-1", "sensor-2"])  # publishes as its children

Each device notes what happens to it (:attr:`SimDevice.log`); a refusal by the service ends
its run (:attr:`SimDevice.stopped`).
"""

from devices.cloud.device2.device_clients.common import (
    DeviceSpec,
    Happening,
    Refusal,
    SimDevice,
    temperature,
)
from devices.cloud.device2.device_clients.gateway_device import GatewayDevice
from devices.cloud.device2.device_clients.http_device import HttpDevice
from devices.cloud.device2.device_clients.mqtt_device import MqttDevice

__all__ = [
    "DeviceSpec",
    "GatewayDevice",
    "Happening",
    "HttpDevice",
    "MqttDevice",
    "Refusal",
    "SimDevice",
    "temperature",
]
