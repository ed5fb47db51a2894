"""Router calls through the controller (``/api/<router call>?mac=<gateway-mac>``): the router's
configuration, connections, GATT, notifications, pairing and streams, and the refusals when
the router is missing, unknown or offline."""

from __future__ import annotations

import math
from typing import Any

from pytest_bdd import then, when

from conformance.evidence import expect
from devices.ble.gatt_uuids import HEART_RATE_MEASUREMENT, cccd_handle
from features.ble_ac.steps.support import AcCtx, norm_mac, status_is, step_text
from features.ble_router.steps.scan import bdaddrs_of

UNKNOWN_ROUTER = "CC:1B:E0:0F:FF:FE"
RELAYED = "relay/{kind}/{router}"
STREAM_PATHS = {
    "scan": ("/api/gap/nodes", {"event": "1"}),
    "notification": ("/api/gatt/nodes", {"event": "1"}),
    "connection-state": ("/api/management/nodes/connection-state", {}),
    "RSSI": ("/api/gap/rssi", {"rssi_interval": "1000"}),
}


def on_router(ctx: AcCtx, router: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {**(params or {}), "mac": ctx.router_mac(router)}


def connect_via(ctx: AcCtx, name: str, router: str) -> None:
    ctx.request(
        "POST",
        f"/api/gap/nodes/{ctx.address(name)}/connection",
        on_router(ctx, router),
        json_body={"type": ctx.address_type(name), "timeout": 5000},
    )


def cccd_via(ctx: AcCtx, name: str, router: str) -> int:
    ctx.request(
        "GET",
        f"/api/gatt/nodes/{ctx.address(name)}/services/characteristics/descriptors",
        on_router(ctx, router),
    )
    status_is(ctx, 200)
    handle = cccd_handle(ctx.json(), HEART_RATE_MEASUREMENT)
    expect(handle is not None, "a heart-rate CCCD in the discovery", str(ctx.json())[:300])
    assert handle is not None
    return handle


def enable_notifications_via(ctx: AcCtx, name: str, router: str) -> None:
    handle = cccd_via(ctx, name, router)
    ctx.request(
        "GET",
        f"/api/gatt/nodes/{ctx.address(name)}/handle/{handle}/value/0100",
        on_router(ctx, router),
    )
    status_is(ctx, 200)


@when(step_text('a client asks router "{router:Q}" for its configuration'))
def _(ctx: AcCtx, router: str) -> None:
    ctx.request("GET", "/api/cassia/info", on_router(ctx, router))


@when("a client asks for a router's configuration without naming the router")
def _(ctx: AcCtx) -> None:
    ctx.request("GET", "/api/cassia/info")


@when("a client asks a router the controller does not know for its configuration")
def _(ctx: AcCtx) -> None:
    ctx.request("GET", "/api/cassia/info", {"mac": UNKNOWN_ROUTER})


@then(step_text('the answer is the configuration of router "{router:Q}"'))
def _(ctx: AcCtx, router: str) -> None:
    status_is(ctx, 200)
    body = ctx.json()
    mac = ctx.router_mac(router)
    expect(
        isinstance(body, dict) and norm_mac(body.get("mac", "")) == mac and "version" in body,
        f"router {router}'s /cassia/info (mac {mac}, version...)",
        str(body)[:300],
    )


@when(step_text('a client connects "{name:Q}" through router "{router:Q}"'))
def _(ctx: AcCtx, name: str, router: str) -> None:
    connect_via(ctx, name, router)


@when(step_text('a client disconnects "{name:Q}" through router "{router:Q}"'))
def _(ctx: AcCtx, name: str, router: str) -> None:
    ctx.request("DELETE", f"/api/gap/nodes/{ctx.address(name)}/connection", on_router(ctx, router))


async def listed_on(ctx: AcCtx, router: str) -> list[str]:
    """The devices router ``router`` lists as connected (``ctx.last`` is that answer)."""
    ctx.last = await ctx.send_async(
        "GET", "/api/gap/nodes", on_router(ctx, router, {"connection_state": "connected"})
    )
    response = ctx.last.response
    if response is None or response.status != 200:
        return []
    try:
        body = response.json()
    except Exception:  # judged by the caller through ctx.last
        return []
    nodes = body.get("nodes", []) if isinstance(body, dict) else []
    return [norm_mac(n.get("id", "")) for n in nodes if isinstance(n, dict)]


def connected_on(ctx: AcCtx, router: str) -> list[str]:
    return ctx.run(listed_on(ctx, router))


@then(step_text('router "{router:Q}" lists "{name:Q}" as connected'))
def _(ctx: AcCtx, router: str, name: str) -> None:
    listed = connected_on(ctx, router)
    status_is(ctx, 200)
    expect(norm_mac(ctx.address(name)) in listed, f"{name} connected on {router}", listed)


@then(step_text('router "{router:Q}" does not list "{name:Q}" as connected'))
def _(ctx: AcCtx, router: str, name: str) -> None:
    listed = connected_on(ctx, router)
    status_is(ctx, 200)
    expect(norm_mac(ctx.address(name)) not in listed, f"{name} not connected on {router}", listed)


@when(step_text('a client discovers the services of "{name:Q}" through router "{router:Q}"'))
def _(ctx: AcCtx, name: str, router: str) -> None:
    ctx.request("GET", f"/api/gatt/nodes/{ctx.address(name)}/services", on_router(ctx, router))


@then(step_text('the services include "{uuid:Q}"'))
def _(ctx: AcCtx, uuid: str) -> None:
    status_is(ctx, 200)
    body = ctx.json()
    uuids = (
        [str(s.get("uuid", "")).lower() for s in body if isinstance(s, dict)]
        if isinstance(body, list)
        else []
    )
    expect(any(u[4:8] == uuid.lower() for u in uuids), f"service {uuid}", uuids)


@when(step_text('a client reads the heart rate of "{name:Q}" through router "{router:Q}"'))
def _(ctx: AcCtx, name: str, router: str) -> None:
    ctx.request(
        "GET",
        f"/api/gatt/nodes/{ctx.address(name)}/characteristics",
        on_router(ctx, router, {"uuid": "2A37"}),
    )
    status_is(ctx, 200)
    handle = ctx.json().get("handle")
    ctx.request(
        "GET", f"/api/gatt/nodes/{ctx.address(name)}/handle/{handle}/value", on_router(ctx, router)
    )


@then("the answer is a value read")
def _(ctx: AcCtx) -> None:
    status_is(ctx, 200)
    body = ctx.json()
    expect(
        isinstance(body, dict) and isinstance(body.get("value"), str) and "handle" in body,
        '{"handle": ..., "value": <hex>}',
        str(body)[:200],
    )


@when(step_text('a client enables the notifications of "{name:Q}" through router "{router:Q}"'))
def _(ctx: AcCtx, name: str, router: str) -> None:
    enable_notifications_via(ctx, name, router)


@when(step_text('a client pairs with "{name:Q}" through router "{router:Q}"'))
def _(ctx: AcCtx, name: str, router: str) -> None:
    ctx.request(
        "POST",
        f"/api/management/nodes/{ctx.address(name)}/pair",
        on_router(ctx, router),
        json_body={"iocapability": "NoInputNoOutput", "type": ctx.address_type(name)},
        timeout=30,
    )


@then(step_text('the pairing answer is "{status:Q}"'))
def _(ctx: AcCtx, status: str) -> None:
    status_is(ctx, 200)
    body = ctx.json()
    expect(
        isinstance(body, dict) and body.get("pairingStatus") == status,
        f'{{"pairingStatus": "{status}"}}',
        str(body)[:200],
    )


@when(step_text('a client opens the {kind} stream of router "{router:Q}"'))
def _(ctx: AcCtx, kind: str, router: str) -> None:
    if kind not in STREAM_PATHS:
        raise ValueError(f"which stream? {kind!r}; accepted: {', '.join(STREAM_PATHS)}")
    path, params = STREAM_PATHS[kind]
    ctx.open_stream(RELAYED.format(kind=kind, router=router), path, on_router(ctx, router, params))


def _relayed(ctx: AcCtx, kind: str, router: str) -> Any:
    recorder = ctx.stream(RELAYED.format(kind=kind, router=router))
    expect(recorder.status == 200, "the stream open (200)", recorder.describe())
    return recorder


@then(
    step_text(
        'the scan stream of router "{router:Q}" reports "{name:Q}" within {seconds:N} seconds'
    )
)
def _(ctx: AcCtx, router: str, name: str, seconds: float) -> None:
    recorder = _relayed(ctx, "scan", router)
    address = norm_mac(ctx.address(name))
    seen = ctx.wait_until(
        lambda: any(address in bdaddrs_of(e.data) for e in recorder.events), seconds, recorder
    )
    expect(seen, f"a scan report of {name}", recorder.describe())


def reports_id(ctx: AcCtx, kind: str, router: str, name: str, seconds: float, wanted: str) -> None:
    """Router ``router``'s relayed ``kind`` stream brings a message whose ``id`` is ``name``'s
    address within ``seconds`` (the notification and RSSI streams say so alike)."""
    recorder = _relayed(ctx, kind, router)
    address = norm_mac(ctx.address(name))

    def seen() -> bool:
        return any(
            isinstance(e.data, dict) and norm_mac(e.data.get("id", "")) == address
            for e in recorder.events
        )

    expect(ctx.wait_until(seen, seconds, recorder), wanted, recorder.describe())


def nearby_floor(ctx: AcCtx, name: str, router: str) -> float:
    """The RSSI halfway, in dB, between what ``router`` and what the nearest other router hear
    of ``name`` (the stock sensor, 0 dBm), by the bed's radio model: a report at least this
    strong came from ``router``'s radio, not a farther router's."""
    config = ctx.bed.radio_model()
    where = ctx.run(ctx.bed.peripheral_state(name))["position"]

    def loss(at: str) -> float:
        d = max(math.dist(where, ctx.router_at(at)), 0.1)
        return config.path_loss_at_1m_db + 10.0 * config.path_loss_exponent * math.log10(d)

    others = [loss(r) for r in ctx.bed.router_names() if r != router]
    return -(loss(router) + min(others)) / 2 if others else -math.inf


@then(
    step_text(
        'the scan stream of router "{router:Q}" reports "{name:Q}" heard from nearby within '
        "{seconds:N} seconds"
    )
)
def _(ctx: AcCtx, router: str, name: str, seconds: float) -> None:
    """Every router in range hears the peripheral; only the strength of what is reported tells
    whose radio heard it (a controller relaying another router's stream passes the plain
    check)."""
    recorder = _relayed(ctx, "scan", router)
    address = norm_mac(ctx.address(name))
    floor = nearby_floor(ctx, name, router)

    def readings() -> list[int]:
        return [
            e.data["rssi"]
            for e in recorder.events
            if address in bdaddrs_of(e.data) and isinstance(e.data.get("rssi"), int)
        ]

    ctx.wait_until(lambda: any(r >= floor for r in readings()), seconds, recorder)
    heard = readings()
    expect(
        any(r >= floor for r in heard),
        f"a scan report of {name} at {floor:.0f} dBm or stronger (router {router}'s radio)",
        f"RSSI of its reports: {heard[:20]}" if heard else recorder.describe(),
    )


@then(
    step_text(
        'the notification stream of router "{router:Q}" reports "{name:Q}" within '
        "{seconds:N} seconds"
    )
)
def _(ctx: AcCtx, router: str, name: str, seconds: float) -> None:
    reports_id(ctx, "notification", router, name, seconds, f"a notification of {name}")


@then(
    step_text(
        'the connection-state stream of router "{router:Q}" reports "{name:Q}" {state} within '
        "{seconds:N} seconds"
    )
)
def _(ctx: AcCtx, router: str, name: str, state: str, seconds: float) -> None:
    recorder = _relayed(ctx, "connection-state", router)
    address = norm_mac(ctx.address(name))

    def seen() -> bool:
        return any(
            isinstance(e.data, dict)
            and norm_mac(e.data.get("handle", "")) == address
            and e.data.get("connectionState") == state
            for e in recorder.events
        )

    expect(ctx.wait_until(seen, seconds, recorder), f"{name} {state}", recorder.describe())


@when(step_text('a client reboots router "{router:Q}" through the controller'))
def _(ctx: AcCtx, router: str) -> None:
    ctx.marks["fault"] = ctx.now
    ctx.request("POST", "/api/cassia/reboot", on_router(ctx, router))


@when(step_text('a client batch-connects "{name:Q}" through router "{router:Q}"'))
def _(ctx: AcCtx, name: str, router: str) -> None:
    ctx.request(
        "POST",
        "/api/gap/batch-connect",
        on_router(ctx, router),
        json_body={
            "list": [{"type": ctx.address_type(name), "addr": ctx.address(name)}],
            "timeout": "5000",
        },
    )


@when(step_text('a client empties the batch-connect queue of router "{router:Q}"'))
def _(ctx: AcCtx, router: str) -> None:
    ctx.request("DELETE", "/api/gap/batch-connect", on_router(ctx, router))


@when(step_text('a client makes router "{router:Q}" advertise through the controller'))
def _(ctx: AcCtx, router: str) -> None:
    ctx.request(
        "GET",
        "/api/advertise/start",
        on_router(
            ctx,
            router,
            {"interval": "200", "ad_type": "0", "ad_data": "0201060503AAFEBBFE", "resp_data": ""},
        ),
    )


@when(step_text('a client stops the advertising of router "{router:Q}" through the controller'))
def _(ctx: AcCtx, router: str) -> None:
    ctx.request("GET", "/api/advertise/stop", on_router(ctx, router))


@when(step_text('a client reads the RSSI of "{name:Q}" through router "{router:Q}"'))
def _(ctx: AcCtx, name: str, router: str) -> None:
    ctx.request("GET", f"/api/gap/nodes/{ctx.address(name)}/rssi", on_router(ctx, router))


@then(step_text('the answer is an RSSI reading of "{name:Q}"'))
def _(ctx: AcCtx, name: str) -> None:
    status_is(ctx, 200)
    body = ctx.json()
    expect(
        isinstance(body, dict)
        and norm_mac(body.get("id", "")) == norm_mac(ctx.address(name))
        and isinstance(body.get("rssi"), int),
        f'{{"id": "{ctx.address(name)}", "rssi": <dBm>}}',
        str(body)[:200],
    )


@then(
    step_text(
        'the RSSI stream of router "{router:Q}" reports "{name:Q}" within {seconds:N} seconds'
    )
)
def _(ctx: AcCtx, router: str, name: str, seconds: float) -> None:
    reports_id(ctx, "RSSI", router, name, seconds, f"an RSSI report of {name}")
