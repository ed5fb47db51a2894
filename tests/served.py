"""Starting `hil serve ...` in a separate process, as an external SUT, for the tests that judge
one over real sockets."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(port: int, proc: subprocess.Popen, limit: float = 60.0) -> None:
    """Until something listens on ``port`` (or the process died, or ``limit`` passed)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            output = proc.stdout.read() if proc.stdout else ""
            raise RuntimeError(f"hil serve exited early: {output}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listened on {port} within {limit} s")


@contextmanager
def hil_serve(*args: str) -> Iterator[subprocess.Popen]:
    """``hil serve <args>`` in its own process, stopped afterwards."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "conformance.cli", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def served_connect_master(out: Path, terminals: int, scale: int) -> Iterator[dict[str, Any]]:
    """``hil serve connect-master``; yields its ports and the SUT declaration it wrote."""
    port, gw_port, control = free_port(), free_port(), free_port()
    with hil_serve(
        "connect-master",
        "--port",
        str(port),
        "--gateway-port",
        str(gw_port),
        "--control-port",
        str(control),
        "--terminals",
        str(terminals),
        "--out-dir",
        str(out),
        "--scale",
        str(scale),
        "--duration",
        "600",
    ) as proc:
        wait_for(control, proc)
        deadline = time.monotonic() + 30
        while not (out / "sut.yaml").is_file() and time.monotonic() < deadline:
            time.sleep(0.1)
        yield {
            "out": out,
            "port": port,
            "gateway_port": gw_port,
            "control": control,
            "sut": yaml.safe_load((out / "sut.yaml").read_text()),
        }
