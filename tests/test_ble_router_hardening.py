"""Defects an outside attack found in the router's API and the BLE world-control API, each
reproduced alone on a fresh server and answered as the protocol says: bad input is a 400 in
the router's plain text (JSON ``{"error": ...}`` on world control) naming the field, never an
unhandled 500; HEAD never opens a stream; a half-closed request is answered; a slow request
head is timed out; sessions cannot be predicted and wrong logins are slowed down."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import pytest

from devices.ble.peripheral import BlePeripheral, start_peripheral
from devices.ble.spec import standard_peripheral
from devices.protocols.http_client import HttpClient, HttpResponse
from devices.protocols.http_server import ServerLimits, serve
from scenarios.ble_router.bed import ROUTER_HOST, ROUTER_PORT, LocalBleBed
from scenarios.ble_router.control import control_app
from sim.clock import REAL

NOWHERE = "C0:00:00:00:00:99"  # no device has this address
LONG_NUMBER = "9" * 5000  # int() refuses more than 4300 digits
DEEP_JSON = b"[" * 5000 + b"]" * 5000  # past the json module's recursion limit
NOT_UTF8 = b"passkey=\xff\xfe\xfd"


@pytest.fixture
def bed(make_bed) -> LocalBleBed:
    return make_bed(seed=23)


def internal_errors(bed: LocalBleBed) -> list[dict[str, Any]]:
    return [r for r in bed.world.trace.records if r["event"] == "internal-error"]


def assert_refused(response: HttpResponse, bed: LocalBleBed, field: str) -> None:
    """A 400 in plain text naming ``field``, with no unhandled error behind it."""
    assert response.status == 400, (response.status, response.text[:300])
    assert response.headers["content-type"].startswith("text/plain"), response.headers
    assert field in response.text, response.text[:300]
    assert len(response.body) < 1000  # long input is not echoed whole
    assert not internal_errors(bed)


async def request(bed: LocalBleBed, method: str, path: str, **kwargs: Any) -> HttpResponse:
    return await bed.client().request(method, path, timeout=60, **kwargs)


async def raw_exchange(
    bed: LocalBleBed, data: bytes, half_close: bool = False, wait_s: float = 30.0
) -> bytes:
    """Send ``data`` on one in-world connection (then FIN when ``half_close``) and read what
    comes back until the server closes or ``wait_s`` world seconds passed."""
    reader, writer = await bed.net.open_connection(ROUTER_HOST, ROUTER_PORT)
    writer.write(data)
    if half_close:
        writer.write_eof()
    received = b""
    try:
        async with asyncio.timeout(wait_s):
            while chunk := await reader.read(65536):
                received += chunk
    except TimeoutError:
        pass
    writer.close()
    return received


# -- numbers and texts the old parsers let through to int() ---------------------------------------
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"event": "1", "filter_duplicates": "²"}, "filter_duplicates"),
        ({"event": "1", "filter_duplicates": "٣"}, "filter_duplicates"),
        ({"event": "1", "filter_value": '{"offset":"²","data":"0201"}'}, "offset"),
        ({"event": "1", "filter_duplicates": LONG_NUMBER}, "filter_duplicates"),
        ({"event": "1", "filter_rssi": "-" + LONG_NUMBER}, "filter_rssi"),
    ],
    ids=["superscript", "arabic-indic", "offset-superscript", "long-duplicates", "long-rssi"],
)
def test_odd_digits_in_scan_parameters_are_refused(bed, params, field):
    response = bed.run(request(bed, "GET", "/gap/nodes", params=params))
    assert_refused(response, bed, field)


def test_long_numbers_are_refused_naming_the_parameter(bed):
    async def main() -> list[tuple[HttpResponse, str]]:
        return [
            (
                await request(
                    bed,
                    "GET",
                    "/advertise/start",
                    params={"interval": LONG_NUMBER, "ad_data": "020106"},
                ),
                "interval",
            ),
            (
                await request(
                    bed,
                    "POST",
                    f"/management/nodes/{NOWHERE}/pair",
                    json_body={"timeout": 10**5000 // 10**800},
                ),
                "timeout",
            ),
            (
                await request(
                    bed,
                    "POST",
                    f"/management/nodes/{NOWHERE}/pair",
                    json_body={"timeout": LONG_NUMBER},
                ),
                "timeout",
            ),
        ]

    for response, field in bed.run(main()):
        assert_refused(response, bed, field)


def test_a_long_connect_timeout_is_clamped_like_any_timeout_above_the_range(bed):
    async def main() -> tuple[HttpResponse, list[str]]:
        p = await start_peripheral(bed, standard_peripheral(1, position=(2.0, 0.0, 0.0)))
        response = await request(
            bed,
            "POST",
            f"/gap/nodes/{p.address}/connection",
            json_body={"type": "random", "timeout": LONG_NUMBER},
        )
        return response, bed.router.connected_nodes()

    response, connected = bed.run(main())
    assert (response.status, response.text) == (200, "OK")
    assert len(connected) == 1 and not internal_errors(bed)
    [asked] = [r for r in bed.world.trace.records if r["event"] == "connect-request"]
    assert asked["timeout_ms"] == 20000 and asked["timeout_asked"].startswith("99999")


@pytest.mark.parametrize(
    "path",
    [
        f"/gap/nodes/{NOWHERE}/connection",
        f"/management/nodes/{NOWHERE}/pair",
        f"/management/nodes/{NOWHERE}/pair-input",
        "/gap/batch-connect",
    ],
)
def test_deeply_nested_json_bodies_are_refused(bed, path):
    response = bed.run(
        request(bed, "POST", path, raw=DEEP_JSON, headers={"Content-Type": "application/json"})
    )
    assert_refused(response, bed, "nested")


@pytest.mark.parametrize(
    "path", [f"/management/nodes/{NOWHERE}/pair-input", "/gap/batch-connect", "/cassia/login"]
)
def test_form_bodies_that_are_not_utf8_are_refused(bed, path):
    response = bed.run(
        request(
            bed,
            "POST",
            path,
            raw=NOT_UTF8,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    )
    assert_refused(response, bed, "UTF-8")


@pytest.mark.parametrize("value", [[], {}, 7, None, True])
def test_an_iocapability_that_is_not_a_name_is_refused(bed, value):
    response = bed.run(
        request(bed, "POST", f"/management/nodes/{NOWHERE}/pair", json_body={"iocapability": value})
    )
    assert_refused(response, bed, "iocapability")


# -- streams, half-closed and slow connections ----------------------------------------------------
@pytest.mark.parametrize(
    "target",
    [
        "/gatt/nodes?event=1",
        "/gap/nodes?event=1",
        "/management/nodes/connection-state",
        "/gap/rssi",
    ],
)
def test_head_on_a_stream_answers_the_headers_and_opens_nothing(bed, target):
    head = f"HEAD {target} HTTP/1.1\r\nHost: router\r\nConnection: close\r\n\r\n".encode()
    answer = bed.run(raw_exchange(bed, head, wait_s=90))
    status, _, rest = answer.partition(b"\r\n")
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert status == b"HTTP/1.1 200 OK", answer[:300]
    assert b"text/event-stream" in headers.lower() and body == b""
    assert not [r for r in bed.world.trace.records if r["layer"] == "sse"]
    assert bed.router.open_streams == 0


def test_head_never_acts(bed):
    async def main() -> tuple[bytes, bytes]:
        write = await raw_exchange(
            bed,
            f"HEAD /gatt/nodes/{NOWHERE}/handle/3/value/01 HTTP/1.1\r\nHost: r\r\n"
            "Connection: close\r\n\r\n".encode(),
        )
        advertise = await raw_exchange(
            bed,
            b"HEAD /advertise/start?ad_data=020106 HTTP/1.1\r\nHost: r\r\nConnection: close"
            b"\r\n\r\n",
        )
        return write, advertise

    for answer in bed.run(main()):
        assert answer.startswith(b"HTTP/1.1 405 "), answer[:200]
        assert b"Allow: GET" in answer
    assert not [r for r in bed.world.trace.records if r["event"].startswith("advertis")]


def test_a_half_closed_connection_still_gets_its_answer(bed):
    ask = b"GET /cassia/info HTTP/1.1\r\nHost: router\r\n\r\n"
    answer = bed.run(raw_exchange(bed, ask, half_close=True))
    assert answer.startswith(b"HTTP/1.1 200 OK") and bed.router.mac.encode() in answer


def test_a_half_closed_stream_request_ends_the_stream(bed):
    ask = b"GET /gatt/nodes?event=1 HTTP/1.1\r\nHost: router\r\n\r\n"
    bed.run(raw_exchange(bed, ask, half_close=True, wait_s=5))
    bed.run(asyncio.sleep(1))
    assert bed.router.open_streams == 0


def test_a_request_head_that_never_completes_is_timed_out(bed):
    limits = ServerLimits()
    slow = b"GET /cassia/info HTTP/1.1\r\nHost: rou"
    answer = bed.run(raw_exchange(bed, slow, wait_s=limits.request_timeout_s + 5))
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"within" in answer and bed.world.now < limits.request_timeout_s + 5


def test_a_connection_that_sends_nothing_is_closed(bed):
    limits = ServerLimits()
    answer = bed.run(raw_exchange(bed, b"", wait_s=limits.request_timeout_s + 5))
    assert answer == b"" and bed.world.now < limits.request_timeout_s + 5


def test_slow_and_half_closed_connections_on_real_sockets():
    """The same rules on a kernel socket (the world on the wall clock, a short timeout)."""
    bed = LocalBleBed(seed=3, clock=REAL)
    limits = ServerLimits(request_timeout_s=0.5)

    async def main() -> tuple[bytes, bytes, float]:
        await bed.router.start()
        served = await serve(bed.router.app, bed.world, "127.0.0.1", 0, limits=limits)
        try:
            loop = asyncio.get_running_loop()
            reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
            writer.write(b"GET /cassia/info HTTP/1.1\r\nHost: x\r\n\r\n")
            writer.write_eof()
            answered = await asyncio.wait_for(reader.read(), 30)
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
            started = loop.time()
            writer.write(b"GET /cassia/info HTTP/1.1\r\nX-Slow: ")
            timed_out = await asyncio.wait_for(reader.read(), 30)
            waited = loop.time() - started
            writer.close()
            return answered, timed_out, waited
        finally:
            await served.close()

    try:
        answered, timed_out, waited = bed.run(main())
    finally:
        bed.close()
    assert answered.startswith(b"HTTP/1.1 200 OK")
    # the 0.5 s limit, with room for a starved CI machine (never the 30 s read bound)
    assert timed_out.startswith(b"HTTP/1.1 408 ") and waited < 20


# -- errors in the router's own style -------------------------------------------------------------
def test_unknown_routes_and_methods_are_answered_in_plain_text(bed):
    async def main() -> tuple[HttpResponse, HttpResponse, HttpResponse]:
        return (
            await request(bed, "GET", "/no/such/api"),
            await request(bed, "PUT", "/cassia/info"),
            await request(bed, "POST", "/gap/batch-connect", raw=b"x" * (2 * 1024 * 1024)),
        )

    missing, method, huge = bed.run(main())
    assert missing.status == 404 and missing.headers["content-type"].startswith("text/plain")
    assert "/no/such/api" in missing.text and "<html" not in missing.text.lower()
    assert method.status == 405 and "GET" in method.headers["allow"]
    assert "PUT" in method.text and "GET" in method.text and "405:" not in method.text
    assert huge.status == 413 and huge.headers["content-type"].startswith("text/plain")
    assert "bytes" in huge.text


def test_a_refused_stream_says_why(make_bed):
    bed = make_bed(seed=4, max_sse_streams=1)

    async def main() -> tuple[int, bytes]:
        client = bed.client()
        async with client.sse("/gatt/nodes", {"event": "1"}) as first:
            assert first.status == 200
            async with client.sse("/gatt/nodes", {"event": "1"}) as second:
                return second.status, second.body

    status, body = bed.run(main())
    assert status == 500 and b"too many SSE streams" in body


# -- sessions -------------------------------------------------------------------------------------
def test_a_session_cannot_be_predicted_from_the_seed(make_bed):
    bed = make_bed(seed=5, credentials=("admin", "s3cret"))

    async def main() -> tuple[HttpResponse, list[HttpResponse]]:
        login = await request(
            bed, "POST", "/cassia/login", form={"username": "admin", "password": "s3cret"}
        )
        old_rng = random.Random(f"{bed.world.seed}/{bed.router.name}/login")
        guesses = [f"{old_rng.getrandbits(128):032x}" for _ in range(3)]
        tries = [
            await request(bed, "GET", "/cassia/info", headers={"Cookie": f"session={guess}"})
            for guess in guesses
        ]
        return login, tries

    login, tries = bed.run(main())
    token = login.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    assert login.status == 200 and len(token) >= 32
    assert [t.status for t in tries] == [401, 401, 401]
    assert token not in bed.world.trace.dump()
    assert not any(token in str(entry) for entry in bed.transcript)


def test_repeated_wrong_logins_are_slowed_down_per_client(make_bed):
    bed = make_bed(seed=6, credentials=("admin", "s3cret"))
    other = HttpClient(
        bed.base_url, connect=partial(bed.net.open_connection, client_host="other-client")
    )

    async def login(password: str, client: HttpClient | None = None) -> HttpResponse:
        return await (client or bed.client()).request(
            "POST", "/cassia/login", form={"username": "admin", "password": password}
        )

    async def main() -> dict[str, Any]:
        wrong = [await login(f"guess-{i}") for i in range(6)]
        right_while_locked = await login("s3cret")
        elsewhere = await login("s3cret", other)
        await asyncio.sleep(int(right_while_locked.headers["retry-after"]))
        right_later = await login("s3cret")
        again = [await login(f"again-{i}") for i in range(7)]
        return {
            "wrong": wrong,
            "locked": right_while_locked,
            "elsewhere": elsewhere,
            "later": right_later,
            "again": again,
        }

    seen = bed.run(main())
    assert [r.status for r in seen["wrong"]] == [401] * 5 + [429]
    assert "retry after" in seen["wrong"][-1].text
    assert seen["locked"].status == 429 and seen["elsewhere"].status == 200
    assert int(seen["locked"].headers["retry-after"]) > int(
        seen["wrong"][-1].headers["retry-after"]
    )
    assert seen["later"].status == 200  # the wait passed: the right password works again
    # a success clears the count; failing again locks again, for longer each time
    again = seen["again"]
    assert [r.status for r in again[:6]] == [401] * 5 + [429]
    assert int(again[6].headers["retry-after"]) >= int(again[5].headers["retry-after"])


# -- what the vendor SDK sends --------------------------------------------------------------------
def test_connect_timeout_outside_the_range_is_clamped_and_a_trailing_slash_is_accepted(bed):
    async def main() -> tuple[HttpResponse, HttpResponse, HttpResponse, BlePeripheral]:
        p = await start_peripheral(bed, standard_peripheral(1, position=(2.0, 0.0, 0.0)))
        connect = await request(
            bed,
            "POST",
            f"/gap/nodes/{p.address}/connection",
            json_body={"type": "random", "timeout": 60000},
        )
        write = await request(
            bed, "GET", f"/gatt/nodes/{p.address}/handle/39/value/0100/?noresponse=1"
        )
        listing = await request(bed, "GET", "/gap/nodes/?connection_state=connected")
        return connect, write, listing, p

    connect, write, listing, p = bed.run(main())
    assert (connect.status, connect.text) == (200, "OK")
    assert write.status == 200, write.text
    assert listing.status == 200 and [n["id"] for n in listing.json()["nodes"]] == [p.address]
    [asked] = [r for r in bed.world.trace.records if r["event"] == "connect-request"]
    assert asked["timeout_ms"] == 20000 and asked["timeout_asked"] == "60000"


# -- world control --------------------------------------------------------------------------------
Call = Callable[[str, str, Any], Awaitable[HttpResponse]]


def with_control(bed: LocalBleBed, main: Callable[[Call], Awaitable[Any]]) -> Any:
    async def run() -> Any:
        served = await serve(control_app(bed), bed.world, "control", 81, net=bed.net)
        client = HttpClient(served.url, connect=bed.net.open_connection)

        async def call(method: str, path: str, body: Any = None) -> HttpResponse:
            if isinstance(body, bytes):
                return await client.request(
                    method, path, raw=body, headers={"Content-Type": "application/json"}
                )
            return await client.request(method, path, json_body=body)

        try:
            return await main(call)
        finally:
            await served.close()

    return bed.run(run())


def assert_json_refusal(response: HttpResponse, status: int, field: str) -> None:
    assert response.status == status, (response.status, response.text[:300])
    assert response.headers["content-type"].startswith("application/json")
    assert field in response.json()["error"], response.text[:300]


def test_a_refused_peripheral_leaves_nothing_behind(bed):
    spec = standard_peripheral(1, position=(2.0, 0.0, 0.0))

    async def main(call: Call) -> tuple[HttpResponse, ...]:
        bad = [
            await call("POST", "/world/peripherals", {**spec, "position": position})
            for position in ([], [1, 2, 3, 4], ["a", 0], [1e308 * 10, 0], None)
        ]
        good = await call("POST", "/world/peripherals", spec)
        return (*bad, good)

    *bad, good = with_control(bed, main)
    for response in bad:
        assert_json_refusal(response, 400, "position")
    assert good.status == 201, good.text
    assert list(bed.peripherals) == [spec["name"]]


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/world/peripherals/HIL-0001/passkey", {"passkey": "²"}, 400, "passkey"),
        ("/world/peripherals/HIL-0001/passkey", {"passkey": LONG_NUMBER}, 400, "passkey"),
        ("/world/peripherals/HIL-0001/passkey", DEEP_JSON, 400, "nested"),
        ("/world/peripherals/HIL-0001/position", {"position": [float("inf"), 0]}, 400, "position"),
        ("/world/peripherals/HIL-0001/position", b'{"position": [NaN, 0]}', 400, "position"),
        ("/world/peripherals", DEEP_JSON, 400, "nested"),
        (
            "/world/peripherals",
            {"name": "x", "address": "C0:00:00:00:00:01", "tx_power_dbm": []},
            400,
            "tx_power_dbm",
        ),
        ("/world/nowhere", {}, 404, "/world/nowhere"),
    ],
    ids=["superscript", "long", "deep", "inf", "nan", "deep-spec", "spec-type", "unknown-route"],
)
def test_world_control_refuses_bad_input_naming_the_field(bed, path, body, status, field):
    async def main(call: Call) -> HttpResponse:
        await call("POST", "/world/peripherals", standard_peripheral(1))
        return await call("POST", path, body)

    response = with_control(bed, main)
    assert_json_refusal(response, status, field)
    assert list(bed.peripherals) == ["HIL-0001"]


def test_world_control_answers_a_wrong_method_in_json(bed):
    async def main(call: Call) -> HttpResponse:
        return await call("PUT", "/world", {})

    response = with_control(bed, main)
    assert_json_refusal(response, 405, "PUT")
    assert "GET" in response.headers["allow"]
