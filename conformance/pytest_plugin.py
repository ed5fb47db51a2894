"""pytest plugin: SUT options, Gherkin tag handling, planned skips and scenario result records.

Loaded for every pytest run (`-p conformance.pytest_plugin` in pyproject), so it does nothing
visible unless a scenario needs a capability or `--hil-results` asks for records.

``--hil-req ID,ID`` keeps only the scenarios carrying one of those requirement IDs (the others are
deselected): how ``hil selfcheck`` runs just the scenarios a deviation must be caught by. The SUT
declaration's ``deviations`` (builtin only) reach the fixtures as ``hil_config.sut.deviations``.

Records: one dict per scenario (pytest-bdd scenario, or any test marked `req`), written as a
JSON list to `--hil-results` at session end. Under pytest-xdist (``-n N``, ``--tx SPEC``: local
processes or other hosts) each worker hands its records back through xdist's ``workeroutput``,
and the controller merges them in collection order, so the file is the one a single process
would have written. A worker on another host (any ``--tx`` but ``popen``) writes evidence into a
directory of its own and ships the files back with its records.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conformance.evidence import scenario_slug
from conformance.sut import SutDeclaration, SutError, load_sut
from conformance.verdicts import NOT_APPLICABLE_PREFIX

try:  # the template registry lets planned skips report the scenario they skip
    from pytest_bdd.scenario import scenario_wrapper_template_registry as _bdd_templates
except ImportError:  # pragma: no cover - pytest-bdd is a dependency, but stay harmless
    _bdd_templates = None

CLOCKS = ("virtual", "real")
PLANNED_PREFIX = NOT_APPLICABLE_PREFIX  # verdicts reads planned skips by this prefix


@dataclass(frozen=True)
class HilConfig:
    """What scenarios need to know about the run: `hil_config` fixture."""

    sut: SutDeclaration
    seed: int
    clock: str
    evidence_dir: Path


@dataclass
class _State:
    """Per-config state (never module globals: pytester runs several configs in one process)."""

    sut_spec: str
    seed: int
    clock: str
    results: Path | None
    evidence_option: Path | None
    worker_id: str | None
    requirements: frozenset[str] = frozenset()  # --hil-req: only scenarios carrying these
    records: list[dict[str, Any]] = field(default_factory=list)
    order: dict[str, int] = field(default_factory=dict)  # nodeid -> collection index
    ship_evidence: bool = False  # a worker on another host: evidence travels with the records
    _sut: SutDeclaration | None = None
    _evidence_dir: Path | None = None

    def sut(self) -> SutDeclaration:
        if self._sut is None:
            try:
                self._sut = load_sut(self.sut_spec)
            except SutError as exc:
                raise pytest.UsageError(f"--hil-sut {self.sut_spec}: {exc}") from exc
        return self._sut

    def evidence_dir(self, make_default: Callable[[], Path] | None = None) -> Path:
        """`--hil-evidence-dir`, else a directory from `make_default` (pytest's tmp_path_factory
        in fixtures, so pytest prunes old ones), else a fresh temporary directory."""
        if self._evidence_dir is None:
            if self.ship_evidence:  # the option names the controller's directory: same name
                name = self.evidence_option.name if self.evidence_option else "evidence"
                path = Path(tempfile.mkdtemp(prefix="hil-evidence-")) / name
                path.mkdir()
            elif self.evidence_option is not None:
                path = self.evidence_option
                path.mkdir(parents=True, exist_ok=True)
            elif make_default is not None:
                path = make_default()
            else:
                path = Path(tempfile.mkdtemp(prefix="hil-evidence-"))
            self._evidence_dir = path.resolve()
        return self._evidence_dir

    def evidence_root(self) -> Path | None:
        """The evidence root if the run has one (given, or created by a fixture), else None."""
        if self._evidence_dir is None and self.evidence_option is None:
            return None
        return self.evidence_dir()

    def worker_file(self, worker_id: str) -> Path:
        assert self.results is not None
        return self.results.with_name(f"{self.results.name}.{worker_id}.json")

    def stale_worker_files(self) -> list[Path]:
        assert self.results is not None
        prefix = f"{self.results.name}."
        folder = self.results.parent
        if not folder.is_dir():
            return []
        return sorted(
            p for p in folder.iterdir() if p.name.startswith(prefix) and p.name.endswith(".json")
        )


@dataclass
class _ItemRun:
    """Transient per-test state gathered by the hooks while one item runs."""

    step_index: dict[int, int] = field(default_factory=dict)  # id(Step) -> index in record
    step_started: dict[int, int] = field(default_factory=dict)  # index -> perf_counter_ns
    reports: dict[str, pytest.TestReport] = field(default_factory=dict)
    call_failure: dict[str, Any] | None = None
    call_kind: str | None = None  # "failed" (assertion) or "error" (anything else)


_STATE = pytest.StashKey[_State]()
_SHIP_EVIDENCE = "hil_ship_evidence"  # workerinput: this worker runs on another host
_RECORDS_OUT = "hil_records"  # workeroutput: {"records": [...], "order": [...], "evidence": {}}
_RECORD = pytest.StashKey[dict[str, Any]]()
_RUN = pytest.StashKey[_ItemRun]()
_PLANNED = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hil", "gateway-hil conformance")
    group.addoption(
        "--hil-sut",
        default="builtin",
        help="SUT declaration: 'builtin', a name in conformance/suts/, or a YAML path "
        "(default: builtin)",
    )
    group.addoption("--hil-seed", type=int, default=1, help="world seed (default: 1)")
    group.addoption(
        "--hil-clock", choices=CLOCKS, default="virtual", help="clock mode (default: virtual)"
    )
    group.addoption(
        "--hil-results",
        default=None,
        metavar="PATH",
        help="write the scenario result records (JSON list) to PATH at session end",
    )
    group.addoption(
        "--hil-req",
        default=None,
        metavar="ID,ID",
        help="run only the scenarios carrying one of these requirement IDs (comma-separated)",
    )
    group.addoption(
        "--hil-evidence-dir",
        default=None,
        metavar="DIR",
        help="where scenarios write evidence (default: a new temporary directory)",
    )


def pytest_configure(config: pytest.Config) -> None:
    results = config.getoption("hil_results", None)
    evidence = config.getoption("hil_evidence_dir", None)
    workerinput = getattr(config, "workerinput", None)
    state = _State(
        sut_spec=str(config.getoption("hil_sut", "builtin")),
        seed=int(config.getoption("hil_seed", 1)),
        clock=str(config.getoption("hil_clock", "virtual")),
        results=Path(results).resolve() if results else None,
        evidence_option=Path(evidence) if evidence else None,
        worker_id=workerinput["workerid"] if workerinput else None,
        requirements=frozenset(_id_list(config.getoption("hil_req", None))),
        ship_evidence=bool(workerinput and workerinput.get(_SHIP_EVIDENCE)),
    )
    config.stash[_STATE] = state
    # pyproject registers these too; repeating them keeps the plugin usable in other rootdirs.
    config.addinivalue_line("markers", "req(id): the catalog requirement a scenario proves")
    config.addinivalue_line("markers", "needs(capability): the SUT capability a scenario needs")
    if state.sut_spec != "builtin":
        state.sut()  # an explicit SUT is checked up front, as a usage error
    if state.results is not None and state.worker_id is None:
        # The controller starts clean; workers must not, they could delete a sibling's file.
        for stale in state.stale_worker_files():
            stale.unlink(missing_ok=True)


# -- Gherkin tags -----------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_bdd_apply_tag(tag: str, function: Callable[..., object]) -> bool:
    """`@req:ID` -> mark.req(ID); `@needs:cap` -> mark.needs(cap); other tags -> mark.<tag>."""
    name, sep, arg = tag.partition(":")
    if sep and arg and name in ("req", "needs"):
        getattr(pytest.mark, name)(arg)(function)
    else:
        getattr(pytest.mark, tag)(function)
    return True


def _marker_args(item: pytest.Item, name: str) -> list[str]:
    """Arguments of `name` markers, plus marks named `name:<arg>` (pytest-bdd applies Examples
    tags directly as marks, without the apply_tag hook)."""
    values: list[str] = []
    for mark in item.iter_markers():
        if mark.name == name:
            values.extend(str(a) for a in mark.args)
        elif mark.name.startswith(f"{name}:") and len(mark.name) > len(name) + 1:
            values.append(mark.name[len(name) + 1 :])
    return list(dict.fromkeys(values))


def _id_list(raw: str | None) -> list[str]:
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """The plan: a scenario needing a capability the SUT does not declare is not applicable.
    `@needs:a|b` is met by either capability. With `--hil-req`, scenarios carrying none of the
    requirements asked for are deselected first."""
    state = config.stash[_STATE]
    if state.requirements:
        kept = [i for i in items if state.requirements & _item_requirements(i)]
        dropped = [i for i in items if not state.requirements & _item_requirements(i)]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept
    for item in items:
        needs = _marker_args(item, "needs")
        if not needs:
            continue
        missing = [
            need.replace("|", " or ")
            for need in needs
            if not any(state.sut().has(cap) for cap in need.split("|"))
        ]
        if missing:
            reason = f"{PLANNED_PREFIX} SUT does not declare {', '.join(missing)}"
            item.add_marker(pytest.mark.skip(reason=reason))
            item.stash[_PLANNED] = reason
    if hasattr(config, "workerinput"):
        _slow_first(state, items)


def _slow_first(state: _State, items: list[pytest.Item]) -> None:
    """Under pytest-xdist: what is marked ``slow`` (the ``@slow`` tag of a scenario or its
    Examples) starts first, so the workers finish together rather than one running a long
    scenario at the end. Every worker sorts the same way, as xdist requires; the records keep
    the collection order, so the report is the one a single process writes."""
    state.order = {item.nodeid: i for i, item in enumerate(items)}
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def _item_requirements(item: pytest.Item) -> set[str]:
    """The requirement IDs a collected item carries (its @req tags, Examples tags included)."""
    return set(_marker_args(item, "req"))


# -- records ----------------------------------------------------------------------------------


def _bdd_scenario(item: pytest.Item) -> Any | None:
    """The rendered pytest-bdd scenario behind `item`, or None for a plain test."""
    if _bdd_templates is None:
        return None
    try:
        template = _bdd_templates.get(getattr(item, "obj", None))
    except TypeError:  # unhashable or not weak-referenceable object
        return None
    if template is None:
        return None
    callspec = getattr(item, "callspec", None)
    example = callspec.params.get("_pytest_bdd_example", {}) if callspec else {}
    return template.render(example)


def _rel(path: str | os.PathLike[str], root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()


def _steps(scenario: Any) -> list[dict[str, Any]]:
    return [
        {
            "keyword": step.keyword,
            "name": step.name,
            "status": "skipped",
            "duration_ns": 0,
            "error": None,
            "line": step.line_number,
        }
        for step in scenario.steps
    ]


def _describe(scenario: Any, item: pytest.Item, record: dict[str, Any]) -> None:
    """Fill the record's feature, scenario, tag and step fields."""
    feature = scenario.feature
    tags = set(scenario.tags) | set(feature.tags)
    if scenario.rule is not None:
        tags |= set(scenario.rule.tags)
    tags |= {m.name for m in item.iter_markers() if m.name.startswith(("req:", "needs:"))}
    record.update(
        feature=feature.name,
        feature_file=_rel(feature.filename, item.config.rootpath),
        feature_line=feature.line_number,
        feature_tags=sorted(feature.tags),
        name=scenario.name,
        keyword=scenario.keyword,
        line=scenario.line_number,
        tags=sorted(tags),
        steps=_steps(scenario),
    )


