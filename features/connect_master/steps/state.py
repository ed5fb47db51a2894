"""The state of one connect-master scenario, and the helpers every step module shares: logged-in
clients, calls that keep their outcome, and scenario device IDs turned into the SUT's.

Device IDs and terminal addresses in steps are the scenario's; ``bed.binding`` turns them into
the real ones of a SUT's declared devices (identity otherwise)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import grpc

from scenarios.connect_master.bed import CmBed
from scenarios.connect_master.client import MasterClient


@dataclass
class CmState:
    bed: CmBed
    record: dict[str, Any]
    clients: dict[str, MasterClient] = field(default_factory=dict)
    # tenant -> (device ID, status name, StatusChange.timestamp, world time it arrived)
    streams: dict[str, list[tuple[int, str, int, float]]] = field(default_factory=dict)
    marks: dict[str, float] = field(default_factory=dict)
    fleets: dict[str, list[int]] = field(default_factory=dict)  # gateway -> device IDs
    last_error: Any = None
    last_reply: Any = None
    stream_errors: list[Any] = field(default_factory=list)
    raw_answer: bytes = b""  # the last hand-encoded call's answer


def logged_in_client(cm: CmState, tenant: str) -> MasterClient:
    if tenant not in cm.clients:
        client = cm.bed.client(tenant)
        cm.bed.run(client.login())
        cm.clients[tenant] = client
    return cm.clients[tenant]


def outcome(cm: CmState, attempt: Any) -> Any:
    """Run a call; keep its reply or its gRPC error as the scenario's last outcome."""
    cm.last_error = None
    try:
        cm.last_reply = cm.bed.run(attempt)
    except grpc.RpcError as exc:
        cm.last_error, cm.last_reply = exc, None
    return cm.last_reply


def call(cm: CmState, tenant: str, rpc: str, **fields: Any) -> Any:
    """``rpc`` by a logged-in ``tenant``; reply or error kept in ``cm``."""
    return outcome(cm, logged_in_client(cm, tenant).call(rpc, **fields))


def id_list(text: str) -> list[int]:
    return [int(x) for x in text.replace(",", " ").split()]


def device(cm: CmState, device_id: int) -> int:
    """The real device ID of scenario device ``device_id``."""
    return cm.bed.binding.device(device_id)


def devices(cm: CmState, text: str) -> list[int]:
    return [device(cm, d) for d in id_list(text)]


def pass_time(cm: CmState, seconds: float) -> None:
    cm.bed.run(cm.bed.sleep(seconds))


def place_terminal(cm: CmState, device_id: int, gateway: str, host: int, **spec: Any) -> None:
    """A terminal in the scenario's world (see :mod:`scenarios.connect_master.placement`)."""
    cm.bed.run(cm.bed.place({"deviceID": device_id, "gateway": gateway, "host": host, **spec}))
