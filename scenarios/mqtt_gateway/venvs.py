"""Virtual environments for outside programs, one per pinned requirement set, cached.

Third-party gateway software runs in an environment of its own, never in the project's: the
official ThingsBoard clients install a fork of paho into the same ``paho/`` package as
paho-mqtt (``specs/mqtt-stack-notes.md``), and they pip-install what they miss at run time.

    venv = ensure_venv("tb-mqtt-client", ["tb-mqtt-client==1.13.14"])
    subprocess.run([str(venv.python), "driver.py"], env=venv.environ())

:func:`ensure_venv` creates ``<cache>/gateway-hil/venvs/<name>-<hash>`` once (``<cache>`` is
``$XDG_CACHE_HOME`` or ``~/.cache``; the hash covers the requirements and the base Python) with
``python -m venv`` and ``pip install`` from the package registry, and reuses it afterwards. A
lock file makes concurrent callers (pytest-xdist workers, two test runs) wait for one build; a
build that died half-way is redone. A failed install raises :class:`VenvError` with pip's
output; :attr:`VenvError.registry_unreachable` tells a network or registry failure (a test may
skip then) from any other (a pin that does not exist, a build error: a real failure).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

INSTALL_TIMEOUT_S = 900.0
DONE = "gateway-hil-venv.done"
"""Written last: a directory without it is a build that did not finish."""
_CLEARED = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "__PYVENV_LAUNCHER__")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_UNREACHABLE = re.compile(
    r"NewConnectionError|Failed to establish a new connection|Max retries exceeded|"
    r"Temporary failure in name resolution|Name or service not known|Network is unreachable|"
    r"Connection refused|ConnectTimeoutError|ReadTimeoutError|Read timed out|"
    r"ProxyError|SSLError|Could not fetch URL|HTTP error 50[0-9]|"
    r"No route to host|Connection reset by peer",
    re.IGNORECASE,
)


class VenvError(RuntimeError):
    """A virtual environment could not be made; the message ends with pip's output."""

    def __init__(self, message: str, output: str = "", registry_unreachable: bool = False):
        super().__init__(f"{message}\n{output}".rstrip())
        self.output = output
        self.registry_unreachable = registry_unreachable


@dataclass(frozen=True)
class Venv:
    """A ready virtual environment."""

    path: Path
    requirements: tuple[str, ...]
    created: bool = False
    """True if this call built it (False: it was in the cache)."""
    seconds: float = 0.0
    """How long this call took (the build, or the wait for another process's build)."""

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def bin(self, name: str) -> Path:
        """A console script the environment installed (e.g. ``thingsboard-gateway``)."""
        path = self.path / "bin" / name
        if not path.is_file():
            raise VenvError(f"{self.path}: no program {name!r} in bin/")
        return path

    def environ(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """``base`` (default: this process's environment) for a program of this environment:
        its ``bin`` first on PATH, nothing of the project's interpreter or site-packages."""
        env = {k: v for k, v in (os.environ if base is None else base).items()}
        for key in _CLEARED:
            env.pop(key, None)
        env["VIRTUAL_ENV"] = str(self.path)
        env["PATH"] = os.pathsep.join([str(self.path / "bin"), env.get("PATH", os.defpath)])
        env["PYTHONNOUSERSITE"] = "1"
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        return env


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gateway-hil" / "venvs"


def venv_key(requirements: Iterable[str], python: str = sys.executable) -> str:
    """What identifies an environment: its requirements (order does not matter) and the base
    interpreter it is made from."""
    text = "\n".join(
        [f"{sys.version_info[0]}.{sys.version_info[1]}", sys.base_prefix, python]
        + sorted(requirements)
    )
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def ensure_venv(
    name: str,
    requirements: Iterable[str],
    root: Path | None = None,
    timeout: float = INSTALL_TIMEOUT_S,
) -> Venv:
    """The environment ``name`` with ``requirements`` installed, built on first use."""
    reqs = tuple(requirements)
    if not _NAME.match(name):
        raise ValueError(f"venv name {name!r} not accepted; accepted: letters, digits, . _ -")
    if not reqs or not all(isinstance(r, str) and r.strip() for r in reqs):
        raise ValueError(f"requirements {reqs!r} not accepted; accepted: pip requirement strings")
    root = root or cache_root()
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{name}-{venv_key(reqs)}"
    started = time.monotonic()
    with _locked(root / f"{path.name}.lock"):
        if (path / DONE).is_file():
            return Venv(path, reqs, False, time.monotonic() - started)
        _build(path, reqs, timeout)
    return Venv(path, reqs, True, time.monotonic() - started)


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build(path: Path, reqs: tuple[str, ...], timeout: float) -> None:
    if path.exists():
        shutil.rmtree(path)  # an unfinished build: start again
    try:
        _run([sys.executable, "-m", "venv", str(path)], "python -m venv", timeout)
        venv = Venv(path, reqs)
        command = [str(venv.python), "-m", "pip", "install", "--no-input", "--progress-bar", "off"]
        _run([*command, *reqs], f"pip install {' '.join(reqs)}", timeout, venv.environ())
        (path / DONE).write_text("\n".join(reqs) + "\n", encoding="utf-8")
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise


def registry_unreachable(pip_output: str) -> bool:
    """Whether pip's output says the package registry (or the network) could not be reached,
    as opposed to a requirement that does not exist or a package that failed to build."""
    return _UNREACHABLE.search(pip_output) is not None


def _run(command: list[str], what: str, timeout: float, env: dict[str, str] | None = None) -> None:
    try:
        done = subprocess.run(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        output = _text(exc.stdout) + _text(exc.stderr)
        raise VenvError(
            f"{what}: no result within {timeout:g} s",
            output,
            registry_unreachable(output),
        ) from None
    if done.returncode != 0:
        output = done.stdout + done.stderr
        unreachable = registry_unreachable(output)
        cause = "the package registry could not be reached" if unreachable else "it failed"
        raise VenvError(f"{what}: {cause} (exit {done.returncode})", output, unreachable)


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode("utf-8", "replace")
