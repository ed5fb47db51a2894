"""Device2 data through the HTTP API: publishData, the raw and aggregate queries (exact against
the stored values), latestSignalsSearch, the signal parser, subscribers and getDeviceMetrics."""

from __future__ import annotations

import json

import pytest

from devices.cloud.device2.local import LocalDevice2

US = 1_000_000
NOW_S = 1767225600  # the world's epoch, 2026-01-01T00:00:00Z
T0 = (NOW_S - 3600) * US  # an hour ago, on a minute boundary


@pytest.fixture
def d2(tmp_path):
    with LocalDevice2(tmp_path / "d2.db", archive_dir=tmp_path / "archive") as local:
        yield local


def ok(response, status=204):
    assert response.status == status, response.text
    return response.json() if status == 200 else None


def error(response, status, field):
    assert response.status == status, response.text
    assert response.json()["field"] == field, response.json()


def _series(d2):
    """dev1.temp = 1..10 and dev2.temp = 10, 20, ... every 30 s from T0; dev1.name = text."""
    ok(d2.call("addResource", {"alias": "temp", "format": "number"}))
    ok(d2.call("addResource", {"alias": "name"}))
    for identity in ("dev1", "dev2"):
        ok(d2.call("addIdentity", {"identity": identity}))
    scale = {"dev1": 1, "dev2": 10}
    for identity, factor in scale.items():
        payload = [
            {"timestamp": T0 + k * 30 * US, "values": {"temp": (k + 1) * factor}} for k in range(10)
        ]
        ok(d2.call("publishData", {"identity": identity, "payload": payload}))
    ok(
        d2.call(
            "publishData",
            {
                "identity": "dev1",
                "payload": [
                    {"timestamp": T0 + 15 * US, "values": {"name": "first", "temp": "2.5"}}
                ],
            },
        )
    )


def window(**extra):
    return {"start_time": NOW_S - 7200, "end_time": NOW_S, **extra}


def test_publish_data_refusals(d2):
    ok(d2.call("addResource", {"alias": "temp", "format": "number"}))
    ok(d2.call("addIdentity", {"identity": "dev1"}))

    def point(ts, values):
        return {"identity": "dev1", "payload": [{"timestamp": ts, "values": values}]}

    ok(d2.call("publishData", point(T0, {"temp": 1})))
    error(d2.call("publishData", {**point(T0, {"temp": 1}), "identity": "ghost"}), 400, "identity")
    error(d2.call("publishData", point(T0, {"ghost": 1})), 400, "payload[0].values.ghost")
    error(d2.call("publishData", point(T0, {"temp": "hot"})), 400, "payload[0].values.temp")
    error(d2.call("publishData", point(1704178234, {"temp": 1})), 400, "payload[0].timestamp")
    error(
        d2.call("publishData", point((NOW_S + 86401) * US, {"temp": 1})),
        400,
        "payload[0].timestamp",
    )
    error(
        d2.call("publishData", point((NOW_S - 3654 * 86400) * US, {"temp": 1})),
        400,
        "payload[0].timestamp",
    )
    error(d2.call("publishData", {"identity": "dev1", "payload": []}), 400, "payload")
    error(d2.call("publishData", point(T0, {})), 400, "payload[0].values")