def _new_record(item: pytest.Item) -> dict[str, Any]:
    path, line, _ = item.location
    record: dict[str, Any] = {
        "nodeid": item.nodeid,
        "feature": None,
        "feature_file": path,
        "name": item.name,
        "keyword": "Scenario",
        "line": (line or 0) + 1,
        "tags": [],
        "requirements": [],
        "outcome": None,
        "planned_skip": False,
        "skip_reason": None,
        "wall_start": time.time(),
        "wall_seconds": 0.0,
        "sim_start": None,
        "sim_end": None,
        "steps": [],
        "failure": None,
        "evidence": [],
        "measurements": {},
    }
    scenario = _bdd_scenario(item)
    if scenario is not None:
        _describe(scenario, item, record)
    tagged = [t[4:] for t in record["tags"] if t.startswith("req:")]
    record["requirements"] = sorted(set(tagged) | set(_marker_args(item, "req")))
    return record


def _is_scenario(record: dict[str, Any]) -> bool:
    return record["feature"] is not None or bool(record["requirements"])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    state = item.config.stash[_STATE]
    record = _new_record(item)
    item.stash[_RECORD] = record
    run = item.stash[_RUN] = _ItemRun()
    try:
        return (yield)
    finally:
        _finish(item, state, record, run)
        if state.results is not None and _is_scenario(record):
            if state.worker_id is not None:
                record["worker"] = state.worker_id
            state.records.append(record)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    run = item.stash.get(_RUN, None)
    if run is None:
        return report
    run.reports[call.when] = report
    if call.excinfo is not None and report.failed and run.call_kind is None:
        exc = call.excinfo.value
        run.call_kind = "failed" if _is_assertion(exc) else "error"
        if run.call_failure is None:
            run.call_failure = _failure(exc, step=None)
            if call.when != "call":
                run.call_failure["phase"] = call.when
    return report


