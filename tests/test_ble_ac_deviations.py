"""The access controller's deviations (profile ``ble-ac``): the names its package declares are
those of its deviation catalog, a name it does not declare is refused where a controller is
made, and a quick subset is caught by ``hil selfcheck`` by exactly the requirements each names."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.deviations import load_deviations
from conformance.selfcheck import run_selfcheck
from devices.deviations import DeviationError
from devices.gateways.ble_ac.deviations import DEVIATIONS, ac_deviations, without_rssi_filter
from scenarios.ble_ac import serve

# Quick ones (one short scenario each): a token rule, a router call, a combined-stream field.
SUBSET = ("token-any-secret", "missing-mac-not-refused", "combined-notification-ap-missing")


def test_the_declared_deviations_are_those_of_the_catalog() -> None:
    catalog = load_deviations("ble-ac")
    assert catalog.implementation == "devices.gateways.ble_ac.deviations"
    assert sorted(catalog.names) == sorted(DEVIATIONS)
    assert serve.DEVIATIONS is DEVIATIONS  # what `hil serve ble-ac --deviate` accepts
    assert 10 <= len(DEVIATIONS) <= 14
    assert len([d for d in catalog.deviations if d.known_fault]) >= 2


def test_an_unknown_deviation_is_refused() -> None:
    from scenarios.ble_ac.bed import LocalAcBed

    with pytest.raises(DeviationError, match="unknown ble-ac deviation 'melt'; accepted: "):
        ac_deviations(["melt"])
    with pytest.raises(DeviationError, match="unknown ble-ac deviation 'melt'"):
        LocalAcBed(deviations=["melt"])
    bed = LocalAcBed(deviations=["router-offline-slow"])
    try:
        assert bed.ac.deviations.active("router-offline-slow")
        assert bed.ac.registry.deviations is bed.ac.deviations
        assert not bed.ac.deviations.active("hubs-list-offline")
    finally:
        bed.close()
    clean = LocalAcBed()
    try:
        assert not clean.ac.deviations
    finally:
        clean.close()


def test_the_rssi_filter_hooks_drop_only_filter_rssi() -> None:
    query = {"filter_rssi": "-60", "filter_name": "HR-1"}
    assert without_rssi_filter(query) == {"filter_name": "HR-1"}
    assert query == {"filter_rssi": "-60", "filter_name": "HR-1"}


@pytest.mark.slow
def test_a_quick_subset_is_caught_by_exactly_its_named_requirements(tmp_path: Path) -> None:
    result = run_selfcheck("ble-ac", SUBSET, jobs=2, reports_dir=tmp_path)
    assert result.baseline_problems() == {}
    for outcome in result.outcomes:
        assert outcome.run.error is None and outcome.caught, outcome.to_dict()
        assert not outcome.silent, outcome.to_dict()
        assert set(outcome.caught_by) == set(outcome.deviation.catches), outcome.to_dict()
    assert (result.caught, result.total, result.exit_code) == (3, 3, 0)
