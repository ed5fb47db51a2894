"""Fixtures of the connect-master scenarios: the driver (``cm``) and the scenario state.

builtin SUT -> :class:`LocalCm` (one world, virtual time); any other SUT -> :class:`RemoteCm`
at the declared ``connect-master`` endpoint over the real gRPC wire (mutual TLS + login), its
terminals placed through the declared ``world_control`` (reset per scenario) or bound to its
declared ``devices`` (capability ``declared-devices``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conformance.pytest_plugin import HilConfig
from conformance.sut import SutDeclaration, SutError
from scenarios.cm_declared import DeclaredTerminal, parse_devices
from scenarios.connect_master_bed import ConnectMasterBed, MasterClient
from scenarios.connect_master_driver import CmDriver, LocalCm, RemoteCm

PROFILE = "connect-master"
DECLARED = "declared-devices"


@dataclass
class CmState:
    drv: CmDriver
    record: dict[str, Any]
    clients: dict[str, MasterClient] = field(default_factory=dict)
    # tenant -> (device ID, status name, StatusChange.timestamp, world time it arrived)
    streams: dict[str, list[tuple[int, str, int, float]]] = field(default_factory=dict)
    marks: dict[str, float] = field(default_factory=dict)
    fleets: dict[str, list[int]] = field(default_factory=dict)  # gateway -> device IDs
    last_error: Any = None
    last_reply: Any = None
    stream_errors: list[Any] = field(default_factory=list)
    raw_answer: bytes = b""  # the last hand-encoded call's answer

    @property
    def bed(self) -> ConnectMasterBed:
        """The builtin world (scenarios tagged ``@needs:load`` only run against it)."""
        if not isinstance(self.drv, LocalCm):
            raise RuntimeError("this step needs the builtin world")
        return self.drv.bed


def _driver(hil_config: HilConfig, tmp_path: Path) -> CmDriver:
    if hil_config.sut.builtin:
        bed = ConnectMasterBed(
            seed=hil_config.seed, db_path=tmp_path / "master.db", clock=hil_config.clock
        )
        bed.run(bed.start())
        return LocalCm(bed)
    sut = hil_config.sut
    return RemoteCm(sut.endpoint(PROFILE), seed=hil_config.seed, devices=declared_devices(sut))


def declared_devices(sut: SutDeclaration) -> list[DeclaredTerminal]:
    """The SUT's declared terminals; SutError naming the entry and field when malformed, or when
    the ``devices`` list and the ``declared-devices`` capability do not go together."""
    at = f"{sut.source or sut.name}: endpoints.{PROFILE}"
    raw = sut.endpoint(PROFILE).get("devices")
    try:
        devices = parse_devices(raw)
    except ValueError as exc:
        raise SutError(f"{at}.{exc}") from None
    if devices and not sut.has(DECLARED):
        raise SutError(
            f"{at}.devices lists {len(devices)} terminal(s) but capabilities lack "
            f"{DECLARED!r}; add it so scenarios may use them"
        )
    if sut.has(DECLARED) and not devices:
        raise SutError(
            f"{at}: capability {DECLARED!r} needs a non-empty 'devices' list "
            "({deviceID, ip, port?, ssl?, mode?} per terminal)"
        )
    return devices


@pytest.fixture
def cm(
    hil_config: HilConfig, hil_record: dict[str, Any], hil_evidence_dir: Path, tmp_path: Path
) -> Iterator[CmState]:
    drv = _driver(hil_config, tmp_path)
    state = CmState(drv, hil_record)
    try:
        hil_record["sim_start"] = round(drv.world.now, 6)
        yield state
    finally:
        hil_record["sim_end"] = round(drv.world.now, 6)
        hil_evidence_dir.mkdir(parents=True, exist_ok=True)
        drv.write_evidence(hil_evidence_dir)
        drv.close()