def _is_assertion(exc: BaseException) -> bool:
    return isinstance(exc, AssertionError | pytest.fail.Exception)


def _message(exc: BaseException) -> str:
    text = str(exc).strip()
    if _is_assertion(exc):
        return text or "assertion failed"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


def _failure(exc: BaseException, step: str | None) -> dict[str, Any]:
    return {
        "step": step,
        "message": _message(exc),
        "expected": _jsonable(getattr(exc, "expected", None)),
        "observed": _jsonable(getattr(exc, "observed", None)),
        "exception": type(exc).__name__,
    }


def _skip_reason(report: pytest.TestReport) -> str:
    if hasattr(report, "wasxfail"):
        return f"xfail: {report.wasxfail}".rstrip(": ")
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr or "skipped")


def _outcome(run: _ItemRun) -> tuple[str, str | None]:
    """(outcome, skip reason) from the setup/call/teardown reports."""
    setup, call, teardown = (run.reports.get(w) for w in ("setup", "call", "teardown"))
    if setup is not None and setup.failed:
        return "error", None
    if setup is not None and setup.skipped:
        return "skipped", _skip_reason(setup)
    if call is not None and call.failed:
        return run.call_kind or "error", None
    if call is not None and call.skipped:
        return "skipped", _skip_reason(call)
    if teardown is not None and teardown.failed:
        return "error", None
    if call is None:
        return "error", None  # interrupted before the test body ran
    return "passed", None


