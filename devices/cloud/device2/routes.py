"""The HTTP route table: every route of the management API, built from the operation table.

Two forms, one table:

* **Operation calls** — ``POST /api:1/service/<product>/device2/<operationName>`` with the seed's
  parameter object as the JSON body, for every operation (the seed's service-call form).
* **The vendor's REST shape** where it is known (facts sheet, section 4; the Murano CLI):
  ``GET``/``PATCH .../device2`` (settings), ``GET .../device2/identity/`` (list, query string),
  ``GET``/``PUT``/``PATCH``/``DELETE .../device2/identity/<identity>``, ``GET``/``PATCH
  .../identity/<identity>/state`` and ``POST .../device2/identities`` (bulk, multipart CSV).

Besides: ``GET .../device2/events`` (Server-Sent Events), ``GET /health``, ``GET
/openapi.json``. :mod:`.openapi` describes exactly these routes.
"""

from __future__ import annotations

from dataclasses import dataclass

from devices.cloud.device2.operations import OPERATIONS

BASE = "/api:1/service/{product}/device2"
IDENTITY_PATH = BASE + "/identity/{identity}"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    operation: str
    source: str  # where parameters come from: "body" (JSON), "query", "multipart"


ROUTES: tuple[Route, ...] = (
    *(Route("POST", f"{BASE}/{name}", name, "body") for name in OPERATIONS),
    Route("GET", BASE, "getGatewaySettings", "query"),
    Route("PATCH", BASE, "updateGatewaySettings", "body"),
    Route("GET", BASE + "/identity", "listIdentities", "query"),
    Route("GET", BASE + "/identity/", "listIdentities", "query"),
    Route("GET", IDENTITY_PATH, "getIdentity", "query"),
    Route("PUT", IDENTITY_PATH, "addIdentity", "body"),
    Route("PATCH", IDENTITY_PATH, "updateIdentity", "body"),
    Route("DELETE", IDENTITY_PATH, "removeIdentity", "query"),
    Route("GET", IDENTITY_PATH + "/state", "getIdentityState", "query"),
    Route("PATCH", IDENTITY_PATH + "/state", "setIdentityState", "body"),
    Route("POST", BASE + "/identities", "addIdentities", "multipart"),
)

EVENTS_PATH = BASE + "/events"
HEALTH_PATH = "/health"
OPENAPI_PATH = "/openapi.json"
