"""Fuzz campaigns against the MQTT system's HTTP APIs (see :mod:`scenarios.fuzzing`).

====================  ========================================================================
``platform-control``  the platform emulator's control API
                      (:mod:`devices.cloud.mqtt_platform.control_api`), served as ``hil serve
                      mqtt-platform`` serves it but in a fresh world (virtual time); requests
                      drawn from its own ``GET /openapi.json``, most with the admin key, some
                      with none, a wrong one or a gateway's access token (a 2xx to those on
                      an ``/api`` route is an ``auth-bypass``)
``world-control``     the shared world-control campaign (:mod:`scenarios.control_fuzz`) at
                      ``hil serve mqtt-gateway``'s world-control API (:mod:`.control`): the
                      builtin world, meter 1 and sensor "HR 1" the inputs may act on, meter 2
                      and a sensor "GUARD 1" they never name
====================  ========================================================================

Before the ``platform-control`` inputs two gateways log in over MQTT and store telemetry and
attributes: a *guard* in a tenant of its own, which no input names, and a *target* in the
default tenant, which the inputs may act on (it stays connected, so RPCs and attribute pushes
reach it; it never answers an RPC). Afterwards a good request must be answered, the guard's
device, data and gateway must be exactly as they were, and neither tenant may see the other's
devices.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

from devices.cloud.mqtt_platform.serve_support import ServedPlatform, start_platform
from devices.protocols.http_client import HttpClient
from devices.protocols.mqtt.codec import PacketReader, encode
from devices.protocols.mqtt.packet_types import PROTOCOL_3_1_1
from devices.protocols.mqtt.packets import ConnAck, Connect, Disconnect, Packet, PubAck, Publish
from scenarios import control_fuzz
from scenarios.fuzzing import FuzzTally
from scenarios.http_fuzz import (
    Connector,
    HttpCase,
    LogWatch,
    answer_class,
    case_strategy,
    draw_cases,
    exchange,
)
from scenarios.mqtt_gateway.worlds import new_world
from sim.clock import VIRTUAL
from sim.iplink import IpNetwork
from sim.world import World

SYSTEM = "mqtt-gateway"
INTERFACES = ("platform-control", "world-control")
Progress = Callable[[int, int], None]

HOST, MQTT_PORT, CONTROL_PORT = "platform", 1883, 8080
ADMIN_KEY = "fuzz-admin-" + "k3y-0123456789"
GUARD_TENANT, GUARD_GATEWAY, GUARD_DEVICE = "guard-tenant", "guard-gw", "Guard Meter"
TARGET_TENANT, TARGET_GATEWAY, TARGET_DEVICE = "default", "target-gw", "Target Meter"
TELEMETRY = [
    {"ts": 1000, "values": {"kwh": 1.5, "state": "on"}},
    {"ts": 2000, "values": {"kwh": 2}},
]
WRONG_SHARE = 0.2  # inputs sent with no, a wrong or another party's credential


def campaign(
    interface: str, examples: int, seed: int, progress: Progress | None = None
) -> FuzzTally:
    """``examples`` inputs at ``interface`` (one of :data:`INTERFACES`)."""
    if interface not in INTERFACES:
        raise ValueError(f"no interface {interface!r}; interfaces: {', '.join(INTERFACES)}")
    if interface == "world-control":
        return control_fuzz.campaign(SYSTEM, examples, seed, progress)
    tally = FuzzTally(SYSTEM, interface)
    world = new_world(seed, VIRTUAL, keep_trace=False)
    try:
        world.run(_platform_attack(world, tally, examples, seed, progress))
    finally:
        world.close()
    return tally


# -- gateways over MQTT ---------------------------------------------------------------------------
class _Gateway:
    """A minimal MQTT 3.1.1 gateway on an in-world link: logs in, publishes, stays or leaves."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.packets = PacketReader(version=PROTOCOL_3_1_1)
        self.next_id = 0

    @classmethod
    async def login(cls, net: IpNetwork, token: str, name: str) -> _Gateway:
        gateway = cls(*await net.open_connection(HOST, MQTT_PORT))
        gateway._send(Connect(name, PROTOCOL_3_1_1, keepalive=0, username=token))
        connack = await gateway._expect(ConnAck)
        if connack.reason_code != 0:
            raise RuntimeError(f"the campaign's gateway {name} was refused: {connack}")
        return gateway

    async def publish(self, topic: str, body: Any) -> None:
        self.next_id += 1
        self._send(Publish(topic, json.dumps(body).encode(), qos=1, packet_id=self.next_id))
        ack = await self._expect(PubAck)
        if ack.reason_code != 0:
            raise RuntimeError(f"the platform refused the campaign's {topic}: {ack}")

    async def report(self, device: str, attributes: dict[str, Any]) -> None:
        """Connect ``device`` and store its telemetry and client attributes."""
        await self.publish("v1/gateway/connect", {"device": device, "type": "meter"})
        await self.publish("v1/gateway/telemetry", {device: TELEMETRY})
        await self.publish("v1/gateway/attributes", {device: attributes})

    async def drain(self) -> None:
        """Read (and drop) whatever the platform pushes until the link closes."""
        while await self.reader.read(65536):
            pass

    async def leave(self) -> None:
        self._send(Disconnect())
        self.writer.close()

    def _send(self, packet: Packet) -> None:
        self.writer.write(encode(packet, PROTOCOL_3_1_1))

    async def _expect(self, kind: type[Any]) -> Any:
        while True:
            packet = self.packets.next_packet()
            if isinstance(packet, kind):
                return packet
            if packet is None:
                chunk = await asyncio.wait_for(self.reader.read(65536), 10.0)
                if not chunk:
                    raise RuntimeError(f"the platform closed the link before a {kind.__name__}")
                self.packets.feed(chunk)


