"""The device APIs' configurable choices: every wire detail the facts sheet
(``specs/device2-facts.md``) did not find, with the value we chose and why, in one place.

Defaults are our readings; a deployment that differs changes them here, never in the code that
applies them (:mod:`.device_http`, :mod:`.device_mqtt`, :mod:`.device_hosts`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from devices.protocols.mqtt.reasons import Reason

# Refusals (errors.Refused.reason, plus "bad_credentials" for AuthenticationFailed) ->
# HTTP status. The facts give 401 for a missing or invalid credential, 404 for an identity that
# is not whitelisted and 409 for one already provisioned; the rest is ours: a locked identity,
# a closed provisioning window, disabled provisioning, an IP outside the allow-list and a
# publish-as without permission are 403 (the device is known but may not do this), expired
# credentials (``reprovision``) 401 (the credential is no longer valid: activate again).
HTTP_REFUSALS: Mapping[str, int] = {
    "bad_credentials": 401,
    "reprovision": 401,
    "locked": 403,
    "expired": 403,
    "provisioning_disabled": 403,
    "ip_not_allowed": 403,
    "publish_as": 403,
}

# Refusals -> MQTT CONNACK reason (MQTT 5 codes; a 3.1.1 client gets the nearest return code).
# The facts found only return code 4 (bad user name or password), which Exosite's client
# treats as final; codes for locked or expired identities were not found: we answer 5 (not
# authorized) for every refusal of a known device, 4 for unknown or wrong credentials.
MQTT_REFUSALS: Mapping[str, int] = {
    "bad_credentials": Reason.BAD_USER_NAME_OR_PASSWORD,
    "reprovision": Reason.NOT_AUTHORIZED,
    "locked": Reason.NOT_AUTHORIZED,
    "unknown_host": Reason.NOT_AUTHORIZED,
}


@dataclass(frozen=True)
class DeviceApiConfig:
    """What the device APIs do where the documents are silent (see each field)."""

    # -- hosts (facts, section 0) ---------------------------------------------------------
    check_host: bool = True
    """The HTTP ``Host`` (and the TLS server name, when a client sends one) must be a served
    product's ``fqdn`` (or its ``.devmode-m2.`` twin); a request to any other name is
    answered by closing the connection, as the facts say Murano does. Off: such requests go
    to :attr:`default_product`."""
    default_product: str | None = None
    """The product of a connection that names none (MQTT without TLS, a TLS client sending no
    server name) or, with ``check_host`` off, an unknown one. None: the only product served,
    when there is exactly one."""
    devmode: bool = True
    """Accept ``<product>.devmode-m2.<domain>``: token authentication only (no password, no
    certificate), as the facts describe dev mode."""

    # -- HTTP (facts, section 1) ------------------------------------------------------------
    http_password_auth: bool = True
    """The seed says password authentication is "MQTT only", the newer HTTP doc documents
    ``Authorization: basic <identity:password>``: we accept it (False: HTTP refuses
    passwords)."""
    http_refusals: Mapping[str, int] = field(default_factory=lambda: dict(HTTP_REFUSALS))
    server_header: str = "Murano"
    """The ``Server`` header of every answer ([H17] shows ``Murano``)."""
    identity_header: str = "X-Exosite-Identity"
    """Not found: how a device that provisioned without an identity (``generate_identity``)
    learns the one made for it. Ours: this response header of ``/provision/activate`` (the
    body stays the bare token, as clients check its length)."""
    publish_as_header: str = "X-Exosite-Publish-As"
    """Not found: the wire form of publishing as another device (``permission.gateway``).
    Ours over HTTP: this request header on ``/stack/alias`` and ``/stack/record`` names the
    identity written for."""
    max_request_timeout_ms: int = 300_000
    """A long poll's ``Request-Timeout`` above this is cut to it (facts: at most 300000)."""
    record_conflict_us: int = 1_000_000
    """``/stack/record``: a point for an alias closer than this to one already recorded (or
    to another of the same request) is a conflict (409), the One Platform rule of points
    less than 1 s apart."""

    # -- MQTT (facts, section 2) ------------------------------------------------------------
    provision_topic: str = "$provision"
    provision_reply_topic: str = "$provision/{identity}"
    """Not found: the topic of the activation reply. Ours: ``$provision/<identity>`` with the
    token as payload (empty for password provisioning), sent without a subscription (Exosite's
    client takes it in ``on_message`` without subscribing). A device that provisioned without
    an identity (``$provision`` alone, ``generate_identity``) reads its identity from the
    topic."""
    resource_topic: str = "$resource"
    batch_topic: str = "$resource.batch"
    publish_as_prefix: str = "$as"
    """Not found: the MQTT form of publishing as another device. Ours: any device topic
    prefixed with ``$as/<identity>/`` (``$as/<identity>/$resource/<alias>``,
    ``$as/<identity>/$resource.batch``)."""
    push_qos: int = 1
    """QoS of server pushes (``$resource/<alias>/<timestamp_us>``, the activation reply)."""
    client_id_must_match: bool = True
    """The facts: a client id that does not match the device's identity makes it unable to
    connect. Ours: an empty client id always passes, any other must equal the identity
    (CONNACK 2, identifier rejected)."""
    mqtt_refusals: Mapping[str, int] = field(default_factory=lambda: dict(MQTT_REFUSALS))
    batch_timestamps: str = "auto"
    """Unit of ``$resource.batch`` timestamps. The facts: µs is canonical (Exosite's client,
    the seed's events), seconds appear in an example. ``auto``: below 10^11 seconds (fractions
    kept), below 10^14 milliseconds, else µs; or force ``us``, ``ms`` or ``s``."""
    accept_will: bool = True
    """The newer doc delivers Will messages (QoS 0, Retain ignored): a Will to a device topic
    is written as the device's own publish when the connection ends abnormally."""

    def __post_init__(self) -> None:
        if self.batch_timestamps not in BATCH_UNITS:
            raise ValueError(
                f"batch_timestamps {self.batch_timestamps!r} not accepted; accepted: "
                + ", ".join(BATCH_UNITS)
            )
        if self.push_qos not in (0, 1):
            raise ValueError(f"push_qos {self.push_qos} not accepted; accepted: 0, 1")
        if self.max_request_timeout_ms < 0 or self.record_conflict_us < 0:
            raise ValueError("max_request_timeout_ms and record_conflict_us must be >= 0")

    def http_status(self, reason: str) -> int:
        return self.http_refusals.get(reason, 403)

    def connack(self, reason: str) -> int:
        return self.mqtt_refusals.get(reason, Reason.NOT_AUTHORIZED)


BATCH_UNITS = ("auto", "us", "ms", "s")


def batch_timestamp_us(value: float, unit: str = "auto") -> int:
    """A ``$resource.batch`` timestamp as µs (see :attr:`DeviceApiConfig.batch_timestamps`)."""
    if unit == "auto":
        unit = "s" if abs(value) < 1e11 else "ms" if abs(value) < 1e14 else "us"
    scale = {"us": 1, "ms": 1_000, "s": 1_000_000}[unit]
    return round(value * scale)
