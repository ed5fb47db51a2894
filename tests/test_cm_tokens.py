"""Connect Master's token authority remembers tokens whose signature verified, and still checks
revocation and expiry on every call."""

from __future__ import annotations

import grpc
import pytest

from devices.gateways.connect_master.tokens import VERIFIED_KEPT, TokenAuthority


class _Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000

    def __call__(self) -> int:
        return self.now


def _refused(authority: TokenAuthority, token: str) -> str:
    with pytest.raises(Exception) as refused:
        authority.verify(token)
    assert getattr(refused.value, "code", None) == grpc.StatusCode.UNAUTHENTICATED
    return str(getattr(refused.value, "message", refused.value))


def test_a_verified_token_is_refused_once_logged_out_or_expired() -> None:
    clock = _Clock()
    authority = TokenAuthority(clock)
    token = authority.issue("tenant-a", "client-a", lifetime_s=60)
    claims = authority.verify(token)
    assert authority.verify(token) is claims  # remembered, not decoded again
    clock.now += 61
    assert "expired" in _refused(authority, token)
    clock.now -= 61
    authority.revoke(claims)
    assert "logged out" in _refused(authority, token)


def test_forged_tokens_are_not_remembered_and_the_memory_is_bounded() -> None:
    authority = TokenAuthority(_Clock())
    other = TokenAuthority(_Clock())
    forged = other.issue("tenant-a", "client-a")
    for _ in range(2):
        assert "signature" in _refused(authority, forged)
    assert forged not in authority._verified
    for i in range(VERIFIED_KEPT + 5):
        authority.verify(authority.issue(f"t{i}", "c"))
    assert len(authority._verified) <= VERIFIED_KEPT
