"""``hil bench --compare``'s table and files, from figures given here (timing itself is never a
pass/fail test: the benchmarks print it)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.compare import TARGET_RATIO, _row, format_table, write_outputs


def _results() -> dict:
    rows = [
        _row("cm", "GetDeviceList (unary)", "CPU us/call", "bare one hop", 400.0, "ours", 600.0),
        _row("cm", "GetDeviceList (unary)", "CPU us/call", "bare relay", 900.0, "ours", 600.0),
    ]
    return {"target_ratio": TARGET_RATIO, "comparisons": {"cm": {"rows": rows, "figures": {}}}}


def test_ratio_is_ours_over_bare_and_the_table_flags_what_misses_the_target() -> None:
    rows = _results()["comparisons"]["cm"]["rows"]
    assert [r["ratio"] for r in rows] == [1.5, 0.67]
    lines = format_table(rows).splitlines()
    assert lines[1].split("x")[1].startswith(" !") and "[bare one hop]" in lines[1]
    assert " !" not in lines[2] and "[bare relay]" in lines[2]


def test_outputs_are_json_and_an_svg_plot(tmp_path: Path) -> None:
    data, svg = write_outputs(_results(), tmp_path / "bench")
    assert json.loads(data.read_text())["comparisons"]["cm"]["rows"][1]["baseline"] == "bare relay"
    text = svg.read_text()
    assert text.startswith("<svg") and "GetDeviceList" in text