def test_query_resource_exact_paged_sorted_and_grouped(d2):
    _series(d2)
    result = ok(d2.call("queryResource", {"resource": "temp", **window()}), 200)
    assert result["q"]["total"] == 21 and len(result["data"]) == 21
    first = result["data"][0]  # the latest; between equal times, the last stored first
    server_time = first.pop("server_time")
    assert first == {
        "identity": "dev2",
        "resource": "temp",
        "signal": "temp",
        "value": 100,
        "reported_time": T0 + 270 * US,
    }
    assert NOW_S * US <= server_time < (NOW_S + 1) * US  # the world's time of the publish
    dev2 = ok(
        d2.call(
            "queryResource", {"resource": "temp", "identities": "dev2", "order": "asc", **window()}
        ),
        200,
    )
    assert [p["value"] for p in dev2["data"]] == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    ranged = ok(
        d2.call(
            "queryResource",
            {
                "resource": "temp",
                "identities": "dev1",
                "order": "asc",
                "start_time": (T0 + 60 * US) / US,
                "end_time": (T0 + 150 * US) / US,
            },
        ),
        200,
    )
    assert [p["value"] for p in ranged["data"]] == [3, 4, 5]  # start inclusive, end exclusive
    fractional = ok(
        d2.call(
            "queryResource",
            {
                "resource": "temp",
                "identities": "dev1",
                "start_time": (T0 + 15 * US) / US,
                "end_time": (T0 + 15 * US + 1) / US,
            },
        ),
        200,
    )
    assert [p["value"] for p in fractional["data"]] == [2.5]
    pages = [
        ok(
            d2.call(
                "queryResource",
                {
                    "resource": "temp",
                    "identities": ["dev1"],
                    "limit": 4,
                    "page": page,
                    "order": "asc",
                    **window(),
                },
            ),
            200,
        )
        for page in (1, 2, 3)
    ]
    assert [[p["value"] for p in page["data"]] for page in pages] == [
        [1, 2.5, 2, 3],
        [4, 5, 6, 7],
        [8, 9, 10],
    ]
    assert pages[0]["q"]["limit"] == 4 and pages[0]["q"]["page"] == 1
    seconds = ok(
        d2.call(
            "queryResource",
            {"resource": "temp", "identities": "dev1", "limit": 1, "epoch": "s", **window()},
        ),
        200,
    )
    assert seconds["data"][0]["reported_time"] == NOW_S - 3600 + 270
    millis = ok(
        d2.call(
            "queryResource",
            {"resource": "temp", "identities": "dev1", "limit": 1, "epoch": "ms", **window()},
        ),
        200,
    )
    assert millis["data"][0]["reported_time"] == (NOW_S - 3600 + 270) * 1000
    grouped = ok(d2.call("queryResource", {"resource": "temp", "group": True, **window()}), 200)
    # groups come in the order of their first (latest) point
    assert [(g["identity"], len(g["values"])) for g in grouped["data"]] == [
        ("dev2", 10),
        ("dev1", 11),
    ]
    assert set(grouped["data"][0]["values"][0]) == {"value", "reported_time", "server_time"}
    by_server = ok(
        d2.call(
            "queryResource",
            {"resource": "temp", "identities": "dev1", "sort": "server", **window()},
        ),
        200,
    )
    server_times = [p["server_time"] for p in by_server["data"]]
    assert server_times == sorted(server_times, reverse=True)
    assert by_server["data"][0]["value"] == 2.5  # published last


def test_query_signal_and_signals(d2):
    _series(d2)
    one = ok(d2.call("querySignal", {"identity": "dev1", "signal": "name", **window()}), 200)
    assert [p["value"] for p in one["data"]] == ["first"]
    merged = ok(
        d2.call(
            "querySignals",
            {
                "identity": "dev1",
                "signals": ["temp", "name"],
                "order": "asc",
                "limit": 3,
                **window(),
            },
        ),
        200,
    )
    assert [(p["signal"], p["value"]) for p in merged["data"]] == [
        ("temp", 1),
        ("name", "first"),
        ("temp", 2.5),
    ]
    assert merged["q"]["total"] == 12 and merged["q"]["signals"] == ["temp", "name"]
    default = ok(d2.call("querySignal", {"identity": "dev1", "signal": "temp"}), 200)
    assert default["q"]["total"] == 11  # the default range is the last 7 days


def test_aggregates_are_exact(d2):
    _series(d2)
    per_minute = ok(
        d2.call(
            "aggrquerySignal", {"identity": "dev1", "signal": "temp", "bucket": "1m", **window()}
        ),
        200,
    )
    rows = [(r["time"], r["count"], r["min"], r["max"], r["sum"]) for r in per_minute["data"]]
    assert rows == [
        (T0 + 240 * US, 2, 9, 10, 19),
        (T0 + 180 * US, 2, 7, 8, 15),
        (T0 + 120 * US, 2, 5, 6, 11),
        (T0 + 60 * US, 2, 3, 4, 7),
        (T0, 3, 1, 2.5, 5.5),
    ]
    five = ok(
        d2.call(
            "aggrquerySignals",
            {
                "identity": "dev2",
                "signals": "temp",
                "bucket": "5m",
                "fields": ["sum", "count"],
                "epoch": "s",
                **window(),
            },
        ),
        200,
    )
    assert five["data"] == [
        {
            "identity": "dev2",
            "resource": "temp",
            "signal": "temp",
            "time": NOW_S - 3600,
            "sum": 550,
            "count": 10,
        }
    ]
    hourly = ok(d2.call("aggrqueryResource", {"resource": "temp", "group": True, **window()}), 200)
    assert hourly["q"]["bucket"] == "1h" and hourly["q"]["fields"] == ["count", "max", "min", "sum"]
    assert [(g["identity"], g["values"][0]["sum"]) for g in hourly["data"]] == [
        ("dev1", 57.5),
        ("dev2", 550),
    ]
    text = ok(d2.call("aggrquerySignal", {"identity": "dev1", "signal": "name", **window()}), 200)
    assert [(r["count"], r["min"], r["sum"]) for r in text["data"]] == [(1, None, None)]


