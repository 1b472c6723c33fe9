"""Route-level metrics: route names, sums, percentiles, the cardinality cap, EMF validity, metrics-only shipping."""

from __future__ import annotations

import gzip
import json
import math
import random
from collections import Counter

import jsonschema
import orjson
import pytest
from botocore.exceptions import ClientError

from chalicelib.alb.parser import parse_line
from chalicelib.alb.routemetrics import MAX_BINS, OTHER, RouteMetrics, emf_document, histogram, percentile
from chalicelib.alb.routes import MALFORMED, Templates, route
from chalicelib.embedded import albtraffic
from tests.alb_lines import LB, key, line
from tests.conftest import ALB_DATA, DATA
from tests.test_alb_shipping import GROUP, events_in, s3_event, stream_of, upload

NS = "opswatch/alb-routes"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://shop.example.com:443/api/users/42", "/api/users/{id}"),
        ("https://shop.example.com:443/api/users/42/", "/api/users/{id}"),
        ("http://h:80/api/orders/8812/items?expand=true&page=2", "/api/orders/{id}/items"),
        ("https://h:443/v1/orders/7f9c0a4e-8e1b-4b5f-9d36-0c2a1e9b7d11", "/v1/orders/{uuid}"),
        ("https://h:443/v1/orders/7F9C0A4E8E1B4B5F9D360C2A1E9B7D11", "/v1/orders/{uuid}"),
        ("https://h:443/commits/3f2a9c1b7d6e5f40a1b2c3d4e5f60718293a4b5c", "/commits/{hex}"),
        ("https://h:443/reset/eyJhbGciOiJIUzI1NiJ9xY7", "/reset/{token}"),
        ("https://h:443/files/my%20report.pdf", "/files/{value}"),
        ("https://h:443/search/caf%C3%A9", "/search/{value}"),
        ("https://h:443/wiki/Zürich", "/wiki/{value}"),
        ("https://h:443/reports/2026-11-27/summary", "/reports/{id}/summary"),
        ("https://h:443/", "/"),
        ("https://h:443", "/"),
        ("https://h:443/?q=1", "/"),
        ("https://h:443/static/app.js#top", "/static/app.js"),
        ("https://h:443/v2/health", "/v2/health"),
        ("wss://h:443/socket.io/?EIO=4&transport=websocket", "/socket.io"),
        ("https://h:443/a/b/c/d/e/f/g/h/i/j/k", "/a/b/c/d/e/f/g/h/…"),
        ("-", MALFORMED),
        ("", MALFORMED),
        (None, MALFORMED),
        ("h:443", MALFORMED),
    ],
)
def test_route_names_on_real_url_shapes(url, expected):
    assert route(url) == expected


def test_a_very_long_path_gives_a_bounded_route():
    url = "https://h:443/" + "/".join("segment" * 20 for _ in range(40))
    r = route(url)
    assert len(r) < 8 * 10 + 5 and r.endswith("/…") and "{value}" in r


def test_templates_take_precedence_over_the_rules():
    t = Templates(["/api/orders/{order}/items/{item}", "/static/*", "/"])
    assert route("https://h:443/api/orders/88/items/3", t) == "/api/orders/{order}/items/{item}"
    assert route("https://h:443/static/js/app.3f2a9c1b77aa55.js", t) == "/static/*"
    assert route("https://h:443/static", t) == "/static/*"
    assert route("https://h:443/", t) == "/"
    assert route("https://h:443/api/orders/88", t) == "/api/orders/{id}"  # no template: the rules


@pytest.mark.parametrize("bad", ["api/x", "/a/*/b"])
def test_bad_templates_are_refused_with_the_reason(bad):
    with pytest.raises(ValueError, match="template"):
        Templates([bad])


def records(n: int, seed: int = 7) -> list[dict]:
    return [parse_line(x) for x in albtraffic.lines(n, 1_790_000_000, seed=seed, spread_seconds=600)]