# -- platform-control -----------------------------------------------------------------------------
def _inline(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with its ``$ref``s replaced by the schemas they name (the strategies read
    schemas, not references)."""
    schemas = doc.get("components", {}).get("schemas", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                return walk(schemas[ref.rsplit("/", 1)[1]])
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(doc)


def _open_paths(doc: dict[str, Any]) -> set[str]:
    """Documented paths none of whose operations needs a credential."""
    default = doc.get("security", [])
    return {
        path
        for path, item in doc["paths"].items()
        if all(not op.get("security", default) for op in item.values())
    }


def _wrong_credentials(gateway_token: str) -> list[str | None]:
    """Authorization headers that must not open an ``/api`` route (None: no header)."""
    basic = base64.b64encode(f"admin:{ADMIN_KEY}".encode()).decode()
    return [
        None,
        "",
        "Bearer ",
        "Bearer wrong",
        f"Bearer {ADMIN_KEY[:-1]}",
        f"Bearer {ADMIN_KEY}x",
        ADMIN_KEY,
        f"Basic {basic}",
        f"Bearer {gateway_token}",  # a gateway's access token is no admin key
    ]


def _with_credentials(
    cases: list[HttpCase], seed: int, gateway_token: str
) -> list[tuple[HttpCase, bool]]:
    """Each case with an Authorization header, and whether that header is the admin key."""
    rng = random.Random(seed)
    wrong = _wrong_credentials(gateway_token)
    dressed = []
    for case in cases:
        credential: str | None = f"Bearer {ADMIN_KEY}"
        if rng.random() < WRONG_SHARE:
            credential = rng.choice(wrong)
        headers = () if credential is None else (("Authorization", credential),)
        dressed.append((replace(case, headers=headers), credential == f"Bearer {ADMIN_KEY}"))
    return dressed


async def _platform_attack(
    world: World, tally: FuzzTally, examples: int, seed: int, progress: Progress | None
) -> None:
    net = IpNetwork(world, name="fuzz")
    served = await start_platform(
        world,
        host=HOST,
        mqtt_port=MQTT_PORT,
        control_port=CONTROL_PORT,
        admin_key=ADMIN_KEY,
        gateways=[(GUARD_GATEWAY, GUARD_TENANT), (TARGET_GATEWAY, TARGET_TENANT)],
        net=net,
    )
    client = HttpClient(
        served.control.url,
        connect=net.open_connection,
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    target = await _Gateway.login(net, served.tokens[(TARGET_TENANT, TARGET_GATEWAY)], "target")
    drained: asyncio.Future[None] | None = None
    try:
        guard = await _Gateway.login(net, served.tokens[(GUARD_TENANT, GUARD_GATEWAY)], "guard")
        await guard.report(GUARD_DEVICE, {"fw": "guard-1"})
        await guard.leave()
        await target.report(TARGET_DEVICE, {"fw": "target-1"})
        drained = asyncio.ensure_future(target.drain())
        await client.request(
            "POST",
            f"/api/devices/{quote(GUARD_DEVICE)}/attributes/shared",
            {"tenant": GUARD_TENANT},
            json_body={"interval": 5},
        )
        await asyncio.sleep(1.0)
        guard_before = await _guard_state(client)
        doc = (await client.request("GET", "/openapi.json")).json()
        pinned = {
            "device": st.sampled_from([TARGET_DEVICE, TARGET_GATEWAY, "nobody"]),
            "gateway": st.sampled_from([TARGET_GATEWAY, "nobody"]),
        }
        cases = draw_cases(case_strategy(_inline(doc), pinned), examples, seed)
        token = served.tokens[(TARGET_TENANT, TARGET_GATEWAY)]
        with LogWatch() as log:
            dressed = _with_credentials(cases, seed, token)
            await _send(dressed, net.open_connection, _open_paths(doc), tally, log, progress)
            await _checks(served, client, tally, guard_before)
            tally.check("no traceback logged", not log.records)
    finally:
        target.writer.close()
        if drained is not None:
            drained.cancel()
        await served.close()


async def _send(
    cases: list[tuple[HttpCase, bool]],
    connect: Connector,
    open_paths: set[str],
    tally: FuzzTally,
    log: LogWatch,
    progress: Progress | None,
) -> None:
    """Send every case; a 2xx on a guarded route without the admin key is an auth bypass."""
    for i, (case, admin) in enumerate(cases, 1):
        logged = len(log.records)
        answer = await exchange(connect, HOST, CONTROL_PORT, case)
        kind = answer_class(answer, len(log.records) > logged)
        guarded = case.operation.split(" ", 1)[1] not in open_paths
        if not admin and guarded and 200 <= answer.status < 300 and kind.isdigit():
            kind = "auth-bypass"
        tally.record(
            kind,
            {
                "operation": case.operation,
                "request": case.target()[:200],
                "authorization": dict(case.headers).get("Authorization"),
                "body": case.body[:200],
                "status": answer.status,
                "answer": answer.body[:200],
            },
        )
        if progress is not None and (i % 500 == 0 or i == len(cases)):
            progress(i, len(cases))


async def _guard_state(client: HttpClient) -> dict[str, Any]:
    """What the guard's tenant holds, through the API."""
    tenant = {"tenant": GUARD_TENANT}
    device = f"/api/devices/{quote(GUARD_DEVICE)}"
    reads = {
        "gateways": ("/api/gateways", tenant),
        "devices": (f"/api/gateways/{GUARD_GATEWAY}/devices", tenant),
        "device": (device, tenant),
        "telemetry": (f"{device}/telemetry", tenant),
        "client": (f"{device}/attributes", tenant),
        "shared": (f"{device}/attributes", {**tenant, "scope": "shared"}),
    }
    state = {}
    for name, (path, params) in reads.items():
        answer = await client.request("GET", path, params)
        state[name] = (answer.status, answer.json())
    return state


async def _checks(
    served: ServedPlatform, client: HttpClient, tally: FuzzTally, guard_before: dict[str, Any]
) -> None:
    telemetry = await client.request("GET", f"/api/devices/{quote(TARGET_DEVICE)}/telemetry")
    points = [(p["ts"], p["key"]) for p in telemetry.json()] if telemetry.status == 200 else []
    expected = sorted((t["ts"], k) for t in TELEMETRY for k in t["values"])
    tally.check("a good request is answered", telemetry.status == 200 and points == expected)
    guard_after = await _guard_state(client)
    tally.check(
        "the guard's device, telemetry, attributes and gateway are intact",
        guard_after == guard_before and guard_before["telemetry"][0] == 200,
    )
    across = [
        await client.request("GET", f"/api/devices/{quote(GUARD_DEVICE)}"),
        await client.request("GET", f"/api/devices/{quote(GUARD_DEVICE)}/telemetry"),
        await client.request("GET", f"/api/gateways/{GUARD_GATEWAY}/devices"),
        await client.request(
            "GET", f"/api/devices/{quote(TARGET_DEVICE)}", {"tenant": GUARD_TENANT}
        ),
    ]
    listed = await client.request("GET", "/api/gateways", {"tenant": TARGET_TENANT})
    names = {g["name"] for g in listed.json()} if listed.status == 200 else {GUARD_GATEWAY}
    tally.check(
        "no tenant sees another's devices",
        all(a.status == 404 for a in across) and GUARD_GATEWAY not in names,
    )
    gateways = served.platform.gateways(TARGET_TENANT)
    connected = any(g.name == TARGET_GATEWAY and g.connections for g in gateways)
    tally.check("the target gateway is still connected", connected)


# -- world-control --------------------------------------------------------------------------------
TARGET_UNIT, GUARD_UNIT = 1, 2
TARGET_SENSOR, GUARD_SENSOR = "HR 1", "GUARD 1"


def gateway_bed(seed: int) -> Any:
    from scenarios.mqtt_gateway.bed import LocalGatewayBed

    return LocalGatewayBed(seed=seed, keep_trace=False)


async def gateway_target(bed: Any) -> control_fuzz.Target:
    from scenarios.mqtt_gateway.control import build_document, control_app, world_state

    await bed.start()
    await bed.place({"ble": {"name": GUARD_SENSOR, "index": 2, "position": [4.0, 0.0, 0.0]}})

    async def guard_state() -> Any:
        state = world_state(bed)
        meters = [m for m in state["meters"] if m["unit"] == GUARD_UNIT]
        return meters, [p for p in state["peripherals"] if p["name"] == GUARD_SENSOR]

    async def good(client: HttpClient) -> bool:
        moved = await client.request(
            "POST",
            f"/world/peripherals/{quote(TARGET_SENSOR)}/position",
            json_body={"position": [1, 2, 0]},
        )
        world = await client.request("GET", "/world")
        return moved.status == 200 and world.status == 200 and len(world.json()["meters"]) >= 2

    return control_fuzz.Target(
        bed,
        control_app(bed),
        build_document(),
        {
            "unit": st.sampled_from([str(TARGET_UNIT), "200"]),
            "name": st.sampled_from([TARGET_SENSOR, "nobody"]),
        },
        (),
        guard_state,
        good,
    )
