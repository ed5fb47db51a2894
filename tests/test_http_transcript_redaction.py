"""The harness's HTTP transcript (evidence ``http.jsonl``) never carries a credential."""

from __future__ import annotations

from devices.protocols.http_client import HttpClient, redact_secrets
from sim.world import World


def test_form_and_json_credentials_are_redacted_and_the_rest_kept() -> None:
    assert redact_secrets("username=admin&password=s3cret&x=1") == (
        "username=admin&password=<redacted>&x=1"
    )
    body = '{"grant_type": "client_credentials", "client_secret": "abc", "token": "t0k"}'
    shown = redact_secrets(body)
    assert "abc" not in shown and "t0k" not in shown
    assert '"grant_type": "client_credentials"' in shown
    assert redact_secrets("filter_name=HR-1&active=1") == "filter_name=HR-1&active=1"


def test_the_recorded_request_body_is_redacted() -> None:
    world = World(seed=1)
    rows: list[dict] = []
    client = HttpClient("http://router:80", recorder=rows.append)

    async def record() -> None:
        client._record("POST", "/cassia/login", 200, 0.0, body=b"username=a&password=hunter2")

    try:
        world.run(record())
    finally:
        world.close()
    assert rows and "hunter2" not in rows[0]["body"]
    assert rows[0]["body"] == "username=a&password=<redacted>"
