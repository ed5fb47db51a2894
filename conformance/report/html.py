"""`report.html`: one self-contained page for people (inline CSS and SVG, no scripts, no URLs)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from html import escape
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from conformance.catalog import Catalog
from conformance.report.evidence_kinds import kind_of, kinds_present
from conformance.report.junit import failure_message
from conformance.report.metrics import explain, measured_requirements
from conformance.report.run_info import RunInfo
from conformance.report.svg import (
    OUTCOME_COLOURS,
    VERDICT_COLOURS,
    Span,
    histogram_svg,
    timeline_svg,
    verdict_bar_svg,
)
from conformance.sources import Source
from conformance.sut import SutDeclaration
from conformance.verdicts import (
    NOT_APPLICABLE_PREFIX,
    VERDICTS,
    ConformanceResult,
    RequirementResult,
    Verdict,
)

FILENAME = "report.html"

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1320px;
       padding: 0 1.5em 3em; color: #222; }
h1 { font-size: 1.5em; margin-bottom: .2em; } h2 { border-bottom: 2px solid #ddd; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #ddd; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f4f6f8; }
table.meta th { width: 11em; }
pre.cmd { background: #263238; color: #eceff1; padding: .7em 1em; border-radius: 4px;
          overflow-x: auto; }
pre.cmd code { user-select: all; }
.verdict { color: #fff; border-radius: 3px; padding: .1em .5em; white-space: nowrap;
           font-weight: 600; font-size: .9em; }
.verdict.v-deviates { background: #fff !important; color: #ad1457; border: 2px dashed #ad1457;
                      padding: 0 .4em; }
.status-ok { color: #2e7d32; font-weight: bold; } .status-bad { color: #c62828; font-weight: bold; }
.warn { background: #fff8e1; border-left: 4px solid #ef8f00; padding: .5em 1em; }
.failure { border: 1px solid #e0b4b4; border-left: 4px solid #c62828; margin: 1em 0;
           padding: .5em 1em; background: #fffafa; }
.failure pre { white-space: pre-wrap; margin: 0; }
.failure.deviation { border-color: #e8b4cb; border-left: 4px dashed #ad1457; background: #fffafc; }
.kind { display: inline-block; border-radius: 3px; padding: 0 .4em; font-size: .8em;
        font-weight: 600; border: 1px solid #90a4ae; color: #37474f; }
.kind-seed { border-color: #2e7d32; color: #2e7d32; }
.kind-facts { border-color: #1565c0; color: #1565c0; }
.kind-standard { border-color: #6a1b9a; color: #6a1b9a; }
.kind-reading { border-color: #ad1457; color: #ad1457; border-style: dashed; }
td.src details summary { cursor: pointer; }
blockquote { margin: .3em 0; padding: .2em .7em; border-left: 3px solid #ccc; color: #444; }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr));
         gap: 0 2em; }
figure { margin: 0 0 1.5em; } figcaption { max-width: 560px; } figcaption a { white-space: nowrap; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
td.text { max-width: 32em; } ul.plain { margin: 0; padding-left: 1.1em; }
ul.plain a, ul.plain li { font-size: .92em; }
table.wide { width: 100%; table-layout: fixed; }
table.wide td, table.wide th, .names { word-break: normal; overflow-wrap: break-word; }
svg.plot { display: block; margin: .5em 0 1.5em; } svg.bar { display: block; }
nav a { margin-right: 1em; } .muted { color: #666; }
"""


def _e(value: object) -> str:
    return escape("" if value is None else str(value))


_BREAK_AFTER = re.compile(r"([/_\-.:\[])")


def _breakable(value: object) -> str:
    """Escaped text that may wrap after `/`, `-`, `_`, `.`, `:` and `[` (never inside a word)."""
    return _BREAK_AFTER.sub(r"\1<wbr>", _e(value))


