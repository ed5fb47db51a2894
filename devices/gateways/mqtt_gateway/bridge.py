"""The two sides of a device bridge (BLE, Modbus): what the gateway asks of a bridge, and what
a bridge tells the gateway."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from devices.gateways.mqtt_gateway.config import DeviceConfig, Point


class DeviceBridge(Protocol):
    """How the gateway reaches one kind of device."""

    def is_online(self, device: str) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self) -> None:
        """Release the medium; devices are not reported as gone (the gateway is)."""
        ...

    def abort(self) -> None:
        """The gateway dies: drop the medium at once, say nothing."""
        ...

    async def read(self, device: DeviceConfig, point: Point) -> Any:
        """The point's decoded value; raises DeviceOffline / DeviceFailure."""
        ...

    async def write(self, device: DeviceConfig, point: Point, value: Any) -> None:
        """Encode and write ``value``; raises DeviceOffline / DeviceFailure / CodecError."""
        ...


class Reporter(Protocol):
    """What a bridge tells the gateway (implemented by MqttGateway)."""

    def device_online(self, device: DeviceConfig) -> None: ...

    def device_offline(self, device: DeviceConfig, reason: str) -> None: ...

    def report_telemetry(self, device: DeviceConfig, values: dict[str, Any]) -> None: ...

    def report_attributes(self, device: DeviceConfig, values: dict[str, Any]) -> None: ...
