"""The BLE router's fixtures (profile ``ble-router``): the bed, the scenario context and the
BLE step library (``features/ble_router/steps/``), seen only by this folder's scenarios.

* builtin SUT -> :class:`LocalBleBed` (one world, virtual time by default, the reference
  router served inside it, its HCI captured; the declaration's ``deviations`` handed to it);
* any other SUT -> :class:`RemoteBleBed` at the declared ``ble-router`` endpoint, its
  peripherals driven through the declared ``world_control`` endpoint (reset per scenario).

At teardown each scenario leaves its evidence in ``<evidence dir>/<scenario slug>/`` (see
:meth:`LocalBleBed.write_evidence` / :meth:`RemoteBleBed.write_evidence`): ``trace.jsonl``,
``http.jsonl``, the router's ``hci-chip<i>.btsnoop`` (local) or ``sut-world-trace.jsonl`` (the
far side's timeline, remote), and ``sse.jsonl`` (every event the scenario's streams received).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.pytest_plugin import HilConfig

# step definitions register as fixtures where they are imported: here, for this folder only
from features.ble_router.steps.advertise import *  # noqa: F403
from features.ble_router.steps.batch import *  # noqa: F403
from features.ble_router.steps.common import *  # noqa: F403
from features.ble_router.steps.connect_params import *  # noqa: F403
from features.ble_router.steps.connection import *  # noqa: F403
from features.ble_router.steps.errors import *  # noqa: F403
from features.ble_router.steps.faults import *  # noqa: F403
from features.ble_router.steps.gatt import *  # noqa: F403
from features.ble_router.steps.info import *  # noqa: F403
from features.ble_router.steps.load import *  # noqa: F403
from features.ble_router.steps.login import *  # noqa: F403
from features.ble_router.steps.notify import *  # noqa: F403
from features.ble_router.steps.pairing import *  # noqa: F403
from features.ble_router.steps.rssi_stream import *  # noqa: F403
from features.ble_router.steps.scan import *  # noqa: F403
from features.ble_router.steps.stream_params import *  # noqa: F403
from features.ble_router.steps.support import Ctx
from features.ble_router.steps.world import *  # noqa: F403
from features.steps.evidence import started
from scenarios.ble_router.bed import BleBed, LocalBleBed, RemoteBleBed

PROFILE = "ble-router"


def _bed(config: HilConfig, evidence_dir: Path) -> BleBed:
    sut = config.sut
    if sut.builtin:  # told to misbehave when the declaration names deviations (hil selfcheck)
        return LocalBleBed(
            seed=config.seed,
            clock=config.clock,
            capture_dir=evidence_dir,
            router={"deviations": sut.deviations} if sut.deviations else None,
        )
    endpoint = sut.endpoint(PROFILE)
    return RemoteBleBed(
        str(endpoint["base_url"]),
        endpoint.get("world_control"),
        seed=config.seed,
        scale=float(endpoint.get("time_scale", 1.0)),
    )


@pytest.fixture
def bed(
    hil_config: HilConfig, hil_record: dict[str, Any], hil_evidence_dir: Path
) -> Iterator[BleBed]:
    """The world the scenario runs in, started; its evidence written and closed afterwards."""
    world_bed = _bed(hil_config, hil_evidence_dir)
    with started(world_bed, hil_record, hil_config, hil_evidence_dir):
        yield world_bed


@pytest.fixture
def ctx(
    bed: BleBed, hil_config: HilConfig, hil_record: dict[str, Any], hil_evidence_dir: Path
) -> Iterator[Ctx]:
    """The scenario's state: placed peripherals, open streams, the last answer."""
    context = Ctx(bed=bed, client=bed.client())
    try:
        yield context
    finally:
        context.end(hil_record, hil_config, hil_evidence_dir)
