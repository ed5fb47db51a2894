"""Fuzz campaigns against the reference BLE router (see :mod:`scenarios.fuzzing`).

==================  ==========================================================================
``router-http``     requests drawn from the router's OpenAPI description (:mod:`.api_spec`
                    of the router), in-world, virtual time; a *guard* peripheral the inputs
                    never name stays connected and bonded, a *target* they may act on
``world-control``   the shared world-control campaign (:mod:`scenarios.control_fuzz`)
``sse-churn``       streams of every kind opened and dropped (closed, half-closed, after
                    reading) in random order, past the stream limit: the limit holds, a
                    refusal says why, every stream is released
``slow-connections`` real sockets: silent, trickling, slow-body, half-closed, reset and
                    pipelined connections; each ends within the request timeout, half-closed
                    requests are answered, no connection is left behind
``login``           forged, mutated and predicted session cookies on /cassia/* by every path
                    spelling, and wrong logins from many clients: no bypass, throttling holds
==================  ==========================================================================

``POST /cassia/reboot`` is left out of ``router-http``: a reboot drops every link by design.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import socket
import struct
from collections.abc import Callable
from functools import partial
from typing import Any

from hypothesis import strategies as st

from devices.ble.spec import standard_peripheral
from devices.gateways.ble_router import api_spec
from devices.protocols.http_client import HttpClient
from devices.protocols.http_server import ServerLimits, serve
from scenarios import control_fuzz
from scenarios.ble_router.bed import ROUTER_HOST, ROUTER_PORT, LocalBleBed
from scenarios.fuzzing import FuzzTally
from scenarios.http_fuzz import (
    HttpCase,
    TracedErrors,
    answer_class,
    case_strategy,
    draw_cases,
    exchange,
    parse_answer,
    send_all,
)
from sim.clock import REAL

SYSTEM = "ble-router"
INTERFACES = ("router-http", "world-control", "sse-churn", "slow-connections", "login")
Progress = Callable[[int, int], None]
ABSENT = "C0:00:00:00:FF:01"  # no device has this address
CREDENTIALS = ("admin", "fuzz-" + "s3cret")


def campaign(
    interface: str, examples: int, seed: int, progress: Progress | None = None
) -> FuzzTally:
    """``examples`` inputs at ``interface`` (one of :data:`INTERFACES`)."""
    if interface == "world-control":
        return control_fuzz.campaign(SYSTEM, examples, seed, progress)
    runs: dict[str, Callable[[int, int, Progress | None], FuzzTally]] = {
        "router-http": _router_http,
        "sse-churn": _sse_churn,
        "slow-connections": _slow_connections,
        "login": _login,
    }
    if interface not in runs:
        raise ValueError(f"no interface {interface!r}; interfaces: {', '.join(INTERFACES)}")
    return runs[interface](examples, seed, progress)


def _in_world(seed: int, keep_trace: bool = False, **router: Any) -> LocalBleBed:
    bed = LocalBleBed(seed=seed, keep_trace=keep_trace, router=router)
    bed.run(bed.start())
    return bed


async def _place_pair(bed: LocalBleBed) -> tuple[str, str]:
    """A guard (connected and bonded) and a target (connected) peripheral: their MACs."""
    client = bed.client()
    macs = []
    for index, prefix in ((1, "GUARD-"), (2, "TARGET-")):
        spec = standard_peripheral(index, position=(1.0 + index, 0.0, 0.0), name_prefix=prefix)
        mac = await bed.place(spec)
        answer = await client.request(
            "POST", f"/gap/nodes/{mac}/connection", json_body={"type": "random"}
        )
        if answer.status != 200:
            raise RuntimeError(f"the campaign's {prefix} peripheral did not connect: {answer.text}")
        macs.append(mac)
    paired = await client.request("POST", f"/management/nodes/{macs[0]}/pair", json_body={})
    if paired.status != 200 or paired.json().get("pairingStatusCode") != 1:
        raise RuntimeError(f"the campaign's guard peripheral did not pair: {paired.text}")
    return macs[0], macs[1]


async def _listed(client: HttpClient) -> dict[str, str]:
    """Connected MACs -> pairStatus, through the API."""
    answer = await client.request("GET", "/gap/nodes", {"connection_state": "connected"})
    if answer.status != 200:
        return {}
    return {n["id"]: n["pairStatus"] for n in answer.json()["nodes"]}


async def _good_info(client: HttpClient, mac: str, **headers: str) -> bool:
    answer = await client.request("GET", "/cassia/info", headers=headers or None)
    return answer.status == 200 and answer.json().get("mac") == mac


# -- router-http ----------------------------------------------------------------------------------
def _router_http(examples: int, seed: int, progress: Progress | None) -> FuzzTally:
    tally = FuzzTally(SYSTEM, "router-http")
    bed = _in_world(seed)
    try:
        bed.run(_router_attack(bed, tally, examples, seed, progress))
    finally:
        bed.close()
    return tally


async def _router_attack(
    bed: LocalBleBed, tally: FuzzTally, examples: int, seed: int, progress: Progress | None
) -> None:
    guard, target = await _place_pair(bed)
    errors = TracedErrors(bed.world)
    uuids = st.sampled_from(["180D", "2A37", "180F", "2A19", "2902", "FFF0", "1800"])
    pinned = {
        "node": st.sampled_from([target, target.lower(), ABSENT]),
        "handle": st.integers(1, 48).map(str),
        "service": uuids,
        "characteristic": uuids,
    }
    strategy = case_strategy(api_spec.build(), pinned, skip=[("POST", "/cassia/reboot")])
    cases = draw_cases(strategy, examples, seed)
    await send_all(
        cases, bed.net.open_connection, ROUTER_HOST, ROUTER_PORT, tally, errors, progress
    )
    await asyncio.sleep(2.0)  # let dropped streams and pending procedures settle
    client = bed.client()
    listed = await _listed(client)
    tally.check("a good request is answered", await _good_info(client, bed.router.mac))
    tally.check("the guard is still connected and bonded", listed.get(guard) == "paired")
    tally.check("every stream was released", bed.router.open_streams == 0)
    tally.check("the world's peripherals are intact", len(bed.peripherals) == 2)
    tally.check("no internal error traced", errors() == 0)


# -- sse-churn ------------------------------------------------------------------------------------
STREAMS = (
    ("/gap/nodes", (("event", "1"),)),
    ("/gap/nodes", (("event", "1"), ("active", "1"), ("filter_name", "GUARD*,TARGET*"))),
    ("/gap/nodes", (("event", "1"), ("filter_duplicates", "1"), ("chip", "all"))),
    ("/gatt/nodes", (("event", "1"),)),
    ("/gatt/nodes", (("event", "1"), ("sequence", "2"), ("timestamp", "1"))),
    ("/management/nodes/connection-state", ()),
    ("/gap/rssi", (("rssi_interval", "100"),)),
)
CLOSES = ("close", "half-close", "read-then-close")


def _sse_churn(examples: int, seed: int, progress: Progress | None) -> FuzzTally:
    tally = FuzzTally(SYSTEM, "sse-churn")
    bed = _in_world(seed)
    try:
        bed.run(_churn(bed, tally, examples, seed, progress))
    finally:
        bed.close()
    return tally


async def _churn(
    bed: LocalBleBed, tally: FuzzTally, examples: int, seed: int, progress: Progress | None
) -> None:
    await _place_pair(bed)
    errors = TracedErrors(bed.world)
    limit = bed.router.streams.maximum
    rng = random.Random(seed)
    steps = [rng.randrange(len(STREAMS)) for _ in range(examples)]
    held: list[asyncio.StreamWriter] = []
    limit_held = True
    for i, step in enumerate(steps, 1):
        path, query = STREAMS[step]
        before = errors()
        answer = await exchange_open(bed, HttpCase("GET", path, query))
        writer = answer.pop("writer", None)
        status = answer["status"]
        if status == 200 and writer is not None:
            held.append(writer)
            limit_held &= len(held) <= limit
            tally.record("stream", (path, query))
        elif status == 500 and b"too many SSE streams" in answer["body"]:
            limit_held &= len(held) >= limit
            tally.record("refused-at-limit", (path, query))
        else:
            tally.record(answer_class(answer["parsed"], errors() > before), (path, query))
        # drop some streams, oldest or random, in one of the ways clients leave
        while held and (len(held) > limit or rng.random() < 0.45):
            victim = held.pop(rng.randrange(len(held)))
            how = rng.choice(CLOSES)
            if how == "half-close":
                victim.write_eof()
            victim.close()
        await asyncio.sleep(0.05)  # the closes reach the router
        limit_held &= bed.router.open_streams == len(held)
        if progress is not None and (i % 500 == 0 or i == len(steps)):
            progress(i, len(steps))
    for writer in held:
        writer.close()
    await asyncio.sleep(1.0)
    client = bed.client()
    tally.check("the stream limit held and counted exactly", limit_held)
    tally.check("every stream was released", bed.router.open_streams == 0)
    async with client.sse("/gatt/nodes", {"event": "1"}) as again:
        tally.check("a new stream opens afterwards", again.status == 200)
    tally.check("a good request is answered", await _good_info(client, bed.router.mac))
    tally.check("no internal error traced", errors() == 0)


async def exchange_open(bed: LocalBleBed, case: HttpCase) -> dict[str, Any]:
    """Open a stream request and read its head; the writer stays open when it streams."""
    reader, writer = await bed.net.open_connection(ROUTER_HOST, ROUTER_PORT)
    writer.write(case.wire(ROUTER_HOST))
    received = b""
    try:
        async with asyncio.timeout(30):
            while b"\r\n\r\n" not in received:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                received += chunk
            parsed = parse_answer(received)
            if parsed.status != 200:
                while chunk := await reader.read(65536):
                    received += chunk
                parsed = parse_answer(received)
    except TimeoutError:
        writer.close()
        return {"status": 0, "body": b"", "parsed": parse_answer(received, hung=True)}
    if parsed.status == 200 and parsed.streaming:
        return {"status": 200, "body": b"", "parsed": parsed, "writer": writer}
    writer.close()
    return {"status": parsed.status, "body": parsed.body, "parsed": parsed}


# -- slow-connections (real sockets) --------------------------------------------------------------
SLOW_KINDS = (
    "silent",
    "trickle",
    "slow-body",
    "half-close",
    "half-close-partial",
    "reset",
    "pipelined-half-close",
    "idle-keep-alive",
)
EXPECTED = {
    "silent": {"closed"},
    "trickle": {"408", "reset-by-server"},  # the RST of a closed socket may beat the 408
    "slow-body": {"408"},
    "half-close": {"200"},
    "half-close-partial": {"closed"},
    "reset": {"reset"},
    "pipelined-half-close": {"answered"},
    "idle-keep-alive": {"answered-then-closed"},
}
SLOW_LIMITS = ServerLimits(request_timeout_s=1.0)
SLOW_BATCH = 50
GOOD_REQUEST = b"GET /cassia/info HTTP/1.1\r\nHost: router\r\n\r\n"


def _slow_connections(examples: int, seed: int, progress: Progress | None) -> FuzzTally:
    tally = FuzzTally(SYSTEM, "slow-connections")
    bed = LocalBleBed(seed=seed, clock=REAL, keep_trace=False)
    try:
        bed.run(_slow(bed, tally, examples, seed, progress))
    finally:
        bed.close()
    return tally


async def _slow(
    bed: LocalBleBed, tally: FuzzTally, examples: int, seed: int, progress: Progress | None
) -> None:
    await bed.router.start()
    errors = TracedErrors(bed.world)
    served = await serve(bed.router.app, bed.world, "127.0.0.1", 0, limits=SLOW_LIMITS)
    server = served.runner.server
    rng = random.Random(seed)
    kinds = [rng.choice(SLOW_KINDS) for _ in range(examples)]
    unexpected = 0
    try:
        for start in range(0, len(kinds), SLOW_BATCH):
            batch = kinds[start : start + SLOW_BATCH]
            results = await asyncio.gather(*(_one_slow(served.port, kind) for kind in batch))
            for kind, result in zip(batch, results, strict=True):
                tally.record(result if result in ("hang", "crash") else f"{kind}: {result}", kind)
                unexpected += result not in EXPECTED[kind]
            if progress is not None:
                progress(start + len(batch), len(kinds))
        tally.check(
            f"every connection ended as its kind should ({unexpected} did not)", not unexpected
        )
        await asyncio.sleep(SLOW_LIMITS.request_timeout_s + 2.0)
        left = len(server.connections) if server is not None else -1
        tally.check(f"no connection left behind ({left} open)", left == 0)
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        writer.write(GOOD_REQUEST.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        answer = await asyncio.wait_for(reader.read(), 20)
        writer.close()
        tally.check("a good request is answered", answer.startswith(b"HTTP/1.1 200 OK"))
        tally.check("no internal error traced", errors() == 0)
    finally:
        await served.close()


async def _one_slow(port: int, kind: str) -> str:
    """One connection of ``kind``; its class: what the server did, or hang/crash."""
    # generous beside the server's limit, so a starved CI machine is not taken for a hang
    deadline = 2 * SLOW_LIMITS.request_timeout_s + 10.0
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return "crash"
    try:
        async with asyncio.timeout(deadline):
            return await _act(kind, reader, writer)
    except TimeoutError:
        return "hang"
    except (ConnectionError, OSError):
        return "reset-by-server"
    finally:
        writer.close()


async def _act(kind: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> str:
    if kind == "silent":
        return "closed" if await reader.read() == b"" else "answered"
    if kind == "trickle":

        async def dribble() -> None:
            for byte in GOOD_REQUEST[:-4]:
                writer.write(bytes([byte]))
                await asyncio.sleep(0.05)

        dribbling = asyncio.ensure_future(dribble())
        try:
            answer = await reader.read()
        finally:
            dribbling.cancel()
        return "408" if answer.startswith(b"HTTP/1.1 408") else _status(answer)
    if kind == "slow-body":
        writer.write(b"POST /gap/batch-connect HTTP/1.1\r\nHost: r\r\nContent-Length: 100\r\n\r\n{")
        answer = await reader.read()
        return "408" if answer.startswith(b"HTTP/1.1 408") else _status(answer)
    if kind == "half-close":
        writer.write(GOOD_REQUEST)
        writer.write_eof()
        return _status(await reader.read())
    if kind == "half-close-partial":
        writer.write(GOOD_REQUEST[:20])
        writer.write_eof()
        return _status(await reader.read())
    if kind == "reset":
        writer.write(GOOD_REQUEST[:25])
        sock = writer.get_extra_info("socket")
        if sock is not None:  # close with RST, not FIN
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        return "reset"
    if kind == "pipelined-half-close":
        writer.write(GOOD_REQUEST * 2)
        writer.write_eof()
        answer = await reader.read()
        return "answered" if answer.startswith(b"HTTP/1.1 200 OK") else _status(answer)
    # idle-keep-alive: one request, then nothing: the server closes after its timeout
    writer.write(GOOD_REQUEST)
    answer = await reader.read()
    return "answered-then-closed" if answer.startswith(b"HTTP/1.1 200 OK") else _status(answer)


def _status(answer: bytes) -> str:
    if not answer:
        return "closed"
    return answer[9:12].decode("latin-1") if answer.startswith(b"HTTP/1.") else "garbage"


# -- login ----------------------------------------------------------------------------------------
PROTECTED = (
    "/cassia/info",
    "/cassia/info/",
    "/cassia/info?fields=container",
    "//cassia/info",
    "/cassia//info",
    "/%63assia/info",
    "/cassia/%69nfo",
    "/cassia%2Finfo",
    "/CASSIA/info",
    "/cassia/./info",
    "/cassia/x/../info",
    "/cassia/info;x=1",
    "/cassia/info%00",
    "/./cassia/info",
)


def _login(examples: int, seed: int, progress: Progress | None) -> FuzzTally:
    tally = FuzzTally(SYSTEM, "login")
    bed = _in_world(seed, keep_trace=True, credentials=CREDENTIALS)  # the trace is checked
    try:
        bed.run(_login_attack(bed, tally, examples, seed, progress))
    finally:
        bed.close()
    return tally


def _forgeries(token: str, predicted: list[str]) -> st.SearchStrategy[str]:
    """Cookie headers that must not open /cassia/*: none, random, predicted, mutated."""

    def flip(i: int) -> str:
        i %= len(token)
        return token[:i] + ("0" if token[i] != "0" else "1") + token[i + 1 :]

    return st.one_of(
        st.just(""),
        st.just("session="),
        st.sampled_from([f"session={p}" for p in predicted]),
        st.integers(0, 31).map(lambda i: f"session={flip(i)}"),
        st.integers(1, 31).map(lambda n: f"session={token[:n]}"),
        st.sampled_from(
            [
                f"session={token.upper()}",
                f"session={token}0",
                f"session= {token[1:]}",
                f"sessionid={token}",
                f"Session={token}",
                f"session={token[::-1]}",
                f'session="{token[:-1]}"',
            ]
        ),
        st.binary(min_size=16, max_size=16).map(lambda b: f"session={b.hex()}"),
        st.text(max_size=40).map(lambda t: f"session={t}"),
    )


async def _login_attack(
    bed: LocalBleBed, tally: FuzzTally, examples: int, seed: int, progress: Progress | None
) -> None:
    errors = TracedErrors(bed.world)
    net = bed.net
    admin = HttpClient(bed.base_url, connect=partial(net.open_connection, client_host="admin"))
    login = await admin.request(
        "POST", "/cassia/login", form={"username": CREDENTIALS[0], "password": CREDENTIALS[1]}
    )
    token = login.headers.get("set-cookie", "").split(";")[0].partition("=")[2]
    old_rng = random.Random(f"{bed.world.seed}/{bed.router.name}/login")
    predicted = [f"{old_rng.getrandbits(128):032x}" for _ in range(4)]
    protected = st.builds(
        lambda path, cookie, method: ("protected", method, path, cookie),
        st.sampled_from(PROTECTED),
        _forgeries(token, predicted),
        st.sampled_from(["GET", "GET", "HEAD", "POST"]),
    )
    wrong = st.builds(
        lambda client, user, password: ("login", client, user, password),
        st.integers(0, 40).map(lambda n: f"client-{n}"),
        st.sampled_from([CREDENTIALS[0], "root", "", "admin' --"]),
        st.text(max_size=24).filter(lambda p: p != CREDENTIALS[1]),
    )
    attempts = draw_cases(st.one_of(protected, protected, wrong), examples, seed)
    for i, attempt in enumerate(attempts, 1):
        before = errors()
        if attempt[0] == "protected":
            _, method, path, cookie = attempt
            headers = (("Cookie", cookie),) if cookie else ()
            case = HttpCase(method, path.split("?")[0], _query_of(path), headers=headers)
            answer = await exchange(net.open_connection, ROUTER_HOST, ROUTER_PORT, case)
            kind = answer_class(answer, errors() > before)
            if 200 <= answer.status < 300:
                kind = "auth-bypass"
        else:
            _, client, user, password = attempt
            form = HttpClient(
                bed.base_url, connect=partial(net.open_connection, client_host=client)
            )
            answer_ = await form.request(
                "POST", "/cassia/login", form={"username": user, "password": password}
            )
            kind = "auth-bypass" if answer_.status == 200 else f"login-{answer_.status}"
            if errors() > before:
                kind = "unhandled"
        tally.record(kind, attempt)
        if progress is not None and (i % 500 == 0 or i == len(attempts)):
            progress(i, len(attempts))
    tally.check(
        "the administrator's session still works",
        await _good_info(admin, bed.router.mac, Cookie=f"session={token}"),
    )
    tally.check("the session never reached the trace", token not in bed.world.trace.dump())
    fresh = HttpClient(bed.base_url, connect=partial(net.open_connection, client_host="fresh"))
    statuses = [
        (
            await fresh.request(
                "POST",
                "/cassia/login",
                form={"username": "admin", "password": secrets.token_hex(4)},
            )
        ).status
        for _ in range(6)
    ]
    tally.check("wrong logins are throttled after five", statuses == [401] * 5 + [429])
    tally.check("no internal error traced", errors() == 0)


def _query_of(path: str) -> tuple[tuple[str, str], ...]:
    _, _, query = path.partition("?")
    return tuple(tuple(pair.split("=", 1)) for pair in query.split("&") if "=" in pair)  # type: ignore[misc]
