"""The access controller's fixtures (profile ``ble-ac``): the bed, the scenario context and the
AC step library (``features/ble_ac/steps/``), seen only by this folder's scenarios.

* builtin SUT -> :class:`LocalAcBed` (one world in virtual time: the reference controller,
  three routers 30 m apart (A at the origin, B east, C north of A), the scenario's
  peripherals; tokens live :data:`BUILTIN_TOKEN_TTL_S` world seconds so that expiry costs
  little);
* any other SUT -> :class:`RemoteAcBed` at the declared ``ble-ac`` endpoint (``base_url``,
  ``client_id``, ``secret``), its routers and peripherals driven through the declared
  ``world_control`` endpoint (reset per scenario).

At teardown each scenario leaves its evidence in ``<evidence dir>/<scenario slug>/``:
``trace.jsonl``, ``http.jsonl`` (tokens masked) and ``sse.jsonl`` (every event the scenario's
streams received).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.pytest_plugin import HilConfig

# step definitions register as fixtures where they are imported: here, for this folder only
from features.ble_ac.steps.auth import *  # noqa: F403
from features.ble_ac.steps.combined import *  # noqa: F403
from features.ble_ac.steps.hubs import *  # noqa: F403
from features.ble_ac.steps.positioning import *  # noqa: F403
from features.ble_ac.steps.router_calls import *  # noqa: F403
from features.ble_ac.steps.selection import *  # noqa: F403
from features.ble_ac.steps.support import AcCtx
from features.ble_ac.steps.world import *  # noqa: F403
from features.steps.evidence import started
from scenarios.ble_ac.bed import AcBed, LocalAcBed, RemoteAcBed

PROFILE = "ble-ac"
BUILTIN_TOKEN_TTL_S = 300.0


def _bed(config: HilConfig, capture_dir: Path) -> AcBed:
    sut = config.sut
    if sut.builtin:  # told to misbehave when the declaration names deviations (hil selfcheck)
        return LocalAcBed(
            seed=config.seed,
            clock=config.clock,
            ac={"token_ttl_s": BUILTIN_TOKEN_TTL_S},
            capture_dir=capture_dir,
            deviations=sut.deviations,
        )
    endpoint = sut.endpoint(PROFILE)
    return RemoteAcBed(
        str(endpoint["base_url"]),
        str(endpoint["client_id"]),
        str(endpoint["secret"]),
        endpoint.get("world_control"),
        seed=config.seed,
        scale=float(endpoint.get("time_scale", 1.0)),
    )


@pytest.fixture
def bed(
    hil_config: HilConfig, hil_record: dict[str, Any], hil_evidence_dir: Path, tmp_path: Path
) -> Iterator[AcBed]:
    """The world the scenario runs in, started; its evidence written and closed afterwards."""
    world_bed = _bed(hil_config, tmp_path / "captures")
    with started(world_bed, hil_record, hil_config, hil_evidence_dir):
        yield world_bed


@pytest.fixture
def ctx(
    bed: AcBed, hil_config: HilConfig, hil_record: dict[str, Any], hil_evidence_dir: Path
) -> Iterator[AcCtx]:
    """The scenario's state: placed peripherals, open streams, the last answer."""
    context = AcCtx(bed=bed, client=bed.client())
    try:
        yield context
    finally:
        context.end(hil_record, hil_config, hil_evidence_dir)
