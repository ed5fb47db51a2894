"""The router's reboot (``POST /cassia/reboot``, whose route is in :mod:`.api`, and the world
fault of the same name): the router restarts.

The seed names the route (local form ``POST http://{gateway ip}/cassia/reboot``) and nothing
else; what follows is how a real gateway's reboot looks from outside, and what we do:

1. The request is answered ``200 OK`` (``text/plain``, like the seed's other management
   answers); :data:`REBOOT_DELAY_S` later the system goes down.
2. The Bluetooth chips lose power: links end with no LL_TERMINATE_IND on the air, so every
   peripheral sees its link drop at its supervision timeout (HCI reason 0x08, connection
   timeout); scanning and the router's own advertising stop.
3. The API process ends: every SSE stream (scan, notification, connection-state) closes. No
   ``disconnected`` event precedes the close — a process going down sends none; a client learns
   of the reboot by its streams ending.
4. For ``boot_s`` seconds of world time (:class:`~.router.BleRouter` ``boot_s``, default 10 s;
   real gateways take tens of seconds, the default keeps scenarios short) nothing listens at
   the API's address: connections are refused. We chose refusal over ``503``: during a boot no
   HTTP server runs that could answer ``503``, and a client must handle refusal anyway.
5. The API comes back with fresh state: no links, no streams, no scanning, uptime from 0. Bonds
   (kept in flash) survive; the GATT cache (RAM) does not. The client must reopen its streams,
   reconnect its devices and re-enable their notifications — the seed's note on reconnection:
   "the user application needs to reconnect the up-layer connections. For example, resubscribe
   the BLE notifications."

A world fault (:func:`reboot`, used by scenario files and Gherkin steps) runs the same cycle
without the HTTP request: it is also how a crash-and-restart of the router looks.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devices.gateways.ble_router.router import BleRouter

REBOOT_DELAY_S = 0.2  # between the answer and the power going down

_rebooting: weakref.WeakSet[BleRouter] = weakref.WeakSet()
_tasks: set[asyncio.Task[Any]] = set()


def is_rebooting(router: BleRouter) -> bool:
    return router in _rebooting


def schedule_reboot(router: BleRouter, reason: str, delay_s: float = REBOOT_DELAY_S) -> bool:
    """Reboot ``delay_s`` from now, in a task of the world; False if one is already under way
    (a second request in the same instant asks for what is already happening)."""
    if router in _rebooting:
        return False
    _rebooting.add(router)
    router.trace("world", "reboot-requested", reason=reason, delay_s=delay_s, boot_s=router.boot_s)
    task = router.world.spawn(_reboot(router, reason, delay_s), name=f"{router.name}/reboot")
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return True


async def reboot(router: BleRouter, reason: str = "fault") -> None:
    """Reboot now and return once the router serves again."""
    if router in _rebooting:
        raise RuntimeError(f"{router.name} is already rebooting")
    _rebooting.add(router)
    await _reboot(router, reason, 0.0)


async def _reboot(router: BleRouter, reason: str, delay_s: float) -> None:
    try:
        if delay_s > 0:
            await asyncio.sleep(delay_s)
        router.trace(
            "world",
            "reboot",
            reason=reason,
            boot_s=router.boot_s,
            links=len(router.central.links),
            streams=router.open_streams,
        )
        served = await router.power_off()
        router.trace("world", "down", refused_for_s=router.boot_s)
        await asyncio.sleep(router.boot_s)
        await router.start()  # chips on, uptime from now
        for one in served:
            await router.serve(one.net, one.host, one.port)
        router.trace("world", "booted", uptime=router.uptime, serving=len(served))
    finally:
        _rebooting.discard(router)
