"""The RS485 scenario's bed and what its masters and control panels got.

``bed`` is one line per scenario (:mod:`scenarios.rs485.bed`), chosen by the scenario's profile
tag (``@profile_rs485_modbus`` / ``@profile_rs485_osdp``) and the SUT:

* builtin -> :class:`LocalModbusLine` / :class:`LocalOsdpLine`: the slave or reader under test
  in one world with our master or control panel (virtual time by default);
* external -> :class:`RemoteModbusLine` / :class:`RemoteOsdpLine`: the declared endpoint names
  the bridge to the device (``tcp``, ``serial``, ``pty``), real time.

``modbus_bed`` and ``osdp_bed`` are the same bed, typed for the steps of each profile. The
evidence (``trace.jsonl``, ``rs485-<bus>.log``...) is written by
:func:`features.steps.evidence.evidence_of` when the scenario ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conformance.pytest_plugin import HilConfig
from devices.rs485.discovery import SlaveRegistry
from features.steps.evidence import evidence_of
from scenarios.bed import BedError
from scenarios.rs485.bed import (
    MODBUS_PROFILE,
    OSDP_PROFILE,
    LineBed,
    LocalModbusLine,
    LocalOsdpLine,
    ModbusLine,
    OsdpLine,
    RemoteModbusLine,
    RemoteOsdpLine,
)


@dataclass
class Seen:
    """What the scenario's masters and control panels got, for the Then steps."""

    replies: dict[str, Any] = field(default_factory=dict)
    sent_before: dict[str, int] = field(default_factory=dict)
    registry: SlaveRegistry = field(default_factory=SlaveRegistry)
    completions_before: int = 0
    beeps_before: int = 0


def make_bed(profile: str, config: HilConfig, capture_dir: Path) -> LineBed:
    """The line bed of ``profile`` for the configured SUT."""
    modbus = profile == MODBUS_PROFILE
    if config.sut.builtin:
        device = dict(config.sut.endpoints.get(profile, {}))
        local = LocalModbusLine if modbus else LocalOsdpLine
        return local(
            device,
            seed=config.seed,
            clock=config.clock,
            capture_dir=capture_dir,
            deviations=config.sut.deviations,  # told to misbehave (hil selfcheck)
        )
    remote = RemoteModbusLine if modbus else RemoteOsdpLine
    return remote(dict(config.sut.endpoint(profile)), seed=config.seed, capture_dir=capture_dir)


@pytest.fixture
def bed(
    request: pytest.FixtureRequest,
    hil_config: HilConfig,
    hil_record: dict[str, Any],
    hil_evidence_dir: Path,
) -> Iterator[LineBed]:
    osdp = request.node.get_closest_marker("profile_rs485_osdp") is not None
    line = make_bed(OSDP_PROFILE if osdp else MODBUS_PROFILE, hil_config, hil_evidence_dir)
    with evidence_of(line, hil_record, hil_config, hil_evidence_dir):
        yield line


@pytest.fixture
def modbus_bed(bed: LineBed) -> ModbusLine:
    if not isinstance(bed, ModbusLine):
        raise BedError(f"a Modbus step in a scenario whose bed is {type(bed).__name__}")
    return bed


@pytest.fixture
def osdp_bed(bed: LineBed) -> OsdpLine:
    if not isinstance(bed, OsdpLine):
        raise BedError(f"an OSDP step in a scenario whose bed is {type(bed).__name__}")
    return bed


@pytest.fixture
def seen() -> Seen:
    return Seen()
