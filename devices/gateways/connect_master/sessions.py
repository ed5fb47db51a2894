"""One live connection between a device gateway and a terminal: commands and keep-alive."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from devices.protocols import terminal_wire as wire


def check_hello(kind: int, hello: dict[str, Any]) -> dict[str, Any]:
    """A terminal's HELLO, checked: FrameError naming the field unless ``deviceID`` is
    1..4294967295, ``type`` 0..255, ``mode`` 0 or 1 and ``ssl`` true or false."""
    if kind != wire.HELLO:
        raise wire.FrameError(f"expected HELLO, got frame kind {kind}")
    rules = {
        "deviceID": (lambda v: _whole(v) and 1 <= v <= 0xFFFFFFFF, "1..4294967295"),
        "type": (lambda v: _whole(v) and 0 <= v <= 0xFF, "0..255"),
        "mode": (lambda v: v in (0, 1) and not isinstance(v, bool), "0 or 1"),
        "ssl": (lambda v: isinstance(v, bool), "true or false"),
    }
    defaults = {"type": 0, "mode": 0, "ssl": False}
    for name, (ok, accepted) in rules.items():
        value = hello.get(name, defaults.get(name))
        if not ok(value):
            raise wire.FrameError(f"HELLO {name} {value!r:.40} not accepted; accepted: {accepted}")
    return hello


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class TerminalSession:
    """Owns the link after HELLO: a reader task, a keep-alive task, one command at a time."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        link: wire.FramedLink,
        hello: dict[str, Any],
        keepalive_s: float,
        dead_after: int = 2,
    ) -> None:
        """A link silent for ``dead_after`` keep-alive periods is dead."""
        self.link = link
        self.device_id = int(hello["deviceID"])
        self.type = int(hello.get("type", 0))
        self.mode = int(hello.get("mode", 0))
        self.ssl = bool(hello.get("ssl", False))
        self.closed = asyncio.Event()
        self._loop = loop
        self._keepalive_s = keepalive_s
        self._dead_after = dead_after
        self._reply: asyncio.Future[dict[str, Any]] | None = None
        self._lock = asyncio.Lock()
        self._heard = loop.time()
        self.close_reason = ""
        self._tasks = [loop.create_task(self._read()), loop.create_task(self._keepalive())]

    async def _read(self) -> None:
        try:
            while True:
                kind, msg = await self.link.recv_json()
                self._heard = self._loop.time()
                if kind == wire.REPLY and self._reply is not None and not self._reply.done():
                    self._reply.set_result(msg)
        except (ConnectionError, wire.FrameError, ssl.SSLError, OSError) as exc:
            self._finish(f"{type(exc).__name__}: {exc}")

    async def _keepalive(self) -> None:
        # Dead links are noticed within two keep-alive periods (the seed's gateways were slow).
        while not self.closed.is_set():
            await asyncio.sleep(self._keepalive_s)
            if self._loop.time() - self._heard > self._dead_after * self._keepalive_s:
                self._finish("keep-alive timeout")
                return
            try:
                self.link.send(wire.PING)
            except ConnectionError:
                self._finish("connection closed")
                return

    async def command(self, op: str, timeout_s: float = 5.0, **args: Any) -> dict[str, Any]:
        """Send CMD and wait for the REPLY; ConnectionError if the link dies or times out."""
        async with self._lock:
            if self.closed.is_set():
                raise ConnectionError(f"device {self.device_id} is not connected")
            self._reply = self._loop.create_future()
            self.link.send_json(wire.CMD, {"op": op, **args})
            waiter = asyncio.ensure_future(self.closed.wait())
            try:
                done, _ = await asyncio.wait(
                    {self._reply, waiter}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                waiter.cancel()
            if self._reply in done:
                return self._reply.result()
            raise ConnectionError(f"device {self.device_id} did not answer {op!r}")

    def close(self, reason: str) -> None:
        self._finish(reason)

    def _finish(self, reason: str) -> None:
        if self.closed.is_set():
            return
        self.close_reason = reason
        self.closed.set()
        self.link.stream.abort() if reason == "keep-alive timeout" else self.link.close()
        current = asyncio.current_task(self._loop)
        for task in self._tasks:
            if task is not current:
                task.cancel()