def _finish(item: pytest.Item, state: _State, record: dict[str, Any], run: _ItemRun) -> None:
    outcome, reason = _outcome(run)
    record["outcome"] = outcome
    record["skip_reason"] = reason
    planned = item.stash.get(_PLANNED, None)
    record["planned_skip"] = outcome == "skipped" and planned is not None and reason == planned
    record["wall_seconds"] = round(sum(r.duration for r in run.reports.values()), 6)
    if outcome in ("failed", "error") and record["failure"] is None:
        record["failure"] = run.call_failure or {
            "step": None,
            "message": f"scenario {outcome} without an exception",
            "expected": None,
            "observed": None,
        }
    _collect_evidence(state, record)


def _collect_evidence(state: _State, record: dict[str, Any]) -> None:
    """Relative evidence paths: listed ones plus every file in the scenario's evidence dir."""
    root = state.evidence_root()
    if root is None:
        listed = [str(p) for p in record.get("evidence") or ()]
        record["evidence"] = list(dict.fromkeys(listed))
        return
    found = []
    scenario_dir = root / scenario_slug(record["nodeid"])
    if scenario_dir.is_dir():
        found = sorted(p for p in scenario_dir.rglob("*") if p.is_file())
    paths: dict[str, None] = {}
    for entry in [*(record.get("evidence") or ()), *found]:
        path = Path(entry)
        if path.is_absolute():
            try:
                paths[(Path(root.name) / path.resolve().relative_to(root)).as_posix()] = None
                continue
            except ValueError:
                pass
        paths[path.as_posix()] = None
    record["evidence"] = list(paths)


