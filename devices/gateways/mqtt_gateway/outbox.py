"""The gateway's persistent queue: every uplink row (telemetry, attributes, device connect and
disconnect, claim) is committed to SQLite before anything is sent, and deleted only when the
platform's PUBACK accepted the message that carried it.

Tables::

    outbox(seq INTEGER PRIMARY KEY AUTOINCREMENT, kind, device, body JSON, created,
           attempts, closes, sends)   -- waiting rows, in the order they were produced
    dead_letters(seq PRIMARY KEY, kind, device, body, created, reason, why, attempts, dead_at)
    counters(name PRIMARY KEY, value) -- delivered, dead_lettered, refused_0x97, resent, ...

``seq`` is the order: rows are sent oldest first and never reordered. ``attempts`` counts
retryable refusals of the row (0x97, 0x83...), ``closes`` the MQTT 3.1.1 connections the server
closed while the row was in flight (3.1.1 has no PUBACK reason: that close is its "no"),
``sends`` the PUBLISHes that carried it whose fate is unknown (no PUBACK yet: a refusal resets
it). A row sent while ``sends`` > 0 is counted in ``possible_duplicates``, whether the earlier
send was lost with a connection or with the gateway process.

Durability: WAL journal, ``synchronous=NORMAL``: a commit survives the gateway process dying
(the restart case); a power cut of the machine may lose the last commits. A new
:class:`Outbox` on the same file continues where the previous one stopped.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from devices.gateways.mqtt_gateway.errors import ConfigError

KINDS = ("telemetry", "attributes", "connect", "disconnect", "claim")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    device TEXT NOT NULL,
    body TEXT NOT NULL,
    created REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    closes INTEGER NOT NULL DEFAULT 0,
    sends INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    device TEXT NOT NULL,
    body TEXT NOT NULL,
    created REAL NOT NULL,
    reason INTEGER NOT NULL,
    why TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    dead_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class Row:
    seq: int
    kind: str
    device: str
    text: str = field(repr=False)  # the body as stored: compact JSON
    created: float = 0.0
    attempts: int = 0
    closes: int = 0
    sends: int = 0

    @cached_property
    def body(self) -> Any:
        """The body, decoded when first asked for (the sender reads more rows than it sends)."""
        return json.loads(self.text)

    @property
    def size(self) -> int:
        """The body's length as compact JSON."""
        return len(self.text)


@dataclass(frozen=True)
class DeadLetter:
    seq: int
    kind: str
    device: str
    body: Any
    reason: int
    why: str
    attempts: int
    dead_at: float


class Outbox:
    """The SQLite queue at ``path`` (``":memory:"``: a queue that dies with the object)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None)
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._closed = False

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._db.close()

    @property
    def closed(self) -> bool:
        return self._closed

    # -- writing -----------------------------------------------------------------------------
    def append(self, kind: str, device: str, body: Any, created: float) -> int:
        """Commit one row; its sequence number."""
        if kind not in KINDS:
            raise ValueError(f"row kind {kind!r} not accepted; accepted: {', '.join(KINDS)}")
        text = json.dumps(body, separators=(",", ":"), allow_nan=False, sort_keys=True)
        cursor = self._db.execute(
            "INSERT INTO outbox (kind, device, body, created) VALUES (?, ?, ?, ?)",
            (kind, device, text, created),
        )
        return int(cursor.lastrowid or 0)

    def delivered(self, seqs: list[int]) -> None:
        """The platform accepted these rows: forget them (one transaction)."""
        with self._transaction():
            self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])
            self._bump("delivered", len(seqs))

    def drop(self, seqs: list[int]) -> None:
        """Forget these rows unsent (a deviation's hook: nothing else ever throws rows away)."""
        with self._transaction():
            self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])
            self._bump("dropped", len(seqs))

    def sending(self, seqs: list[int]) -> None:
        """A PUBLISH carrying these rows is going out (one transaction)."""
        with self._transaction():
            self._db.executemany(
                "UPDATE outbox SET sends = sends + 1 WHERE seq = ?", [(s,) for s in seqs]
            )

    def refused(self, seqs: list[int], retryable: bool) -> None:
        """A PUBACK refused them: the platform did not take them (a retryable refusal counts
        as an attempt)."""
        step = 1 if retryable else 0
        self._db.executemany(
            "UPDATE outbox SET sends = 0, attempts = attempts + ? WHERE seq = ?",
            [(step, s) for s in seqs],
        )

    def count_close(self, seqs: list[int]) -> None:
        self._db.executemany(
            "UPDATE outbox SET closes = closes + 1 WHERE seq = ?", [(s,) for s in seqs]
        )

    def dead_letter(self, seq: int, reason: int, why: str, now: float) -> DeadLetter | None:
        """Move one row to the dead letters (it is never sent again)."""
        with self._transaction():
            found = self._db.execute(
                "SELECT seq, kind, device, body, created, attempts FROM outbox WHERE seq = ?",
                (seq,),
            ).fetchone()
            if found is None:
                return None
            self._db.execute(
                "INSERT OR REPLACE INTO dead_letters VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*found[:5], reason, why, found[5], now),
            )
            self._db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
            self._bump("dead_lettered", 1)
        return DeadLetter(
            found[0], found[1], found[2], json.loads(found[3]), reason, why, found[5], now
        )

    def count(self, name: str, by: int = 1) -> None:
        self._bump(name, by)

    # -- reading -----------------------------------------------------------------------------
    def head(self, limit: int) -> list[Row]:
        """The ``limit`` oldest waiting rows, oldest first."""
        cursor = self._db.execute(
            "SELECT seq, kind, device, body, created, attempts, closes, sends FROM outbox "
            "ORDER BY seq LIMIT ?",
            (limit,),
        )
        return [_row(r) for r in cursor]

    def row(self, seq: int) -> Row | None:
        r = self._db.execute(
            "SELECT seq, kind, device, body, created, attempts, closes, sends FROM outbox "
            "WHERE seq = ?",
            (seq,),
        ).fetchone()
        return None if r is None else _row(r)

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def dead_letters(self) -> list[DeadLetter]:
        cursor = self._db.execute(
            "SELECT seq, kind, device, body, reason, why, attempts, dead_at FROM dead_letters "
            "ORDER BY seq"
        )
        return [
            DeadLetter(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], r[6], r[7]) for r in cursor
        ]

    def counters(self) -> dict[str, int]:
        return {
            name: int(value)
            for name, value in self._db.execute("SELECT name, value FROM counters ORDER BY name")
        }

    # -- helpers -----------------------------------------------------------------------------
    def _bump(self, name: str, by: int) -> None:
        self._db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
            (name, by),
        )

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._db.execute("ROLLBACK" if exc_type is not None else "COMMIT")


def _row(r: tuple[Any, ...]) -> Row:
    return Row(*r)


def open_outbox(path: str) -> Outbox:
    """The queue at ``path``; ConfigError naming it if it cannot be opened."""
    try:
        return Outbox(path)
    except sqlite3.Error as exc:
        raise ConfigError(f"delivery.path: cannot open the queue {path!r}: {exc}") from None
