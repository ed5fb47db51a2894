"""Device2 data restore from daily archive files (newline-delimited JSON, one file per day;
format in `devices.cloud.device2.restore`): restoreTime, restoreUrl with local file:// URLs,
the status operations and retryRestoreTask."""

from __future__ import annotations

import json

import pytest

from devices.cloud.device2.local import LocalDevice2

US = 1_000_000
DAY30 = 1767052800  # 2025-12-30T00:00:00Z


@pytest.fixture
def d2(tmp_path):
    with LocalDevice2(tmp_path / "d2.db", archive_dir=tmp_path / "archive") as local:
        yield local


def ok(response, status=200):
    assert response.status == status, response.text
    return response.json() if status == 200 else None


def error(response, status, field):
    assert response.status == status, response.text
    assert response.json()["field"] == field, response.json()


def archive(path, points):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(p) + "\n" for p in points), encoding="utf-8")
    return path


def point(identity, signal, value, seconds, resource=None):
    return {
        "identity": identity,
        "resource": resource or signal,
        "signal": signal,
        "value": value,
        "timestamp": (DAY30 + seconds) * US,
    }


def values(d2, identity, signal):
    result = ok(
        d2.call(
            "querySignal",
            {
                "identity": identity,
                "signal": signal,
                "order": "asc",
                "start_time": DAY30,
                "end_time": DAY30 + 3 * 86400,
            },
        )
    )
    return [(p["reported_time"] // US - DAY30, p["value"]) for p in result["data"]]


def test_restore_time_retry_and_status(d2, tmp_path):
    day = tmp_path / "archive" / "example"
    archive(
        day / "2025-12-30.ndjson",
        [
            point("dev1", "temp", 20.5, 60),
            point("dev1", "temp", 21, 120),
            point("dev2", "temp", 5, 60),
            point("dev1", "001", 1, 90, resource="data_in"),
        ],
    )
    started = ok(
        d2.call(
            "restoreTime",
            {
                "start_date": "2025-12-30",
                "end_date": "2025-12-31",
                "identities": ["dev1"],
                "note": "audit",
            },
        )
    )
    assert started["total"] == 2
    task = started["task_id"]
    assert values(d2, "dev1", "temp") == [(60, 20.5), (120, 21)]
    assert values(d2, "dev1", "001") == [(90, 1)]
    assert values(d2, "dev2", "temp") == []  # not among the identities asked for
    [status] = ok(d2.call("getRestoreStatus"))
    assert (
        status["task_id"],
        status["status"],
        status["total"],
        status["done"],
        status["failed"],
    ) == (task, "partial", 2, 1, 1)
    assert json.loads(status["config"])["note"] == "audit"
    assert status["created_at"].startswith("2026-01-01T00:00:00")
    files = ok(d2.call("getRestoreTaskStatus", {"task_id": task}))
    assert [(f["file_name"].rsplit("/", 1)[-1], f["status"]) for f in files] == [
        ("2025-12-30.ndjson", "done"),
        ("2025-12-31.ndjson", "failed"),
    ]
    assert sorted((s["device"], s["signal"], s["resource"]) for s in files[0]["signals"]) == [
        ("dev1", "001", "data_in"),
        ("dev1", "temp", "temp"),
    ]
    assert "cannot read" in files[1]["error"]
    archive(day / "2025-12-31.ndjson", [point("dev1", "temp", 22, 86400 + 60)])
    retried = ok(d2.call("retryRestoreTask", {"task_id": task}))
    assert retried["message"] == "retried 1 files: 1 restored, 0 still failed"
    assert values(d2, "dev1", "temp") == [(60, 20.5), (120, 21), (86460, 22)]
    assert ok(d2.call("getRestoreStatus"))[0]["status"] == "done"
    error(d2.call("retryRestoreTask", {"task_id": task}), 400, "task_id")
    error(d2.call("getRestoreTaskStatus", {"task_id": "nope"}), 400, "task_id")
    error(d2.call("retryRestoreTask", {"task_id": "nope"}), 400, "task_id")


def test_restore_url_from_local_files_only_and_without_duplicates(d2, tmp_path):
    path = archive(
        tmp_path / "elsewhere" / "day.ndjson",
        [point("dev1", "temp", 1, 10), point("dev1", "mode", "eco", 20)],
    )
    url = path.as_uri()
    first = ok(d2.call("restoreUrl", {"urls": [url], "signals": ["temp"], "retention": "3"}))
    assert first["total"] == 1
    assert values(d2, "dev1", "temp") == [(10, 1)] and values(d2, "dev1", "mode") == []
    ok(d2.call("restoreUrl", {"urls": [url]}))
    assert values(d2, "dev1", "temp") == [(10, 1)]  # already there: not added twice
    assert values(d2, "dev1", "mode") == [(20, "eco")]
    error(d2.call("restoreUrl", {"urls": ["https://example.com/day.ndjson"]}), 400, "urls[0]")
    error(d2.call("restoreUrl", {"urls": ["file://host/day.ndjson"]}), 400, "urls[0]")
    error(d2.call("restoreUrl", {"urls": []}), 400, "urls")
    error(d2.call("restoreUrl", {"urls": [url], "retention": "5"}), 400, "retention")


def test_a_malformed_file_fails_whole_and_names_the_line(d2, tmp_path):
    path = tmp_path / "bad.ndjson"
    path.write_text(json.dumps(point("dev1", "temp", 1, 10)) + "\n{not json\n", encoding="utf-8")
    task = ok(d2.call("restoreUrl", {"urls": [path.as_uri()]}))["task_id"]
    [file] = ok(d2.call("getRestoreTaskStatus", {"task_id": task}))
    assert file["status"] == "failed" and "line 2" in file["error"]
    assert values(d2, "dev1", "temp") == []
    assert ok(d2.call("getRestoreStatus"))[0]["status"] == "failed"


def test_archive_day_round_trip(d2):
    ok(d2.call("addResource", {"alias": "temp", "format": "number"}), 204)
    ok(d2.call("addIdentity", {"identity": "dev1"}), 204)
    ok(
        d2.call(
            "publishData",
            {
                "identity": "dev1",
                "payload": [
                    {"timestamp": (DAY30 + 5) * US, "values": {"temp": 3}},
                    {"timestamp": (DAY30 + 86400 + 5) * US, "values": {"temp": 4}},
                ],
            },
        ),
        204,
    )
    d2.gateway.archive_day("2025-12-30")
    ok(d2.call("removeIdentity", {"identity": "dev1"}), 205)
    assert values(d2, "dev1", "temp") == []
    ok(d2.call("restoreTime", {"start_date": "2025-12-30", "end_date": "2025-12-30"}))
    assert values(d2, "dev1", "temp") == [(5, 3)]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"end_date": "2025-12-30"}, "start_date"),
        ({"start_date": "2025-12-30"}, "end_date"),
        ({"start_date": "30/12/2025", "end_date": "2025-12-30"}, "start_date"),
        ({"start_date": "2025-12-30", "end_date": "2025-12-29"}, "end_date"),
        ({"start_date": "2000-01-01", "end_date": "2025-12-29"}, "end_date"),
        (
            {"start_date": "2025-12-30", "end_date": "2025-12-30", "identities": "a,,b"},
            "identities[1]",
        ),
    ],
)
def test_restore_time_refusals(d2, params, field):
    error(d2.call("restoreTime", params), 400, field)
