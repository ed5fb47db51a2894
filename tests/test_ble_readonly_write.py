"""A write to a read-only characteristic, as an outside client makes it: raw HTTP to
`hil serve ble-router` in another process. The peripheral refuses it with ATT error 0x03 (Write
Not Permitted), the router answers 500 naming that error, and the peripheral's own account
(world control) shows its value unchanged."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.served import served

PERIPHERAL = "HIL-0001"  # the first stock sensor of `--peripherals 1`
DEVICE_NAME = "00002a00-0000-1000-8000-00805f9b34fb"  # GAP Device Name: properties read only
BATTERY_LEVEL = "00002a19-0000-1000-8000-00805f9b34fb"  # read | indicate


@pytest.fixture(scope="module")
def router() -> Iterator[tuple[int, int]]:
    """``hil serve ble-router`` with one stock sensor; (API port, world-control port)."""
    with served(
        "ble-router",
        *("--port", "0", "--control-port", "0", "--peripherals", "1", "--duration", "300"),
    ) as running:
        yield running.port("api"), running.port("control")


def _request(port: int, method: str, path: str, body: Any = None) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        payload = json.dumps(body) if body is not None else None
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def _held(control: int, uuid: str) -> str:
    """The value the peripheral holds for the 16-bit ``uuid``, by its own account."""
    status, text = _request(control, "GET", f"/world/peripherals/{PERIPHERAL}")
    assert status == 200, text
    return str(json.loads(text)["values"][uuid])


def _handle(port: int, node: str, uuid: str) -> int:
    status, text = _request(port, "GET", f"/gatt/nodes/{node}/characteristics")
    assert status == 200, text
    found = [c for c in json.loads(text) if str(c.get("uuid", "")).lower() == uuid]
    assert len(found) == 1, text
    return int(found[0]["handle"])


@pytest.mark.parametrize("uuid, short", [(DEVICE_NAME, "2A00"), (BATTERY_LEVEL, "2A19")])
def test_a_write_to_a_read_only_characteristic_is_refused_with_att_error_0x03(
    router: tuple[int, int], uuid: str, short: str
) -> None:
    port, control = router
    status, text = _request(control, "GET", f"/world/peripherals/{PERIPHERAL}")
    assert status == 200, text
    node = json.loads(text)["address"]
    status, text = _request(port, "POST", f"/gap/nodes/{node}/connection", {"type": "random"})
    assert status == 200, text
    handle = _handle(port, node, uuid)
    before = _held(control, short)

    status, text = _request(port, "GET", f"/gatt/nodes/{node}/handle/{handle}/value/4142")

    assert status == 500, text
    assert "0x03" in text and "WRITE_NOT_PERMITTED" in text, text
    assert _held(control, short) == before != "4142"
    status, text = _request(control, "GET", f"/world/peripherals/{PERIPHERAL}")
    assert not [w for w in json.loads(text)["writes"] if w["uuid"].upper().endswith(short)]
