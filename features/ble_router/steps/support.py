"""What the BLE router's step modules share: the per-scenario context, SSE stream recorders,
parsers and small helpers (UUID and address normalisation, placeholders, waiting in world time).

pytest-bdd does not await ``async def`` steps, so every step is a plain function that runs a
coroutine in the bed's world (``ctx.run(...)``). Streams are world tasks that keep
recording while later steps let time pass; Then steps judge what they recorded.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import re
import statistics
import urllib.parse
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from conformance.evidence import expect
from conformance.pytest_plugin import HilConfig
from devices.protocols.http_client import HttpClient, HttpError, HttpResponse, SseStream
from features.steps.evidence import write_stream_evidence
from features.steps.text import TYPES, step_text  # noqa: F401  (re-exported)
from scenarios.ble_router.bed import BleBed

T = TypeVar("T")

# -- normalisation ----------------------------------------------------------------------------

BASE_UUID_TAIL = "00001000800000805F9B34FB"
UUID128_TEXT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
MAC_TEXT = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")


def norm_uuid(value: Any) -> str:
    """Any spelling of a UUID (``180D``, ``0x180d``, ``0000180d-0000-1000-8000-00805f9b34fb``,
    Bumble's ``UUID-16:180D (Heart Rate)``) -> upper-case hex, 16-bit ones shortened."""
    text = str(value).strip()
    if text.upper().startswith("UUID-"):
        text = text.split(":", 1)[1].split(" ", 1)[0]
    text = text.upper().removeprefix("0X").replace("-", "")
    if len(text) == 32 and text.endswith(BASE_UUID_TAIL) and text.startswith("0000"):
        return text[4:8]
    if len(text) == 32 and text.endswith(BASE_UUID_TAIL):
        return text[:8]
    return text


def uuid128(short: str) -> str:
    """``180D`` -> ``0000180d-0000-1000-8000-00805f9b34fb`` (the form the seed's answers use)."""
    text = norm_uuid(short).lower()
    if len(text) == 4:
        text = "0000" + text
    if len(text) == 8:
        text = text + BASE_UUID_TAIL.lower()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def norm_mac(value: Any) -> str:
    return str(value).strip().upper()


def norm_hex(value: Any) -> str:
    return str(value).strip().upper().removeprefix("0X")


def as_int(value: Any) -> int | None:
    """A handle as the API gives it (``19`` or ``"19"``) -> int, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def query_dict(text: str) -> dict[str, str]:
    """``"filter_name=HR-1,HR-2&active=1"`` -> ``{"filter_name": "HR-1,HR-2", "active": "1"}``."""
    text = text.strip().lstrip("?")
    if not text:
        return {}
    return dict(urllib.parse.parse_qsl(text, keep_blank_values=True))


def median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else math.nan


# -- SSE stream recorders ---------------------------------------------------------------------


@dataclass
class Received:
    t: float
    data: Any  # the parsed JSON, or {"_raw": text} when the data is not JSON
    raw: str


@dataclass
class StreamRecorder:
    """An SSE stream opened by a step and recorded by a world task until the scenario ends."""

    kind: str
    path: str
    params: dict[str, str]
    events: list[Received] = field(default_factory=list)
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None
    ended_at: float | None = None
    stream: SseStream | None = None
    task: asyncio.Task[None] | None = None
    changed: asyncio.Event | None = None

    @property
    def open(self) -> bool:
        return self.status == 200 and self.ended_at is None

    async def record(self, client: HttpClient, opened: asyncio.Future[None]) -> None:
        loop = asyncio.get_running_loop()
        self.changed = asyncio.Event()
        self.stream = client.sse(self.path, self.params)
        try:
            await self.stream.open()
        except (HttpError, OSError) as exc:
            self.error = str(exc)
            self.ended_at = loop.time()
            if not opened.done():
                opened.set_result(None)
            return
        self.status = self.stream.status
        self.headers = dict(self.stream.headers)
        self.body = self.stream.body
        if not opened.done():
            opened.set_result(None)
        if self.status != 200:
            self.ended_at = loop.time()
            return
        try:
            async for event in self.stream:
                try:
                    data = event.json()
                except ValueError:
                    data = {"_raw": event.data}
                self.events.append(Received(loop.time(), data, event.data))
                self.changed.set()
        except (HttpError, OSError) as exc:
            self.error = str(exc)
        self.ended_at = loop.time()
        self.changed.set()

    def describe(self) -> str:
        if self.error:
            return f"{self.kind} stream failed: {self.error}"
        if self.status != 200:
            return f"{self.kind} stream refused with {self.status}: {self.body[:200]!r}"
        return f"{self.kind} stream ({len(self.events)} events)"

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()
        if self.task is not None and not self.task.done():
            self.task.cancel()


# -- the scenario context ---------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")


@dataclass
class LastRequest:
    method: str
    target: str
    started: float
    elapsed: float
    response: HttpResponse | None
    error: str | None = None


@dataclass
class Ctx:
    """Everything one scenario accumulates; steps read and extend it."""

    bed: BleBed
    client: HttpClient
    specs: dict[str, dict[str, Any]] = field(default_factory=dict)
    streams: dict[str, StreamRecorder] = field(default_factory=dict)
    last: LastRequest | None = None
    concurrent: list[tuple[str, LastRequest]] = field(default_factory=list)
    discovered: dict[str, Any] = field(default_factory=dict)  # cache per node and path
    next_address: int = 1
    marks: dict[str, float] = field(default_factory=dict)

    # running things in the world
    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.bed.run(coro)

    @property
    def now(self) -> float:
        return self.bed.now

    def pass_time(self, seconds: float) -> None:
        self.run(self.bed.sleep(seconds))

    # names and addresses
    def address(self, name: str) -> str:
        return self.bed.address_of(name)

    def address_type(self, name: str) -> str:
        spec = self.specs.get(name)
        if spec is None:
            return "random"
        return "public" if str(spec["address"]).endswith("/P") else "random"

    def expand(self, text: str) -> str:
        """``${HR-1}`` -> the address of peripheral HR-1."""
        return _PLACEHOLDER.sub(lambda m: self.address(m.group(1)), text)

    def name_of(self, address: str) -> str:
        for name in self.specs:
            if norm_mac(self.address(name)) == norm_mac(address):
                return name
        return address

    # HTTP
    async def send_async(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        timeout: float | None = None,
    ) -> LastRequest:
        loop = asyncio.get_running_loop()
        started = loop.time()
        query = ("?" + urllib.parse.urlencode(params)) if params else ""
        try:
            response = await self.client.request(
                method, path, params=params, json_body=json_body, timeout=timeout
            )
        except HttpError as exc:
            return LastRequest(method, path + query, started, loop.time() - started, None, str(exc))
        return LastRequest(method, path + query, started, loop.time() - started, response)

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        timeout: float | None = None,
    ) -> LastRequest:
        self.last = self.run(self.send_async(method, path, params, json_body, timeout))
        return self.last

    def response(self) -> HttpResponse:
        """The last response; a missing one (reset, timeout) is the SUT's failure."""
        last = self.last
        if last is None:
            raise RuntimeError(
                "no request was sent before this step; the scenario is missing a When step"
            )
        if last.response is None and last.error and last.error.startswith("cannot connect"):
            # nothing listens at the declared address: the run's set-up is wrong, this is no
            # verdict on the SUT's behaviour (reported as an error, not a failure)
            raise ConnectionError(f"{last.method} {last.target}: {last.error}")
        expect(
            last.response is not None,
            f"an HTTP answer to {last.method} {last.target}",
            last.error,
            f"{last.method} {last.target} got no answer: {last.error}",
        )
        assert last.response is not None
        return last.response

    def json(self, response: HttpResponse | None = None) -> Any:
        response = response or self.response()
        try:
            return response.json()
        except HttpError:
            where = f"{self.last.method} {self.last.target}" if self.last else "the request"
            expect(
                False,
                "a JSON body",
                response.text[:300],
                f"{where} answered {response.status} with a body that is not JSON",
            )
        return None

    # streams
    def open_stream(self, kind: str, path: str, params: dict[str, str]) -> StreamRecorder:
        old = self.streams.get(kind)
        if old is not None:
            old.close()
        recorder = StreamRecorder(kind, path, params)
        self.streams[kind] = recorder

        async def start() -> None:
            opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            recorder.task = asyncio.get_running_loop().create_task(
                recorder.record(self.client, opened), name=f"sse/{kind}"
            )
            await opened

        self.run(start())
        return recorder

    def stream(self, kind: str) -> StreamRecorder:
        recorder = self.streams.get(kind)
        if recorder is None:
            raise RuntimeError(
                f"the scenario never opened the {kind} stream; open it in an "
                f"earlier step (e.g. 'When a client opens the {kind} stream')"
            )
        if recorder.error and recorder.error.startswith("cannot connect"):
            raise ConnectionError(f"the {kind} stream: {recorder.error}")  # set-up, see above
        return recorder

    def wait_until(
        self, predicate: Callable[[], Any], seconds: float, recorder: StreamRecorder | None = None
    ) -> bool:
        """Let world time pass until ``predicate()`` (sync or async) holds or ``seconds`` have
        passed; with a recorder, wake on its events instead of polling."""

        async def holds() -> bool:
            result = predicate()
            if inspect.isawaitable(result):
                result = await result
            return bool(result)

        async def waiter() -> bool:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + seconds
            while not await holds():
                left = deadline - loop.time()
                if left <= 0:
                    return False
                if (
                    recorder is not None
                    and recorder.changed is not None
                    and recorder.ended_at is None
                ):
                    recorder.changed.clear()
                    try:
                        await asyncio.wait_for(recorder.changed.wait(), left)
                    except TimeoutError:
                        return await holds()
                else:
                    await asyncio.sleep(min(0.1, left))
            return True

        return self.run(waiter())

    async def close_streams(self) -> None:
        tasks = []
        for recorder in self.streams.values():
            recorder.close()
            if recorder.task is not None:
                tasks.append(recorder.task)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def stream_target(self, recorder: StreamRecorder) -> str:
        """What the evidence names a stream by: the request it was opened with."""
        return recorder.stream.target if recorder.stream else recorder.path

    def end(self, record: dict[str, Any], config: HilConfig, folder: Path) -> None:
        """The scenario is over: its streams closed, what they received written as evidence."""
        try:
            self.bed.run(self.close_streams())
        except Exception:  # the bed's own close cancels whatever is left
            pass
        rows = [
            {"stream": r.kind, "target": self.stream_target(r), "t": round(e.t, 6), "data": e.data}
            for r in self.streams.values()
            for e in r.events
        ]
        write_stream_evidence(rows, record, config, folder)

    # peripherals
    def place(self, spec: dict[str, Any]) -> str:
        name = str(spec["name"])
        self.specs[name] = spec
        return self.run(self.bed.place(spec))

    def allocate_address(self, public: bool = False) -> str:
        n = self.next_address
        self.next_address += 1
        block = self.bed.device_block
        tail = f"{block >> 8:02X}:{block & 0xFF:02X}:{(n >> 8) & 0xFF:02X}:{n & 0xFF:02X}"
        return f"00:1B:{tail}/P" if public else f"F0:00:{tail}"

    def router_position(self) -> tuple[float, float, float]:
        router = getattr(self.bed, "router", None)
        position = getattr(router, "position", None)
        if position is None:
            return (0.0, 0.0, 0.0)
        values = [float(v) for v in position] + [0.0, 0.0, 0.0]
        return (values[0], values[1], values[2])

    def position_at(self, distance: float, angle_deg: float = 0.0) -> list[float]:
        x0, y0, z0 = self.router_position()
        a = math.radians(angle_deg)
        return [round(x0 + distance * math.cos(a), 6), round(y0 + distance * math.sin(a), 6), z0]

    def next_bearing(self) -> float:
        """A different bearing (degrees) for each peripheral placed, so two never share a
        spot."""
        return (len(self.specs) * 37.0) % 360.0
