"""Fuzz campaigns against the Connect Master's gRPC wire (:mod:`scenarios.connect_master.fuzz`):
bounded ones in CI, the full ones (10,000 inputs per interface) under ``pytest -m fuzz``."""

from __future__ import annotations

import grpc
import pytest

from devices.gateways.connect_master.rpc import message_class
from devices.gateways.connect_master.tokens import TokenAuthority, TokenClaims
from scenarios.connect_master import fuzz
from scenarios.fuzzing import FuzzTally
from tests.fuzz_checks import assert_clean

CI_EXAMPLES = 400
FULL_EXAMPLES = 10_000
STATE_CHECKS = {
    "grpc": 4,  # tenant A: logs in and reads, settings unchanged, no status change; no traceback
    "tokens": 5,  # ... and tenant B's settings unchanged
}


def _assert_clean(tally: FuzzTally, interface: str, examples: int) -> None:
    assert_clean(tally, examples, STATE_CHECKS[interface])


def test_grpc_campaign() -> None:
    tally = fuzz.campaign("grpc", CI_EXAMPLES, seed=1)
    _assert_clean(tally, "grpc", CI_EXAMPLES)
    for answer in ("OK", "INVALID_ARGUMENT", "NOT_FOUND", "UNAUTHENTICATED"):
        assert tally.count(answer) > 0, tally.summary()


def test_tokens_campaign() -> None:
    tally = fuzz.campaign("tokens", CI_EXAMPLES, seed=1)
    _assert_clean(tally, "tokens", CI_EXAMPLES)
    refused = tally.count("UNAUTHENTICATED") + tally.count("PERMISSION_DENIED")
    assert refused == CI_EXAMPLES


def test_the_tokens_campaign_catches_a_master_that_ignores_the_certificate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def anyone(self: TokenAuthority, claims: TokenClaims, peer: str) -> None:
        """A master that does not bind tokens to the client certificate."""

    monkeypatch.setattr(TokenAuthority, "check_holder", anyone)
    tally = fuzz.campaign("tokens", 200, seed=1)
    assert tally.count("auth-bypass") > 0 and not tally.ok


def test_the_grpc_judge_names_bad_answers() -> None:
    method = fuzz.MASTER_SERVICES[0].methods_by_name["GetDeviceList"]
    request = message_class(method.input_type)(gatewayID="gw-a")
    item = fuzz.GrpcInput(0, method, request.SerializeToString(), request, False, False)
    assert fuzz._grpc_judge(item, fuzz.Outcome(grpc.StatusCode.OK)) == "auth-bypass"
    assert fuzz._grpc_judge(item, fuzz.Outcome(grpc.StatusCode.UNKNOWN)) == "unhandled"
    assert fuzz._grpc_judge(item, fuzz.Outcome(grpc.StatusCode.DEADLINE_EXCEEDED)) == "hang"
    item.token = True  # tenant B's token, on tenant A's gateway
    assert fuzz._grpc_judge(item, fuzz.Outcome(grpc.StatusCode.OK)) == "auth-bypass"
    assert fuzz._grpc_judge(item, fuzz.Outcome(grpc.StatusCode.NOT_FOUND)) == "NOT_FOUND"


@pytest.mark.fuzz
@pytest.mark.parametrize("interface", fuzz.INTERFACES)
def test_full_campaign(interface: str) -> None:
    tally = fuzz.campaign(interface, FULL_EXAMPLES, seed=1)
    print(tally.summary())
    _assert_clean(tally, interface, FULL_EXAMPLES)
