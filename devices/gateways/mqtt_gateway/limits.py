"""What the platform's ``getSessionLimits`` answer tells the gateway, and the rate limiter that
keeps the gateway under it.

The answer (ThingsBoard)::

    {"maxPayloadSize": 65536, "maxInflightMessages": 100,
     "rateLimits": {"messages": "200:1,6000:60", "telemetryMessages": "100:1",
                    "telemetryDataPoints": "..."},
     "gatewayRateLimits": {...the same keys...}}

A rate limit ``"N:S,M:T"`` allows at most N messages in any S seconds and M in any T. The gateway
paces its queue by ``messages`` (and ``telemetryMessages`` for telemetry) of
``gatewayRateLimits`` (else ``rateLimits``) so the platform never
needs to answer "quota exceeded"; if it does anyway, the queue backs off (see delivery.py).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RateLimit:
    """Sliding windows of (count, seconds)."""

    windows: list[tuple[int, float]]
    _sent: list[deque[float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._sent = [deque() for _ in self.windows]

    @classmethod
    def parse(cls, text: Any) -> RateLimit | None:
        """``"200:1,6000:60"``; None for anything else (an unparsable limit is not enforced)."""
        if not isinstance(text, str) or not text.strip():
            return None
        windows: list[tuple[int, float]] = []
        for part in text.split(","):
            count, _, seconds = part.strip().partition(":")
            try:
                n, s = int(count), float(seconds)
            except ValueError:
                return None
            if n <= 0 or s <= 0:
                return None
            windows.append((n, s))
        return cls(windows)

    def wait(self, now: float) -> float:
        """Seconds until one more message fits (0 when it fits now)."""
        longest = 0.0
        for (count, seconds), sent in zip(self.windows, self._sent, strict=True):
            while sent and sent[0] <= now - seconds:
                sent.popleft()
            if len(sent) >= count:
                longest = max(longest, sent[0] + seconds - now)
        return longest

    def record(self, now: float) -> None:
        for sent in self._sent:
            sent.append(now)


@dataclass(frozen=True)
class SessionLimits:
    max_payload_size: int | None = None
    max_inflight: int | None = None
    messages: RateLimit | None = None
    telemetry_messages: RateLimit | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, answer: dict[str, Any]) -> SessionLimits:
        """Gateway API messages follow ``gatewayRateLimits`` when the answer has them (newer
        platforms), else ``rateLimits``."""
        rates = answer.get("gatewayRateLimits")
        if not isinstance(rates, dict):
            rates = answer.get("rateLimits")
        rates = rates if isinstance(rates, dict) else {}
        return cls(
            max_payload_size=_positive(answer.get("maxPayloadSize")),
            max_inflight=_positive(answer.get("maxInflightMessages")),
            messages=RateLimit.parse(rates.get("messages")),
            telemetry_messages=RateLimit.parse(rates.get("telemetryMessages")),
            raw=answer,
        )


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
