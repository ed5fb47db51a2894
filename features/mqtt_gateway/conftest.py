"""The MQTT gateway system's fixtures (profile ``mqtt-gateway``, both roles): the bed, the
scenario's context and the step libraries of ``features/mqtt_gateway/steps/``.

Which bed a scenario gets (:mod:`scenarios.mqtt_gateway.bed`):

* builtin SUT -> by the scenario's ``@needs``: a platform-role capability
  (:data:`PLATFORM_CAPABILITIES`) gives :class:`LocalPlatformBed` (our platform emulator, the
  harness's gateways), anything else :class:`LocalGatewayBed` (our reference gateway, the
  harness's platform and meters); virtual time, the declaration's ``deviations`` handed over;
* an outside SUT -> by its declared role: ``gateway`` gives :class:`RemoteGatewayBed` (its
  ``process`` started in front of our meters and platform), ``server``/``platform``
  :class:`RemotePlatformBed` (its ``mqtt`` endpoint); scenarios of the other role are not
  applicable (the SUT does not declare their role's capability).

At teardown the bed writes its evidence (``trace.jsonl``, ``mqtt.jsonl``, ``modbus.jsonl``,
``findings.json``...) into the scenario's evidence folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.pytest_plugin import HilConfig
from features.mqtt_gateway.steps.gateway import *  # noqa: F403  (step definitions)
from features.mqtt_gateway.steps.platform import *  # noqa: F403
from features.mqtt_gateway.steps.support import Ctx
from features.steps.evidence import started
from scenarios.mqtt_gateway.bed import (
    LocalGatewayBed,
    LocalPlatformBed,
    MqttBed,
    RemoteGatewayBed,
    RemotePlatformBed,
)
from scenarios.mqtt_gateway.deviations import split

PROFILE = "mqtt-gateway"
PLATFORM_CAPABILITIES = frozenset(
    {"mqtt-platform-role", "mqtt-platform-control", "mqtt-v311", "mqtt-tenants"}
)


def _needs(node: pytest.Item) -> set[str]:
    found: set[str] = set()
    for mark in node.iter_markers():
        if mark.name == "needs":
            found.update(str(a) for a in mark.args)
        elif mark.name.startswith("needs:"):
            found.add(mark.name[len("needs:") :])
    return {cap for need in found for cap in need.split("|")}


def make_bed(config: HilConfig, needs: set[str], work_dir: Path) -> MqttBed:
    sut = config.sut
    if sut.builtin:  # each reference implementation gets its own share of the deviations
        platform, gateway = split(sut.deviations)
        if needs & PLATFORM_CAPABILITIES:
            return LocalPlatformBed(
                seed=config.seed,
                clock=config.clock,
                work_dir=work_dir,
                deviations=platform,
                capture_dir=work_dir / "captures",
            )
        return LocalGatewayBed(
            seed=config.seed,
            clock=config.clock,
            work_dir=work_dir,
            deviations=gateway,
            capture_dir=work_dir / "captures",
        )
    endpoint = dict(sut.endpoint(PROFILE))
    if sut.role == "gateway":
        return RemoteGatewayBed(endpoint, seed=config.seed, work_dir=work_dir)
    return RemotePlatformBed(endpoint, seed=config.seed)


@pytest.fixture
def bed(
    request: pytest.FixtureRequest,
    hil_config: HilConfig,
    hil_record: dict[str, Any],
    hil_evidence_dir: Path,
    tmp_path: Path,
) -> Iterator[MqttBed]:
    """The world the scenario runs in, started; its evidence written and closed afterwards."""
    world_bed = make_bed(hil_config, _needs(request.node), tmp_path)
    with started(world_bed, hil_record, hil_config, hil_evidence_dir):
        yield world_bed


@pytest.fixture
def ctx(bed: MqttBed) -> Ctx:
    return Ctx(bed)
