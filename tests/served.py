"""Starting `hil serve ...` in a separate process, as an external SUT, for the tests that judge
one over real sockets.

:func:`served` waits for the addresses the process announces (``listening <role> <address>``
lines, then ``ready``, see :mod:`scenarios.serving`); with ``--port 0`` and the like the kernel
picks the ports, so tests never race each other for a pre-picked one.
"""

from __future__ import annotations

import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
READY_LIMIT_S = 60.0


@dataclass
class Served:
    """A running ``hil serve``: its process, the addresses it announced and all it printed."""

    proc: subprocess.Popen[str]
    listening: dict[str, str] = field(default_factory=dict)  # role -> URL, host:port or path
    lines: list[str] = field(default_factory=list)  # every line so far (kept being read)
    ready_at: float = 0.0  # time.monotonic() when 'ready' was read

    def address(self, role: str) -> str:
        try:
            return self.listening[role]
        except KeyError:
            raise KeyError(
                f"hil serve announced no {role!r}; announced: {self.listening}"
            ) from None

    def port(self, role: str) -> int:
        """The port of the ``role`` listener (its address is a URL or ``host:port``)."""
        return int(self.address(role).rstrip("/").rsplit(":", 1)[1])

    @property
    def output(self) -> str:
        return "".join(self.lines)


def _pump(proc: subprocess.Popen[str], lines: list[str], fresh: queue.Queue[str | None]) -> None:
    """Read the child's output to its end (so it never blocks on a full pipe)."""
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        fresh.put(line)
    fresh.put(None)


def _until_ready(served: Served, fresh: queue.Queue[str | None], limit: float) -> None:
    deadline = time.monotonic() + limit
    while True:
        try:
            line = fresh.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError(
                f"hil serve printed no 'ready' within {limit} s:\n{served.output}"
            ) from None
        if line is None:
            raise RuntimeError(
                f"hil serve exited ({served.proc.wait()}) before 'ready':\n{served.output}"
            )
        words = line.split()
        if words == ["ready"]:
            served.ready_at = time.monotonic()
            return
        if len(words) >= 3 and words[0] == "listening":
            served.listening[words[1]] = words[2]


@contextmanager
def served(*args: str, limit: float = READY_LIMIT_S) -> Iterator[Served]:
    """``hil serve <args>`` in its own process; yields once it printed ``ready``, then stops it
    (SIGTERM, then SIGKILL after 10 s)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "conformance.cli", "serve", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = Served(proc)
    fresh: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=_pump, args=(proc, running.lines, fresh), daemon=True)
    reader.start()
    try:
        _until_ready(running, fresh, limit)
        yield running
    finally:
        _stop(proc)
        reader.join(5)


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def served_connect_master(out: Path, terminals: int, scale: int) -> Iterator[dict[str, Any]]:
    """``hil serve connect-master``; yields its ports and the SUT declaration it wrote."""
    with served(
        "connect-master",
        "--port",
        "0",
        "--gateway-port",
        "0",
        "--control-port",
        "0",
        "--terminals",
        str(terminals),
        "--out-dir",
        str(out),
        "--scale",
        str(scale),
        "--duration",
        "600",
    ) as running:
        sut = yaml.safe_load((out / "sut.yaml").read_text())
        yield {
            "out": out,
            "port": running.port("api"),
            "gateway_port": running.port("gateway-a"),
            "control": running.port("control"),
            "sut": sut,
            "served": running,
        }


# -- for tests that need a free port for something other than hil serve -------------------------


def free_port() -> int:
    """A port free right now (another process may take it before you do: for ``hil serve``
    prefer :func:`served` with ``--port 0``)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
