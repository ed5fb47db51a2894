"""Deviations: named ways a reference implementation can be told to misbehave.

The conformance suite judges outside gateways; ``hil selfcheck`` judges the suite itself by
running it against our own reference implementations told to break one rule at a time, and
counting which breakages the scenarios catch (``conformance/deviations/``).

How a system takes part:

* its package declares ``DEVIATIONS: dict[str, str]`` (name -> one line saying what goes
  wrong), e.g. :mod:`devices.gateways.ble_router.deviations`;
* its node takes a :class:`Deviations` value (``Deviations.of(names, DEVIATIONS)`` refuses a
  name the system does not declare) and keeps it for its whole life, reboots included;
* at the exact place of each behaviour a small branch bends it::

      if self.deviations.active("disconnect-false-error"):
          raise ProcedureFailed(...)

  never a parallel implementation. :meth:`Deviations.active` refuses a name the system does
  not declare, so a misspelt hook fails loudly instead of never firing.

A clean run has :data:`NO_DEVIATIONS` (or an empty value of the system's own names): every
``active`` is False and the node behaves as documented.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

__all__ = ["NO_DEVIATIONS", "DeviationError", "Deviations"]


class DeviationError(ValueError):
    """A deviation name the system does not declare (the message lists those it does)."""


@dataclass(frozen=True)
class Deviations:
    """The active deviations of one node: an immutable set of names, each one of ``declared``.

    ``declared`` is empty only for :data:`NO_DEVIATIONS`, which answers False to any name.
    """

    names: frozenset[str] = frozenset()
    declared: frozenset[str] = frozenset()
    system: str = ""

    def __post_init__(self) -> None:
        unknown = sorted(self.names - self.declared)
        if unknown:
            raise DeviationError(_unknown(unknown, self.declared, self.system))

    @classmethod
    def of(
        cls, names: Iterable[str] | Deviations, declared: Mapping[str, str], system: str = ""
    ) -> Deviations:
        """``names`` checked against the system's ``declared`` deviations (DeviationError on a
        name it does not declare). A :class:`Deviations` value is checked again, so a value
        made for another system is refused too."""
        given = names.names if isinstance(names, Deviations) else names
        if isinstance(given, str):  # one name, not its letters
            given = (given,)
        return cls(frozenset(given), frozenset(declared), system)

    def active(self, name: str) -> bool:
        """Whether deviation ``name`` is on; DeviationError if the system does not declare it
        (a hook with a misspelt name)."""
        if self.declared and name not in self.declared:
            raise DeviationError(_unknown([name], self.declared, self.system))
        return name in self.names

    def __bool__(self) -> bool:
        return bool(self.names)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.names))

    def __len__(self) -> int:
        return len(self.names)

    def __str__(self) -> str:
        return ", ".join(self) or "none"


NO_DEVIATIONS = Deviations()


def _unknown(names: Iterable[str], declared: Iterable[str], system: str) -> str:
    known = ", ".join(sorted(declared)) or "none"
    whose = f"{system} " if system else ""
    shown = ", ".join(repr(n) for n in names)
    return f"unknown {whose}deviation {shown}; accepted: {known}"
