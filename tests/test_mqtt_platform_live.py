"""The platform on real loopback sockets (``start_platform``, as ``hil serve mqtt-platform``
runs it), in a real-time world: a live paho client of each version on its own network thread,
as real gateways run, and the control API over a real HTTP connection."""

from __future__ import annotations

import asyncio
import json
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devices.cloud.mqtt_platform.serve_support import start_platform
from devices.protocols.http_client import HttpClient
from sim.clock import REAL
from sim.world import World
from tests.mqtt_support import PahoEvents

VERSIONS = pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5], ids=["3.1.1", "5"])


async def until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.01)


@VERSIONS
def test_live_gateway_telemetry_session_limits_and_rpc(tmp_path, protocol):
    world = World(seed=1, clock=REAL)

    async def main():
        served = await start_platform(
            world,
            mqtt_port=0,
            control_port=0,
            db=tmp_path / "live.db",
            gateways=[("gw-live", "default")],
        )
        token = served.tokens[("default", "gw-live")]
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id="gw-live",
            protocol=protocol,
            reconnect_on_failure=False,
        )
        client.username_pw_set(token)
        events = PahoEvents(client)

        def answer_rpc(c, _userdata, msg):
            request = json.loads(msg.payload)
            reply = {"device": request["device"], "id": request["data"]["id"], "data": "done"}
            c.publish("v1/gateway/rpc", json.dumps(reply), qos=1)

        client.message_callback_add("v1/gateway/rpc", answer_rpc)
        client.connect_async("127.0.0.1", served.mqtt_port, 30)
        client.loop_start()
        try:
            await until(lambda: events.of_kind("connack"))
            client.subscribe([("v1/gateway/rpc", 1), ("v1/devices/me/rpc/response/+", 1)])
            await until(lambda: events.of_kind("suback"))
            client.publish(
                "v1/devices/me/rpc/request/1",
                json.dumps({"method": "getSessionLimits", "params": {"timeout": 5000}}),
                qos=1,
            )
            client.publish("v1/gateway/connect", json.dumps({"device": "Live A"}), qos=1)
            sent = client.publish(
                "v1/gateway/telemetry",
                json.dumps({"Live A": [{"ts": 1, "values": {"t": 21.5}}]}),
                qos=1,
            )
            await until(lambda: any(e[1] == sent.mid for e in events.of_kind("puback")))
            api = HttpClient(
                served.control.url, headers={"Authorization": f"Bearer {served.admin_key}"}
            )
            rpc = await api.request("POST", "/api/devices/Live%20A/rpc", json_body={"method": "go"})
            telemetry = await api.request("GET", "/api/devices/Live%20A/telemetry")
            await until(lambda: any("response/1" in e[1] for e in events.of_kind("message")))
        finally:
            client.disconnect()
            client.loop_stop()
            await served.close()
        return events, rpc, telemetry

    try:
        events, rpc, telemetry = world.run(main())
    finally:
        world.close()
    assert events.of_kind("connack")[0][1] == 0
    assert (rpc.status, rpc.json()) == (200, "done")
    assert telemetry.json() == [{"ts": 1, "key": "t", "value": 21.5}]
    limits = [json.loads(e[2]) for e in events.of_kind("message") if "response/1" in e[1]]
    assert limits[0]["maxPayloadSize"] == 65536
