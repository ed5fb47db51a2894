"""A gateway device: one connected device reporting for others behind it (sensors without
their own connection), as ``permission.gateway`` allows.

It wraps an :class:`~.http_device.HttpDevice` or :class:`~.mqtt_device.MqttDevice` (its own
connection and credentials) and writes each child's values "as" the child (HTTP: the
publish-as header; MQTT: the ``$as/<identity>/`` topic prefix); without permission the
service refuses and the refusal is noted in the gateway's log.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from devices.cloud.device2.device_clients.common import Refusal
from devices.cloud.device2.device_clients.http_device import HttpDevice
from devices.cloud.device2.device_clients.mqtt_device import MqttDevice

ChildValues = Callable[[str, int, float], Mapping[str, Any]]
"""The values of child ``identity`` at report ``n``, world time ``t``."""


class GatewayDevice:
    """Reports for ``children`` through ``device``."""

    def __init__(self, device: HttpDevice | MqttDevice, children: Sequence[str]) -> None:
        self.device = device
        self.children = list(children)

    async def report(self, child: str, values: Mapping[str, Any]) -> None:
        """Write ``values`` as ``child`` (Refusal when the service does not allow it)."""
        if isinstance(self.device, HttpDevice):
            status = await self.device.write(values, publish_as=child)
            if status >= 400:
                raise Refusal("publish_as", status, f"writing as {child!r}")
        else:
            await self.device.publish(values, publish_as=child)

    async def run(self, period_s: float, values: ChildValues, cycles: int) -> None:
        """Connect (or activate), then every ``period_s`` report each child; a refusal ends
        the run and is noted."""
        device = self.device
        try:
            if isinstance(device, MqttDevice):
                await device.start()
            else:
                await device.ensure_activated()

            async def each(n: int) -> None:
                for child in self.children:
                    await self.report(child, values(child, n, device.world.now))

            await device.every(period_s, cycles, each)
        except Refusal as exc:
            device.stopped = exc
            device.note("stopped", call=exc.what, code=exc.code, message=exc.message)
