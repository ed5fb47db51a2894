"""What steps use to state expectations, and where a scenario's evidence goes.

A step that finds the SUT misbehaving raises `Expectation` (through `expect`) so the report can
show expected vs observed; any other exception counts as a harness error, not a SUT failure.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any


class Expectation(AssertionError):
    """The SUT did not do what the requirement asks; carries both sides for the report."""

    def __init__(self, expected: Any, observed: Any, message: str = "") -> None:
        self.expected = expected
        self.observed = observed
        self.message = message or f"expected {expected}, observed {observed}"
        super().__init__(self.message)

    def __reduce__(self) -> tuple[type[Expectation], tuple[Any, Any, str]]:
        # keeps both sides when the exception crosses a process boundary (pickle)
        return (type(self), (self.expected, self.observed, self.message))


def expect(condition: object, expected: Any, observed: Any, message: str = "") -> None:
    """Raise `Expectation(expected, observed, message)` unless `condition` is truthy."""
    if not condition:
        raise Expectation(expected, observed, message)


_UNSAFE = re.compile(r"[^a-z0-9]+")
_MAX_SLUG = 80


def scenario_slug(nodeid: str) -> str:
    """A directory name unique per pytest node id: readable, filesystem-safe, bounded length.

    The node id is kept in readable form (so scenarios of the same name in two features stay
    apart) and a short hash of it is appended, because sanitising is lossy: the outline
    examples `[-70]` and `[70]` would otherwise share a directory.
    """
    path, _, rest = nodeid.partition("::")
    readable = _UNSAFE.sub("-", f"{path.removesuffix('.py')}-{rest}".lower()).strip("-")
    digest = hashlib.sha1(nodeid.encode()).hexdigest()[:6]
    return f"{readable[:_MAX_SLUG].rstrip('-') or 'scenario'}-{digest}"
