"""Waiting for the cloud's ``set`` values: HTTP long polls wait here for
:data:`~.events.STATE_SET` (values ``setIdentityState`` assigned and the device has not yet
acknowledged), on the world's clock."""

from __future__ import annotations

import asyncio
from typing import Any

from devices.cloud.device2.events import STATE_SET
from devices.cloud.device2.service import Device2Service

Key = tuple[str, str, str]  # product, identity, alias


class SetWaiters:
    """Futures resolved with ``(value, timestamp µs)`` when an alias of an identity is set."""

    def __init__(self, service: Device2Service) -> None:
        self.service = service
        self._waiting: dict[Key, list[asyncio.Future[tuple[Any, int]]]] = {}
        service.on(STATE_SET, self._on_set)

    def _on_set(self, product: str, identity: str, values: dict[str, Any], timestamp: int) -> None:
        for alias, value in values.items():
            for future in self._waiting.pop((product, identity, alias), []):
                if not future.done():
                    future.set_result((value, timestamp))

    async def wait(
        self, product: str, identity: str, alias: str, timeout_s: float
    ) -> tuple[Any, int] | None:
        """The next ``set`` of ``alias`` within ``timeout_s`` seconds, or None."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[Any, int]] = loop.create_future()
        key = (product, identity, alias)
        self._waiting.setdefault(key, []).append(future)
        try:
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            return None
        finally:
            waiting = self._waiting.get(key)
            if waiting is not None and future in waiting:
                waiting.remove(future)
                if not waiting:
                    del self._waiting[key]

    @property
    def waiting(self) -> int:
        """Long polls waiting now."""
        return sum(len(f) for f in self._waiting.values())

    def close(self) -> None:
        self.service.remove_listener(STATE_SET, self._on_set)
        for futures in self._waiting.values():
            for future in futures:
                future.cancel()
        self._waiting.clear()
