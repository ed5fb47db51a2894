"""Errors the gateways answer with: a gRPC status code and a message naming the bad value."""

from __future__ import annotations

import ipaddress

import grpc


class CallError(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def invalid(message: str) -> CallError:
    return CallError(grpc.StatusCode.INVALID_ARGUMENT, message)


def not_found(message: str) -> CallError:
    return CallError(grpc.StatusCode.NOT_FOUND, message)


def check_ip(value: str, what: str = "IPAddr") -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise invalid(
            f"{what} {value!r} is not an IPv4 address; accepted: dotted quad such as 192.168.0.10"
        ) from None


def check_port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise invalid(f"port {value} is out of range; accepted: 1..65535")
    return value


def check_ids(ids: list[int], what: str = "deviceIDs") -> list[int]:
    if not ids:
        raise invalid(f"{what} is empty; give at least one device ID")
    if 0 in ids:
        raise invalid(f"{what} contains 0; device IDs are 1..4294967295")
    return list(dict.fromkeys(ids))