@pytest.mark.parametrize(
    "operation, params, field",
    [
        ("queryResource", {"resource": "temp", "limit": 10001}, "limit"),
        ("queryResource", {"resource": "temp", "limit": 0}, "limit"),
        ("queryResource", {"resource": "temp", "page": 0}, "page"),
        ("queryResource", {"resource": "temp", "start_time": 999999999}, "start_time"),
        ("queryResource", {"resource": "temp", "end_time": 10000000000}, "end_time"),
        (
            "queryResource",
            {"resource": "temp", "start_time": NOW_S, "end_time": NOW_S - 1},
            "start_time",
        ),
        ("queryResource", {"resource": "temp", "epoch": "ns"}, "epoch"),
        ("queryResource", {"resource": "temp", "sort": "value"}, "sort"),
        ("queryResource", {"resource": "temp", "order": "up"}, "order"),
        ("queryResource", {"resource": "temp", "group": "yes"}, "group"),
        ("queryResource", {"resource": "temp", "identities": "bad id"}, "identities[0]"),
        ("queryResource", {}, "resource"),
        ("querySignal", {"identity": "dev 1", "signal": "temp"}, "identity"),
        ("querySignal", {"identity": "dev1", "signal": "t.emp"}, "signal"),
        ("querySignals", {"identity": "dev1"}, "signals"),
        ("aggrquerySignal", {"identity": "dev1", "signal": "temp", "bucket": "2m"}, "bucket"),
        ("aggrquerySignal", {"identity": "dev1", "signal": "temp", "fields": ["avg"]}, "fields[0]"),
        ("latestSignalsSearch", {"limit": 2001}, "limit"),
        ("latestSignalsSearch", {"sort_key": "value"}, "sort_key"),
        ("latestSignalsSearch", {"page": 0}, "page"),
    ],
)
def test_query_bounds(d2, operation, params, field):
    error(d2.call(operation, params), 400, field)


def test_latest_signals_and_the_signal_parser(d2):
    _series(d2)
    ok(d2.call("updateGatewaySettings", {"enable_signal_parser": True}))
    ok(d2.call("addResource", {"alias": "data_in"}))
    ok(d2.call("addResource", {"alias": "config_io"}))
    gw = d2.gateway
    config = {"channels": {"001": {"display_name": "Temperature"}, "002": {}}}
    gw.write("dev2", {"config_io": json.dumps(config)})
    d2.sleep(2)
    gw.write("dev2", {"data_in": json.dumps({"001": 21.5, "002": True, "__error": {"003": "x"}})})
    latest = ok(d2.call("latestSignalsSearch", {}), 200)
    rows = [
        (r["identity"], r["resource"], r["signal_id"], r["signal_name"], r["last_value"])
        for r in latest["data"]
    ]
    assert rows == [
        ("dev1", "name", "name", "name", "first"),
        ("dev1", "temp", "temp", "temp", "10"),
        ("dev2", "data_in", "001", "Temperature", "21.5"),
        ("dev2", "data_in", "002", "002", "true"),
        ("dev2", "config_io", "config_io", "config_io", json.dumps(config)),
        ("dev2", "data_in", "data_in", "data_in", latest["data"][5]["last_value"]),
        ("dev2", "temp", "temp", "temp", "100"),
    ]
    assert latest["total"] == 7
    assert latest["data"][1]["last_update"] == "2025-12-31T23:04:30.000000Z"
    assert latest["data"][2]["last_insert"].startswith("2026-01-01T00:00:02.")
    page = ok(
        d2.call(
            "latestSignalsSearch", {"sort_key": "signal", "reverse": True, "limit": 2, "page": 2}
        ),
        200,
    )
    assert [(r["signal_id"], r["identity"]) for r in page["data"]] == [
        ("name", "dev1"),
        ("data_in", "dev2"),
    ]
    only = ok(d2.call("latestSignalsSearch", {"identities": ["dev2"], "signals": ["001"]}), 200)
    assert [r["last_value"] for r in only["data"]] == ["21.5"] and only["total"] == 1
    parsed = ok(d2.call("querySignal", {"identity": "dev2", "signal": "001"}), 200)
    assert [(p["resource"], p["value"]) for p in parsed["data"]] == [("data_in", 21.5)]