def test_aggregates_add_up_to_the_lines():
    recs = records(20_000)
    m = RouteMetrics(NS)
    for r in recs:
        m.add(r)
    aggs = [a.summary() for a in m.aggregates()]
    assert sum(a["requests"] for a in aggs) == len(recs) == m.lines
    assert sum(a["status_5xx"] for a in aggs) == sum(1 for r in recs if (r["elb_status_code"] or 0) >= 500)
    assert sum(a["status_4xx"] for a in aggs) == sum(1 for r in recs if 400 <= (r["elb_status_code"] or 0) < 500)
    assert sum(a["latency_count"] for a in aggs) == sum(1 for r in recs if r["target_processing_time"] >= 0)
    routes = {a["route"] for a in aggs}
    assert "/api/orders/{id}/items" in routes and MALFORMED in routes
    assert all(len(a["minute"]) == 16 for a in aggs)


def exact_percentile(data: list[float], p: float) -> float:
    s = sorted(data)
    return s[max(1, math.ceil(p / 100 * len(s))) - 1]


@pytest.mark.parametrize(
    ("name", "draw", "tolerance"),
    [
        # ~400 distinct millisecond values: bins of 5%.
        ("a typical minute: exponential, 50 ms mean, ms resolution", lambda r: round(r.expovariate(20), 3), 0.05),
        # Wider than 100 bins of 10% can hold: bins of 20%, so a percentile is within 10%.
        ("lognormal over five orders of magnitude", lambda r: round(r.lognormvariate(-3, 1.5), 6), 0.10),
        (
            "bimodal: cache hits and slow misses",
            lambda r: round(r.choice((0.002, 2.0)) * r.uniform(0.8, 1.25), 6),
            0.02,
        ),
    ],
)
def test_percentiles_from_the_published_arrays_match_exact_ones(name, draw, tolerance):
    rnd = random.Random(name)
    data = [draw(rnd) for _ in range(20_000)]
    values, counts = histogram(Counter(data))
    assert len(values) <= MAX_BINS and sum(counts) == len(data)
    for p in (50, 90, 99, 99.9):
        exact = exact_percentile(data, p)
        got = percentile(values, counts, p)
        assert abs(got - exact) <= tolerance * exact + 1e-9, (name, p, got, exact)


def test_the_histogram_keeps_the_sum_exact():
    rnd = random.Random(3)
    data = Counter(round(rnd.lognormvariate(-2, 2), 6) for _ in range(5000))
    values, counts = histogram(data)
    assert len(values) <= MAX_BINS
    assert sum(v * c for v, c in zip(values, counts, strict=True)) == pytest.approx(
        sum(v * c for v, c in data.items()), rel=1e-6
    )


def distinct_path_records(n: int) -> list[dict]:
    """n requests to n distinct word paths the rules cannot collapse, plus heavy traffic on a few routes."""
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
    out = []
    for i in range(n):
        slug = "-".join(words[int(d)] for d in f"{i:04d}")
        out.append(line(ts=1_790_000_000 + i % 300, path=f"blog/{slug}", status=200 if i % 7 else 503))
    for i in range(3000):
        out.append(line(ts=1_790_000_000 + i % 300, path=f"api/hot{i % 3}/{i}", tpt="0.250"))
    return [parse_line(x) for x in out]


def test_the_cardinality_cap_keeps_the_busiest_routes_and_sums_the_rest_under_other():
    recs = distinct_path_records(10_000)
    m = RouteMetrics(NS, limit=20)
    for r in recs:
        m.add(r)
    aggs = [a.summary() for a in m.aggregates()]
    routes = Counter()
    for a in aggs:
        routes[a["route"]] += a["requests"]
    assert len(routes) == 21 and OTHER in routes
    for hot in ("/api/hot0/{id}", "/api/hot1/{id}", "/api/hot2/{id}"):
        assert routes[hot] == 1000
    assert sum(routes.values()) == len(recs)
    assert sum(a["status_5xx"] for a in aggs) == sum(1 for r in recs if r["elb_status_code"] == 503)
    # 21 routes and the load balancer, four metrics each.
    assert m.metric_count() == 4 * 22