def _verdict(verdict: str) -> str:
    colour = VERDICT_COLOURS.get(verdict, "#90a4ae")
    return f'<span class="verdict v-{_e(verdict)}" style="background:{colour}">{_e(verdict)}</span>'


def _kind(source: Source) -> str:
    return f'<span class="kind kind-{_e(source.kind)}">{_e(source.kind)}</span>'


def _source_cell(source: Source) -> str:
    """Kind and short reference; the quote (or the reading's reason) on hover and unfolded."""
    text = source.text
    if not text:
        return f"{_kind(source)} {_e(source.ref)}"
    return (
        f'{_kind(source)} <details title="{_e(text)}"><summary>{_breakable(source.ref)}</summary>'
        f"<blockquote>{_e(text)}</blockquote></details>"
    )


def _source_block(source: Source) -> str:
    """The source as a failure card quotes it."""
    what = "Why we read it so" if source.kind == "reading" else "It says"
    body = f"<blockquote><b>{what}:</b> {_e(source.text)}</blockquote>" if source.text else ""
    return f"<p><b>Source:</b> {_kind(source)} {_e(source.ref)}</p>{body}"


def _outcome(outcome: str) -> str:
    colour = OUTCOME_COLOURS.get(outcome, "#90a4ae")
    return f'<span class="verdict" style="background:{colour}">{_e(outcome)}</span>'


def evidence_href(path: str) -> str:
    """A link target for an evidence path: relative paths stay relative to the run directory."""
    pure = PurePosixPath(path.replace("\\", "/"))
    if pure.is_absolute():
        return Path(path).as_uri()
    return quote(str(pure), safe="/")


def _links(paths: Iterable[str]) -> str:
    """Evidence files grouped by their folder (one per scenario), each link named by its file."""
    groups: dict[str, list[str]] = {}
    for p in paths:
        folder, _, name = p.replace("\\", "/").rpartition("/")
        groups.setdefault(folder, []).append(name or p)
    if not groups:
        return '<span class="muted">—</span>'
    items = []
    for n, (folder, names) in enumerate(groups.items(), 1):
        links = " ".join(
            f'<a href="{_e(evidence_href(f"{folder}/{name}" if folder else name))}"'
            f"{_holds_title(name)}>{_breakable(name)}</a>"
            for name in names
        )
        label = f"#{n}" if len(groups) > 1 else ""
        items.append(f'<li title="{_e(folder)}">{label} {links}</li>')
    return f'<ul class="plain">{"".join(items)}</ul>'


def _holds_title(name: str) -> str:
    """A link's hover text: what the evidence file holds (nothing for an unknown name)."""
    kind = kind_of(name)
    return f' title="{_e(kind[0])}: {_e(kind[1])}"' if kind else ""


def _evidence_kinds(res: ConformanceResult) -> str:
    """What each kind of evidence file in this run holds, and how to open it."""
    paths = [str(p) for r in res.records for p in (r.get("evidence") or ())]
    rows = "".join(
        f"<tr><td><code>{_e(pattern)}</code></td><td>{_e(kind)}</td><td>{_e(holds)}</td></tr>"
        for pattern, kind, holds in kinds_present(paths)
    )
    if not rows:
        return ""
    return (
        '<section id="evidence"><h2>What the evidence holds</h2><table class="wide">'
        '<colgroup><col style="width:18%"><col style="width:16%"><col></colgroup>'
        "<tr><th>File</th><th>Kind</th><th>What it holds</th></tr>"
        f"{rows}</table></section>"
    )


def _list(items: Iterable[str]) -> str:
    rows = [f"<li>{_breakable(i)}</li>" for i in items]
    return f'<ul class="plain">{"".join(rows)}</ul>' if rows else '<span class="muted">—</span>'


