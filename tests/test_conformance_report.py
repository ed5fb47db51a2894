"""Report writers: every file parses and says what a reader needs."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from conformance.catalog import parse_catalog
from conformance.report import RunInfo, write_report
from conformance.report.html import profile_needs, render_html
from conformance.report.metrics import base_name, explain, measured_requirements
from conformance.report.svg import (
    clip_limit,
    histogram_bins,
    histogram_svg,
    nice_ticks,
    percentile,
)
from conformance.sources import Documents
from conformance.sut import parse_sut
from conformance.verdicts import VERDICTS, compute_verdicts

COMMAND = "hil conformance --profile demo --sut acme.yaml --clock virtual --seed 7"
NASTY_TEXT = 'rejects <script>alert("x")</script> & keeps "quotes"'
SCAN_QUOTE = "This API is a Server-Sent Events (SSE) which will be running continuously."
READING_WHY = "the seed gives the range but never says other values are refused"
STANDARD = {"kind": "standard", "document": "Demo spec", "clause": "§4.2"}


def req(rid: str, section: str, text: str, level: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": rid,
        "section": section,
        "text": text,
        "level": level,
        "source": STANDARD,
        **extra,
    }


CATALOG = parse_catalog(
    {
        "profile": "demo",
        "title": "Demo <router> API",
        "version": "2.3.4",
        "seed": "002_demo.txt",
        "requirements": [
            req(
                "D-PASS",
                "Scan",
                "scan works",
                "mandatory",
                capability="scan",
                source={"kind": "seed", "section": "Scan Bluetooth Devices", "quote": SCAN_QUOTE},
            ),
            req(
                "D-FAIL",
                "Scan",
                NASTY_TEXT,
                "mandatory",
                source={"kind": "facts", "file": "specs/demo-facts.md", "quote": "RSSI <= -70"},
            ),
            req("D-ERR", "GATT", "gatt reads", "optional"),
            req("D-INC", "GATT", "gatt writes", "optional"),
            req("D-NA", "Notify", "notifies", "optional", capability="notify"),
            req("D-NR", "Info", "info", "optional", notes="later slice: no scenario yet"),
            req(
                "D-DEV",
                "Connect",
                "timeout out of range is refused",
                "advisory",
                source={"kind": "reading", "why": READING_WHY},
            ),
            req("D-PLAN", "Faults", "survives a radio fault", "mandatory"),
        ],
    },
    documents=Documents(shared=Path("no-shared-here"), seeds=Path("no-shared-here/seeds")),
)
SUT_DATA = {
    "name": "acme",
    "identity": {"vendor": "Acme & Sons", "model": "GW-9", "firmware": "2.1.7"},
    "role": "gateway",
    "endpoints": {"demo": {"base_url": "http://10.0.0.9:80"}},
    "credentials": {"username": "ops", "password": "s3cret-pw"},
    "capabilities": ["scan", "gatt", "teleport"],
}
SUT = parse_sut(SUT_DATA)


def step(keyword: str, name: str, status: str, error: str | None = None) -> dict[str, Any]:
    return {"keyword": keyword, "name": name, "status": status, "duration_ns": 1500, "error": error}


def record(name: str, reqs: list[str], outcome: str, **extra: Any) -> dict[str, Any]:
    base = {
        "nodeid": f"features/test_demo.py::test_{name}",
        "feature": "Demo feature",
        "feature_file": "features/demo.feature",
        "feature_tags": ["profile_demo"],
        "name": name.replace("_", " "),
        "line": 5,
        "tags": ["profile_demo", *(f"req:{r}" for r in reqs)],
        "requirements": reqs,
        "outcome": outcome,
        "planned_skip": False,
        "skip_reason": None,
        "wall_start": 1000.0,
        "wall_seconds": 0.25,
        "sim_start": None,
        "sim_end": None,
        "steps": [step("Given", "a router", "passed")],
        "failure": None,
        "evidence": [f"evidence/{name}/trace.jsonl"],
        "measurements": {},
    }
    base.update(extra)
    return base


RECORDS = [
    record(
        "scan_passes",
        ["D-PASS"],
        "passed",
        sim_start=0.0,
        sim_end=12.5,
        measurements={"notify_latency_ms": [1.2, 3.4, 2.2, 8.0, 2.9]},
    ),
    record(
        "rssi_filter",
        ["D-FAIL", "D-GHOST"],
        "failed",
        sim_start=2.0,
        sim_end=4.0,
        steps=[
            step("Given", "a router", "passed"),
            step("Then", "reports below -70 dBm are dropped", "failed", "expected ..."),
            step("And", "nothing else", "skipped"),
        ],
        failure={
            "step": "Then reports below -70 dBm are dropped",
            "message": "report with rssi -80 \x1b[31mleaked\x1b[0m",
            "expected": "no report with rssi < -70",
            "observed": "report with rssi -80 from CC:1B:E0:E8:09:2B",
        },
        measurements={"notify_latency_ms": [4.4], "connect_ms": [120, 180]},
    ),
    record(
        "gatt_read",
        ["D-ERR"],
        "error",
        steps=[step("Given", "a router", "failed", "OSError: world control down")],
        failure={"step": "Given a router", "message": "OSError: world control down"},
    ),
    record("gatt_write", ["D-INC"], "skipped", skip_reason="no world control", steps=[]),
    record("notify", ["D-NA"], "passed"),
    record(
        "connect_timeout_range",
        ["D-DEV"],
        "failed",
        failure={
            "step": "Then the router refuses timeout 100",
            "message": "refusal expected",
            "expected": "400 naming timeout",
            "observed": "200 OK",
        },
        measurements={"http_response_ms": [3.0, 4.0, 5.0, 4.0, 3.5, 4.2, 3.8, 950.0]},
    ),
    record(
        "a_very_long_scenario_name_about_radio_faults_that_goes_on[lossy-radio_-70dBm]",
        ["D-PLAN"],
        "skipped",
        planned_skip=True,
        skip_reason="not-applicable: SUT does not declare radio-faults",
        tags=["profile_demo", "req:D-PLAN", "needs:radio-faults|world-control"],
        steps=[],
    ),
]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    run_dir = tmp_path_factory.mktemp("run")
    results = compute_verdicts(CATALOG, SUT, RECORDS)
    info = RunInfo(
        run_id="20250101-120000-demo-7",
        profile="demo",
        seed=7,
        clock="virtual",
        command=COMMAND,
        started="2025-01-01T12:00:00+00:00",
        finished="2025-01-01T12:00:09+00:00",
        log="pytest.log",
    )
    return write_report(run_dir, info, CATALOG, SUT, results)


def test_write_report_writes_four_files(report: dict[str, Path]) -> None:
    assert sorted(report) == ["cucumber", "html", "junit", "results"]
    assert {p.name for p in report.values()} == {
        "results.json",
        "junit.xml",
        "cucumber.json",
        "report.html",
    }
    for path in report.values():
        assert path.is_file()
        assert "s3cret-pw" not in path.read_text(encoding="utf-8")


def test_results_json_has_the_machine_fields(report: dict[str, Path]) -> None:
    data = json.loads(report["results"].read_text())
    for key in (
        "profile", "sut", "seed", "clock", "run_id", "command", "harness_version",
        "catalog_version", "started", "summary", "coverage", "requirements", "scenarios",
    ):  # fmt: skip
        assert key in data, key
    assert data["profile"] == "demo" and data["seed"] == 7 and data["clock"] == "virtual"
    assert data["command"] == COMMAND and data["catalog_version"] == "2.3.4"
    assert data["sut"]["name"] == "acme" and data["sut"]["identity"]["model"] == "GW-9"
    assert data["summary"] == {**{str(v): 1 for v in VERDICTS}, "not-applicable": 2}
    assert data["coverage"] == {"covered": 7, "total": 8, "ratio": 0.875}
    assert data["exit_code"] == 1 and data["mandatory_failures"] == ["D-FAIL"]
    assert data["deviations"] == ["D-DEV"]
    assert data["unknown_requirement_tags"][0]["id"] == "D-GHOST"
    by_id = {r["id"]: r for r in data["requirements"]}
    failed = by_id["D-FAIL"]
    assert failed["verdict"] == "fail" and failed["level"] == "mandatory"
    assert failed["text"] == NASTY_TEXT and failed["section"] == "Scan"
    assert failed["scenarios"] == ["features/test_demo.py::test_rssi_filter"]
    assert failed["evidence"] == ["evidence/rssi_filter/trace.jsonl"]
    assert failed["failure"]["observed"].startswith("report with rssi -80")
    assert by_id["D-PASS"]["failure"] is None
    assert by_id["D-PASS"]["source"] == {
        "kind": "seed",
        "section": "Scan Bluetooth Devices",
        "quote": SCAN_QUOTE,
    }
    assert by_id["D-DEV"]["verdict"] == "deviates" and by_id["D-DEV"]["level"] == "advisory"
    assert by_id["D-PLAN"]["verdict"] == "not-applicable"
    assert data["scenarios"] == RECORDS


def test_junit_has_one_case_per_requirement_with_expected_and_observed(
    report: dict[str, Path],
) -> None:
    root = ET.parse(report["junit"]).getroot()
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["demo"]
    suite = suites[0]
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("8", "1", "1")
    assert suite.get("skipped") == "5"  # a deviation never fails CI
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == [
        "D-PASS", "D-FAIL", "D-ERR", "D-INC", "D-NA", "D-NR", "D-DEV", "D-PLAN",
    ]  # fmt: skip
    failure = cases["D-FAIL"].find("failure")
    assert failure is not None
    message = failure.get("message") or ""
    assert "expected no report with rssi < -70" in message
    assert "observed report with rssi -80 from CC:1B:E0:E8:09:2B" in message
    assert "Then reports below -70 dBm are dropped" in (failure.text or "")
    assert "\x1b" not in (failure.text or "")  # XML 1.0 forbids escape characters
    error = cases["D-ERR"].find("error")
    assert error is not None and "world control down" in (error.get("message") or "")
    for rid, verdict in (
        ("D-INC", "inconclusive"),
        ("D-NA", "not-applicable"),
        ("D-NR", "not-run"),
        ("D-DEV", "deviates"),
        ("D-PLAN", "not-applicable"),
    ):
        skipped = cases[rid].find("skipped")
        assert skipped is not None and (skipped.get("message") or "").startswith(verdict)
    assert cases["D-PASS"].find("failure") is None and cases["D-PASS"].find("skipped") is None
    dev_out = cases["D-DEV"].findtext("system-out") or ""
    assert f"source: reading: our reading: {READING_WHY}" in dev_out
    assert "observed: 200 OK" in dev_out
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["command"] == COMMAND and props["seed"] == "7"


def test_cucumber_json_is_standard_shape(report: dict[str, Path]) -> None:
    features = json.loads(report["cucumber"].read_text())
    assert len(features) == 1
    feature = features[0]
    assert feature["uri"] == "features/demo.feature" and feature["keyword"] == "Feature"
    assert feature["tags"] == [{"name": "@profile_demo", "line": 1}]
    elements = feature["elements"]
    assert [e["name"] for e in elements] == [r["name"] for r in RECORDS]
    assert all(e["type"] == "scenario" for e in elements)
    failed = elements[1]
    assert {"name": "@req:D-FAIL", "line": 5} in failed["tags"]
    assert [s["result"]["status"] for s in failed["steps"]] == ["passed", "failed", "skipped"]
    assert [s["keyword"] for s in failed["steps"]] == ["Given ", "Then ", "And "]
    assert failed["steps"][1]["result"]["error_message"] == "expected ..."
    assert all(isinstance(s["result"]["duration"], int) for s in failed["steps"])


class _TagBalance(HTMLParser):
    VOID = {"meta", "br", "wbr", "col", "link", "img", "input", "hr", "path", "line", "rect"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
        else:
            self.stack.pop()


def test_html_is_self_contained_escaped_and_complete(report: dict[str, Path]) -> None:
    page = report["html"].read_text(encoding="utf-8")
    for rid in CATALOG.ids:
        assert rid in page
    assert "hil conformance --profile demo --sut acme.yaml --clock virtual --seed 7" in page
    assert "<code>" + COMMAND + "</code>" in page
    assert "<script>" not in page and "&lt;script&gt;alert(&quot;x&quot;)" in page
    assert "Demo &lt;router&gt; API" in page and "Acme &amp; Sons" in page
    for fact in ("GW-9", "2.1.7", "2.3.4", "20250101-120000-demo-7", "virtual"):
        assert fact in page
    # expected vs observed and the failing step, for the failed requirement
    assert "no report with rssi &lt; -70" in page
    assert "report with rssi -80 from CC:1B:E0:E8:09:2B" in page
    assert "Then reports below -70 dBm are dropped" in page
    # plots: a histogram per measurement series, and the timeline
    assert page.count("<svg") >= 4
    assert 'aria-label="histogram of notify_latency_ms"' in page
    assert 'aria-label="histogram of connect_ms"' in page
    assert 'aria-label="scenario timeline"' in page and "simulated time" in page
    # evidence links are relative; no external resources
    assert 'href="evidence/rssi_filter/trace.jsonl"' in page
    assert "http://" not in page and "https://" not in page and " src=" not in page
    parser = _TagBalance()
    parser.feed(page)
    assert parser.errors == [] and parser.stack == []


def test_svg_helpers() -> None:
    assert nice_ticks(0, 10) == [0, 2, 4, 6, 8, 10]
    assert nice_ticks(1.5, 3.0, 3) == [1.5, 2.0, 2.5, 3.0]
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([5.0], 95) == 5.0
    lo, width, counts = histogram_bins([1, 2, 2, 3, 10, 10, 10, 4, 5])
    assert lo == 1 and width == 3 and counts == [4, 2, 3]  # [1,4) [4,7) [7,10]
    assert histogram_bins([7, 7]) == (6.5, 1.0, [2])
    svg = histogram_svg("x <ms>", [3, 3, 3])
    assert svg.startswith("<svg") and "x &lt;ms&gt;" in svg


def _row(page: str, rid: str) -> str:
    start = page.index(f'<tr id="req-{rid}">')
    return page[start : page.index("</tr>", start)]


def _card(page: str, rid: str) -> str:
    start = page.index(f'id="failure-{rid}"')
    return page[start : page.index("</div>", start)]


def test_html_matrix_shows_every_requirement_source(report: dict[str, Path]) -> None:
    page = report["html"].read_text(encoding="utf-8")
    seed = _row(page, "D-PASS")
    assert '<span class="kind kind-seed">seed</span>' in seed
    assert "<summary>§ Scan Bluetooth Devices</summary>" in seed
    assert f'title="{SCAN_QUOTE}"' in seed and f"<blockquote>{SCAN_QUOTE}</blockquote>" in seed
    facts = _row(page, "D-FAIL")
    assert "kind-facts" in facts and "demo-<wbr>facts.<wbr>md" in facts
    assert "RSSI &lt;= -70" in facts
    reading = _row(page, "D-DEV")
    assert "kind-reading" in reading and "our reading" in reading and READING_WHY in reading
    assert "kind-standard" in _row(page, "D-ERR") and "Demo spec §4.2" in _row(page, "D-ERR")
    assert '<i class="muted">Note: later slice: no scenario yet</i>' in _row(page, "D-NR")


def test_html_failure_cards_quote_the_source(report: dict[str, Path]) -> None:
    page = report["html"].read_text(encoding="utf-8")
    card = _card(page, "D-FAIL")
    assert "<b>Source:</b>" in card and "kind-facts" in card
    assert "<b>It says:</b> RSSI &lt;= -70" in card


def test_html_shows_deviations_apart_from_failures(report: dict[str, Path]) -> None:
    page = report["html"].read_text(encoding="utf-8")
    failures = page[page.index('id="failures"') : page.index('id="deviations"')]
    deviations = page[page.index('id="deviations"') : page.index('id="measurements"')]
    assert 'id="failure-D-FAIL"' in failures and "D-DEV" not in failures
    card = _card(page, "D-DEV")
    assert card in deviations and 'class="failure deviation"' in deviations
    assert 'class="verdict v-deviates"' in card
    assert f"<b>Why we read it so:</b> {READING_WHY}" in card
    assert "400 naming timeout" in card and "200 OK" in card
    assert "1 advisory requirement(s) deviate" in page  # the header says it never fails the run
    summary = page[page.index('id="summary"') : page.index('id="matrix"')]
    assert "v-deviates" in summary and ".verdict.v-deviates" in page  # its own style


def test_html_not_applicable_requirements_get_their_own_badge(report: dict[str, Path]) -> None:
    page = report["html"].read_text(encoding="utf-8")
    for rid in ("D-NA", "D-PLAN"):
        row = _row(page, rid)
        assert 'class="verdict v-not-applicable"' in row and "v-not-run" not in row
    assert "SUT does not declare radio-faults" in _row(page, "D-PLAN")


def test_html_names_wrap_at_separators_never_mid_word(report: dict[str, Path]) -> None:
    page = report["html"].read_text(encoding="utf-8")
    assert "break-all" not in page and "overflow-wrap: anywhere" not in page
    assert "a_<wbr>very_<wbr>long_<wbr>scenario" in page
    assert "[<wbr>lossy-<wbr>radio_<wbr>-<wbr>70dBm]" in page
    assert ">trace.<wbr>jsonl</a>" in page
    assert 'table class="wide"' in page and "table-layout: fixed" in page


def test_html_header_lists_only_the_capabilities_the_profile_uses(
    report: dict[str, Path],
) -> None:
    page = report["html"].read_text(encoding="utf-8")
    start = page.index("<th>Capabilities</th>")
    cell = page[start : page.index("</tr>", start)]
    assert "declared: scan;" in cell
    assert "not declared (what needs them is not applicable): notify, radio-faults or " in cell
    assert "teleport" not in cell and "gatt" not in cell  # declared, but this profile never asks
    assert profile_needs(CATALOG, RECORDS) == [
        ("notify",),
        ("radio-faults", "world-control"),
        ("scan",),
    ]
    # an alternative the SUT meets shows only the capability it declares
    met = parse_sut({**SUT_DATA, "capabilities": ["scan", "world-control"]})
    results = compute_verdicts(CATALOG, met, RECORDS)
    info = RunInfo(run_id="r", profile="demo", seed=1, clock="virtual", command="c", started="s")
    page = render_html(info, CATALOG, met, results)
    start = page.index("<th>Capabilities</th>")
    cell = page[start : page.index("</tr>", start)]
    assert "declared: scan, world-control; not declared" in cell and "radio-faults" not in cell


def test_html_explains_each_measurement_and_links_its_requirements(
    report: dict[str, Path],
) -> None:
    page = report["html"].read_text(encoding="utf-8")
    plots = page[page.index('id="measurements"') : page.index('id="timeline"')]
    start = plots.index("<code>http_response_ms</code>")
    caption = plots[start : plots.index("</figcaption>", start)]
    assert "time from sending an HTTP request" in caption
    assert '<a href="#req-D-DEV">D-DEV</a>' in caption
    start = plots.index("<code>notify_latency_ms</code>")
    caption = plots[start : plots.index("</figcaption>", start)]
    assert '<a href="#req-D-FAIL">D-FAIL</a>' in caption
    assert '<a href="#req-D-PASS">D-PASS</a>' in caption
    assert "D-GHOST" not in caption  # a tag naming no requirement of the catalog links nowhere
    start = plots.index("<code>connect_ms</code>")
    assert "no description registered" in plots[start : plots.index("</figcaption>", start)]
    # one 950 ms answer among ~4 ms ones does not flatten the histogram: it is listed apart
    assert "axis clipped at 5: 1 outlier(s) in the last bar, largest 950" in plots


def test_metrics_helpers() -> None:
    assert base_name("rssi_dbm[HR-1]") == "rssi_dbm"
    assert base_name("status_changes_gw-a") == "status_changes"
    assert explain("connection_state_wait_s[connected]") is not None
    assert explain("nobody_knows_ms") is None
    assert measured_requirements(RECORDS) == {
        "notify_latency_ms": ["D-FAIL", "D-GHOST", "D-PASS"],
        "connect_ms": ["D-FAIL", "D-GHOST"],
        "http_response_ms": ["D-DEV"],
    }


def test_histogram_clips_only_outliers_that_would_flatten_it() -> None:
    assert clip_limit([1.0, 2.0, 900.0]) is None  # too few values to call one an outlier
    assert clip_limit([5.0] * 50) is None
    spread = [float(v % 37) for v in range(1000)]  # no outlier: the axis shows everything
    assert clip_limit(sorted(spread)) is None
    assert "axis clipped" not in histogram_svg("spread", spread)
    skewed = sorted([*spread, 5000.0, 7000.0])
    limit = clip_limit(skewed)
    assert limit is not None and 36 <= limit < 5000
    svg = histogram_svg("skewed", skewed)
    assert "2 outlier(s) in the last bar, largest 7000, 5000" in svg
    assert "n=1002" in svg and "max=7000" in svg  # the stats still cover every value
    many = sorted([*spread, *(1000.0 + i for i in range(8))])
    assert "largest 1007, 1006, 1005, 1004, 1003, …" in histogram_svg("many", many)
