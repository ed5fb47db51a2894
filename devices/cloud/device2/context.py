"""What every operation of one gateway context (product) works with: the store, the clock, the
settings and the emitter, and a transaction that emits its events only once committed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bumble.utils import EventEmitter

from devices.cloud.device2.clock import Clock
from devices.cloud.device2.settings import Settings
from devices.cloud.device2.store import Store
from devices.deviations import NO_DEVIATIONS, Deviations


@dataclass(frozen=True)
class Session:
    """One device connection (``connection_id`` is shared by all its events)."""

    connection_id: str
    identity: str
    ip: str | None
    protocol: str | None
    opened: int


@dataclass
class Context:
    product: str
    store: Store
    clock: Clock
    emitter: EventEmitter
    settings: Settings
    archive_dir: Path
    expiry_changed: Callable[[], None] = lambda: None
    deviations: Deviations = NO_DEVIATIONS  # devices.cloud.device2.deviations
    sessions: dict[str, Session] = field(default_factory=dict)
    _pending: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)

    def online_identities(self) -> set[str]:
        return {s.identity for s in self.sessions.values()}

    @contextmanager
    def tx(self) -> Iterator[Any]:
        """A transaction; events :meth:`emit`-ted inside go out after it commits."""
        outer = not self.store.in_transaction
        try:
            with self.store.tx() as db:
                yield db
        except BaseException:
            if outer:
                self._pending.clear()
            raise
        if outer:
            pending, self._pending = self._pending, []
            for name, args in pending:
                self.emitter.emit(name, *args)

    def emit(self, name: str, *args: Any) -> None:
        """Emit ``name`` now, or when the current transaction commits."""
        if self.store.in_transaction:
            self._pending.append((name, args))
        else:
            self.emitter.emit(name, *args)

    def now_us(self) -> int:
        return self.clock.now_us()
