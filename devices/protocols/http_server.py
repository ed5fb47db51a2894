"""Serving an aiohttp application inside the world or on a real socket.

Inside the world the application's protocol handler is attached to :class:`sim.iplink.IpNetwork`
listeners (real HTTP bytes through in-memory transports, virtual time). On a real socket it is an
ordinary aiohttp site. Either way the ``Date`` header is the world's calendar time, not the
machine's, so transcripts are reproducible.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from sim.iplink import IpNetwork
    from sim.world import World


@dataclass
class ServedApp:
    runner: web.AppRunner
    host: str
    port: int
    net: IpNetwork | None = None
    site: web.TCPSite | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def close(self) -> None:
        if self.net is not None:
            self.net.unlisten(self.host, self.port)
        await self.runner.cleanup()


def _stamp_date(world: World):  # type: ignore[no-untyped-def]
    async def on_prepare(_request: web.Request, response: web.StreamResponse) -> None:
        response.headers["Date"] = email.utils.format_datetime(world.datetime(), usegmt=True)

    return on_prepare


async def serve(
    app: web.Application, world: World, host: str, port: int, net: IpNetwork | None = None
) -> ServedApp:
    """Serve ``app`` at ``host:port`` — inside ``net`` when given, else on a real socket."""
    app.on_response_prepare.append(_stamp_date(world))
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
    await runner.setup()
    if net is not None:
        server = runner.server
        assert server is not None
        net.listen(host, port, server)  # type: ignore[arg-type]
        return ServedApp(runner, host, port, net=net)
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    if port == 0:
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        port = sockets[0].getsockname()[1]
    return ServedApp(runner, host, port, site=site)
