"""What a platform is configured with; the defaults are the real platform's, where it has one.

* RPC timeout 10 s by default, never less than 5 s (a shorter one is raised to 5 s).
* Device sessions end after 10 minutes without a message naming the device.
* Claiming: ``durationMs`` absent (or not positive) means the system setting, ThingsBoard's
  ``security.claim.duration`` (``device.claim.duration`` in the seed), 86 400 000 ms (a day).
* ``getSessionLimits`` answers with :attr:`PlatformConfig.max_payload_size` (ThingsBoard's
  ``netty.max_payload_size`` default, 65 536 bytes; the MQTT server refuses larger packets and
  advertises the limit as MQTT 5 Maximum Packet Size), :attr:`max_inflight_messages` (its
  ``message_queue_size_per_device_limit`` default, 100) and the rate limits below. The rate
  limits are declared, as a tenant profile would, so clients pace themselves; they are not
  enforced.
* ``require_subscription``: server PUBLISHes (attribute pushes, RPCs, responses) go only to a
  connection whose subscriptions match the topic, as MQTT demands. The real platform pushes to
  the gateway holding the device session whether or not it subscribed; set False to do that.
"""

from __future__ import annotations

from dataclasses import dataclass

from devices.cloud.mqtt_platform.session import SessionConfig


@dataclass(frozen=True)
class RateLimits:
    """ThingsBoard's rate limit strings: ``"<count>:<seconds>,..."``."""

    messages: str
    telemetry_messages: str
    telemetry_data_points: str

    def as_json(self) -> dict[str, str]:
        return {
            "messages": self.messages,
            "telemetryMessages": self.telemetry_messages,
            "telemetryDataPoints": self.telemetry_data_points,
        }


GATEWAY_RATE_LIMITS = RateLimits("1000:1,30000:60", "500:1,15000:60", "5000:1,150000:60")
DEVICE_RATE_LIMITS = RateLimits("100:1,3000:60", "50:1,1500:60", "500:1,15000:60")


@dataclass(frozen=True)
class PlatformConfig:
    name: str = "platform"
    """The platform's node name in the world's trace."""
    rpc_timeout_s: float = 10.0
    rpc_min_timeout_s: float = 5.0
    device_session_timeout_s: float = 600.0
    claim_duration_ms: int = 86_400_000
    max_payload_size: int = 65_536
    max_inflight_messages: int = 100
    gateway_rate_limits: RateLimits = GATEWAY_RATE_LIMITS
    device_rate_limits: RateLimits = DEVICE_RATE_LIMITS
    require_subscription: bool = True
    session: SessionConfig | None = None
    """The MQTT server's settings; None: the defaults with Maximum Packet Size
    :attr:`max_payload_size`."""
    deviations: tuple[str, ...] = ()
    """Ways to misbehave on purpose (:mod:`.deviations`; ``hil selfcheck``)."""

    def session_config(self) -> SessionConfig:
        return self.session or SessionConfig(max_packet_size=self.max_payload_size)

    def session_limits(self) -> dict[str, object]:
        """The ``getSessionLimits`` answer for a gateway connection."""
        return {
            "maxPayloadSize": self.max_payload_size,
            "maxInflightMessages": self.max_inflight_messages,
            "rateLimits": self.device_rate_limits.as_json(),
            "gatewayRateLimits": self.gateway_rate_limits.as_json(),
        }
