"""Before a run against an outside SUT: can the harness reach what the declaration names?

:func:`probe` opens a TCP connection to every declared address (a short timeout each) and
checks every declared device path, and answers one line naming what could not be reached, or
None. When that line is not None, the run still plans every scenario, but this module, loaded
as a pytest plugin (``-p conformance.reachability --hil-unreachable LINE``), turns each one the
plan would run into an ``error`` with that line instead of letting each scenario's fixtures
fail on their own (thousands of lines of tracebacks for one closed port).
"""

from __future__ import annotations

import os
import socket

import pytest

from conformance.endpoints import Target, dial_targets
from conformance.sut import SutDeclaration

PROBE_TIMEOUT_S = 2.0
OPTION = "--hil-unreachable"


class SutUnreachable(Exception):
    """The declared SUT could not be reached; the message says what and why."""


def _reason(exc: OSError) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror or exc})"
    return (exc.strerror or str(exc) or type(exc).__name__).lower()


def _problem(target: Target, timeout: float) -> str | None:
    if target.path is not None:
        return None if os.path.exists(target.path) else "no such device"
    assert target.host is not None and target.port is not None
    try:
        with socket.create_connection((target.host, target.port), timeout=timeout):
            return None
    except OSError as exc:
        return _reason(exc)


def probe(sut: SutDeclaration, profile: str, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """One line naming each declared address of ``profile`` that could not be reached (and
    why), or None when all were, or nothing is dialled (builtin SUT)."""
    failures = []
    for target in dial_targets(sut, profile):
        problem = _problem(target, timeout)
        if problem is not None:
            failures.append(f"{target.field} {target.value} ({problem})")
    if not failures:
        return None
    return f"SUT {sut.name} could not be reached: {'; '.join(failures)}"


# -- the pytest plugin --------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("hil").addoption(
        OPTION,
        default=None,
        metavar="LINE",
        help="the SUT could not be reached: every planned scenario is an error with LINE",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before any fixture: a scenario the plan skips stays skipped; any other is an error."""
    line = item.config.getoption("hil_unreachable", None)
    if line and item.get_closest_marker("skip") is None:
        raise SutUnreachable(line)