# -- pytest-bdd step hooks --------------------------------------------------------------------


def _run_of(request: pytest.FixtureRequest) -> tuple[dict[str, Any], _ItemRun] | None:
    node = request.node
    record = node.stash.get(_RECORD, None)
    run = node.stash.get(_RUN, None)
    return (record, run) if record is not None and run is not None else None


@pytest.hookimpl(optionalhook=True)
def pytest_bdd_before_scenario(request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
    found = _run_of(request)
    if found is None:
        return
    record, run = found
    _describe(scenario, request.node, record)
    run.step_index = {id(step): i for i, step in enumerate(scenario.steps)}


@pytest.hookimpl(optionalhook=True)
def pytest_bdd_before_step(
    request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any, step_func: Any
) -> None:
    found = _run_of(request)
    if found is not None and id(step) in found[1].step_index:
        found[1].step_started[found[1].step_index[id(step)]] = time.perf_counter_ns()


def _end_step(
    request: pytest.FixtureRequest, step: Any, status: str, exc: BaseException | None = None
) -> None:
    found = _run_of(request)
    if found is None:
        return
    record, run = found
    index = run.step_index.get(id(step))
    if index is None:
        return
    entry = record["steps"][index]
    started = run.step_started.pop(index, None)
    entry["status"] = status
    entry["duration_ns"] = time.perf_counter_ns() - started if started is not None else 0
    if exc is not None:
        failure = _failure(exc, step=f"{step.keyword} {step.name}")
        entry["error"] = failure["message"]
        record["failure"] = failure
        run.call_kind = "failed" if _is_assertion(exc) else "error"


@pytest.hookimpl(optionalhook=True)
def pytest_bdd_after_step(
    request: pytest.FixtureRequest,
    feature: Any,
    scenario: Any,
    step: Any,
    step_func: Any,
    step_func_args: dict[str, Any],
) -> None:
    _end_step(request, step, "passed")


@pytest.hookimpl(optionalhook=True)
def pytest_bdd_step_error(
    request: pytest.FixtureRequest,
    feature: Any,
    scenario: Any,
    step: Any,
    step_func: Any,
    step_func_args: dict[str, Any],
    exception: Exception,
) -> None:
    _end_step(request, step, "failed", exception)


@pytest.hookimpl(optionalhook=True)
def pytest_bdd_step_func_lookup_error(
    request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any, exception: Exception
) -> None:
    _end_step(request, step, "failed", exception)


@pytest.hookimpl(optionalhook=True)
def pytest_bdd_after_scenario(request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
    """A step left by a skip (pytest.skip is no step error) still gets its duration."""
    found = _run_of(request)
    if found is None:
        return
    record, run = found
    now = time.perf_counter_ns()
    for index, started in run.step_started.items():
        record["steps"][index]["duration_ns"] = now - started
    run.step_started.clear()


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def hil_config(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> HilConfig:
    """The run's SUT declaration, seed, clock mode and evidence root."""
    state = pytestconfig.stash[_STATE]
    evidence = state.evidence_dir(lambda: tmp_path_factory.mktemp("hil-evidence"))
    return HilConfig(sut=state.sut(), seed=state.seed, clock=state.clock, evidence_dir=evidence)


@pytest.fixture
def hil_record(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The current scenario's result record: steps may add `measurements` (name -> list of
    numbers), `evidence` (paths) and `sim_start`/`sim_end` (simulated seconds)."""
    record = request.node.stash.get(_RECORD, None)
    if record is None:
        record = request.node.stash[_RECORD] = _new_record(request.node)
    return record


@pytest.fixture
def hil_evidence_dir(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """This scenario's evidence directory (created); every file in it is linked as evidence."""
    state = request.config.stash[_STATE]
    root = state.evidence_dir(lambda: tmp_path_factory.mktemp("hil-evidence"))
    path = root / scenario_slug(request.node.nodeid)
    path.mkdir(parents=True, exist_ok=True)
    return path


# -- session end: write (worker) or merge (controller) ----------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return repr(value)


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=_json_default) + "\n", encoding="utf-8")
    tmp.replace(path)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Remember the collection order: merged records follow it, as a single process's do."""
    state = session.config.stash.get(_STATE, None)
    if state is not None and state.results is not None and not state.order:
        state.order = {item.nodeid: i for i, item in enumerate(session.items)}


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: a worker that is not a local ``popen`` process cannot write into this
    host's evidence directory, so it ships its evidence back."""
    if not getattr(node.gateway.spec, "popen", False) or getattr(node.gateway.spec, "via", None):
        node.workerinput[_SHIP_EVIDENCE] = True


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object | None) -> None:
    """xdist controller: take a finished worker's records (and shipped evidence)."""
    state = node.config.stash.get(_STATE, None)
    output = getattr(node, "workeroutput", None) or {}
    sent = output.get(_RECORDS_OUT)
    if state is None or state.results is None or not sent:
        return
    state.records.extend(sent["records"])
    for index, nodeid in enumerate(sent["order"]):
        state.order.setdefault(nodeid, index)
    shipped: dict[str, bytes] = sent.get("evidence") or {}
    if shipped:
        root = state.evidence_dir()
        for relative, data in shipped.items():
            target = (root / relative).resolve()
            if root not in target.parents:  # never outside the evidence root
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)


def _shipped_evidence(state: _State) -> dict[str, bytes]:
    root = state.evidence_root()
    if not state.ship_evidence or root is None:
        return {}
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = session.config.stash.get(_STATE, None)
    if state is None or state.results is None:
        return
    if state.worker_id is not None:
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is None:  # not an xdist worker after all: leave a file to merge
            _write_json(state.worker_file(state.worker_id), state.records)
            return
        workeroutput[_RECORDS_OUT] = {  # plain JSON types: what execnet can carry
            "records": json.loads(json.dumps(state.records, default=_json_default)),
            "order": list(state.order),
            "evidence": _shipped_evidence(state),
        }
        return
    records = list(state.records)
    for part in state.stale_worker_files():
        try:
            records.extend(json.loads(part.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            reporter = session.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(f"hil: cannot merge worker results {part}: {exc}", red=True)
            continue
        part.unlink()
    last = len(state.order)
    records.sort(
        key=lambda r: (
            state.order.get(r.get("nodeid") or "", last),
            r.get("wall_start") or 0.0,
            r.get("nodeid") or "",
        )
    )
    _write_json(state.results, records)
