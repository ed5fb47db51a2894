"""Steps about time, the same for every system: they act on the scenario's ``bed`` fixture
(each ``features/<system>/conftest.py`` provides one that follows :class:`scenarios.bed.Bed`)."""

from __future__ import annotations

from pytest_bdd import given, when

from features.steps.text import step_text
from scenarios.bed import Bed


@given(step_text("{seconds:N} seconds pass"))
@when(step_text("{seconds:N} seconds pass"))
def seconds_pass(bed: Bed, seconds: float) -> None:
    bed.run(bed.sleep(seconds))


@given("1 second passes")
@when("1 second passes")
def one_second_passes(bed: Bed) -> None:
    bed.run(bed.sleep(1.0))
