"""The platform's data in SQLite (stdlib ``sqlite3``): tenants, gateways, devices, attributes,
telemetry.

* A gateway is a device (``is_gateway``) with a row in ``gateways`` holding the SHA-256 of its
  access token; the token itself is never stored and never returned after
  :meth:`Store.add_gateway`.
* Device names are unique per tenant. ``devices.gateway_id`` is the gateway that last connected
  the device (ThingsBoard's "last connected gateway").
* Telemetry is keyed by (device, key, ts), as ThingsBoard's ``ts_kv``: a value written again
  for the same key and timestamp replaces the first, so a gateway resending a batch whose
  PUBACK it lost duplicates nothing.
* Values are stored as JSON text. Each :meth:`Store.transaction` commits once, before the
  caller acknowledges anything: what was acknowledged survives a restart on the same file
  (WAL journal, ``synchronous=NORMAL``: the process dying loses nothing committed; a power cut
  of the machine may lose the last commits, as the gateway's queue).

All calls run on the world's loop thread (virtual time makes the short blocking writes free).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS tenants (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS devices (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    is_gateway INTEGER NOT NULL DEFAULT 0,
    gateway_id INTEGER REFERENCES devices(id),
    created_ms INTEGER NOT NULL,
    claim_secret TEXT,
    claim_expires_ms INTEGER,
    UNIQUE (tenant_id, name)
);
CREATE TABLE IF NOT EXISTS gateways (
    device_id INTEGER PRIMARY KEY REFERENCES devices(id),
    token_sha256 TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS attributes (
    device_id INTEGER NOT NULL REFERENCES devices(id),
    scope TEXT NOT NULL CHECK (scope IN ('client', 'shared')),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (device_id, scope, key)
);
CREATE TABLE IF NOT EXISTS telemetry (
    device_id INTEGER NOT NULL REFERENCES devices(id),
    key TEXT NOT NULL,
    ts INTEGER NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (device_id, key, ts)
);
"""

SCOPES = ("client", "shared")
MAX_INTEGER = 2**63 - 1  # SQLite's largest integer

_DEVICE_COLUMNS = (
    "d.id, t.name, d.tenant_id, d.name, d.type, d.is_gateway, g.name, d.gateway_id, "
    "d.created_ms, d.claim_secret, d.claim_expires_ms"
)
_DEVICE_FROM = (
    "FROM devices d JOIN tenants t ON t.id = d.tenant_id LEFT JOIN devices g ON g.id = d.gateway_id"
)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Device:
    id: int
    tenant: str
    tenant_id: int
    name: str
    type: str
    is_gateway: bool
    gateway: str | None
    """The gateway that last connected it (None for a gateway, or one never connected)."""
    gateway_id: int | None
    created_ms: int
    claim_secret: str | None = None
    claim_expires_ms: int | None = None


@dataclass(frozen=True)
class TelemetryPoint:
    ts: int
    key: str
    value: Any


