"""What every system's scenarios share: the steps of ``features/steps/`` that act on the
scenario's ``bed`` fixture (time passing), registered here so every folder below sees them.

Each system keeps its own fixtures (``bed`` following :class:`scenarios.bed.Bed`, its context)
and step library in ``features/<system>/conftest.py`` and ``features/<system>/steps/``.
"""

from __future__ import annotations

from features.steps.time import *  # noqa: F403  (step definitions register as fixtures)