def test_subscribers(d2):
    ok(d2.call("addIdentity", {"identity": "dev1"}))
    d2.gateway.register_subscriber("dev1", "temp", "s1", "mqtt_qos1", offset=T0)
    d2.gateway.register_subscriber("dev1", "mode", "s2", "sync_to_cloud", status="error")
    one = ok(d2.call("querySignalSubscribers", {"identity": "dev1", "signal": "temp"}), 200)
    assert one["data"][0].pop("last_update").startswith("2026-01-01T00:00:00.")
    assert one == {
        "q": {"signals": ["temp"], "identity": "dev1"},
        "data": [
            {
                "offset": "2025-12-31T23:00:00.000000Z",
                "status": "ok",
                "identity": "dev1",
                "session_id": "s1",
                "signal_name": "temp",
                "session_type": "mqtt_qos1",
            }
        ],
    }
    both = ok(
        d2.call("querySignalsSubscribers", {"identity": "dev1", "signals": ["temp", "mode"]}), 200
    )
    assert [s["session_id"] for s in both["data"]] == ["s2", "s1"]
    d2.gateway.unregister_subscriber("dev1", "s1")
    assert (
        ok(d2.call("querySignalSubscribers", {"identity": "dev1", "signal": "temp"}), 200)["data"]
        == []
    )
    error(d2.call("querySignalsSubscribers", {"identity": "dev1", "signals": []}), 400, "signals")


def test_device_metrics(d2):
    gw = d2.gateway
    ok(d2.call("addResource", {"alias": "temp", "format": "number"}))
    for i in (1, 2):
        ok(d2.call("addIdentity", {"identity": f"dev{i}"}))
    a = gw.connect("dev1", ip="10.0.0.1", protocol="mqtt")
    d2.sleep(61)
    b = gw.connect("dev2", ip="10.0.0.2", protocol="mqtt")
    gw.write("dev1", {"temp": 1, "other": "x"}, session=a)
    gw.write("dev2", {"temp": 2}, session=b)
    d2.sleep(240)
    gw.disconnect(a.connection_id)
    gw.disconnect(b.connection_id)

    def metric(**query):
        return ok(d2.call("getDeviceMetrics", query), 200)

    def t(minute):
        return f"2026-01-01T00:{minute:02d}:00.000000Z"

    assert metric(metric_name="connection", aggregate_window="1m") == [
        {"time": t(0), "value": 1},
        {"time": t(1), "value": 1},
    ]
    assert metric(metric_name="connection", aggregate_window="5m") == [{"time": t(0), "value": 2}]
    assert metric() == [{"time": t(0), "value": 4}]  # connected samples in the default 1h
    assert metric(aggregate_fn="max", aggregate_window="1m") == [
        {"time": t(0), "value": 1},
        {"time": t(1), "value": 2},
        {"time": t(5), "value": 1},
    ]
    assert metric(aggregate_fn="min", aggregate_window="1m")[-1] == {"time": t(5), "value": 0}
    assert metric(metric_name="publish_resource_count", aggregate_fn="sum") == [
        {"time": t(0), "value": 3}
    ]
    assert metric(metric_name="publish_count", aggregate_fn="avg") == [{"time": t(0), "value": 1}]
    size = metric(metric_name="publish_size", aggregate_fn="sum")[0]["value"]
    assert size == len('{"temp":1,"other":"x"}') + len('{"temp":2}')
    assert metric(metric_name="disconnection", distinct=True) == [
        {"time": t(0), "value": 1, "identity": "dev1"},
        {"time": t(0), "value": 1, "identity": "dev2"},
    ]
    assert metric(metric_name="connection", aggregate_window="1m", limit=1, offset=1) == [
        {"time": t(1), "value": 1}
    ]
    assert metric(metric_name="connection", start_time=NOW_S + 60, end_time=NOW_S + 120) == [
        {"time": t(0), "value": 1}
    ]
    assert metric(metric_name="whitelisted") == [{"time": t(0), "value": 2}]
    assert metric(metric_name="deleted") == []


@pytest.mark.parametrize(
    "params, field",
    [
        ({"metric_name": "uptime"}, "metric_name"),
        ({"aggregate_window": "2m"}, "aggregate_window"),
        ({"aggregate_fn": "median"}, "aggregate_fn"),
        ({"limit": 0}, "limit"),
        ({"limit": 2001}, "limit"),
        ({"offset": -1}, "offset"),
        ({"start_time": 999999999}, "start_time"),
        ({"end_time": 10000000000}, "end_time"),
        ({"start_time": NOW_S, "end_time": NOW_S}, "start_time"),
        ({"distinct": "yes"}, "distinct"),
    ],
)
def test_device_metrics_bounds(d2, params, field):
    error(d2.call("getDeviceMetrics", params), 400, field)
