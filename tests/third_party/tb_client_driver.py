"""Drives ThingsBoard's official ``TBGatewayMqttClient`` (tb-mqtt-client) against a platform.

Our own script, run with the Python of tb-mqtt-client's own virtual environment (never the
project's: the client's paho fork would replace paho-mqtt). It reports on stdout, one JSON
object per line (``{"event": ...}``); the client's log goes to stderr.

    python tb_client_driver.py HOST PORT TOKEN CLIENT_ID DEVICE

1. connects and waits for the session limits (the client asks ``getSessionLimits`` itself);
2. connects ``DEVICE`` (type ``meter``), sends telemetry (one entry, then a list of two) and
   client attributes, subscribes to the device's attribute updates, sets an RPC handler;
3. prints ``waiting``: the test now sets shared attributes and sends an RPC, which the handler
   answers with ``gw_send_rpc_reply``;
4. requests one shared and two client attributes, offers the device for claiming, disconnects
   the device, then itself, and prints ``done``.

Every publish's result (``rc``, 0 = acknowledged) is reported; any step that does not happen
in time prints ``error`` and exits 1.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from typing import Any

from tb_gateway_mqtt import TBGatewayMqttClient

T0 = 1_700_000_000_000
STEP_TIMEOUT_S = 20.0


STARTED = time.monotonic()


def emit(event: str, **fields: Any) -> None:
    t = round(time.monotonic() - STARTED, 3)
    print(json.dumps({"event": event, "t": t, **fields}, default=repr), flush=True)


def wait(condition: threading.Event, what: str) -> None:
    if not condition.wait(STEP_TIMEOUT_S):
        emit("error", step=what)
        sys.exit(1)


def main(host: str, port: int, token: str, client_id: str, device: str) -> None:
    client = TBGatewayMqttClient(host, port, username=token, client_id=client_id)
    updates: list[Any] = []
    rpcs: list[Any] = []
    responses: dict[str, Any] = {}
    updated, called = threading.Event(), threading.Event()
    shared_back, client_back = threading.Event(), threading.Event()

    def on_update(content: Any) -> None:
        updates.append(content)
        emit("attribute_update", content=content)
        updated.set()

    def on_rpc(gateway: TBGatewayMqttClient, content: Any) -> None:
        rpcs.append(content)
        data = content["data"]
        reply = {"done": True, "echo": data.get("params")}
        # this runs on paho's network thread: waiting for the PUBACK here (``.get()``) would
        # block the very thread that reads it, so only the queueing result is reported
        rc = gateway.gw_send_rpc_reply(content["device"], data["id"], reply).rc()
        emit("rpc", content=content, reply=reply, rc=rc)
        called.set()

    def answer(name: str, back: threading.Event) -> Any:
        def on_response(content: Any, error: Any, *_: Any) -> None:
            responses[name] = content
            emit("attribute_response", scope=name, content=content, error=error)
            back.set()

        return on_response

    started = time.monotonic()
    client.connect()
    while not (client.is_connected() and client.rate_limits_received):
        if time.monotonic() - started > STEP_TIMEOUT_S:
            emit("error", step="connect and session limits")
            sys.exit(1)
        time.sleep(0.02)
    emit(
        "connected",
        seconds=round(time.monotonic() - started, 3),
        session_limits=client.rate_limits_received,
        max_payload_size=client.max_payload_size,
        max_inflight=client._client._max_inflight_messages,
    )

    results = {
        "connect": client.gw_connect_device(device, "meter").get(),
        "telemetry_one": client.gw_send_telemetry(
            device, {"ts": T0, "values": {"temperature": 21.5, "humidity": 40}}
        ).get(),
        "telemetry_list": client.gw_send_telemetry(
            device,
            [
                {"ts": T0 + 1000, "values": {"temperature": 21.75, "humidity": 41}},
                {"ts": T0 + 2000, "values": {"temperature": 22.0, "humidity": 42}},
            ],
        ).get(),
        "attributes": client.gw_send_attributes(
            device, {"firmware": "1.2.3", "serial": "A-1"}
        ).get(),
    }
    emit("sent", results=results)
    client.gw_subscribe_to_all_device_attributes(device, on_update)
    client.gw_set_server_side_rpc_request_handler(on_rpc)
    emit("waiting")
    wait(updated, "shared attribute update")
    wait(called, "server-side RPC")

    client.gw_request_shared_attributes(device, ["interval"], answer("shared", shared_back))
    wait(shared_back, "shared attribute response")
    client.gw_request_client_attributes(
        device, ["firmware", "serial"], answer("client", client_back)
    )
    wait(client_back, "client attribute response")

    claim = client.gw_claim(device, "secret-1", 60_000).get()
    disconnect = client.gw_disconnect_device(device).get()
    emit("finished", claim=claim, disconnect=disconnect)
    client.disconnect()
    client.stop()
    emit("done")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    host, port, token, client_id, device = sys.argv[1:6]
    main(host, int(port), token, client_id, device)
