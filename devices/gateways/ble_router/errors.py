"""The one exception the router's HTTP layer turns into an answer.

Status choices (the seed says only "200 for success, 500 for error"; we refine it):

* **400** — the request itself is wrong: a malformed MAC, handle, hex value or UUID, a
  parameter outside its documented range (``timeout``, ``mtu``, ``filter_rssi``, ``active``...),
  a body that is not JSON. Nothing was attempted.
* **404** — the node is connected but has no service / characteristic with the UUID asked for.
* **500** — the router tried and could not: the node is not connected, a connection attempt
  timed out, another connection attempt is already in progress (the seed's serial rule), a
  chip is full, the device answered a GATT request with an ATT error, the link dropped
  mid-operation, or too many SSE streams are open (the seed's note on SSE limits).

Every message is plain text naming the offending value and what is accepted.
"""

from __future__ import annotations


class ApiError(Exception):
    """An HTTP error answer: ``status`` and a plain-text ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def failed(message: str) -> ApiError:
    return ApiError(500, message)
