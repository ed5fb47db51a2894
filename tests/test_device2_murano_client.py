"""Exosite's own device client, ``murano-client`` 21.12.22, unchanged, against our Device2
device APIs on loopback (real time, real sockets, TLS).

The client runs in a virtual environment of its own (:mod:`scenarios.mqtt_gateway.venvs`,
built once and cached): it needs paho-mqtt 1.x (its callbacks have 1.x signatures) and
``pkg_resources``. Our driver, ``tests/third_party/murano_client_driver.py``, activates a
device over HTTPS and one over MQTT/TLS, writes and tells values, reads the ``set`` waiting
for it and acknowledges it, and long-polls for 1000 ms to get 304; the test then reads what
arrived in the service. The test skips only when the package registry cannot be reached.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from devices.cloud.device2 import GATEWAY_EVENT
from devices.cloud.device2.device_apis import Device2Apis, DevicePorts, serve_device2_apis
from scenarios.mqtt_gateway.venvs import Venv, VenvError, ensure_venv
from sim.clock import REAL
from sim.world import World

ROOT = Path(__file__).resolve().parents[1]
DRIVER = ROOT / "tests" / "third_party" / "murano_client_driver.py"
MURANO_CLIENT = (
    "murano-client",
    # 1.x: murano-client's paho callbacks; setuptools: its pkg_resources import
    ("murano-client==21.12.22", "paho-mqtt==1.6.1", "setuptools<81"),
)
CONFIG_IO = '{"interval":60}'
DRIVER_TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def murano_venv() -> Venv:
    try:
        venv = ensure_venv(*MURANO_CLIENT)
    except VenvError as exc:
        if exc.registry_unreachable:
            pytest.skip(f"cannot build the murano-client environment: {exc}")
        raise
    if venv.created:
        print(f"built the murano-client environment in {venv.seconds:.1f} s: {venv.path}")
    return venv


def prepare(apis: Device2Apis) -> None:
    gw = apis.service.gateway("example")
    gw.call("addResource", {"alias": "temperature", "format": "number"})
    gw.call("addResource", {"alias": "humidity", "format": "number"})
    gw.call("addResource", {"alias": "config_io", "format": "string", "settable": True})
    for identity in ("murano-http-1", "murano-mqtt-1"):
        gw.call("addIdentity", {"identity": identity})
        gw.call("setIdentityState", {"identity": identity, "config_io": CONFIG_IO})
    gw.contents().put("fw-1.2.bin", b"\x7fELF" + bytes(60), description="firmware 1.2")


def run_driver(venv: Venv, settings: Path) -> subprocess.CompletedProcess[str]:
    env = venv.environ()
    env["NO_PROXY"] = env["no_proxy"] = "localhost,127.0.0.1,::1"
    return subprocess.run(
        [str(venv.python), str(DRIVER), str(settings)],
        env=env,
        capture_output=True,
        text=True,
        timeout=DRIVER_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )


def test_murano_client_works_unchanged_against_our_device_apis(
    murano_venv: Venv, tmp_path: Path
) -> None:
    events: list[dict[str, Any]] = []

    async def main(world: World) -> dict[str, Any]:
        apis = await serve_device2_apis(
            world,
            tmp_path / "d2.db",
            host="127.0.0.1",
            ports=DevicePorts(management=None, http=None, https=0, mqtts=0),
            settings={"fqdn": "localhost"},  # the name the client connects to, and its SNI
        )
        try:
            prepare(apis)
            apis.service.on(GATEWAY_EVENT, lambda _product, event: events.append(event))
            assert apis.tls is not None
            files = apis.tls.write(tmp_path / "tls")
            settings = tmp_path / "driver.json"
            settings.write_text(
                json.dumps(
                    {
                        "https": f"https://localhost:{apis.port('https')}/",
                        "mqtt_port": apis.port("mqtts"),
                        "cacert": str(files["server_ca"]),
                        "http_id": "murano-http-1",
                        "mqtt_id": "murano-mqtt-1",
                        "content_id": "fw-1.2.bin",
                    }
                )
            )
            started = time.monotonic()
            done = await asyncio.to_thread(run_driver, murano_venv, settings)
            deadline = time.monotonic() + 5
            while not any(e["type"] == "disconnect" for e in events):
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
            gw = apis.service.gateway("example")
            return {
                "done": done,
                "seconds": time.monotonic() - started,
                "state": {
                    i: gw.call("getIdentityState", {"identity": i})
                    for i in ("murano-http-1", "murano-mqtt-1")
                },
                "pending": {i: gw.pending_sets(i) for i in ("murano-http-1", "murano-mqtt-1")},
                "now": world.datetime(),
            }
        finally:
            await apis.close()

    world = World(seed=1, clock=REAL, epoch=dt.datetime.now(dt.UTC))
    try:
        found = world.run(main(world))
    finally:
        world.close()
    done: subprocess.CompletedProcess[str] = found["done"]
    print(f"murano-client driver ran {found['seconds']:.1f} s")
    steps = {}
    for line in done.stdout.splitlines():
        if line.startswith('{"step"'):
            entry = json.loads(line)
            steps[entry["step"]] = entry
    assert done.returncode == 0 and "done" in steps, done.stdout + done.stderr[-3000:]

    # HTTP: timestamp, activation, write, tell (record), read + ack, long poll, content
    assert steps["http_timestamp"]["code"] == 200
    assert abs(int(steps["http_timestamp"]["body"]) - found["now"].timestamp()) < 60
    assert steps["http_activated"]["activated"] and steps["http_activated"]["token_length"] == 40
    assert steps["http_write"]["code"] == 204 and steps["http_write"]["success"]
    assert steps["http_tell"]["ok"] and steps["http_tell"]["code"] == 204
    assert steps["http_read"]["code"] == 200
    assert steps["http_read"]["body"] == f"config_io={CONFIG_IO}"
    assert steps["http_ack"]["ok"] and steps["http_ack"]["code"] == 204
    assert steps["http_long_poll"]["code"] == 304
    assert steps["http_long_poll"]["seconds"] >= 0.9
    assert steps["http_content_list"]["body"].split() == ["fw-1.2.bin"]
    content_type, length, _updated, description = steps["http_content_info"]["body"].split(",")
    assert (content_type, length, description) == ("application/octet-stream", "64", "firmware 1.2")

    # MQTT: activation, token connection, the pending set pushed and acknowledged, tell, publish
    assert steps["mqtt_activated"]["activated"] and steps["mqtt_activated"]["token_length"] == 40
    assert steps["mqtt_connected"]["connected"]
    pushed = steps["mqtt_pushed"]
    assert pushed["received"] and pushed["resource"] == "config_io"
    assert pushed["payload"] == CONFIG_IO and int(pushed["timestamp"]) > 10**15
    assert steps["mqtt_ack"]["ok"] and steps["mqtt_tell"]["ok"]
    assert steps["mqtt_publish"]["published"]

    # what the service holds: reported values, acknowledged sets, events
    http_state, mqtt_state = found["state"]["murano-http-1"], found["state"]["murano-mqtt-1"]
    assert http_state["temperature"]["reported"] == 21.5
    assert http_state["humidity"]["reported"] == 40
    assert mqtt_state["temperature"]["reported"] == 22.5
    assert mqtt_state["humidity"]["reported"] == 41
    for state in (http_state, mqtt_state):
        assert state["config_io"]["reported"] == state["config_io"]["set"] == CONFIG_IO
    assert found["pending"] == {"murano-http-1": {}, "murano-mqtt-1": {}}
    kinds = {(e["type"], e["identity"], e["protocol"]) for e in events}
    assert ("provisioned", "murano-http-1", "http") in kinds
    assert ("provisioned", "murano-mqtt-1", "mqtt") in kinds
    assert ("data_in", "murano-http-1", "http") in kinds
    assert ("data_in", "murano-mqtt-1", "mqtt") in kinds
    assert ("connect", "murano-mqtt-1", "mqtt") in kinds
    assert ("disconnect", "murano-mqtt-1", "mqtt") in kinds
    ips = {e["ip"] for e in events if e["type"] == "data_in"}
    assert ips <= {"127.0.0.1", "::1"}
