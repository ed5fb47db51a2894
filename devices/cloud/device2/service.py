"""The Device2 service: gateway contexts (products) on one database, one event emitter, and the
timer that applies ``auth.expire`` deadlines when the world's clock reaches them."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bumble.utils import EventEmitter

from devices.cloud.device2 import settings as settings_mod
from devices.cloud.device2.clock import Clock, WorldClock
from devices.cloud.device2.context import Context
from devices.cloud.device2.errors import Conflict, InvalidInput, NotFound
from devices.cloud.device2.gateway import Gateway
from devices.cloud.device2.lifecycle import EXPIRY_LATE_US, PROVISIONED, WHITELISTED
from devices.cloud.device2.settings import Settings
from devices.cloud.device2.store import Store, dumps, loads
from devices.deviations import NO_DEVIATIONS, Deviations

PRODUCT_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"


class Device2Service(EventEmitter):
    """Every gateway context, persisted in ``db_path`` (see :mod:`devices.cloud.device2`).

    ``archive_dir``: where ``restoreTime`` finds daily archive files (default: ``archive/``
    beside the database file). Gateways already in the database are opened as they were.
    """

    def __init__(
        self, world: WorldClock, db_path: str | Path, archive_dir: str | Path | None = None
    ) -> None:
        super().__init__()
        self.clock = Clock(world)
        self.store = Store(db_path)
        default_archive = Path(db_path).parent / "archive" if str(db_path) != ":memory:" else None
        self.archive_dir = Path(archive_dir) if archive_dir else default_archive or Path("archive")
        self._gateways: dict[str, Gateway] = {}
        self.deviations: Deviations = NO_DEVIATIONS  # devices.cloud.device2.deviations
        self._timer: asyncio.TimerHandle | None = None
        for row in self.store.query("SELECT product, settings FROM gateways ORDER BY product"):
            self._open(row["product"], Settings.load(loads(row["settings"])))
        self._arm_expiry()

    # -- gateway contexts ---------------------------------------------------------------------
    def _open(self, product: str, settings: Settings) -> Gateway:
        ctx = Context(
            product, self.store, self.clock, self, settings, self.archive_dir, self._arm_expiry
        )
        gateway = self._gateways[product] = Gateway(self, ctx)
        return gateway

    def create_gateway(self, product: str, settings: Mapping[str, Any] | None = None) -> Gateway:
        """A new gateway context with default settings updated by ``settings``."""
        if not isinstance(product, str) or not re.fullmatch(PRODUCT_PATTERN, product):
            raise InvalidInput("product", f"an id matching {PRODUCT_PATTERN}", product)
        if product in self._gateways:
            raise Conflict(f"gateway {product!r} already exists", "product")
        checked = Settings.load(settings_mod.defaults(product)).merged(settings or {})
        with self.store.tx() as db:
            db.execute(
                "INSERT INTO gateways VALUES (?, ?, ?)",
                (product, dumps(checked.raw), self.clock.now_us()),
            )
        return self._open(product, checked)

    def ensure_gateway(self, product: str, settings: Mapping[str, Any] | None = None) -> Gateway:
        """The gateway ``product``, created (with ``settings``) if it does not exist yet."""
        if product in self._gateways:
            return self._gateways[product]
        return self.create_gateway(product, settings)

    def gateway(self, product: str) -> Gateway:
        """The gateway context ``product`` (NotFound: "the gateway context does not exist")."""
        gateway = self._gateways.get(product)
        if gateway is None:
            raise NotFound("gateway context", product, "product")
        return gateway

    @property
    def products(self) -> list[str]:
        return sorted(self._gateways)

    # -- deadlines ----------------------------------------------------------------------------
    def _arm_expiry(self) -> None:
        """(Re)arm one timer for the earliest ``auth.expire`` still ahead of any identity."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        row = self.store.one(
            "SELECT MIN(expire) AS next FROM identities WHERE expire IS NOT NULL "
            "AND status IN (?, ?)",
            (WHITELISTED, PROVISIONED),
        )
        if row is not None and row["next"] is not None:
            late = EXPIRY_LATE_US if self.deviations.active("expired-late") else 0
            self._timer = self.clock.call_at_us(row["next"] + late, self._expire_due)

    def _expire_due(self) -> None:
        self._timer = None
        for gateway in self._gateways.values():
            gateway.sweep()
        self._arm_expiry()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.store.close()