def profile_needs(catalog: Catalog, records: Iterable[Mapping[str, Any]]) -> list[tuple[str, ...]]:
    """What the profile asks of a SUT: the capabilities its requirements name and its scenarios'
    `@needs` tags ask for, each as a group of alternatives (`@needs:a|b` is met by either)."""
    groups = {(r.capability,) for r in catalog.requirements if r.capability}
    for record in records:
        for tag in record.get("tags") or ():
            if isinstance(tag, str) and tag.startswith("needs:"):
                alternatives = tuple(c for c in tag.removeprefix("needs:").split("|") if c)
                if alternatives:
                    groups.add(alternatives)
    return sorted(groups)


def _capabilities(catalog: Catalog, sut: SutDeclaration, res: ConformanceResult) -> str:
    """Only what this profile uses: the declared capabilities it relies on, then the needs the
    SUT does not meet."""
    needs = profile_needs(catalog, res.records)
    if not needs:
        return "none used by this profile"
    declared = sorted({c for group in needs for c in group if sut.has(c)})
    missing = [" or ".join(g) for g in needs if not any(sut.has(c) for c in g)]
    text = f"declared: {', '.join(declared) or 'none'}"
    if missing:
        text += f"; not declared (what needs them is not applicable): {', '.join(missing)}"
    return text


def _header(run: RunInfo, catalog: Catalog, sut: SutDeclaration, res: ConformanceResult) -> str:
    ident = sut.identity
    rows = [
        ("SUT", f"{sut.name} ({sut.role}{', built-in reference' if sut.builtin else ''})"),
        ("Vendor", ident.vendor),
        ("Model", ident.model),
        ("Firmware", ident.firmware),
        ("Capabilities", _capabilities(catalog, sut, res)),
        ("Profile", f"{catalog.profile}: {catalog.title}"),
        ("Catalog version", catalog.version),
        ("Harness version", run.harness_version),
        ("Seed", run.seed),
        ("Clock mode", run.clock),
        ("Run id", run.run_id),
        ("Started", run.started),
        ("Finished", run.finished or "—"),
    ]
    meta = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    if run.log:
        meta += f"<tr><th>Runner output</th><td>{_links([run.log])}</td></tr>"
    bad = res.mandatory_failures
    if bad:
        status = (
            f'<p class="status-bad">Not conformant: {len(bad)} mandatory requirement(s) '
            f"failed or errored: {_e(', '.join(r.id for r in bad))}</p>"
        )
    else:
        status = '<p class="status-ok">No mandatory requirement failed or errored.</p>'
    if res.deviations:
        status += (
            f'<p class="muted">{len(res.deviations)} advisory requirement(s) deviate from our '
            "reading of the documents; shown, they never fail the run.</p>"
        )
    return (
        f"<header><h1>Conformance report: {_e(catalog.title)}</h1>"
        f"<p>{_e(ident.vendor)} {_e(ident.model)}, firmware {_e(ident.firmware)}</p>"
        f'<table class="meta">{meta}</table>'
        "<p>Reproduce this run:</p>"
        f'<pre class="cmd"><code>{_e(run.command)}</code></pre>{status}</header>'
    )


def _summary(catalog: Catalog, res: ConformanceResult) -> str:
    summary = res.summary
    head = "".join(f"<th>{_verdict(str(v))}</th>" for v in VERDICTS)
    cells = "".join(f'<td class="num">{summary[str(v)]}</td>' for v in VERDICTS)
    cov = res.coverage
    return (
        '<section id="summary"><h2>Summary</h2>'
        f"<table><tr><th>Profile</th>{head}<th>Total</th><th>Coverage</th></tr>"
        f"<tr><td>{_e(catalog.profile)}</td>{cells}"
        f'<td class="num">{len(res.requirements)}</td>'
        f'<td class="num">{cov.ratio:.0%} ({cov.covered}/{cov.total})</td></tr></table>'
        f"{verdict_bar_svg(summary)}"
        '<p class="muted">Coverage: requirements with at least one scenario, of all requirements '
        "in the catalog. <i>deviates</i>: an advisory requirement (one resting on our reading "
        "where the documents are silent) whose scenario failed; it is counted apart and never "
        "fails the run. <i>not-applicable</i>: the SUT does not declare a capability the "
        "requirement or all its scenarios need.</p></section>"
    )


