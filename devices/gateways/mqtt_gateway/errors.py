"""The gateway's domain errors. Each message says what was wrong, with the offending value,
and what is accepted."""

from __future__ import annotations


class GatewayError(Exception):
    """Base class of everything the MQTT gateway raises on purpose."""


class ConfigError(GatewayError, ValueError):
    """A configuration that cannot be used; the message names the field by its path
    (``modbus.devices[0].telemetry[1].type``)."""


class DeviceOffline(GatewayError):
    """The device is not reachable now (BLE link down, Modbus slave silent)."""


class UnknownDevice(GatewayError):
    """No configured device has this name."""


class UnknownMethod(GatewayError):
    """The device's mapping has no RPC of this name."""


class DeviceFailure(GatewayError):
    """The device answered with an error (ATT error, Modbus exception) or not at all."""


class NotConnected(GatewayError):
    """The gateway has no MQTT connection to the platform right now."""


class RequestTimeout(GatewayError):
    """The platform did not answer a request (attribute request, getSessionLimits) in time."""
