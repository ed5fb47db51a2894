"""``hil selfcheck``: how much of what can go wrong the conformance suite catches.

For each deviation of a profile's deviation catalog (:mod:`conformance.deviations`) the builtin
SUT is told to misbehave in that one way (a ``builtin-deviant`` declaration written on the fly)
and the scenarios carrying the requirements the deviation ``catches`` run against it, each run a
:func:`~conformance.run.run_conformance` of its own (a pytest subprocess); ``full`` runs the
whole profile instead. A deviation is caught when some requirement ends ``fail``, ``deviates``
or ``error`` although it did not in the baseline: the same scenarios without any deviation, run
first, where each of them must pass (else the table would be meaningless, and says so).

The detection table lists each deviation with the requirements that caught it, the named ones
that stayed silent, or MISSED; the summary is ``caught X of Y (Z %)`` against a target share.
Each run's report stays in ``<reports>/selfcheck-<stamp>-<profile>/<deviation>/``, beside
``selfcheck.json`` (:meth:`SelfcheckResult.to_dict`).
"""

from __future__ import annotations

import io
import json
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import yaml

from conformance.deviations import Deviation, DeviationCatalog, load_deviations
from conformance.run import LOG_FILE, NothingSelected, run_conformance
from conformance.sut import SutDeclaration, SutError, deviant, load_sut, sut_data

SCHEMA = "gateway-hil/selfcheck/1"
CAUGHT = ("fail", "deviates", "error")  # verdicts that mean "the suite noticed"
BROKEN = (2, 3, 4)  # pytest's exit codes when the run itself broke (interrupted, internal, usage)
DEFAULT_TARGET = 95.0
BASELINE = "baseline"


@dataclass
class RunOutcome:
    """One run of the suite: the verdict of each requirement it ran, or why it could not."""

    verdicts: dict[str, str] = field(default_factory=dict)
    run_dir: Path | None = None
    seconds: float = 0.0
    error: str | None = None

    def executed(self) -> dict[str, str]:
        """The verdicts of requirements that ran (not-run / not-applicable left out)."""
        return {r: v for r, v in self.verdicts.items() if v not in ("not-run", "not-applicable")}


@dataclass
class DeviationOutcome:
    deviation: Deviation
    run: RunOutcome
    caught_by: list[str]  # requirements that noticed (and were clean in the baseline)
    silent: list[str]  # requirements the catalog says must catch it that did not

    @property
    def caught(self) -> bool:
        return bool(self.caught_by)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.deviation.to_dict(),
            "caught": self.caught,
            "caught_by": self.caught_by,
            "silent": self.silent,
            "verdicts": self.run.executed(),
            "run_dir": str(self.run.run_dir) if self.run.run_dir else None,
            "seconds": round(self.run.seconds, 1),
            "error": self.run.error,
        }


@dataclass
class SelfcheckResult:
    profile: str
    target: float
    full: bool
    seed: int
    outcomes: list[DeviationOutcome]
    baseline: RunOutcome | None
    folder: Path

    @property
    def caught(self) -> int:
        return sum(1 for o in self.outcomes if o.caught)

    @property
    def total(self) -> int:
        return len(self.outcomes)

    @property
    def percent(self) -> float:
        return 100.0 * self.caught / self.total if self.total else 0.0

    def baseline_problems(self) -> dict[str, str]:
        """Requirements that did not pass without any deviation (requirement -> verdict)."""
        if self.baseline is None:
            return {}
        if self.baseline.error:
            return {BASELINE: self.baseline.error}
        return {r: v for r, v in self.baseline.executed().items() if v != "pass"}

    @property
    def not_run(self) -> list[str]:
        """Deviations whose run could not be made (counted as missed)."""
        return [o.deviation.name for o in self.outcomes if o.run.error]

    @property
    def exit_code(self) -> int:
        """0 when the target is met over a clean baseline and every run could be made, else 1."""
        met = self.percent >= self.target and not self.not_run
        return 0 if met and not self.baseline_problems() else 1

    def summary(self) -> str:
        known = [o for o in self.outcomes if o.deviation.known_fault]
        text = f"caught {self.caught} of {self.total} ({self.percent:.1f} %)"
        if known:
            text += f"; known field faults {sum(o.caught for o in known)} of {len(known)}"
        if self.not_run:
            text += f"; {len(self.not_run)} could not run"
        return text + f"; target {self.target:g} %"

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "profile": self.profile,
            "seed": self.seed,
            "full": self.full,
            "target": self.target,
            "caught": self.caught,
            "total": self.total,
            "percent": round(self.percent, 2),
            "exit_code": self.exit_code,
            "baseline": None
            if self.baseline is None
            else {
                "verdicts": self.baseline.executed(),
                "problems": self.baseline_problems(),
                "run_dir": str(self.baseline.run_dir) if self.baseline.run_dir else None,
                "seconds": round(self.baseline.seconds, 1),
            },
            "deviations": [o.to_dict() for o in self.outcomes],
        }


