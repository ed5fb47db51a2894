"""The master gateway's database (stdlib SQLite): the ``*DB`` settings and tenant ownership.

Rows hold serialised ``gsdk.connect`` messages, so what is pushed to a device gateway on every
reconnect is byte for byte what the client stored. A file path survives a master restart.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from devices.gateways.connect_master.protos import connect_pb2 as pb

SCHEMA = """
CREATE TABLE IF NOT EXISTS async_connection (
  gateway_id TEXT NOT NULL, device_id INTEGER NOT NULL, info BLOB NOT NULL,
  PRIMARY KEY (gateway_id, device_id));
CREATE TABLE IF NOT EXISTS accept_filter (gateway_id TEXT PRIMARY KEY, filter BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS slave_device (
  gateway_id TEXT NOT NULL, device_id INTEGER NOT NULL, info BLOB NOT NULL,
  PRIMARY KEY (gateway_id, device_id));
CREATE TABLE IF NOT EXISTS tenant_gateway (gateway_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL);
"""


class MasterDatabase:
    def __init__(self, path: Path | str = ":memory:") -> None:
        self.path = str(path)
        self.db = sqlite3.connect(self.path)
        self.db.executescript(SCHEMA)
        self.db.commit()
        # tenant -> its gateways, read once a change: every call of a tenant asks
        self._gateways_of: dict[str, list[str]] = {}

    def close(self) -> None:
        self.db.close()

    # -- tenants -----------------------------------------------------------------------------
    def assign(self, gateway_id: str, tenant_id: str) -> None:
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO tenant_gateway VALUES (?, ?)", (gateway_id, tenant_id)
            )
        self._gateways_of.clear()

    def tenant_of(self, gateway_id: str) -> str | None:
        row = self.db.execute(
            "SELECT tenant_id FROM tenant_gateway WHERE gateway_id = ?", (gateway_id,)
        ).fetchone()
        return str(row[0]) if row else None

    def gateways_of(self, tenant_id: str) -> list[str]:
        found = self._gateways_of.get(tenant_id)
        if found is None:
            rows = self.db.execute(
                "SELECT gateway_id FROM tenant_gateway WHERE tenant_id = ? ORDER BY gateway_id",
                (tenant_id,),
            ).fetchall()
            found = self._gateways_of[tenant_id] = [str(r[0]) for r in rows]
        return list(found)

    def clear_settings(self) -> None:
        """Forget every stored ``*DB`` setting (tenant ownership stays): a fresh test bench."""
        with self.db:
            for table in ("async_connection", "accept_filter", "slave_device"):
                self.db.execute(f"DELETE FROM {table}")

    # -- async connections -------------------------------------------------------------------
    def add_async(self, gateway_id: str, infos: list[Any]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO async_connection VALUES (?, ?, ?)",
                [(gateway_id, i.deviceID, i.SerializeToString()) for i in infos],
            )

    def delete_async(self, gateway_id: str, ids: list[int]) -> list[int]:
        """Delete; the IDs that were not stored."""
        missing = []
        with self.db:
            for i in ids:
                cur = self.db.execute(
                    "DELETE FROM async_connection WHERE gateway_id = ? AND device_id = ?",
                    (gateway_id, i),
                )
                if cur.rowcount == 0:
                    missing.append(i)
        return missing

    def async_list(self, gateway_id: str) -> list[Any]:
        rows = self.db.execute(
            "SELECT info FROM async_connection WHERE gateway_id = ? ORDER BY device_id",
            (gateway_id,),
        ).fetchall()
        return [pb.AsyncConnectInfo.FromString(r[0]) for r in rows]

    # -- accept filter -----------------------------------------------------------------------
    def set_filter(self, gateway_id: str, f: Any) -> None:
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO accept_filter VALUES (?, ?)",
                (gateway_id, f.SerializeToString()),
            )

    def get_filter(self, gateway_id: str) -> Any | None:
        row = self.db.execute(
            "SELECT filter FROM accept_filter WHERE gateway_id = ?", (gateway_id,)
        ).fetchone()
        return pb.AcceptFilter.FromString(row[0]) if row else None

    # -- slaves ------------------------------------------------------------------------------
    def add_slaves(self, gateway_id: str, infos: list[Any]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO slave_device VALUES (?, ?, ?)",
                [(gateway_id, i.deviceID, i.SerializeToString()) for i in infos],
            )

    def delete_slaves(self, gateway_id: str, ids: list[int]) -> list[int]:
        missing = []
        with self.db:
            for i in ids:
                cur = self.db.execute(
                    "DELETE FROM slave_device WHERE gateway_id = ? AND device_id = ?",
                    (gateway_id, i),
                )
                if cur.rowcount == 0:
                    missing.append(i)
        return missing

    def slave_list(self, gateway_id: str) -> list[Any]:
        rows = self.db.execute(
            "SELECT info FROM slave_device WHERE gateway_id = ? ORDER BY device_id", (gateway_id,)
        ).fetchall()
        return [pb.SlaveDeviceInfo.FromString(r[0]) for r in rows]
