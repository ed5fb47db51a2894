"""Drives Exosite's own device client (``murano-client`` 21.12.22, unchanged) against our
Device2 device APIs.

Our own script, run with the Python of murano-client's virtual environment (it needs
paho-mqtt 1.x and ``pkg_resources``, which the project's environment does not give it). It
reads its settings from the JSON file named on the command line and prints one JSON object per
step on stdout (``{"step": ..., ...}``), then ``{"step": "done"}``; the client's own log goes
to stderr.

Settings: ``https`` (the device host's URL, ``https://localhost:<port>/``), ``mqtt_port``,
``cacert`` (the server authority, PEM file), ``http_id`` and ``mqtt_id`` (the identities,
whitelisted by the test with a ``set`` value of ``config_io`` waiting), ``content_id``.

HTTP: ``/timestamp``; activation (``id=``); a write and a ``tell`` (record); a read of the
waiting ``config_io`` and its acknowledgement (the value written back); a long poll of 1000 ms
that must end in 304; the content list and one item's info. MQTT over TLS: activation over an
anonymous connection (``$provision/<id>``, the token comes back without a subscription); a
connection with the token; the waiting ``config_io`` pushed on connect, acknowledged; a
``tell`` (``$resource.batch``, µs) and a publish to ``$resource/<alias>``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from murano_client.client import MuranoClient

STEP_TIMEOUT_S = 15.0


def report(step: str, **fields: Any) -> None:
    print(json.dumps({"step": step, **fields}, default=str), flush=True)


def http_part(cfg: dict[str, Any]) -> None:
    client = MuranoClient(
        memory_queue=False,
        murano_host=cfg["https"],
        murano_id=cfg["http_id"],
        murano_cacert=cfg["cacert"],
        watchlist=["config_io"],
        http_timeout=10,
    )
    stamp = client.exosite_timestamp()
    report("http_timestamp", code=stamp.status_code, body=stamp.text)
    client.client_activate()
    report(
        "http_activated",
        activated=client.is_activated(),
        token_length=len(client.murano_token() or ""),
    )
    written = client.http_write("temperature", "21.5")
    report("http_write", code=written.code, success=written.success)
    ok, told = client.tell(resource="humidity", timestamp=time.time(), payload="40")
    report("http_tell", ok=ok, code=told.code)
    read = client.http_read(["config_io"])
    report("http_read", code=read.code, body=read.body)
    resource, _, value = read.body.partition("=")
    ok, acked = client.ack(resource, value)
    report("http_ack", ok=ok, code=acked.code)
    started = time.monotonic()
    polled = client.http_long_poll("config_io", timeout_ms=1000)
    report("http_long_poll", code=polled.code, seconds=round(time.monotonic() - started, 3))
    listed = client._http_listContent()
    report("http_content_list", code=listed.status_code, body=listed.text)
    info = client._http_getContentInfo(cfg["content_id"])
    report("http_content_info", code=info.status_code, body=info.text)


def mqtt_part(cfg: dict[str, Any]) -> None:
    client = MuranoClient(
        memory_queue=False,
        murano_host="mqtt://localhost/",
        murano_port=cfg["mqtt_port"],
        murano_id=cfg["mqtt_id"],
        murano_cacert=cfg["cacert"],
        watchlist=["config_io"],
        http_timeout=5,
    )
    client.client_activate()
    token = client.murano_token() or ""
    report("mqtt_activated", activated=client.is_activated(), token_length=len(token))
    client.start_client()
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while not client.is_connected() and time.monotonic() < deadline:
        time.sleep(0.05)
    report("mqtt_connected", connected=client.is_connected())
    pushed = client.watch(timeout=STEP_TIMEOUT_S)
    if pushed is None:
        report("mqtt_pushed", received=False)
    else:
        report(
            "mqtt_pushed",
            received=True,
            resource=pushed.resource,
            timestamp=pushed.timestamp,
            payload=pushed.payload,
        )
        ok, _ = client.ack(pushed.resource, pushed.payload)
        report("mqtt_ack", ok=ok)
    ok, _ = client.tell(resource="humidity", timestamp=time.time(), payload="41")
    report("mqtt_tell", ok=ok)
    info = client.publish("$resource/temperature", "22.5", qos=1)
    info.wait_for_publish()
    report("mqtt_publish", published=info.is_published())
    client.stop_all()


def main() -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    with open(sys.argv[1], encoding="utf-8") as handle:
        cfg = json.load(handle)
    try:
        http_part(cfg)
        mqtt_part(cfg)
    except Exception as exc:  # report what broke, for the test's message
        report("error", error=f"{type(exc).__name__}: {exc}")
        return 1
    report("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