def test_past_the_tracking_bound_quiet_routes_fold_into_other_and_busy_late_ones_still_win():
    recs = distinct_path_records(3000)  # 3,000 one-off paths first, then three busy routes
    m = RouteMetrics(NS, limit=10, max_tracked=100)
    for r in recs:
        m.add(r)
    assert m.overflowed > 2900
    totals = Counter()
    for a in m.aggregates():
        totals[a.route] += a.cell.requests
    assert sum(totals.values()) == len(recs)
    assert totals["/api/hot0/{id}"] == 1000 and len(totals) == 11


# The embedded metric format, as AWS's specification defines it: a root with _aws metadata, a
# Timestamp in epoch milliseconds, metric directives whose dimension sets and metric names are
# members of the root, at most 100 metrics per directive, 30 dimensions per set, and histogram
# values of at most 100 bins with as many counts.
EMF_SCHEMA = {
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": {
                "Timestamp": {"type": "integer", "minimum": 0},
                "CloudWatchMetrics": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "properties": {
                            "Namespace": {"type": "string", "minLength": 1, "maxLength": 1024},
                            "Dimensions": {
                                "type": "array",
                                "items": {
                                    "type": "array",
                                    "maxItems": 30,
                                    "items": {"type": "string", "minLength": 1, "maxLength": 250},
                                },
                            },
                            "Metrics": {
                                "type": "array",
                                "maxItems": 100,
                                "items": {
                                    "type": "object",
                                    "required": ["Name"],
                                    "properties": {
                                        "Name": {"type": "string", "minLength": 1, "maxLength": 1024},
                                        "Unit": {"enum": ["Count", "Seconds", "Milliseconds", "None"]},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}
HISTOGRAM_SCHEMA = {
    "type": "object",
    "required": ["Values", "Counts", "Min", "Max", "Sum", "Count"],
    "properties": {
        "Values": {"type": "array", "maxItems": 100, "items": {"type": "number"}},
        "Counts": {"type": "array", "maxItems": 100, "items": {"type": "integer", "minimum": 1}},
    },
}


def check_emf(doc: dict) -> None:
    jsonschema.validate(doc, EMF_SCHEMA)
    assert len(orjson.dumps(doc)) < 256 * 1024
    for directive in doc["_aws"]["CloudWatchMetrics"]:
        for dims in directive["Dimensions"]:
            for d in dims:
                value = doc[d]
                assert isinstance(value, str) and 1 <= len(value) <= 1024
        for metric in directive["Metrics"]:
            value = doc[metric["Name"]]
            if isinstance(value, dict):
                jsonschema.validate(value, HISTOGRAM_SCHEMA)
                assert len(value["Values"]) == len(value["Counts"])
                assert value["Count"] == sum(value["Counts"])
                assert value["Min"] <= min(value["Values"]) and max(value["Values"]) <= value["Max"]
            else:
                assert isinstance(value, int | float)


def test_emf_documents_are_valid_and_within_limits_for_10000_distinct_paths():
    recs = distinct_path_records(10_000)
    # A wide latency spread, to force histograms past 100 distinct values.
    rnd = random.Random(5)
    for r in recs:
        r["target_processing_time"] = round(rnd.lognormvariate(-2, 2), 6)
    m = RouteMetrics(NS)
    for r in recs:
        m.add(r)
    docs = list(m.documents())
    assert docs
    for ts, doc in docs:
        check_emf(doc)
        assert ts == doc["_aws"]["Timestamp"] and ts % 60_000 == 0
    assert len({d["Route"] for _, d in docs}) == 51  # 50 routes and other
    assert sum(d["Requests"] for _, d in docs) == len(recs)


def test_a_document_without_latency_publishes_no_latency_metric():
    m = RouteMetrics(NS)
    m.add(parse_line(line(ts=1_790_000_000, tpt="-1", status=503)))
    [(_, doc)] = list(m.documents())
    check_emf(doc)
    assert [x["Name"] for x in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]] == ["Requests", "Status4xx", "Status5xx"]
    assert doc["Status5xx"] == 1 and "TargetLatency" not in doc


def test_emf_document_names_both_dimension_sets():
    m = RouteMetrics(NS)
    m.add(parse_line(line(ts=1_790_000_000, path="api/users/42")))
    [agg] = list(m.aggregates())
    _, doc = emf_document(NS, agg)
    assert doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["LoadBalancer", "Route"], ["LoadBalancer"]]
    assert (doc["LoadBalancer"], doc["Route"]) == (LB, "/api/users/{id}")


# Shipping: metrics-only mode and metrics alongside lines, on moto.


@pytest.fixture
def metrics_env(aws, s3, monkeypatch):
    from tests.test_alb_shipping import BUCKET

    s3.create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("OPSWATCH_ALB_BUCKET", BUCKET)
    monkeypatch.setenv("OPSWATCH_ALB_LOG_GROUP", GROUP)
    monkeypatch.delenv("OPSWATCH_ALB_SHIP_FILTER", raising=False)
    monkeypatch.delenv("OPSWATCH_ALB_ROUTE_METRICS", raising=False)
    return s3


def recent_lines(n: int) -> list[str]:
    import time

    start = time.time() - 600
    return [
        line(ts=start + i, status=(502 if i % 10 == 0 else 200), tpt=f"0.{i % 90 + 10:03d}", path=f"api/users/{i}")
        for i in range(n)
    ]


def test_metrics_only_ships_no_line_and_the_documents_account_for_every_line(metrics_env, monkeypatch):
    from chalicelib.alb.handler import handle_s3_event

    monkeypatch.setenv("OPSWATCH_ALB_FORMAT", "metrics")
    k = key("metrics-only")
    lines = recent_lines(500)
    upload(metrics_env, k, gzip.compress("\n".join([*lines, "not an alb line"]).encode()))
    [r] = handle_s3_event(s3_event(k))
    assert r["balanced"] and r["lines"] == 501
    assert (r["shipped"], r["filtered"], r["rejected"], r["aggregated"]) == (0, 500, 1, 500)
    with pytest.raises(ClientError, match="ResourceNotFound"):
        events_in(stream_of(k))  # no line was shipped: the stream was never created
    assert len(events_in("rejected/" + stream_of(k))) == 1
    docs = [json.loads(e["message"]) for e in events_in("metrics/" + stream_of(k))]
    assert len(docs) == r["metric_documents"] > 0
    for doc in docs:
        check_emf(doc)
    assert {d["Route"] for d in docs} == {"/api/users/{id}"}
    assert sum(d["Requests"] for d in docs) == 500
    assert sum(d["Status5xx"] for d in docs) == 50
    assert sum(d["TargetLatency"]["Count"] for d in docs) == 500
    assert r["metrics_published"] == 8


def test_metrics_with_a_ship_filter_ship_5xx_lines_and_count_everything(metrics_env, monkeypatch):
    from chalicelib.alb.handler import handle_s3_event

    monkeypatch.setenv("OPSWATCH_ALB_FORMAT", "metrics")
    monkeypatch.setenv("OPSWATCH_ALB_SHIP_FILTER", "elb_status_code >= 500")
    k = key("metrics-5xx")
    upload(metrics_env, k, gzip.compress("\n".join(recent_lines(200)).encode()))
    [r] = handle_s3_event(s3_event(k))
    assert (r["shipped"], r["filtered"], r["aggregated"], r["balanced"]) == (20, 180, 200, True)
    shipped = [json.loads(e["message"]) for e in events_in(stream_of(k))]
    assert {x["elb_status_code"] for x in shipped} == {502}
    docs = [json.loads(e["message"]) for e in events_in("metrics/" + stream_of(k))]
    assert sum(d["Requests"] for d in docs) == 200


def test_json_lines_and_route_metrics_together(metrics_env, monkeypatch):
    from chalicelib.alb.handler import handle_s3_event

    monkeypatch.setenv("OPSWATCH_ALB_FORMAT", "json")
    monkeypatch.setenv("OPSWATCH_ALB_ROUTE_METRICS", "true")
    k = key("json-and-metrics")
    upload(metrics_env, k, gzip.compress("\n".join(recent_lines(50)).encode()))
    [r] = handle_s3_event(s3_event(k))
    assert (r["shipped"], r["aggregated"]) == (50, 50)
    assert len(events_in(stream_of(k))) == 50
    assert sum(json.loads(e["message"])["Requests"] for e in events_in("metrics/" + stream_of(k))) == 50


def test_documents_are_sent_with_the_emf_header(metrics_env, monkeypatch):
    from chalicelib.alb.handler import handle_s3_event
    from chalicelib.aws import client

    monkeypatch.setenv("OPSWATCH_ALB_FORMAT", "metrics")
    seen: list[tuple[str, str | None]] = []

    def capture(request, **_):
        body = json.loads(request.body or b"{}")
        header = request.headers.get("x-amzn-logs-format")
        seen.append((body.get("logStreamName", ""), header.decode() if isinstance(header, bytes) else header))

    logs = client("logs")
    logs.meta.events.register("before-send.cloudwatch-logs.PutLogEvents", capture)
    try:
        k = key("emf-header")
        upload(metrics_env, k, gzip.compress("\n".join([*recent_lines(5), "junk"]).encode()))
        handle_s3_event(s3_event(k))
    finally:
        logs.meta.events.unregister("before-send.cloudwatch-logs.PutLogEvents", capture)
    headers = {stream.split("/")[0]: h for stream, h in seen}
    assert headers["metrics"] == "json/emf"
    assert headers["rejected"] is None  # only the metric documents are marked


def test_alb_parse_format_metrics_prints_one_object_per_minute_and_route(tmp_path):
    from tests.conftest import opswatch

    path = tmp_path / "traffic.log.gz"
    with gzip.open(path, "wt") as fh:
        for ln in albtraffic.lines(5000, 1_790_000_000, spread_seconds=240):
            fh.write(ln + "\n")
    r = opswatch("alb", "parse", "--format", "metrics", str(path))
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    for row in rows:
        assert {"minute", "elb", "route", "requests", "status_4xx", "status_5xx", "p50", "p90", "p99"} <= row.keys()
    assert sum(x["requests"] for x in rows) == 5000
    assert len({(x["minute"], x["elb"], x["route"]) for x in rows}) == len(rows)
    assert "EMF documents" in r.stderr and "distinct metrics" in r.stderr


def test_alb_parse_format_metrics_counts_rejects_and_reads_reference_lines():
    from tests.conftest import opswatch

    files = sorted(str(p) for p in ALB_DATA.glob("*.log"))
    r = opswatch("alb", "parse", "--format", "metrics", *files)
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    parsed = opswatch("alb", "parse", *files)
    assert sum(x["requests"] for x in rows) == len(parsed.stdout.splitlines())
    assert r.returncode == parsed.returncode


def test_a_bad_route_limit_is_a_clear_usage_error(monkeypatch):
    from tests.conftest import opswatch

    r = opswatch(
        "alb", "parse", "--format", "metrics", str(DATA / "alb" / "aws_doc_examples_2023-04.log"),
        env={"OPSWATCH_ALB_ROUTE_LIMIT": "lots"},
    )  # fmt: skip
    assert r.returncode == 2 and "OPSWATCH_ALB_ROUTE_LIMIT must be a whole number" in r.stderr
