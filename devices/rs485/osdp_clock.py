"""libosdp on the world's clock.

libosdp's timers (poll interval, reply timeout, offline back-off, secure-channel timeout) all
read ``osdp_millis_now()``, which the prebuilt ``osdp_sys`` module implements with
``gettimeofday``: the wall clock. No Python API or build option of the wheel lets a caller
inject time. But ``osdp_millis_now`` is a *weak* symbol that the library itself calls through
its PLT, so the dynamic linker binds those calls to the first definition in the global symbol
scope. That is the deliberate answer here:

* a tiny shared library (source below, ~3 lines of C) defines ``osdp_millis_now`` returning a
  variable we set; it is compiled once with the system C compiler into the user's cache
  directory and loaded with ``RTLD_GLOBAL`` *before* ``osdp_sys`` is imported;
* every call into libosdp from the world (``refresh``, ``submit_command``...) first sets that
  variable to the world's ``now`` (:func:`sync`), so virtual time stays virtual and
  deterministic: no thread, no wall clock;
* libosdp's secure-channel random numbers come from libc ``rand()``; :func:`seed_random` seeds
  it from the world's seed, so the same seed gives the same bytes on the line.

The binding is verified, not assumed: ``osdp_millis_since(0)`` (exported by ``osdp_sys``,
calling ``osdp_millis_now`` through the PLT) must return the value we set.

If no C compiler is found, or ``osdp_sys`` was imported before this module, libosdp keeps the
wall clock: :data:`ON_WORLD_CLOCK` is False and :data:`REASON` says why. OSDP worlds must then
run in real time (scale 1) with ``refresh()`` still driven from the world's loop; the RS485
test bed does that automatically.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

_SHIM_SOURCE = """\
#include <stdint.h>
int64_t hil_osdp_now_ms = 0;
int64_t osdp_millis_now(void) { return hil_osdp_now_ms; }
"""

ON_WORLD_CLOCK = False
REASON = ""
_now: ctypes.c_int64 | None = None


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gateway-hil"


def _build_shim() -> Path:
    digest = hashlib.sha256(_SHIM_SOURCE.encode()).hexdigest()[:12]
    target = _cache_dir() / f"osdp-world-clock-{digest}.so"
    if target.exists():
        return target
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        raise RuntimeError("no C compiler (cc, gcc or clang) to build the clock shim")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        src = Path(tmp) / "shim.c"
        src.write_text(_SHIM_SOURCE, encoding="ascii")
        out = Path(tmp) / "shim.so"
        subprocess.run(
            [compiler, "-shared", "-fPIC", "-O2", "-o", str(out), str(src)],
            check=True,
            capture_output=True,
            timeout=60,
        )
        os.replace(out, target)  # atomic: parallel workers may race here
    return target


def _install() -> None:
    global ON_WORLD_CLOCK, REASON, _now
    if "osdp_sys" in sys.modules:
        REASON = "osdp_sys was imported before devices.rs485.osdp_clock; it keeps the wall clock"
        return
    try:
        lib = ctypes.CDLL(str(_build_shim()), mode=ctypes.RTLD_GLOBAL)
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        REASON = f"libosdp keeps the wall clock: {exc}"
        return
    now = ctypes.c_int64.in_dll(lib, "hil_osdp_now_ms")
    import osdp_sys  # noqa: F401  (bound to the shim from here on)

    since = ctypes.CDLL(osdp_sys.__file__).osdp_millis_since
    since.restype = ctypes.c_int64
    since.argtypes = [ctypes.c_int64]
    now.value = 123_456_789
    if since(0) != 123_456_789:
        REASON = "osdp_millis_now was not interposed (the library binds it locally)"
        return
    now.value = 0
    _now = now
    ON_WORLD_CLOCK = True


def sync(seconds: float) -> None:
    """Set libosdp's clock to the world's ``now`` (no-op when it keeps the wall clock)."""
    if _now is not None:
        _now.value = int(round(seconds * 1000.0))


def seed_random(seed: int) -> None:
    """Seed libc ``rand()``, libosdp's source of secure-channel random numbers."""
    ctypes.CDLL(None).srand(ctypes.c_uint(seed & 0xFFFFFFFF))


_install()
# Import libosdp only through this module (``from devices.rs485.osdp_clock import osdp``), so
# the shim is in place before ``osdp_sys`` loads, whatever order other imports come in.
osdp = importlib.import_module("osdp")
