"""MQTT 3.1.1 and 5: a sans-IO codec (packets, properties, reason codes, topics) shared by the
platform emulator and the gateways, and an adapter driving paho-mqtt in virtual time
(:mod:`devices.protocols.mqtt.paho_virtual`, imported on its own: it needs paho-mqtt).
"""

from devices.protocols.mqtt.codec import MAX_PACKET_SIZE, PacketReader, decode, encode
from devices.protocols.mqtt.errors import (
    MalformedPacket,
    MqttError,
    PacketTooLarge,
    ProtocolError,
    UnsupportedProtocolVersion,
)
from devices.protocols.mqtt.packet_types import PROTOCOL_3_1_1, PROTOCOL_5, PacketType
from devices.protocols.mqtt.packets import (
    Auth,
    ConnAck,
    Connect,
    Disconnect,
    Packet,
    PingReq,
    PingResp,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    SubAck,
    Subscribe,
    Subscription,
    UnsubAck,
    Unsubscribe,
    Will,
)
from devices.protocols.mqtt.properties import Properties
from devices.protocols.mqtt.reasons import ConnackCode, Reason

__all__ = [
    "MAX_PACKET_SIZE",
    "PROTOCOL_3_1_1",
    "PROTOCOL_5",
    "Auth",
    "ConnAck",
    "ConnackCode",
    "Connect",
    "Disconnect",
    "MalformedPacket",
    "MqttError",
    "Packet",
    "PacketReader",
    "PacketTooLarge",
    "PacketType",
    "PingReq",
    "PingResp",
    "Properties",
    "ProtocolError",
    "PubAck",
    "PubComp",
    "PubRec",
    "PubRel",
    "Publish",
    "Reason",
    "SubAck",
    "Subscribe",
    "Subscription",
    "UnsubAck",
    "Unsubscribe",
    "UnsupportedProtocolVersion",
    "Will",
    "decode",
    "encode",
]
