"""A client of the management API, on the project's HTTP client (in-world links or a socket).

``await client.call("listIdentities", {"limit": 5})`` posts an operation call; ``rest`` reaches
the vendor-shaped paths (``await client.rest("GET", "/identity/dev1")``); ``events()`` opens the
SSE stream of gateway events. Responses are returned as they come (status, headers, body), so
callers judge statuses themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devices.protocols.http_client import HttpClient, HttpResponse, SseStream


@dataclass
class Device2Client:
    http: HttpClient
    product: str = "example"

    @property
    def base(self) -> str:
        return f"/api:1/service/{self.product}/device2"

    async def call(self, operation: str, params: Any = None) -> HttpResponse:
        """``POST .../device2/<operation>`` with ``params`` as the JSON body."""
        return await self.http.request(
            "POST", f"{self.base}/{operation}", json_body={} if params is None else params
        )

    async def rest(
        self,
        method: str,
        path: str = "",
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> HttpResponse:
        """``method .../device2<path>`` (the vendor's REST shape)."""
        return await self.http.request(
            method, self.base + path, params=params, json_body=json_body, raw=raw, headers=headers
        )

    def events(self, types: str | None = None) -> SseStream:
        return self.http.sse(f"{self.base}/events", params={"types": types} if types else None)
