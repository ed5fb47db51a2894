"""Router calls through the controller (the seed's "AC Managed" forms): ``/api/<router path>?
mac=<gateway-mac>&...`` is the router's local call ``/<router path>?...`` made by the controller
on that router over its uplink, and its answer (status, type, body) comes back as the router
gave it. Streams (scan, notifications, connection states, RSSI) are relayed event by event for
as long as the client and the router's stream last; a scan relayed this way also feeds
positioning.

Refusals before any router is asked: no ``mac=`` (400, the registered routers listed), a
malformed one (400), an unknown router (404), an offline one (503); a router that does not
answer in time is 504. ``mac`` and ``access_token`` are the controller's and are not passed on;
every other parameter, the body and its type are.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from aiohttp import web

from devices.gateways.ble_ac.errors import InvalidRequest, RouterUnreachable
from devices.gateways.ble_ac.streams import serve_feed
from devices.gateways.ble_router.params import parse_mac
from devices.protocols.http_client import HttpError, SseStream

if TYPE_CHECKING:
    from devices.gateways.ble_ac.controller import AccessController
    from devices.gateways.ble_router.sse import SseOutbox

API_PREFIX = "/api"
CONTROLLER_PARAMS = ("mac", "access_token")
# The router's streams: (method, path) -> the query parameter that makes it a stream (None:
# always a stream).
STREAMS: dict[tuple[str, str], str | None] = {
    ("GET", "/gap/nodes"): "event",
    ("GET", "/gatt/nodes"): "event",
    ("GET", "/management/nodes/connection-state"): None,
    ("GET", "/gap/rssi"): None,
}
SCAN_PATH = "/gap/nodes"
PATH_SAFE = "/:@!$&'()*+,;=~"  # what a path keeps unescaped when passed on (RFC 3986 pchar)


def is_stream(method: str, path: str, query: Mapping[str, str]) -> bool:
    key = (method if method != "HEAD" else "GET", path)
    if key not in STREAMS:
        return False
    selector = STREAMS[key]
    return selector is None or selector in query


async def forward(request: web.Request, ac: AccessController) -> web.StreamResponse:
    """Make ``request`` on the router its ``mac=`` names and answer with the router's answer."""
    raw_mac = request.query.get("mac")
    if not raw_mac and ac.deviations.active("missing-mac-not-refused") and ac.registry.records:
        raw_mac = min(ac.registry.records)
    if not raw_mac:
        registered = ", ".join(sorted(ac.registry.records)) or "none yet"
        raise InvalidRequest(
            f"{request.method} {request.path} is a router call: add mac=<gateway-mac> to name "
            f"the router (registered: {registered})"
        )
    record = ac.registry.online_record(parse_mac(raw_mac, "mac (the router's MAC)"))
    if ac.deviations.active("proxy-wrong-router"):
        macs = sorted(r.mac for r in ac.registry.online_records())
        record = ac.registry.records[macs[(macs.index(record.mac) + 1) % len(macs)]]
    path = request.path[len(API_PREFIX) :] or "/"
    wire_path = urllib.parse.quote(path, safe=PATH_SAFE)  # the router's target is ASCII
    params = {k: v for k, v in request.query.items() if k not in CONTROLLER_PARAMS}
    client = ac.uplinks.client(record)
    if is_stream(request.method, path, request.query) and request.method == "GET":
        return await _relay(
            request, ac, record.mac, client.sse(wire_path, params), path == SCAN_PATH
        )
    headers = {}
    if request.content_type and request.body_exists:
        headers["Content-Type"] = request.headers.get("Content-Type", request.content_type)
    body = await request.read() if request.body_exists else None
    try:
        answer = await client.request(request.method, wire_path, params, raw=body, headers=headers)
    except HttpError as exc:
        raise RouterUnreachable(
            f"router {record.mac} did not answer {request.method} {path}: {exc}"
        ) from None
    response = web.Response(status=answer.status, body=answer.body)
    response.headers["Content-Type"] = answer.headers.get("content-type", "text/plain")
    return response


async def _relay(
    request: web.Request, ac: AccessController, mac: str, upstream: SseStream, scan: bool
) -> web.StreamResponse:
    try:
        await upstream.open()
    except HttpError as exc:
        raise RouterUnreachable(f"router {mac} did not open {upstream.target}: {exc}") from None
    if upstream.status != 200:  # the router refused: its answer, as it gave it
        response = web.Response(status=upstream.status, body=upstream.body)
        response.headers["Content-Type"] = upstream.headers.get("content-type", "text/plain")
        return response

    def subscribe(outbox: SseOutbox) -> Callable[[], None]:
        task = ac.world.spawn(_pump(ac, mac, upstream, outbox, scan), name=f"ac/relay/{mac}")

        def stop() -> None:
            upstream.close()
            task.cancel()

        return stop

    return await serve_feed(request, ac, f"relay{upstream.target}", (), subscribe, router=mac)


async def _pump(
    ac: AccessController, mac: str, upstream: SseStream, outbox: SseOutbox, scan: bool
) -> None:
    try:
        async for event in upstream:
            outbox.push(event.data)
            if scan:
                try:
                    report = json.loads(event.data)
                except ValueError:
                    continue
                if isinstance(report, dict):
                    ac.uplinks.report_scan(mac, report, "relay")
    except (HttpError, OSError):
        pass
    finally:
        outbox.close()  # the router's stream ended: so does the client's
