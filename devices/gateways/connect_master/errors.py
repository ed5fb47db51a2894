"""Errors the gateways answer with: a gRPC status code and a message naming the field, the bad
value and what is accepted.

Offending values are quoted short (:func:`quote`, :func:`quote_ids`), never whole: a message
travels as gRPC trailing metadata, and a 20,000-character gateway ID echoed in full would make
the client's transport refuse the answer (RESOURCE_EXHAUSTED) instead of showing it.

Request sizes are bounded (:func:`check_sizes`, run on every request before its handler): no
repeated field may hold more than :data:`MAX_ENTRIES` entries. Real deployments manage hundreds
of devices per gateway; 10,000 is far above any of them and keeps the per-call work (one
pass over the list, one device-list fetch per gateway) well inside a client's deadline.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

import grpc

MAX_ENTRIES = 10_000  # entries in any repeated request field (device IDs, infos, addresses)
QUOTE_CHARS = 64  # characters of an offending text value quoted in a message
QUOTE_IDS = 10  # entries of an offending ID list quoted in a message
MAX_MESSAGE_CHARS = 1024  # a status message is cut here, whatever it quotes


class CallError(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def invalid(message: str) -> CallError:
    return CallError(grpc.StatusCode.INVALID_ARGUMENT, message)


def not_found(message: str) -> CallError:
    return CallError(grpc.StatusCode.NOT_FOUND, message)


def unauthenticated(message: str) -> CallError:
    return CallError(grpc.StatusCode.UNAUTHENTICATED, message)


def bounded(message: str) -> str:
    """``message`` cut to :data:`MAX_MESSAGE_CHARS` (the last line of defence for the rule that
    an answer's status message stays small)."""
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return f"{message[: MAX_MESSAGE_CHARS - 20]}... (message cut)"


def quote(value: str) -> str:
    """``value`` quoted for a message: its first :data:`QUOTE_CHARS` characters, then ``...``
    and its length when it is longer."""
    if len(value) <= QUOTE_CHARS:
        return repr(value)
    return f"{value[:QUOTE_CHARS]!r}... ({len(value)} characters)"


def quote_ids(ids: Sequence[Any]) -> str:
    """A list for a message: its first :data:`QUOTE_IDS` entries, then how many more."""
    shown = ", ".join(str(i) for i in ids[:QUOTE_IDS])
    more = len(ids) - QUOTE_IDS
    return f"[{shown}, ... {more} more]" if more > 0 else f"[{shown}]"


def check_sizes(message: Any, path: str = "") -> None:
    """INVALID_ARGUMENT naming the field, the limit and the count when a repeated field of
    ``message`` (or of a message inside it) holds more than :data:`MAX_ENTRIES` entries."""
    for fd, value in message.ListFields():
        name = f"{path}{fd.name}"
        if fd.is_repeated:
            if len(value) > MAX_ENTRIES:
                raise invalid(
                    f"{name} has {len(value)} entries; accepted: at most {MAX_ENTRIES} per call"
                )
            if fd.message_type is not None:
                for item in value:
                    check_sizes(item, f"{name}[].")
        elif fd.message_type is not None:
            check_sizes(value, f"{name}.")


def check_ip(value: str, what: str = "IPAddr") -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise invalid(
            f"{what} {quote(value)} is not an IPv4 address; accepted: dotted quad such as "
            "192.168.0.10"
        ) from None


def check_port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise invalid(f"port {value} is out of range; accepted: 1..65535")
    return value


def check_ids(ids: list[int], what: str = "deviceIDs") -> list[int]:
    if not ids:
        raise invalid(f"{what} is empty; give at least one device ID (1..4294967295)")
    if 0 in ids:
        raise invalid(f"{what} contains 0; accepted: device IDs 1..4294967295")
    return list(dict.fromkeys(ids))