def _device(row: tuple[Any, ...]) -> Device:
    fields = list(row)
    fields[5] = bool(fields[5])  # is_gateway
    return Device(*fields)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class Store:
    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        if self.path != ":memory:":  # a commit survives the process dying (not a power cut)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.executescript(SCHEMA)
        self._depth = 0

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One commit for everything inside (nested blocks join the outer one)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            self._db.execute("COMMIT")
        finally:
            self._depth = 0

    # -- tenants and gateways ----------------------------------------------------------------
    def tenant_id(self, name: str, create: bool = False) -> int | None:
        row = self._db.execute("SELECT id FROM tenants WHERE name = ?", (name,)).fetchone()
        if row is not None:
            return int(row[0])
        if not create:
            return None
        with self.transaction():
            cur = self._db.execute("INSERT INTO tenants (name) VALUES (?)", (name,))
        return int(cur.lastrowid or 0)

    def tenants(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT name FROM tenants ORDER BY name")]

    def add_gateway(self, tenant: str, name: str, token_sha256: str, now_ms: int) -> Device:
        """A new gateway device; raises ``sqlite3.IntegrityError`` if the name is taken."""
        with self.transaction():
            tenant_id = self.tenant_id(tenant, create=True)
            cur = self._db.execute(
                "INSERT INTO devices (tenant_id, name, type, is_gateway, created_ms) "
                "VALUES (?, ?, 'gateway', 1, ?)",
                (tenant_id, name, now_ms),
            )
            device_id = int(cur.lastrowid or 0)
            self._db.execute(
                "INSERT INTO gateways (device_id, token_sha256) VALUES (?, ?)",
                (device_id, token_sha256),
            )
        gateway = self.device_by_id(device_id)
        assert gateway is not None
        return gateway

    def gateway_by_token(self, token_sha256: str) -> Device | None:
        row = self._db.execute(
            f"SELECT {_DEVICE_COLUMNS} {_DEVICE_FROM} JOIN gateways w ON w.device_id = d.id "
            "WHERE w.token_sha256 = ?",
            (token_sha256,),
        ).fetchone()
        return _device(row) if row else None

    def gateways(self, tenant: str | None = None) -> list[Device]:
        where, args = ("AND t.name = ?", (tenant,)) if tenant is not None else ("", ())
        rows = self._db.execute(
            f"SELECT {_DEVICE_COLUMNS} {_DEVICE_FROM} WHERE d.is_gateway = 1 {where} "
            "ORDER BY t.name, d.name",
            args,
        )
        return [_device(r) for r in rows]

    # -- devices -----------------------------------------------------------------------------
    def device(self, tenant_id: int, name: str) -> Device | None:
        row = self._db.execute(
            f"SELECT {_DEVICE_COLUMNS} {_DEVICE_FROM} WHERE d.tenant_id = ? AND d.name = ?",
            (tenant_id, name),
        ).fetchone()
        return _device(row) if row else None

    def device_by_id(self, device_id: int) -> Device | None:
        row = self._db.execute(
            f"SELECT {_DEVICE_COLUMNS} {_DEVICE_FROM} WHERE d.id = ?", (device_id,)
        ).fetchone()
        return _device(row) if row else None

    def get_or_create_device(
        self, gateway: Device, name: str, device_type: str, now_ms: int
    ) -> tuple[Device, bool]:
        """The device ``name`` of the gateway's tenant, created with ``device_type`` if new
        (an existing device keeps its type); either way ``gateway`` becomes its last connected
        gateway. Returns (device, created)."""
        with self.transaction():
            found = self.device(gateway.tenant_id, name)
            if found is None:
                self._db.execute(
                    "INSERT INTO devices (tenant_id, name, type, gateway_id, created_ms) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (gateway.tenant_id, name, device_type, gateway.id, now_ms),
                )
            elif not found.is_gateway and found.gateway_id != gateway.id:
                self._db.execute(
                    "UPDATE devices SET gateway_id = ? WHERE id = ?", (gateway.id, found.id)
                )
            else:
                return found, False
        device = self.device(gateway.tenant_id, name)
        assert device is not None
        return device, found is None

    def set_type(self, device: Device, device_type: str) -> Device:
        """``device`` with its type changed (a deviation's hook: the real platform never does)."""
        self._db.execute("UPDATE devices SET type = ? WHERE id = ?", (device_type, device.id))
        return self.device_by_id(device.id) or device

    def device_in_any_tenant(self, name: str) -> Device | None:
        """The first device named ``name`` in any tenant (a deviation's hook: tenants leak)."""
        row = self._db.execute(
            f"SELECT {_DEVICE_COLUMNS} {_DEVICE_FROM} WHERE d.name = ? AND d.is_gateway = 0 "
            "ORDER BY d.id LIMIT 1",
            (name,),
        ).fetchone()
        return _device(row) if row else None

    def devices_of_gateway(self, gateway_id: int) -> list[Device]:
        rows = self._db.execute(
            f"SELECT {_DEVICE_COLUMNS} {_DEVICE_FROM} WHERE d.gateway_id = ? ORDER BY d.name",
            (gateway_id,),
        )
        return [_device(r) for r in rows]

    def set_claim(self, device_id: int, secret: str, expires_ms: int) -> None:
        with self.transaction():
            self._db.execute(
                "UPDATE devices SET claim_secret = ?, claim_expires_ms = ? WHERE id = ?",
                (secret, min(expires_ms, MAX_INTEGER), device_id),
            )

    # -- attributes --------------------------------------------------------------------------
    def put_attributes(
        self, device_id: int, scope: str, values: dict[str, Any], now_ms: int
    ) -> None:
        with self.transaction():
            self._db.executemany(
                "INSERT INTO attributes (device_id, scope, key, value, updated_ms) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (device_id, scope, key) "
                "DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms",
                [(device_id, scope, k, _dumps(v), now_ms) for k, v in values.items()],
            )

    def attributes(
        self, device_id: int, scope: str, keys: Iterable[str] | None = None
    ) -> dict[str, Any]:
        rows = self._db.execute(
            "SELECT key, value FROM attributes WHERE device_id = ? AND scope = ? ORDER BY key",
            (device_id, scope),
        )
        found = {k: json.loads(v) for k, v in rows}
        if keys is None:
            return found
        return {k: found[k] for k in keys if k in found}

    # -- telemetry ---------------------------------------------------------------------------
    def put_telemetry(self, device_id: int, points: Iterable[tuple[int, str, Any]]) -> int:
        """Store (ts, key, value) points; the number given."""
        rows = [(device_id, key, ts, _dumps(value)) for ts, key, value in points]
        with self.transaction():
            self._db.executemany(
                "INSERT INTO telemetry (device_id, key, ts, value) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (device_id, key, ts) DO UPDATE SET value = excluded.value",
                rows,
            )
        return len(rows)

    def telemetry(
        self, device_id: int, key: str | None = None, since: int | None = None
    ) -> list[TelemetryPoint]:
        sql = "SELECT ts, key, value FROM telemetry WHERE device_id = ?"
        args: list[Any] = [device_id]
        if key is not None:
            sql += " AND key = ?"
            args.append(key)
        if since is not None:
            sql += " AND ts >= ?"
            args.append(since)
        rows = self._db.execute(sql + " ORDER BY ts, key", args)
        return [TelemetryPoint(ts, k, json.loads(v)) for ts, k, v in rows]