def selected(catalog: DeviationCatalog, names: Sequence[str] | None) -> list[Deviation]:
    """The deviations asked for (all when ``names`` is empty); DeviationCatalogError on a name
    the catalog does not hold."""
    if not names:
        return list(catalog.deviations)
    return [catalog.get(name) for name in dict.fromkeys(names)]


def run_selfcheck(
    profile: str = "ble-router",
    names: Sequence[str] | None = None,
    *,
    full: bool = False,
    seed: int = 1,
    target: float = DEFAULT_TARGET,
    baseline: bool = True,
    jobs: int = 1,
    reports_dir: str | Path = "reports",
    progress: TextIO | None = None,
) -> SelfcheckResult:
    """Run the selfcheck of ``profile`` (the deviations ``names``, or all of them); progress
    lines go to ``progress`` when given. DeviationCatalogError / SutError on bad input."""
    catalog = load_deviations(profile)
    chosen = selected(catalog, names)
    builtin = load_sut("builtin")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    folder = _fresh_dir(Path(reports_dir).resolve() / f"selfcheck-{stamp}-{profile}")
    say: Callable[[str], None] = _printer(progress)
    scope = "the whole profile" if full else "the scenarios of the requirements each must catch"
    say(f"hil selfcheck: {len(chosen)} {profile} deviation(s), each against {scope}")

    def run(name: str, sut: SutDeclaration, requirements: Sequence[str] | None) -> RunOutcome:
        return _run(profile, sut, name, requirements, seed, folder)

    base: RunOutcome | None = None
    if baseline:
        union = None if full else sorted({r for d in chosen for r in d.catches})
        base = run(BASELINE, builtin, union)
        clean = {r for r, v in base.executed().items() if v == "pass"}
        say(
            f"hil selfcheck: baseline without deviations: {len(clean)} of "
            f"{len(base.executed())} requirements pass ({base.seconds:.0f} s)"
            + (f"; {base.error}" if base.error else "")
        )

    def check(indexed: tuple[int, Deviation]) -> DeviationOutcome:
        index, deviation = indexed
        sut = deviant(builtin, [deviation.name], name=f"builtin-deviant-{deviation.name}")
        outcome = judge(deviation, run(deviation.name, sut, None if full else deviation.catches))
        if base is not None:  # a requirement failing without deviations proves nothing
            spoilt = {r for r, v in base.verdicts.items() if v in CAUGHT}
            outcome.caught_by = [r for r in outcome.caught_by if r not in spoilt]
        say(f"hil selfcheck: [{index}/{len(chosen)}] {_line(outcome)}")
        return outcome

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        outcomes = list(pool.map(check, enumerate(chosen, 1)))
    result = SelfcheckResult(profile, target, full, seed, outcomes, base, folder)
    (folder / "selfcheck.json").write_text(
        json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8"
    )
    return result


def judge(deviation: Deviation, run: RunOutcome) -> DeviationOutcome:
    """Which requirements noticed ``deviation`` in ``run``, and which named ones did not."""
    caught_by = sorted(r for r, v in run.verdicts.items() if v in CAUGHT)
    silent = [r for r in deviation.catches if r not in caught_by]
    return DeviationOutcome(deviation, run, caught_by, silent)