def _unknown_tags(res: ConformanceResult) -> str:
    if not res.unknown_requirement_tags:
        return ""
    items = "".join(
        f"<li><code>@req:{_e(u['id'])}</code> on {_e(', '.join(u['scenarios']))}</li>"
        for u in res.unknown_requirement_tags
    )
    return (
        '<section id="unknown" class="warn"><h3>Unknown requirement tags</h3>'
        f"<p>These scenario tags name no requirement of this catalog:</p><ul>{items}</ul></section>"
    )


def _scenario_names(res: ConformanceResult) -> dict[str, str]:
    """Node id -> the name a reader of the feature file knows the scenario by (with the
    example's parameters for an outline)."""
    names = {}
    for record in res.records:
        nodeid, name = str(record.get("nodeid") or ""), record.get("name")
        if nodeid and name:
            params = nodeid[nodeid.index("[") :] if nodeid.endswith("]") and "[" in nodeid else ""
            names[nodeid] = f"{name} {params}".strip()
    return names


def _matrix(res: ConformanceResult) -> str:
    rows = []
    names = _scenario_names(res)
    for r in res.requirements:
        req = r.requirement
        note = f'<br><i class="muted">Note: {_e(req.notes)}</i>' if req.notes else ""
        rows.append(
            f'<tr id="req-{_e(req.id)}"><td class="names"><code>{_e(req.id)}</code></td>'
            f"<td>{_e(req.level)}</td>"
            f'<td class="text">{_e(req.text)}<br><span class="muted">{_e(req.section)}</span>'
            f"{note}</td>"
            f'<td class="src">{_source_cell(req.source)}</td>'
            f'<td>{_verdict(str(r.verdict))}<br><span class="muted">{_e(r.reason)}</span></td>'
            f"<td>{_list(names.get(s, s) for s in r.scenarios)}</td>"
            f"<td>{_links(r.evidence)}</td></tr>"
        )
    return (
        '<section id="matrix"><h2>Requirement matrix</h2><table class="wide">'
        '<colgroup><col style="width:10%"><col style="width:7.5%"><col style="width:23.5%">'
        '<col style="width:15%"><col style="width:13%"><col style="width:18%">'
        '<col style="width:13%"></colgroup>'
        "<tr><th>ID</th><th>Level</th><th>Requirement (seed section)</th><th>Source</th>"
        "<th>Verdict</th><th>Scenarios</th><th>Evidence</th></tr>"
        f"{''.join(rows)}</table>"
        '<p class="muted">Source: <i>seed</i> quotes the API document the profile judges, '
        "<i>facts</i> a facts sheet beside it, <i>standard</i> names a public standard's clause, "
        "<i>reading</i> is our interpretation where the documents are silent (advisory). Open a "
        "source to read its quote.</p></section>"
    )


def _failure_block(result: RequirementResult) -> str:
    parts = []
    for f in result.failures:
        has_sides = f.get("expected") is not None or f.get("observed") is not None
        sides = (
            "<table><tr><th>Expected</th><th>Observed</th></tr>"
            f"<tr><td><pre>{_e(f.get('expected'))}</pre></td>"
            f"<td><pre>{_e(f.get('observed'))}</pre></td></tr></table>"
            if has_sides
            else ""
        )
        parts.append(
            f"<p><b>Scenario:</b> {_e(f.get('scenario'))} "
            f'<span class="muted">({_e(f.get("nodeid"))})</span><br>'
            f"<b>Failing step:</b> {_e(f.get('step') or 'outside any step (setup or teardown)')}"
            f"</p>{sides}<p><b>Message:</b></p><pre>{_e(f.get('message'))}</pre>"
            f"<p><b>Evidence:</b></p>{_links(f.get('evidence') or [])}"
        )
    req = result.requirement
    headline = failure_message(result.failure) if result.failure else result.reason
    deviation = result.verdict is Verdict.DEVIATES
    return (
        f'<div class="failure{" deviation" if deviation else ""}" id="failure-{_e(req.id)}">'
        f"<h3><code>{_e(req.id)}</code> {_verdict(str(result.verdict))} {_e(req.text)}</h3>"
        f"<p>{_e(headline)}</p>{_source_block(req.source)}{''.join(parts)}</div>"
    )


