"""Protocol code that more than one system uses, each module named for its protocol.

Nothing here belongs to one system or to the world's kernel (``sim/`` knows no protocol):
HTTP and Server-Sent Events over in-world links or real sockets, the Modbus RTU and OSDP frame
formats, the terminals' device wire format, X.509 credentials, and (as they land) the MQTT codec.
"""
