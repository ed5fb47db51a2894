"""The service served inside a fresh world, with a client over in-world links (virtual time):
for tests and scripts that want the whole stack without sockets.

::

    with LocalDevice2(tmp_path / "d2.db") as d2:
        response = d2.run(d2.client.call("addIdentity", {"identity": "dev1"}))
        d2.restart()          # a new service object on the same database file
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from devices.cloud.device2.client import Device2Client
from devices.cloud.device2.gateway import Gateway
from devices.cloud.device2.service import Device2Service
from devices.cloud.device2.serving import DEFAULT_PRODUCT, Device2Server, serve_device2
from devices.protocols.http_client import HttpClient, HttpResponse
from sim.iplink import IpNetwork
from sim.world import World

T = TypeVar("T")


class LocalDevice2:
    def __init__(
        self,
        db_path: str | Path,
        seed: int = 1,
        product: str = DEFAULT_PRODUCT,
        settings: Mapping[str, Any] | None = None,
        archive_dir: str | Path | None = None,
        host: str = "device2",
        port: int = 80,
    ) -> None:
        self.db_path, self.product, self.settings = db_path, product, settings
        self.archive_dir = archive_dir
        self.host, self.port = host, port
        self.world = World(seed=seed)
        self.net = IpNetwork(self.world)
        self.transcript: list[dict[str, Any]] = []
        self.responses: list[HttpResponse] = []  # every answer to call() and rest(), whole
        http = HttpClient(
            f"http://{host}:{port}",
            connect=self.net.open_connection,
            recorder=self.transcript.append,
        )
        self.client = Device2Client(http, product)
        self.server: Device2Server | None = None
        self.start()

    @property
    def service(self) -> Device2Service:
        assert self.server is not None
        return self.server.service

    def start(self) -> None:
        self.server = self.run(
            serve_device2(
                self.world,
                self.db_path,
                self.host,
                self.port,
                self.net,
                [self.product],
                self.settings,
                self.archive_dir,
            )
        )

    def restart(self) -> None:
        """Stop the service and start a new one on the same database file."""
        self.stop()
        self.start()

    def stop(self) -> None:
        if self.server is not None:
            self.run(self.server.close())
            self.server = None

    def run(self, awaitable: Awaitable[T]) -> T:
        return self.world.run(awaitable)

    def call(self, operation: str, params: Any = None) -> HttpResponse:
        """An operation call, run to completion in the world."""
        response = self.run(self.client.call(operation, params))
        self.responses.append(response)
        return response

    def rest(self, method: str, path: str = "", **kwargs: Any) -> HttpResponse:
        """A request on the vendor-shaped paths, run to completion in the world."""
        response = self.run(self.client.rest(method, path, **kwargs))
        self.responses.append(response)
        return response

    @property
    def gateway(self) -> Gateway:
        """The domain side of the served gateway (the device APIs' view)."""
        return self.service.gateway(self.product)

    def sleep(self, seconds: float) -> None:
        self.world.run_for(seconds)

    def close(self) -> None:
        if not self.world.closed:
            self.stop()
            self.world.close()

    def __enter__(self) -> LocalDevice2:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