def _failures(res: ConformanceResult) -> str:
    bad = [r for r in res.requirements if r.verdict in (Verdict.FAIL, Verdict.ERROR)]
    body = "".join(_failure_block(r) for r in bad) or "<p>None.</p>"
    return f'<section id="failures"><h2>Failures</h2>{body}</section>'


def _deviations(res: ConformanceResult) -> str:
    body = "".join(_failure_block(r) for r in res.deviations) or "<p>None.</p>"
    return (
        '<section id="deviations"><h2>Deviations from our reading (advisory)</h2>'
        '<p class="muted">Advisory requirements rest on our reading where the documents are '
        "silent: the SUT behaves "
        "otherwise than we read it should. Shown for the vendor to judge; they never fail the "
        f"run.</p>{body}</section>"
    )


def measurement_series(records: Iterable[Mapping[str, Any]]) -> dict[str, list[float]]:
    """All numeric measurement values per series name, across records."""
    series: dict[str, list[float]] = {}
    for record in records:
        measurements = record.get("measurements")
        if not isinstance(measurements, Mapping):
            continue
        for name, values in measurements.items():
            if isinstance(values, int | float):
                values = [values]
            elif not isinstance(values, list | tuple):
                continue
            numbers = [
                float(v) for v in values or () if isinstance(v, int | float) and v == v
            ]  # v == v drops NaN
            if numbers:
                series.setdefault(str(name), []).extend(numbers)
    return dict(sorted(series.items()))


def timeline_spans(records: Iterable[Mapping[str, Any]]) -> tuple[list[Span], str]:
    """Spans in simulated time when records carry it, else in wall-clock time."""
    records = list(records)
    spans = [
        Span(
            str(r.get("name") or r.get("nodeid")),
            float(r["sim_start"]),
            float(r["sim_end"]),
            str(r.get("outcome")),
            str(r.get("nodeid") or ""),
        )
        for r in records
        if isinstance(r.get("sim_start"), int | float) and isinstance(r.get("sim_end"), int | float)
    ]
    if spans:
        return spans, "simulated time (s)"
    timed = [r for r in records if isinstance(r.get("wall_start"), int | float)]
    if not timed:
        return [], ""
    t0 = min(float(r["wall_start"]) for r in timed)
    return [
        Span(
            str(r.get("name") or r.get("nodeid")),
            float(r["wall_start"]) - t0,
            float(r["wall_start"]) - t0 + float(r.get("wall_seconds") or 0.0),
            str(r.get("outcome")),
            str(r.get("nodeid") or ""),
        )
        for r in timed
    ], "wall-clock time since the first scenario (s); no scenario reported simulated time"


def _series_caption(name: str, requirements: Iterable[str]) -> str:
    meaning = explain(name)
    what = _e(meaning) if meaning else '<span class="muted">no description registered</span>'
    links = ", ".join(f'<a href="#req-{_e(rid)}">{_e(rid)}</a>' for rid in requirements)
    measures = f" Recorded by the scenarios of {links}." if links else ""
    return f"<figcaption><code>{_e(name)}</code>: {what}.{measures}</figcaption>"


