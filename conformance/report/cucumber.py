"""`cucumber.json`: the scenario records in the standard Cucumber JSON format."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

FILENAME = "cucumber.json"
_STATUS = {"passed": "passed", "failed": "failed", "skipped": "skipped"}
_ID_UNSAFE = re.compile(r"[^a-z0-9]+")


def _cucumber_id(text: str) -> str:
    return _ID_UNSAFE.sub("-", text.lower()).strip("-")


def _step(step: Mapping[str, Any], line: int) -> dict[str, Any]:
    keyword = str(step.get("keyword") or "*").strip()
    result: dict[str, Any] = {
        "status": _STATUS.get(str(step.get("status")), "skipped"),
        "duration": int(step.get("duration_ns") or 0),
    }
    if step.get("error"):
        result["error_message"] = str(step["error"])
    return {
        "keyword": f"{keyword} ",
        "name": str(step.get("name") or ""),
        "line": int(step.get("line") or line),
        "match": {"location": str(step.get("location") or "")},
        "result": result,
    }


def _element(record: Mapping[str, Any], feature_id: str) -> dict[str, Any]:
    line = int(record.get("line") or 0)
    name = str(record.get("name") or record.get("nodeid") or "")
    element: dict[str, Any] = {
        "id": f"{feature_id};{_cucumber_id(str(record.get('nodeid') or name))}",
        "keyword": str(record.get("keyword") or "Scenario"),
        "type": "scenario",
        "name": name,
        "description": "",
        "line": line,
        "tags": [{"name": f"@{tag}", "line": line} for tag in record.get("tags") or ()],
        "steps": [_step(s, line) for s in record.get("steps") or ()],
    }
    failure = record.get("failure") or {}
    stepless = record.get("outcome") in ("failed", "error") and not any(
        s.get("status") == "failed" for s in record.get("steps") or ()
    )
    if stepless:
        # A fixture or setup problem outside any step: show it as a failed "before" hook so
        # Cucumber tools do not present the scenario as merely skipped.
        element["before"] = [
            {
                "match": {"location": "setup"},
                "result": {
                    "status": "failed",
                    "duration": 0,
                    "error_message": str(failure.get("message") or record.get("outcome")),
                },
            }
        ]
    return element


def build_cucumber(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    features: dict[str, dict[str, Any]] = {}
    for record in records:
        uri = str(record.get("feature_file") or str(record.get("nodeid", "")).split("::")[0])
        feature = features.get(uri)
        if feature is None:
            name = str(record.get("feature") or uri)
            feature = features[uri] = {
                "uri": uri,
                "id": _cucumber_id(name) or _cucumber_id(uri),
                "keyword": "Feature",
                "name": name,
                "description": "",
                "line": int(record.get("feature_line") or 1),
                "tags": [{"name": f"@{t}", "line": 1} for t in record.get("feature_tags") or ()],
                "elements": [],
            }
        feature["elements"].append(_element(record, feature["id"]))
    return list(features.values())


def write_cucumber(run_dir: Path, records: list[dict[str, Any]]) -> Path:
    path = Path(run_dir) / FILENAME
    path.write_text(json.dumps(build_cucumber(records), indent=2) + "\n", encoding="utf-8")
    return path
