"""What a report says about the run itself (who ran what, how to reproduce it)."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from importlib import metadata
from typing import Any


def harness_version() -> str:
    try:
        return metadata.version("gateway-hil")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def reproduce_command(profile: str, sut: str, clock: str, seed: int) -> str:
    """The `hil conformance` command line that repeats a run."""
    args = ["hil", "conformance", "--profile", profile, "--sut", sut]
    args += ["--clock", clock, "--seed", str(seed)]
    return shlex.join(args)


@dataclass
class RunInfo:
    run_id: str
    profile: str
    seed: int
    clock: str
    command: str
    started: str
    finished: str | None = None
    harness_version: str = ""
    pytest_command: str | None = None
    pytest_exit_code: int | None = None
    log: str | None = None  # pytest's output, relative to the run directory

    def __post_init__(self) -> None:
        if not self.harness_version:
            self.harness_version = harness_version()

    @classmethod
    def coerce(cls, value: RunInfo | Mapping[str, Any]) -> RunInfo:
        if isinstance(value, RunInfo):
            return value
        known = {f.name for f in fields(cls)}
        extra = sorted(set(value) - known)
        if extra:
            raise ValueError(f"run_info has unknown key(s) {extra}; accepted: {sorted(known)}")
        return cls(**value)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
