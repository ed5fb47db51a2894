"""The service's database: one SQLite file (stdlib ``sqlite3``) holding every gateway context.

Why SQLite: it is embedded, needs nothing installed, and its SQL covers what the seed's queries
ask (time buckets are integer division of µs timestamps, aggregates are ``COUNT``/``MIN``/
``MAX``/``SUM``/``AVG``). Every operation that changes something runs in one transaction that
commits before the operation returns (WAL journal, ``synchronous=FULL``), so whatever the service
acknowledged survives a restart: a new service object on the same file sees it. Calls are
synchronous and short; the service runs no thread and never blocks on I/O other than the file.

Credentials are never stored in a form that can be returned: tokens as SHA-256 (they are 40
random characters), passwords as scrypt with a per-identity salt, certificates as the SHA-256
fingerprint of their DER form.
"""

from __future__ import annotations

import functools
import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devices.cloud.device2.errors import StoreError

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS gateways (
    product TEXT PRIMARY KEY,
    settings TEXT NOT NULL,
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS identities (
    product TEXT NOT NULL,
    identity TEXT NOT NULL,
    auth_type TEXT,
    secret TEXT,
    expire INTEGER,
    locked INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    lastip TEXT,
    lastseen INTEGER,
    created INTEGER NOT NULL,
    permission TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (product, identity)
);
CREATE INDEX IF NOT EXISTS identities_secret ON identities (product, secret);
CREATE INDEX IF NOT EXISTS identities_expire ON identities (expire);
CREATE TABLE IF NOT EXISTS tags (
    product TEXT NOT NULL,
    identity TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (product, identity, name, value)
);
CREATE INDEX IF NOT EXISTS tags_name ON tags (product, name, value);
CREATE TABLE IF NOT EXISTS resources (
    product TEXT NOT NULL,
    alias TEXT NOT NULL,
    definition TEXT NOT NULL,
    PRIMARY KEY (product, alias)
);
CREATE TABLE IF NOT EXISTS state (
    product TEXT NOT NULL,
    identity TEXT NOT NULL,
    alias TEXT NOT NULL,
    reported TEXT,
    set_value TEXT,
    timestamp INTEGER NOT NULL,
    pending INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (product, identity, alias)
);
CREATE TABLE IF NOT EXISTS signal_data (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    product TEXT NOT NULL,
    identity TEXT NOT NULL,
    resource TEXT NOT NULL,
    signal TEXT NOT NULL,
    value TEXT NOT NULL,
    num REAL,
    reported INTEGER NOT NULL,
    server INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS signal_data_signal
    ON signal_data (product, identity, signal, reported);
CREATE INDEX IF NOT EXISTS signal_data_resource
    ON signal_data (product, resource, reported);
CREATE TABLE IF NOT EXISTS signal_names (
    product TEXT NOT NULL,
    identity TEXT NOT NULL,
    signal TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (product, identity, signal)
);
CREATE TABLE IF NOT EXISTS metric_samples (
    product TEXT NOT NULL,
    metric TEXT NOT NULL,
    identity TEXT,
    value REAL NOT NULL,
    at INTEGER NOT NULL,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS metric_samples_at ON metric_samples (product, metric, at);
CREATE TABLE IF NOT EXISTS subscribers (
    product TEXT NOT NULL,
    identity TEXT NOT NULL,
    signal TEXT NOT NULL,
    session_id TEXT NOT NULL,
    session_type TEXT NOT NULL,
    status TEXT NOT NULL,
    offset_us INTEGER,
    last_update INTEGER NOT NULL,
    PRIMARY KEY (product, identity, signal, session_id)
);
CREATE TABLE IF NOT EXISTS restore_tasks (
    product TEXT NOT NULL,
    task_id TEXT NOT NULL,
    config TEXT NOT NULL,
    status TEXT NOT NULL,
    created INTEGER NOT NULL,
    finished INTEGER,
    PRIMARY KEY (product, task_id)
);
CREATE TABLE IF NOT EXISTS restore_files (
    product TEXT NOT NULL,
    task_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    file_name TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    signals TEXT NOT NULL DEFAULT '[]',
    finished INTEGER,
    PRIMARY KEY (product, task_id, position)
);
CREATE TABLE IF NOT EXISTS contents (
    product TEXT NOT NULL,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    data BLOB NOT NULL,
    tags TEXT NOT NULL DEFAULT '{}',
    description TEXT NOT NULL DEFAULT '',
    updated INTEGER NOT NULL,
    PRIMARY KEY (product, id)
);
"""


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _regexp(pattern: str, value: str | None) -> bool:
    return value is not None and _compiled(pattern).search(value) is not None


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class Store:
    """One SQLite connection, its schema, and transactions."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.db.create_function("REGEXP", 2, _regexp, deterministic=True)
            if self.path != ":memory:":
                self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.executescript(SCHEMA)
            self.db.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the database {self.path}: {exc}") from exc
        self._depth = 0

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction (nested calls join the outer one); committed when the block ends."""
        if self._depth:
            self._depth += 1
            try:
                yield self.db
            finally:
                self._depth -= 1
            return
        self._depth = 1
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"database error: {exc}") from exc
        finally:
            self._depth = 0

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    def query(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self.db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"database error: {exc}") from exc

    def one(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> sqlite3.Row | None:
        rows = self.query(sql, args)
        return rows[0] if rows else None

    def close(self) -> None:
        self.db.close()
