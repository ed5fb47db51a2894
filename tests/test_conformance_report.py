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
from conformance.report.svg import histogram_bins, histogram_svg, nice_ticks, percentile
from conformance.sut import parse_sut
from conformance.verdicts import VERDICTS, compute_verdicts

COMMAND = "hil conformance --profile demo --sut acme.yaml --clock virtual --seed 7"
NASTY_TEXT = 'rejects <script>alert("x")</script> & keeps "quotes"'

CATALOG = parse_catalog(
    {
        "profile": "demo",
        "title": "Demo <router> API",
        "version": "2.3.4",
        "requirements": [
            {"id": "D-PASS", "section": "Scan", "text": "scan works", "level": "mandatory"},
            {"id": "D-FAIL", "section": "Scan", "text": NASTY_TEXT, "level": "mandatory"},
            {"id": "D-ERR", "section": "GATT", "text": "gatt reads", "level": "optional"},
            {"id": "D-INC", "section": "GATT", "text": "gatt writes", "level": "optional"},
            {
                "id": "D-NA",
                "section": "Notify",
                "text": "notifies",
                "level": "optional",
                "capability": "notify",
            },
            {"id": "D-NR", "section": "Info", "text": "info", "level": "optional"},
        ],
    }
)
SUT = parse_sut(
    {
        "name": "acme",
        "identity": {"vendor": "Acme & Sons", "model": "GW-9", "firmware": "2.1.7"},
        "role": "gateway",
        "endpoints": {"demo": {"base_url": "http://10.0.0.9:80"}},
        "credentials": {"username": "ops", "password": "s3cret-pw"},
        "capabilities": ["scan", "gatt"],
    }
)


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
    assert data["summary"] == {str(v): 1 for v in VERDICTS}
    assert data["coverage"] == {"covered": 5, "total": 6, "ratio": 0.8333}
    assert data["exit_code"] == 1 and data["mandatory_failures"] == ["D-FAIL"]
    assert data["unknown_requirement_tags"][0]["id"] == "D-GHOST"
    by_id = {r["id"]: r for r in data["requirements"]}
    failed = by_id["D-FAIL"]
    assert failed["verdict"] == "fail" and failed["level"] == "mandatory"
    assert failed["text"] == NASTY_TEXT and failed["section"] == "Scan"
    assert failed["scenarios"] == ["features/test_demo.py::test_rssi_filter"]
    assert failed["evidence"] == ["evidence/rssi_filter/trace.jsonl"]
    assert failed["failure"]["observed"].startswith("report with rssi -80")
    assert by_id["D-PASS"]["failure"] is None
    assert data["scenarios"] == RECORDS


def test_junit_has_one_case_per_requirement_with_expected_and_observed(
    report: dict[str, Path],
) -> None:
    root = ET.parse(report["junit"]).getroot()
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["demo"]
    suite = suites[0]
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("6", "1", "1")
    assert suite.get("skipped") == "3"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == ["D-PASS", "D-FAIL", "D-ERR", "D-INC", "D-NA", "D-NR"]
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
    ):
        skipped = cases[rid].find("skipped")
        assert skipped is not None and (skipped.get("message") or "").startswith(verdict)
    assert cases["D-PASS"].find("failure") is None and cases["D-PASS"].find("skipped") is None
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
    VOID = {"meta", "br", "link", "img", "input", "hr", "path", "line", "rect"}

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
