"""The Device2 fixtures (profile ``device2``): the bed, the scenario context and the Device2
step library (``features/device2/steps/``), seen only by this folder's scenarios.

* builtin SUT -> :class:`LocalDevice2Bed` (the reference service with its management and
  device APIs in one world, virtual time; the declaration's ``deviations`` handed to it);
* any other SUT -> :class:`RemoteDevice2Bed` at the declared ``device2`` endpoint:
  ``service_url`` (management API), ``device_url`` (HTTP device API), ``mqtt`` (MQTT device
  API ``host:port``), ``product``, ``token`` (sent as ``Authorization: Bearer``) and
  ``world_control`` (reset per scenario, restarts, archive files), in real time.

At teardown each scenario leaves its evidence in ``<evidence dir>/<scenario slug>/``:
``trace.jsonl``, ``http.jsonl`` (management API), ``device-http.jsonl``, ``mqtt.jsonl`` (local),
``devices.jsonl`` (each device's own log) and ``events.jsonl`` (the gateway events streamed).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.pytest_plugin import HilConfig
from features.device2.steps.data import *  # noqa: F403  (step definitions register as fixtures)
from features.device2.steps.devices import *  # noqa: F403
from features.device2.steps.load import *  # noqa: F403
from features.device2.steps.service import *  # noqa: F403
from features.device2.steps.support import Ctx
from features.steps.evidence import started
from scenarios.device2.bed import Device2Bed, LocalDevice2Bed, RemoteDevice2Bed

PROFILE = "device2"


def make_bed(config: HilConfig, work_dir: Path) -> Device2Bed:
    sut = config.sut
    if sut.builtin:
        return LocalDevice2Bed(
            seed=config.seed,
            clock=config.clock,
            work_dir=work_dir,
            deviations=sut.deviations,
            capture_dir=work_dir / "captures",
        )
    endpoint = sut.endpoint(PROFILE)
    token = endpoint.get("token")
    return RemoteDevice2Bed(
        str(endpoint["service_url"]),
        str(endpoint["device_url"]),
        mqtt=endpoint.get("mqtt"),
        product=str(endpoint.get("product", "example")),
        control_url=endpoint.get("world_control"),
        headers={"Authorization": f"Bearer {token}"} if token else None,
        seed=config.seed,
        scale=float(endpoint.get("time_scale", 1.0)),
    )


@pytest.fixture
def bed(
    hil_config: HilConfig,
    hil_record: dict[str, Any],
    hil_evidence_dir: Path,
    tmp_path: Path,
) -> Iterator[Device2Bed]:
    """The world the scenario runs in, started; its evidence written and closed afterwards."""
    world_bed = make_bed(hil_config, tmp_path / "device2")
    with started(world_bed, hil_record, hil_config, hil_evidence_dir):
        yield world_bed


@pytest.fixture
def ctx(bed: Device2Bed) -> Ctx:
    """The scenario's state: the last answer, what the steps noted."""
    return Ctx(bed=bed)
