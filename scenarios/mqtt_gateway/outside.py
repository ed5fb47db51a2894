"""Outside programs in the loop: a gateway under test (or a client driver) running as its own
process, in its own virtual environment, talking to our platform and our devices on loopback.

Two layers:

* :class:`OutsideProcess` — one program: started in a new process group with a cleaned
  environment, its stdout and stderr captured (to files, as evidence, and in memory, to wait
  for a line), stopped with a signal (then SIGKILL) or killed outright.
* :class:`OutsideGateway` — a gateway SUT from the ``process`` block of its SUT declaration
  (:class:`GatewayProcessSpec`): installs its pinned packages into a cached virtual environment
  (:mod:`scenarios.mqtt_gateway.venvs`), writes its configuration files from templates, starts
  it with the broker's and the Modbus line's addresses and its access token filled in, and says
  when it is ready (a log line, and/or the platform seeing its CONNECT).

The process block (``endpoints.mqtt-gateway.process`` of a declaration)::

    install: ["thingsboard-gateway==3.8.5", ...]  # pinned; omitted: start names a program on PATH
    venv: thingsboard-gateway                     # the environment's name (default: "gateway")
    start: ["thingsboard-gateway"]                # a list, or one string split like a shell does
    env: {TB_GW_CONFIG_DIR: "{config_dir}"}
    clear_env: [SOME_VAR]                         # cleared besides OVERRIDE_VARIABLES
    files: {"tb_gateway.json": "...", ...}        # config_dir-relative path -> template
    stop: {signal: SIGINT, timeout_s: 10}
    ready: {log: "regular expression", connect: true, timeout_s: 60}

Placeholders, in ``start``, ``env`` and ``files``: ``{broker_host}`` ``{broker_port}``
``{token}`` ``{config_dir}`` ``{workdir}`` ``{modbus_host}`` ``{modbus_port}`` and any other
value the caller passes to :meth:`OutsideGateway.start`. Only ``{name}`` words are
placeholders (JSON braces are left alone); an unknown one is an error naming the known ones.

What the environment of every outside program gets (whatever the machine has set):

* no variable that would override its configuration (:data:`OVERRIDE_VARIABLES`: the
  official gateway reads ``host``, ``port``, ``accessToken``, ``TB_GW_*``... over its file);
* ``HTTP(S)_PROXY``/``ALL_PROXY`` (both cases) pointing at a loopback port that is bound but
  never listens, and ``NO_PROXY`` for loopback: a request to the internet (the official
  gateway's update check, posted from a thread at start and every hour) fails at once, locally,
  while loopback traffic goes direct;
* ``PIP_NO_INDEX=1``: both official clients pip-install what they miss when imported (the
  client its paho fork and ``mmh3``, the gateway its connectors' libraries); an environment
  missing one then fails at once, visibly, instead of reaching for the registry. The pins of a
  declaration's ``install`` must cover all of it.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from scenarios.mqtt_gateway.venvs import Venv, ensure_venv

OVERRIDE_VARIABLES = frozenset(
    {
        "host",
        "port",
        "type",
        "accessToken",
        "caCert",
        "privateKey",
        "cert",
        "clientId",
        "username",
        "password",
        "proxy_host",
        "proxy_port",
        "mqtt_proxy",
        "MQTT_PROXY",
    }
)
"""Variables cleared from an outside program's environment (besides every ``TB_GW_*``)."""
OVERRIDE_PREFIXES = ("TB_GW_",)
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY")
LOOPBACK = "127.0.0.1,localhost,::1"
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
STOP_TIMEOUT_S = 10.0
READY_TIMEOUT_S = 60.0
POLL_S = 0.05
_SIGNALS = ("SIGINT", "SIGTERM", "SIGKILL", "SIGQUIT", "SIGHUP")
_BLOCK_KEYS = {"install", "venv", "start", "env", "clear_env", "files", "stop", "ready"}


class OutsideError(RuntimeError):
    """An outside program could not be set up, started, or did not become ready; the message
    names what was wrong and ends with the program's last output when there is one."""


# -- the environment -------------------------------------------------------------------------------