def _plots(res: ConformanceResult) -> str:
    series = measurement_series(res.records)
    measured = measured_requirements(res.records)
    known = {r.id for r in res.requirements}
    hist = "".join(
        f"<figure>{histogram_svg(name, values)}"
        f"{_series_caption(name, (i for i in measured.get(name, []) if i in known))}</figure>"
        for name, values in series.items()
    )
    if hist:
        hist = (
            '<p class="muted">Times are on the run\'s clock (simulated seconds in virtual mode). '
            "Outliers far above the rest (beyond p99, or 3 IQR above the upper quartile) are "
            "drawn as one separate bar and listed, so they never flatten the rest.</p>"
            f'<div class="plots">{hist}</div>'
        )
    hist = hist or "<p>No scenario reported measurements.</p>"
    spans, axis = timeline_spans(res.records)
    timeline = timeline_svg(spans, axis) if spans else "<p>No scenario reported times.</p>"
    return (
        f'<section id="measurements"><h2>Measurements</h2>{hist}</section>'
        f'<section id="timeline"><h2>Scenario timeline</h2>{timeline}</section>'
    )


def _scenarios(res: ConformanceResult) -> str:
    rows = []
    for r in res.records:
        skip = str(r.get("skip_reason") or "")
        outcome = str(r.get("outcome"))
        if r.get("planned_skip") and skip.startswith(NOT_APPLICABLE_PREFIX):
            outcome, skip = "not-applicable", skip.removeprefix(NOT_APPLICABLE_PREFIX).strip()
        rows.append(
            f"<tr><td>{_breakable(r.get('name'))}<br>"
            f'<span class="muted">{_breakable(r.get("nodeid"))}</span>'
            f"</td><td>{_e(r.get('feature'))}</td><td>{_list(r.get('requirements') or [])}</td>"
            f"<td>{_outcome(outcome)}"
            f"{'<br><span class=muted>' + _e(skip) + '</span>' if skip else ''}</td>"
            f'<td class="num">{float(r.get("wall_seconds") or 0):.3f}</td>'
            f"<td>{_links(r.get('evidence') or [])}</td></tr>"
        )
    body = "".join(rows)
    if not body:
        return '<section id="scenarios"><h2>Scenarios</h2><p>No scenario ran.</p></section>'
    return (
        '<section id="scenarios"><h2>Scenarios</h2><table class="wide">'
        '<colgroup><col style="width:36%"><col style="width:15%"><col style="width:12%">'
        '<col style="width:11%"><col style="width:6%"><col style="width:20%"></colgroup>'
        "<tr><th>Scenario</th><th>Feature</th>"
        "<th>Requirements</th><th>Outcome</th><th>Wall s</th><th>Evidence</th></tr>"
        f"{body}</table></section>"
    )


def render_html(
    run_info: RunInfo, catalog: Catalog, sut: SutDeclaration, results: ConformanceResult
) -> str:
    nav = "".join(
        f'<a href="#{anchor}">{label}</a>'
        for anchor, label in (
            ("summary", "Summary"),
            ("matrix", "Requirements"),
            ("failures", "Failures"),
            ("deviations", "Deviations"),
            ("measurements", "Measurements"),
            ("timeline", "Timeline"),
            ("scenarios", "Scenarios"),
            ("evidence", "Evidence"),
        )
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(catalog.profile)} conformance: {_e(sut.name)} ({_e(run_info.run_id)})</title>"
        f"<style>{_CSS}</style></head><body>"
        f"{_header(run_info, catalog, sut, results)}<nav>{nav}</nav>"
        f"{_summary(catalog, results)}{_unknown_tags(results)}{_matrix(results)}"
        f"{_failures(results)}{_deviations(results)}{_plots(results)}{_scenarios(results)}"
        f"{_evidence_kinds(results)}"
        f'<footer class="muted"><p>gateway-hil {_e(run_info.harness_version)}; '
        "evidence links are relative to this report's directory.</p></footer>"
        "</body></html>\n"
    )


def write_html(
    run_dir: Path,
    run_info: RunInfo,
    catalog: Catalog,
    sut: SutDeclaration,
    results: ConformanceResult,
) -> Path:
    path = Path(run_dir) / FILENAME
    path.write_text(render_html(run_info, catalog, sut, results), encoding="utf-8")
    return path