def _run(
    profile: str,
    sut: SutDeclaration,
    name: str,
    requirements: Sequence[str] | None,
    seed: int,
    folder: Path,
) -> RunOutcome:
    where = folder / name
    where.mkdir(parents=True, exist_ok=True)
    sut_file = where / "sut.yaml"
    sut_file.write_text(yaml.safe_dump(sut_data(sut), sort_keys=False), encoding="utf-8")
    command = ["hil", "selfcheck", "--profile", profile, "--seed", str(seed)]
    if name != BASELINE:
        command += ["--deviation", name]
    started = time.monotonic()
    outcome = RunOutcome()
    try:
        run_dir, _code = run_conformance(
            profile,
            sut_file,
            seed,
            "virtual",
            reports_dir=where,
            progress=False,
            requirements=requirements,
            command=shlex.join(command),
            out=io.StringIO(),
        )
    except (NothingSelected, SutError, ValueError, OSError) as exc:
        outcome.error = f"the run could not be made: {exc}"
    else:
        outcome.run_dir = run_dir
        data = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
        code = data.get("pytest_exit_code")
        if code in BROKEN:  # no verdict of this run says anything about the deviation
            outcome.error = f"pytest stopped with exit code {code}: {_last_line(run_dir)}"
        else:
            outcome.verdicts = {str(r["id"]): str(r["verdict"]) for r in data["requirements"]}
    outcome.seconds = time.monotonic() - started
    return outcome


def _last_line(run_dir: Path) -> str:
    lines = (run_dir / LOG_FILE).read_text(encoding="utf-8", errors="replace").splitlines()
    return next((line.strip("= ") for line in reversed(lines) if line.strip()), "see its log")


def _line(outcome: DeviationOutcome) -> str:
    d = outcome.deviation
    if outcome.run.error:
        verdict = f"NOT RUN ({outcome.run.error})"
    elif outcome.caught:
        verdict = "caught by " + ", ".join(outcome.caught_by)
    else:
        verdict = "MISSED"
    return f"{d.name}: {verdict} ({outcome.run.seconds:.0f} s)"


def format_table(result: SelfcheckResult) -> str:
    """The detection table and the summary line, as printed."""
    rows = [("deviation", "kind", "known", "caught by (silent: named, yet passed)")]
    for o in result.outcomes:
        d = o.deviation
        if o.run.error:
            found = f"NOT RUN, counted missed: {o.run.error}"
        elif o.caught:
            found = ", ".join(o.caught_by)
            if o.silent:
                found += f"  (silent: {', '.join(o.silent)})"
        else:
            found = f"MISSED (expected: {', '.join(d.catches)})"
        rows.append((d.name, d.kind, "yes" if d.known_fault else "", found))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [
        "  ".join(cell.ljust(widths[i]) if i < 3 else cell for i, cell in enumerate(row)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * 10)
    problems = result.baseline_problems()
    if result.baseline is None:
        lines.append("baseline: not run (--no-baseline)")
    elif problems:
        shown = ", ".join(f"{r} {v}" for r, v in sorted(problems.items()))
        lines.append(f"baseline: NOT CLEAN without deviations: {shown}")
    else:
        lines.append(f"baseline: all {len(result.baseline.executed())} requirements pass")
    lines.append(result.summary())
    return "\n".join(lines)


def _printer(out: TextIO | None) -> Callable[[str], None]:
    def say(line: str) -> None:
        if out is not None:
            out.write(line + "\n")
            out.flush()

    return say


def _fresh_dir(path: Path) -> Path:
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    candidate.mkdir(parents=True)
    return candidate


def main_table(result: SelfcheckResult, as_json: bool, out: TextIO = sys.stdout) -> int:
    """Print the result (the table, or JSON) and return the exit code."""
    if as_json:
        out.write(json.dumps(result.to_dict(), indent=2) + "\n")
    else:
        out.write(format_table(result) + "\n")
        out.write(f"report: {result.folder / 'selfcheck.json'}\n")
    return result.exit_code
