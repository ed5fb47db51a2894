"""The MQTT gateway platform emulator (seed 001, ThingsBoard's gateway API).

First layer: an MQTT 3.1.1 + 5 server of our own. :mod:`.session` is the sans-IO state
machine of one connection, :mod:`.server` runs sessions on in-world links or real TCP ports,
:mod:`.application` is the interface the platform logic implements.
"""

from devices.cloud.mqtt_platform.application import (
    Application,
    ClientHandle,
    ConnectRequest,
    Message,
)
from devices.cloud.mqtt_platform.server import MqttServer
from devices.cloud.mqtt_platform.session import Close, Send, Session, SessionConfig

__all__ = [
    "Application",
    "ClientHandle",
    "Close",
    "ConnectRequest",
    "Message",
    "MqttServer",
    "Send",
    "Session",
    "SessionConfig",
]