class ClosedPort:
    """A loopback TCP port that is bound but never listens: connecting to it is refused at
    once. Held for as long as a program may use it, so nobody else takes the port."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port = int(self._sock.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._sock.close()


def outside_environ(
    proxy_url: str,
    extra: Mapping[str, str] | None = None,
    clear: Iterable[str] = (),
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """``base`` (default: this process's environment) without the override variables and
    ``clear``, with every proxy variable set to ``proxy_url`` and loopback exempt, pip's
    package index off, then ``extra`` on top."""
    cleared = OVERRIDE_VARIABLES | set(clear)
    env = {
        k: v
        for k, v in (os.environ if base is None else base).items()
        if k not in cleared and not k.startswith(OVERRIDE_PREFIXES)
    }
    for name in PROXY_VARIABLES:
        env[name] = env[name.lower()] = proxy_url
    env["NO_PROXY"] = env["no_proxy"] = LOOPBACK
    env["PIP_NO_INDEX"] = "1"
    env.update(extra or {})
    return env


def fill(template: str, values: Mapping[str, object], where: str) -> str:
    """``template`` with every ``{name}`` replaced by ``values[name]``."""

    def value(match: re.Match[str]) -> str:
        name = match[1]
        if name not in values or values[name] is None:
            known = ", ".join(sorted(k for k, v in values.items() if v is not None))
            raise OutsideError(f"{where}: unknown placeholder {{{name}}}; known here: {known}")
        return str(values[name])

    return PLACEHOLDER.sub(value, template)


# -- one program -----------------------------------------------------------------------------------


class OutsideProcess:
    """A program in its own process group, its output captured line by line."""

    def __init__(
        self,
        command: Sequence[str],
        env: Mapping[str, str],
        cwd: Path,
        logs: Path,
        name: str = "outside",
    ) -> None:
        self.command = list(command)
        self.env = dict(env)
        self.cwd = cwd
        self.logs = logs
        self.name = name
        self.lines: list[str] = []
        """stdout and stderr lines as they came (stderr ones prefixed ``[stderr] ``)."""
        self.proc: subprocess.Popen[str] | None = None
        self.started_at = 0.0
        self._readers: list[threading.Thread] = []
        self._lock = threading.Lock()

    @property
    def stdout_path(self) -> Path:
        return self.logs / f"{self.name}.stdout.log"

    @property
    def stderr_path(self) -> Path:
        return self.logs / f"{self.name}.stderr.log"

    def start(self) -> None:
        if self.running:
            raise OutsideError(f"{self.name}: already running (pid {self.proc.pid})")  # type: ignore[union-attr]
        self.logs.mkdir(parents=True, exist_ok=True)
        self.cwd.mkdir(parents=True, exist_ok=True)
        try:
            self.proc = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                start_new_session=True,
            )
        except OSError as exc:
            raise OutsideError(f"{self.name}: cannot start {self.command!r}: {exc}") from exc
        self.started_at = time.monotonic()
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._readers = [
            self._pump(self.proc.stdout, self.stdout_path, ""),
            self._pump(self.proc.stderr, self.stderr_path, "[stderr] "),
        ]

    def _pump(self, stream: TextIO, path: Path, prefix: str) -> threading.Thread:
        def read() -> None:
            with open(path, "a", encoding="utf-8") as out:
                for line in stream:
                    out.write(line)
                    out.flush()
                    with self._lock:
                        self.lines.append(prefix + line.rstrip("\n"))

        thread = threading.Thread(target=read, name=f"{self.name}-output", daemon=True)
        thread.start()
        return thread

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def tail(self, count: int = 40) -> str:
        with self._lock:
            return "\n".join(self.lines[-count:])

    def mark(self) -> int:
        """Where the output stands now (for ``since``)."""
        with self._lock:
            return len(self.lines)

    def find(self, pattern: str | re.Pattern[str], since: int = 0) -> re.Match[str] | None:
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        with self._lock:
            lines = self.lines[since:]
        for line in lines:
            match = regex.search(line)
            if match:
                return match
        return None

    async def wait_for(
        self, pattern: str | re.Pattern[str], timeout: float, since: int = 0
    ) -> re.Match[str]:
        """The first output line from ``since`` on matching ``pattern`` (waits on the loop)."""
        deadline = time.monotonic() + timeout
        while True:
            match = self.find(pattern, since)
            if match is not None:
                return match
            if not self.running:
                self._join()
                match = self.find(pattern, since)
                if match is not None:
                    return match
                raise OutsideError(
                    f"{self.name} exited ({self.returncode}) before printing {pattern!r}:\n"
                    f"{self.tail()}"
                )
            if time.monotonic() > deadline:
                raise OutsideError(
                    f"{self.name} printed nothing matching {pattern!r} within {timeout:g} s:\n"
                    f"{self.tail()}"
                )
            await asyncio.sleep(POLL_S)

    async def wait_exit(self, timeout: float) -> int | None:
        """The exit status, or None if still running after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while self.running and time.monotonic() < deadline:
            await asyncio.sleep(POLL_S)
        if self.running:
            return None
        self._join()
        return self.returncode

    async def stop(self, sig: int = signal.SIGINT, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """Ask it to stop with ``sig`` (sent to its process group); SIGKILL after ``timeout``."""
        if not self.running:
            return self.returncode
        self._signal(sig)
        code = await self.wait_exit(timeout)
        if code is None:
            self.kill()
            code = self.returncode
        return code

    def kill(self) -> None:
        """SIGKILL the process group now (a crash, or cleanup) and reap it."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self._signal(signal.SIGKILL)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        self._join()

    def _signal(self, sig: int) -> None:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, sig)  # the group it leads: its own children too
        except ProcessLookupError:
            pass

    def _join(self) -> None:
        for reader in self._readers:
            reader.join(2)


# -- a gateway under test --------------------------------------------------------------------------


@dataclass(frozen=True)
class Readiness:
    log: str | None = None
    """A regular expression its output matches once it is up."""
    connect: bool = False
    """Ready once the platform saw its MQTT connection accepted (the caller says when)."""
    timeout_s: float = READY_TIMEOUT_S


@dataclass(frozen=True)
class GatewayProcessSpec:
    """The ``process`` block of an outside gateway's SUT declaration (module docstring)."""

    start: tuple[str, ...]
    install: tuple[str, ...] = ()
    venv: str = "gateway"
    env: Mapping[str, str] = field(default_factory=dict)
    clear_env: tuple[str, ...] = ()
    files: Mapping[str, str] = field(default_factory=dict)
    stop_signal: str = "SIGINT"
    stop_timeout_s: float = STOP_TIMEOUT_S
    ready: Readiness = field(default_factory=Readiness)

    @classmethod
    def from_block(cls, block: Mapping[str, Any], where: str = "process") -> GatewayProcessSpec:
        """Read and check a declaration's block; :class:`OutsideError` names a bad field."""
        if not isinstance(block, Mapping):
            raise OutsideError(f"{where}: a mapping with start (and install, env, files...)")
        unknown = sorted(str(k) for k in block if k not in _BLOCK_KEYS)
        if unknown:
            raise OutsideError(
                f"{where}: unknown field(s) {', '.join(unknown)}; "
                f"accepted: {', '.join(sorted(_BLOCK_KEYS))}"
            )
        start = block.get("start")
        command = shlex.split(start) if isinstance(start, str) else start
        if (
            not isinstance(command, list)
            or not command
            or not all(isinstance(a, str | int) for a in command)
        ):
            raise OutsideError(f"{where}.start is {start!r}; accepted: a command (list or string)")
        stop = _mapping(block.get("stop"), f"{where}.stop", {"signal", "timeout_s"})
        ready = _mapping(block.get("ready"), f"{where}.ready", {"log", "connect", "timeout_s"})
        stop_signal = str(stop.get("signal", "SIGINT")).upper()
        if stop_signal not in _SIGNALS:
            raise OutsideError(
                f"{where}.stop.signal is {stop_signal!r}; accepted: {', '.join(_SIGNALS)}"
            )
        log = ready.get("log")
        if log is not None:
            try:
                re.compile(str(log))
            except re.error as exc:
                raise OutsideError(
                    f"{where}.ready.log {log!r}: not a regular expression: {exc}"
                ) from None
        readiness = Readiness(
            None if log is None else str(log),
            bool(ready.get("connect", False)),
            _seconds(ready.get("timeout_s", READY_TIMEOUT_S), f"{where}.ready.timeout_s"),
        )
        if readiness.log is None and not readiness.connect:
            raise OutsideError(f"{where}.ready: give log (a regular expression) and/or connect")
        return cls(
            start=tuple(str(a) for a in command),
            install=_strings(block.get("install"), f"{where}.install"),
            venv=str(block.get("venv", "gateway")),
            env={str(k): str(v) for k, v in _mapping(block.get("env"), f"{where}.env").items()},
            clear_env=_strings(block.get("clear_env"), f"{where}.clear_env"),
            files={
                str(k): str(v) for k, v in _mapping(block.get("files"), f"{where}.files").items()
            },
            stop_signal=stop_signal,
            stop_timeout_s=_seconds(stop.get("timeout_s", STOP_TIMEOUT_S), f"{where}.stop"),
            ready=readiness,
        )


class OutsideGateway:
    """A gateway SUT as an outside process. Its files live in ``folder``: ``gateway-config/``
    (the files its declaration writes), ``gateway-run/`` (its working directory: the official
    gateway writes ``logs/`` there) and its captured output (``gateway.stdout.log``,
    ``gateway.stderr.log``).

    ``spec`` is a :class:`GatewayProcessSpec` or the declaration's ``process`` block as read
    from YAML; ``values`` fill the placeholders (more may be given to :meth:`start`)."""

    def __init__(
        self,
        spec: GatewayProcessSpec | Mapping[str, Any],
        values: Mapping[str, object] | None = None,
        folder: Path | None = None,
        venv_root: Path | None = None,
    ) -> None:
        self.spec = (
            spec if isinstance(spec, GatewayProcessSpec) else GatewayProcessSpec.from_block(spec)
        )
        self.folder = folder or Path(tempfile.mkdtemp(prefix="outside-gateway-"))
        self.config_dir = self.folder / "gateway-config"
        self.workdir = self.folder / "gateway-run"
        self.venv_root = venv_root
        self.venv: Venv | None = None
        self.process: OutsideProcess | None = None
        self.values: dict[str, object] = dict(values or {})
        self.starts = 0
        self._closed_port: ClosedPort | None = None

    def prepare(self) -> Venv | None:
        """Install its packages (once per requirement set; blocking, a minute or two the
        first time). Raises :class:`~scenarios.mqtt_gateway.venvs.VenvError`."""
        if self.spec.install and self.venv is None:
            self.venv = ensure_venv(self.spec.venv, self.spec.install, self.venv_root)
        return self.venv

    async def start(self, **values: object) -> OutsideProcess:
        """Install it if needed (in a thread: the loop goes on), write its files, start it."""
        if self.spec.install and self.venv is None:
            await asyncio.get_running_loop().run_in_executor(None, self.prepare)
        return self.start_now(**values)

    def start_now(self, **values: object) -> OutsideProcess:
        """:meth:`start` without the wait: blocks while its environment is built."""
        if self.process is not None and self.process.running:
            raise OutsideError("the outside gateway is already running")
        self.prepare()
        self.values.update(values)
        self.values.update(config_dir=str(self.config_dir), workdir=str(self.workdir))
        self._write_files()
        if self._closed_port is None:
            self._closed_port = ClosedPort()
        env = outside_environ(
            self._closed_port.url,
            {k: fill(v, self.values, f"env {k}") for k, v in self.spec.env.items()},
            self.spec.clear_env,
            base=self.venv.environ() if self.venv else None,
        )
        command = [fill(a, self.values, "start") for a in self.spec.start]
        command[0] = self._program(command[0], env)
        self.process = OutsideProcess(command, env, self.workdir, self.folder, "gateway")
        self.process.start()
        self.starts += 1
        return self.process

    async def wait_ready(
        self, connected: Callable[[], bool] | None = None, timeout: float | None = None
    ) -> float:
        """Wait until it is ready as its declaration says; the seconds since its start.
        ``connected`` answers whether the platform has accepted its MQTT connection (needed
        when the declaration's readiness names ``connect``)."""
        process = self._running()
        ready = self.spec.ready
        limit = ready.timeout_s if timeout is None else timeout
        deadline = time.monotonic() + limit
        if ready.log is not None:
            await process.wait_for(ready.log, limit)
        if ready.connect:
            if connected is None:
                raise OutsideError("readiness 'connect' needs the platform's view (connected=)")
            while not connected():
                if not process.running:
                    raise OutsideError(
                        f"the outside gateway exited ({process.returncode}) before connecting:"
                        f"\n{process.tail()}"
                    )
                if time.monotonic() > deadline:
                    raise OutsideError(
                        f"the platform saw no connection from the outside gateway within "
                        f"{limit:g} s:\n{process.tail()}"
                    )
                await asyncio.sleep(POLL_S)
        return time.monotonic() - process.started_at

    async def stop(self) -> int | None:
        """Stop it as its declaration says (signal, then SIGKILL after the timeout)."""
        if self.process is None:
            return None
        sig = getattr(signal, self.spec.stop_signal)
        return await self.process.stop(sig, self.spec.stop_timeout_s)

    async def kill(self) -> int | None:
        """A crash: SIGKILL, no goodbye on any connection."""
        if self.process is None:
            return None
        self.process.kill()
        return self.process.returncode

    async def restart(self) -> OutsideProcess:
        await self.stop()
        return self.start_now()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.running

    def logs(self) -> dict[str, Path]:
        """Evidence: its captured output, the files its declaration wrote and the log files it
        wrote itself, by a flat file name (``gateway.stdout.log``, ``gateway-config.<name>``,
        ``gateway-run.logs.<name>``)."""
        found: dict[str, Path] = {
            p.name: p for p in sorted(self.folder.glob("gateway.*.log")) if p.is_file()
        }
        for base in (self.config_dir, self.workdir):
            if base.is_dir():
                for path in sorted(p for p in base.rglob("*") if p.is_file()):
                    relative = path.relative_to(base).as_posix().replace("/", ".")
                    found[f"{base.name}.{relative}"] = path
        return found

    def close(self) -> None:
        """Kill it if it still runs and let go of the closed port (idempotent)."""
        if self.process is not None:
            self.process.kill()
        if self._closed_port is not None:
            self._closed_port.close()
            self._closed_port = None

    # -- internals ---------------------------------------------------------------------------
    def _running(self) -> OutsideProcess:
        if self.process is None:
            raise OutsideError("the outside gateway was not started")
        return self.process

    def _write_files(self) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self.workdir.mkdir(parents=True, exist_ok=True)
        root = self.config_dir.resolve()
        for relative, template in self.spec.files.items():
            target = (self.config_dir / relative).resolve()
            if root not in target.parents:
                raise OutsideError(f"files: {relative!r} is outside the configuration folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(fill(template, self.values, f"files {relative}"), encoding="utf-8")

    def _program(self, name: str, env: Mapping[str, str]) -> str:
        if os.sep in name:
            return name
        found = shutil.which(name, path=env.get("PATH"))
        if found is None:
            where = f"the environment {self.venv.path}" if self.venv else "PATH"
            raise OutsideError(f"start: no program {name!r} in {where}")
        return found


# -- reading a declaration block -------------------------------------------------------------------


def _mapping(raw: Any, where: str, keys: set[str] | None = None) -> Mapping[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise OutsideError(f"{where} is {raw!r}; accepted: a mapping")
    if keys is not None:
        unknown = sorted(str(k) for k in raw if k not in keys)
        if unknown:
            accepted = ", ".join(sorted(keys))
            raise OutsideError(
                f"{where}: unknown field(s) {', '.join(unknown)}; accepted: {accepted}"
            )
    return raw


def _strings(raw: Any, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(s, str) and s.strip() for s in raw):
        raise OutsideError(f"{where} is {raw!r}; accepted: a list of non-empty strings")
    return tuple(raw)


def _seconds(raw: Any, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw <= 0:
        raise OutsideError(f"{where} is {raw!r}; accepted: a number of seconds > 0")
    return float(raw)
