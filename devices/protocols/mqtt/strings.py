"""UTF-8 Encoded Strings (MQTT 3.1.1 1.5.3, MQTT 5.0 1.5.4).

A string is a two-byte length and that many bytes of well-formed UTF-8. The spec forbids
U+0000 and the surrogate code points U+D800..U+DFFF, and says a receiver MUST close the
connection on either: we raise :class:`MalformedPacket`. Python's strict UTF-8 codec already
rejects surrogates, overlong forms and truncated sequences. Control characters and
non-characters are allowed by the spec (a receiver MAY reject them); we accept them.
"""

from __future__ import annotations

from devices.protocols.mqtt.errors import MalformedPacket

STRING_MAX_BYTES = 65_535


def check_text(text: str, what: str = "string") -> bytes:
    """``text`` as UTF-8 for the wire; ValueError if MQTT cannot carry it."""
    if "\x00" in text:
        raise ValueError(f"{what} {text!r} contains U+0000, which MQTT strings may not carry")
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{what} {text!r} is not encodable as UTF-8: {exc.reason}") from None
    if len(raw) > STRING_MAX_BYTES:
        raise ValueError(f"{what} is {len(raw)} bytes long; MQTT strings hold at most 65535")
    return raw


def decode_text(raw: bytes, what: str = "string") -> str:
    """The text of a string's bytes; MalformedPacket if they are not MQTT-valid UTF-8."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedPacket(
            f"{what} is not well-formed UTF-8 ({exc.reason} at byte {exc.start})"
        ) from None
    if "\x00" in text:
        raise MalformedPacket(f"{what} contains U+0000")
    return text
