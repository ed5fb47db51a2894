"""Restoring data from daily archive files (``restoreTime``, ``restoreUrl``, the task status
operations and ``retryRestoreTask``).

Archive format (ours; the seed names "daily archive files" without a format): one file per UTC
day, newline-delimited JSON, one data point per line::

    {"identity": "dev1", "resource": "temp", "signal": "temp", "value": 21.5,
     "timestamp": 1767225600000000, "server_timestamp": 1767225600000000}

``timestamp`` is the device time in µs; ``signal`` defaults to ``resource`` and
``server_timestamp`` to the time of the restore. Empty lines are skipped. :func:`write_archive`
writes a day of the data store in this form (``Gateway.archive_day``).

Where the files are: ``restoreTime`` reads ``<archive_dir>/<product>/<YYYY-MM-DD>.ndjson`` for
every day from ``start_date`` to ``end_date`` (at most 3660 days); ``restoreUrl`` reads the given
``file://`` URLs (the reference service reads local files only; other schemes are refused).

A task restores the points its files hold, keeping only ``identities`` and ``signals`` when
given, and skips points already stored (same identity, resource, signal, time and value), so a
retry or a second restore adds nothing twice. The task runs within the call; a file that is
missing or has a malformed line fails as a whole (nothing of it is restored) and
``retryRestoreTask`` tries the failed files again. Task status: ``done``, ``failed`` (every file
failed) or ``partial``; file status ``done`` or ``failed`` (with ``error``). ``retention`` and
``note`` are checked and kept in the task's ``config``; restored points are not purged later.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

from devices.cloud.device2 import params as p
from devices.cloud.device2 import signals
from devices.cloud.device2.clock import DAY_US, iso, to_us
from devices.cloud.device2.context import Context
from devices.cloud.device2.errors import InvalidInput
from devices.cloud.device2.resources import RETENTIONS
from devices.cloud.device2.store import dumps, loads

SUFFIX = ".ndjson"
MAX_DAYS = 3660


def archive_path(ctx: Context, day: dt.date) -> Path:
    return ctx.archive_dir / ctx.product / f"{day.isoformat()}{SUFFIX}"


def _date(value: Any, field: str) -> dt.date:
    try:
        if not isinstance(value, str):
            raise ValueError
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(field, "a date YYYY-MM-DD", value) from None


def write_archive(ctx: Context, day: str) -> Path:
    date = _date(day, "day")
    start = to_us(dt.datetime(date.year, date.month, date.day, tzinfo=dt.UTC))
    rows = ctx.store.query(
        "SELECT * FROM signal_data WHERE product = ? AND reported >= ? AND reported < ? "
        "ORDER BY reported, seq",
        (ctx.product, start, start + DAY_US),
    )
    path = archive_path(ctx, date)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        dumps(
            {
                "identity": r["identity"],
                "resource": r["resource"],
                "signal": r["signal"],
                "value": loads(r["value"]),
                "timestamp": r["reported"],
                "server_timestamp": r["server"],
            }
        )
        for r in rows
    ]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _filters(params: p.Params) -> dict[str, Any]:
    return {
        "identities": p.opt_str_list(params, "identities"),
        "signals": p.opt_str_list(params, "signals"),
        "retention": p.opt_choice(params, "retention", RETENTIONS, "0"),
        "note": p.opt_str(params, "note", "", max_len=1024) or "",
    }


def restore_time(ctx: Context, params: p.Params) -> dict[str, Any]:
    start = _date(p.get(params, "start_date", None), "start_date")
    end = _date(p.get(params, "end_date", None), "end_date")
    if end < start:
        raise InvalidInput("end_date", f"a date on or after start_date {start}", end.isoformat())
    days = (end - start).days + 1
    if days > MAX_DAYS:
        raise InvalidInput("end_date", f"at most {MAX_DAYS} days after start_date", days)
    config = {"start_date": start.isoformat(), "end_date": end.isoformat(), **_filters(params)}
    files = [str(archive_path(ctx, start + dt.timedelta(days=i))) for i in range(days)]
    return _start(ctx, config, files)


def restore_url(ctx: Context, params: p.Params) -> dict[str, Any]:
    urls = p.get(params, "urls", None)
    if not isinstance(urls, list) or not urls:
        raise InvalidInput("urls", "a non-empty array of file:// URLs", urls)
    for i, url in enumerate(urls):
        parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            raise InvalidInput(f"urls[{i}]", "a file:// URL of a local daily archive file", url)
    config = {"urls": urls, **_filters(params)}
    return _start(ctx, config, urls)


def _start(ctx: Context, config: dict[str, Any], files: list[str]) -> dict[str, Any]:
    task_id = str(uuid.UUID(int=ctx.clock.rng("restore").getrandbits(128), version=4))
    with ctx.tx() as db:
        db.execute(
            "INSERT INTO restore_tasks VALUES (?, ?, ?, 'running', ?, NULL)",
            (ctx.product, task_id, dumps(config), ctx.now_us()),
        )
        db.executemany(
            "INSERT INTO restore_files (product, task_id, position, file_name, status) "
            "VALUES (?, ?, ?, ?, 'pending')",
            [(ctx.product, task_id, i, name) for i, name in enumerate(files)],
        )
    _run(ctx, task_id, config, list(range(len(files))))
    return {"total": len(files), "task_id": task_id}


def _path(name: str) -> Path:
    if name.startswith("file:"):
        return Path(urllib.parse.unquote(urllib.parse.urlsplit(name).path))
    return Path(name)


def _read(name: str) -> list[dict[str, Any]]:
    """The points of one archive file (ValueError naming the problem)."""
    try:
        text = _path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {name}: {exc}") from None
    points = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            point = json.loads(line)
        except ValueError:
            raise ValueError(f"line {number} is not JSON") from None
        ok = (
            isinstance(point, dict)
            and all(isinstance(point.get(k), str) and point[k] for k in ("identity", "resource"))
            and isinstance(point.get("signal", ""), str)
            and isinstance(point.get("timestamp"), int)
            and "value" in point
        )
        if not ok:
            raise ValueError(f"line {number}: needs identity, resource, value and timestamp (µs)")
        points.append(point)
    return points


def _run(ctx: Context, task_id: str, config: dict[str, Any], positions: list[int]) -> None:
    keep_ids, keep_signals = config.get("identities"), config.get("signals")
    for position in positions:
        row = ctx.store.one(
            "SELECT file_name FROM restore_files WHERE product = ? AND task_id = ? AND "
            "position = ?",
            (ctx.product, task_id, position),
        )
        assert row is not None
        restored: dict[tuple[str, str, str], None] = {}
        try:
            points = _read(row["file_name"])
        except ValueError as exc:
            status, error = "failed", str(exc)
        else:
            status, error = "done", None
        with ctx.tx() as db:
            now = ctx.now_us()
            for point in points if status == "done" else []:
                signal = point.get("signal") or point["resource"]
                if keep_ids is not None and point["identity"] not in keep_ids:
                    continue
                if keep_signals is not None and signal not in keep_signals:
                    continue
                if _present(ctx, point, signal):
                    continue
                server = point.get("server_timestamp")
                signals.add_point(
                    ctx,
                    point["identity"],
                    point["resource"],
                    signal,
                    point["value"],
                    point["timestamp"],
                    server if isinstance(server, int) else now,
                )
                restored[(point["identity"], signal, point["resource"])] = None
            listed = [{"device": d, "signal": s, "resource": r} for d, s, r in restored]
            db.execute(
                "UPDATE restore_files SET status = ?, error = ?, signals = ?, finished = ? "
                "WHERE product = ? AND task_id = ? AND position = ?",
                (status, error, dumps(listed), now, ctx.product, task_id, position),
            )
    counts = ctx.store.one(
        "SELECT COUNT(*) AS total, SUM(status = 'done') AS done, SUM(status = 'failed') AS "
        "failed FROM restore_files WHERE product = ? AND task_id = ?",
        (ctx.product, task_id),
    )
    assert counts is not None
    status = "done" if not counts["failed"] else "failed" if not counts["done"] else "partial"
    with ctx.tx() as db:
        db.execute(
            "UPDATE restore_tasks SET status = ?, finished = ? WHERE product = ? AND task_id = ?",
            (status, ctx.now_us(), ctx.product, task_id),
        )


def _present(ctx: Context, point: dict[str, Any], signal: str) -> bool:
    if ctx.deviations.active("restore-duplicates"):
        return False
    return (
        ctx.store.one(
            "SELECT 1 FROM signal_data WHERE product = ? AND identity = ? AND signal = ? AND "
            "reported = ? AND resource = ? AND value = ?",
            (
                ctx.product,
                point["identity"],
                signal,
                point["timestamp"],
                point["resource"],
                dumps(point["value"]),
            ),
        )
        is not None
    )


def get_restore_status(ctx: Context, _params: p.Params) -> list[dict[str, Any]]:
    rows = ctx.store.query(
        "SELECT t.*, (SELECT COUNT(*) FROM restore_files f WHERE f.product = t.product AND "
        "f.task_id = t.task_id) AS total, (SELECT COUNT(*) FROM restore_files f WHERE "
        "f.product = t.product AND f.task_id = t.task_id AND f.status = 'done') AS done, "
        "(SELECT COUNT(*) FROM restore_files f WHERE f.product = t.product AND "
        "f.task_id = t.task_id AND f.status = 'failed') AS failed "
        "FROM restore_tasks t WHERE t.product = ? ORDER BY t.created, t.task_id",
        (ctx.product,),
    )
    return [
        {
            "done": r["done"],
            "total": r["total"],
            "config": r["config"],
            "failed": r["failed"],
            "status": r["status"],
            "task_id": r["task_id"],
            "created_at": iso(r["created"]),
            "finished_at": None if r["finished"] is None else iso(r["finished"]),
        }
        for r in rows
    ]


def _task(ctx: Context, params: p.Params) -> tuple[str, dict[str, Any]]:
    task_id = p.req_str(params, "task_id", max_len=64)
    row = ctx.store.one(
        "SELECT config FROM restore_tasks WHERE product = ? AND task_id = ?",
        (ctx.product, task_id),
    )
    if row is None:
        raise InvalidInput("task_id", "the id of an existing restore task", task_id)
    return task_id, loads(row["config"])


def get_restore_task_status(ctx: Context, params: p.Params) -> list[dict[str, Any]]:
    task_id, _ = _task(ctx, params)
    rows = ctx.store.query(
        "SELECT * FROM restore_files WHERE product = ? AND task_id = ? ORDER BY position",
        (ctx.product, task_id),
    )
    out = []
    for r in rows:
        item = {
            "status": r["status"],
            "signals": loads(r["signals"]),
            "file_name": r["file_name"],
            "finished_at": None if r["finished"] is None else iso(r["finished"]),
        }
        if r["error"]:
            item["error"] = r["error"]
        out.append(item)
    return out


def retry_restore_task(ctx: Context, params: p.Params) -> dict[str, Any]:
    task_id, config = _task(ctx, params)
    rows = ctx.store.query(
        "SELECT position FROM restore_files WHERE product = ? AND task_id = ? AND "
        "status = 'failed' ORDER BY position",
        (ctx.product, task_id),
    )
    if not rows:
        raise InvalidInput("task_id", "a task with failed files to retry", task_id)
    positions = [r["position"] for r in rows]
    _run(ctx, task_id, config, positions)
    still = ctx.store.one(
        "SELECT COUNT(*) AS n FROM restore_files WHERE product = ? AND task_id = ? AND "
        "status = 'failed'",
        (ctx.product, task_id),
    )
    failed = still["n"] if still else 0
    return {
        "message": f"retried {len(positions)} files: {len(positions) - failed} restored, "
        f"{failed} still failed"
    }
