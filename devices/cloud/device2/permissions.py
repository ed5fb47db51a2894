"""Publishing as another device: ``permission.gateway`` (settings) and the per-identity
``permission`` object (``getIdentityPermission`` / ``updateIdentityPermission``, our names for
the seed's unnamed "permission setting of the given {identity}" operations).

The seed gives ``permission.subscript`` and ``permission.publish_as`` as objects without their
fields, and the facts sheet found no wire form for publish-as. Our reading: ``publish_as`` may
hold ``identities``, a list of identities (or ``"*"``) the device may publish as; an identity
listed in the gateway's ``permission.gateway`` may publish as any device of the gateway.
``subscript`` is stored and returned as given.
"""

from __future__ import annotations

from typing import Any

from devices.cloud.device2 import params as p
from devices.cloud.device2.context import Context
from devices.cloud.device2.errors import InvalidInput, Refused, one_of
from devices.cloud.device2.lifecycle import require_identity
from devices.cloud.device2.store import dumps, loads

IDENTITY_PATTERN = r"[a-zA-Z0-9_-]+"


def get_identity_permission(ctx: Context, params: p.Params) -> dict[str, Any]:
    identity = p.req_str(params, "identity", IDENTITY_PATTERN)
    return loads(require_identity(ctx, identity)["permission"])


def update_identity_permission(ctx: Context, params: p.Params) -> None:
    identity = p.req_str(params, "identity", IDENTITY_PATTERN)
    permission = p.opt_object(params, "permission")
    if permission is None:
        raise InvalidInput("permission", "an object with subscript and/or publish_as")
    for key, value in permission.items():
        if key not in ("subscript", "publish_as"):
            raise InvalidInput(f"permission.{key}", one_of(("subscript", "publish_as")))
        if not isinstance(value, dict):
            raise InvalidInput(f"permission.{key}", "an object", value)
    allowed = (permission.get("publish_as") or {}).get("identities")
    if allowed is not None and (
        not isinstance(allowed, list) or not all(isinstance(i, str) for i in allowed)
    ):
        raise InvalidInput("permission.publish_as.identities", "an array of identities", allowed)
    with ctx.tx() as db:
        row = require_identity(ctx, identity)
        merged = {**loads(row["permission"]), **permission}
        db.execute(
            "UPDATE identities SET permission = ? WHERE product = ? AND identity = ?",
            (dumps(merged), ctx.product, identity),
        )


def check_publish_as(ctx: Context, gateway: str, target: str) -> None:
    """Refused ``publish_as`` unless ``gateway`` may publish as ``target``."""
    if gateway == target or gateway in ctx.settings.gateways:
        return
    row = require_identity(ctx, gateway)
    allowed = (loads(row["permission"]).get("publish_as") or {}).get("identities") or []
    if "*" in allowed or target in allowed:
        return
    raise Refused("publish_as", f"{gateway!r} may not publish as {target!r}")
