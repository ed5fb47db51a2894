"""What every fuzz test asks of a campaign's tally, whatever the interface."""

from __future__ import annotations

from scenarios.fuzzing import BAD_CLASSES, FuzzTally


def assert_clean(tally: FuzzTally, examples: int, state_checks: int) -> None:
    """All ``examples`` inputs sent, none in a bad class, and each of the ``state_checks``
    checks made and passed."""
    assert tally.ok, tally.summary()
    assert tally.inputs == examples
    assert all(tally.count(c) == 0 for c in BAD_CLASSES)
    assert len(tally.state_checks) == state_checks and all(tally.state_checks.values())
