"""What every interface's fuzz campaign shares: the tally it keeps and how it is printed.

Each system offers ``scenarios/<system>/fuzz.py`` with

* ``INTERFACES``: the names of its interfaces (``router-http``, ``world-control``, ``grpc``...),
* ``campaign(interface: str, examples: int, seed: int, progress=None) -> FuzzTally``: serve the
  reference implementation, throw ``examples`` generated inputs at that interface through its
  real protocol, and after the campaign check that the server still answers a good request
  correctly and that its stored state is intact.

The tests (``tests/test_fuzz_*.py``) run each campaign with a bounded number of examples in CI;
``pytest -m fuzz`` and ``hil fuzz <system> [--interface I] [--examples N]`` run the full ones
and print :meth:`FuzzTally.summary`. A campaign passes when it saw no crash, no hang, no
unhandled error (HTTP 5xx caused by input, gRPC UNKNOWN/INTERNAL, a traceback in the log), no
auth bypass, and its state checks held.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# Answer classes that count against a campaign.
BAD_CLASSES = ("crash", "hang", "unhandled", "auth-bypass")


@dataclass
class FuzzTally:
    """Inputs tried, answers by class, and the failures worth showing (bounded)."""

    system: str
    interface: str
    inputs: int = 0
    answers: Counter[str] = field(default_factory=Counter)
    state_checks: dict[str, bool] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)  # first bad inputs seen
    max_examples: int = 20

    def record(self, answer_class: str, example: Any = None) -> None:
        """One input tried and the class of its answer (``"400"``, ``"INVALID_ARGUMENT"``,
        ``"exception-3"``, ``"silence"``, or one of :data:`BAD_CLASSES`)."""
        self.inputs += 1
        self.answers[answer_class] += 1
        if answer_class in BAD_CLASSES and len(self.examples) < self.max_examples:
            self.examples.append({"class": answer_class, "input": repr(example)[:500]})

    def check(self, name: str, ok: bool) -> None:
        self.state_checks[name] = bool(ok)

    def count(self, answer_class: str) -> int:
        return self.answers.get(answer_class, 0)

    @property
    def ok(self) -> bool:
        return all(self.count(c) == 0 for c in BAD_CLASSES) and all(self.state_checks.values())

    def summary(self) -> str:
        answers = ", ".join(f"{k} {v}" for k, v in sorted(self.answers.items()))
        checks = ", ".join(f"{k} {'ok' if v else 'FAILED'}" for k, v in self.state_checks.items())
        bad = "  ".join(f"{c} {self.count(c)}" for c in BAD_CLASSES)
        lines = [
            f"{self.system} {self.interface}: {self.inputs} inputs  {bad}",
            f"  answers: {answers or 'none'}",
            f"  state checks: {checks or 'none'}",
        ]
        lines += [f"  {e['class']}: {e['input']}" for e in self.examples]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "interface": self.interface,
            "inputs": self.inputs,
            "answers": dict(self.answers),
            "state_checks": self.state_checks,
            "examples": self.examples,
            "ok": self.ok,
        }
