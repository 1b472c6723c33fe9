"""The ALB log Lambda end to end: S3 (moto, over HTTP) -> handler -> CloudWatch Logs (moto)."""

from __future__ import annotations

import copy
import gzip
import json
import os
import time
from urllib.parse import quote_plus

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib.alb.fields import FIELDS
from chalicelib.alb.handler import handle_s3_event
from chalicelib.aws import client
from tests.alb_lines import CUT_AT, LB, cut_gzip, key, line
from tests.conftest import ALB_DATA, DATA
from tests.faultproxy import FaultProxy

BUCKET = "opswatch-local-alb-logs"
GROUP = "/opswatch/alb"
S3_EVENT = json.loads((DATA / "events" / "awsdocs-s3__ObjectCreated_Put_example.json").read_text())


@pytest.fixture
def env(aws, s3, monkeypatch):
    s3.create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("OPSWATCH_ALB_BUCKET", BUCKET)
    monkeypatch.setenv("OPSWATCH_ALB_LOG_GROUP", GROUP)
    monkeypatch.setenv("OPSWATCH_ALB_FORMAT", "json")
    monkeypatch.delenv("OPSWATCH_ALB_SHIP_FILTER", raising=False)
    return s3


def s3_event(*keys: str) -> dict:
    """The real S3 notification shape, pointed at our objects (keys URL-encoded as S3 sends them)."""
    ev = copy.deepcopy(S3_EVENT)
    template = ev["Records"][0]
    ev["Records"] = []
    for k in keys:
        rec = copy.deepcopy(template)
        rec["s3"]["bucket"]["name"] = BUCKET
        rec["s3"]["object"]["key"] = quote_plus(k, safe="/")
        ev["Records"].append(rec)
    return ev


def upload(s3, k: str, body: bytes) -> None:
    s3.put_object(Bucket=BUCKET, Key=k, Body=body)


def events_in(stream: str) -> list[dict]:
    logs = boto3.client("logs")
    out, token = [], None
    while True:
        kw = {"nextToken": token} if token else {}
        resp = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, startFromHead=True, **kw)
        out += resp["events"]
        if resp["nextForwardToken"] == token or not resp["events"]:
            return out
        token = resp["nextForwardToken"]


def stream_of(k: str) -> str:
    return k.rsplit("/", 1)[-1].removesuffix(".gz").removesuffix(".log")


def recent_reference_lines() -> list[str]:
    """AWS's documented examples with their times moved to now (CloudWatch refuses 14-day-old events)."""
    now = time.time() - 60
    out = []
    for ln in (ALB_DATA / "aws_doc_examples_2023-04.log").read_text().splitlines():
        t = ln.split(" ", 2)[1]
        out.append(ln.replace(t, time.strftime("%Y-%m-%dT%H:%M:%S.123456Z", time.gmtime(now))))
    return out


def test_reference_lines_land_as_json_with_athena_names(env):
    k = key("ref")
    lines = recent_reference_lines()
    upload(env, k, gzip.compress(("\n".join(lines) + "\n").encode()))
    [report] = handle_s3_event(s3_event(k))
    assert report["lines"] == 7 and report["shipped"] == 7 and report["balanced"]
    got = [json.loads(e["message"]) for e in events_in(stream_of(k))]
    assert len(got) == 7
    assert all(tuple(r)[: len(FIELDS)] == FIELDS for r in got)
    assert {r["type"] for r in got} == {"http", "https", "h2", "ws", "wss"}
    failed = [r for r in got if r["lambda_error_reason"]]
    assert failed[0]["elb_status_code"] == 502 and failed[0]["target_status_code"] is None


def test_event_time_is_the_request_time(env):
    t = time.time() - 3600
    k = key("time")
    upload(env, k, gzip.compress((line(t + 5) + "\n" + line(t) + "\n").encode()))
    handle_s3_event(s3_event(k))
    ts = [e["timestamp"] for e in events_in(stream_of(k))]
    assert ts == [int(t * 1000), int((t + 5) * 1000)]  # chronological within the call


def test_raw_alb_format_ships_the_line_as_written(env, monkeypatch):
    monkeypatch.setenv("OPSWATCH_ALB_FORMAT", "alb")
    k = key("raw")
    lines = recent_reference_lines()
    upload(env, k, gzip.compress("\n".join(lines).encode()))
    [report] = handle_s3_event(s3_event(k))
    assert report["shipped"] == 7
    assert sorted(e["message"] for e in events_in(stream_of(k))) == sorted(lines)


def test_every_line_is_accounted_for_and_rejects_keep_their_text(env):
    k = key("mixed")
    good = [line(status=200), line(status=503)]
    bad = ["not an alb line", "", "tls 2.0 2018-12-20T02:59:40 net/my-nlb/c6e7 g3d4 1.2.3.4:1 5.6.7.8:80 5 2 98 246"]
    old = [line(time.time() - 30 * 86400)]
    body = "\r\n".join(good + bad + old).encode() + b"\r\n\xff\xfe\x00binary\r\n"
    upload(env, k, gzip.compress(body))
    [r] = handle_s3_event(s3_event(k))
    assert (r["lines"], r["shipped"], r["rejected"], r["refused"]) == (7, 2, 4, 1)
    assert r["balanced"]
    assert r["refused_reasons"] == {"older than 14 days": 1}
    rejects = [json.loads(e["message"]) for e in events_in("rejected/" + stream_of(k))]
    assert [x["line"] for x in rejects] == [3, 4, 5, 7]
    assert rejects[0]["raw"] == "not an alb line" and rejects[0]["source"] == f"s3://{BUCKET}/{k}"
    assert rejects[1]["reason"] == "empty line"
    assert rejects[2]["reason"].startswith("field 2 (time)")
    assert rejects[3]["reason"] == "not UTF-8 text: byte 1 is 0xff" and rejects[3]["raw"].startswith("\\xff\\xfe")


def test_bad_objects(env):
    lines = [line() for _ in range(200)]
    gz = gzip.compress(("\n".join(lines) + "\n").encode())
    cases = {
        "empty": b"",
        "truncated": gz[: len(gz) // 2],
        "plain": ("\n".join(lines) + "\n").encode(),
        "garbage": os.urandom(50_000),
        "bigline": gzip.compress(b"x" * 1_000_000 + b"\n" + lines[0].encode() + b"\n"),
    }
    keys = {name: key(name) for name in cases}
    for name, body in cases.items():
        upload(env, keys[name], body)
    reports = {r["source"].rsplit("_", 1)[-1].split(".")[0]: r for r in handle_s3_event(s3_event(*keys.values()))}
    assert all(r["balanced"] for r in reports.values())
    assert reports["empty"]["lines"] == 0 and reports["empty"]["object_error"] is None
    assert reports["truncated"]["object_error"].startswith("gzip stream truncated")
    assert 0 < reports["truncated"]["shipped"] < 200
    assert reports["plain"]["shipped"] == 200 and not reports["plain"]["compressed"]
    assert reports["garbage"]["shipped"] == 0 and reports["garbage"]["rejected"] == reports["garbage"]["lines"] > 0
    big = reports["bigline"]
    assert (big["shipped"], big["rejected"]) == (1, 1)
    parts = [json.loads(e["message"]) for e in events_in("rejected/" + stream_of(keys["bigline"]))]
    assert len(parts) > 1 and {p["parts"] for p in parts} == {len(parts)}
    assert "".join(p["raw"] for p in parts) == "x" * 1_000_000


def test_the_line_a_truncated_object_cuts_is_rejected_not_shipped(env):
    # The fragment after the last whole line parsed (an ALB line cut after its trace_id) and was shipped as whole.
    k, cut = key("cut"), line()[:CUT_AT]
    upload(env, k, cut_gzip([line() for _ in range(3)], cut))
    [r] = handle_s3_event(s3_event(k))
    assert (r["lines"], r["shipped"], r["rejected"], r["balanced"]) == (4, 3, 1, True)
    assert r["reject_reasons"] == {"truncated": 1} and r["object_error"].startswith("gzip stream truncated")
    [rejected] = [json.loads(e["message"]) for e in events_in("rejected/" + stream_of(k))]
    assert rejected["line"] == 4 and rejected["reason"].startswith("truncated: ")
    assert rejected["raw"] == cut


def test_key_with_spaces_and_unicode(env):
    k = key("naïve file").replace("AWSLogs/", "my logs/AWSLogs/")
    upload(env, k, gzip.compress(line().encode()))
    [r] = handle_s3_event(s3_event(k))
    assert r["shipped"] == 1 and r["source"] == f"s3://{BUCKET}/{k}"


def test_non_access_logs_are_skipped_with_a_reason(env):
    conn = key("c").replace("_app.", "_conn_log.")
    upload(env, conn, gzip.compress(b'2024-10-04T17:05:15.514108Z 192.168.131.39 36280 443 - - - "-" - - - TID_1\n'))
    out = handle_s3_event(s3_event("AWSLogs/123456789012/ELBAccessLogTestFile", conn))
    assert [o["skipped"] for o in out] == [
        "the test object ALB writes when access logging is enabled",
        "an ALB connection log, not an access log",
    ]
    assert boto3.client("logs").describe_log_groups()["logGroups"] == []


def test_s3_test_event_is_not_an_error(env):
    assert handle_s3_event(json.loads((DATA / "events" / "awsdocs-s3__TestEvent_example.json").read_text())) == []


def test_ship_filter_counts_what_it_leaves_out(env, monkeypatch):
    monkeypatch.setenv("OPSWATCH_ALB_SHIP_FILTER", "elb_status_code >= 500 || target_processing_time > 1")
    k = key("filter")
    lines = [line(status=200), line(status=502), line(status=200, tpt="2.5"), line(status=404)]
    upload(env, k, gzip.compress("\n".join(lines).encode()))
    [r] = handle_s3_event(s3_event(k))
    assert (r["shipped"], r["filtered"], r["balanced"]) == (2, 2, True)
    shipped = [json.loads(e["message"]) for e in events_in(stream_of(k))]
    assert sorted(x["elb_status_code"] for x in shipped) == [200, 502]


def test_metrics_per_load_balancer_in_embedded_metric_format(env, capsys):
    k = key("metrics")
    upload(env, k, gzip.compress((line() + "\nbad\n").encode()))
    handle_s3_event(s3_event(k))
    emf = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' in x]
    [m] = emf
    assert m["LoadBalancer"] == LB
    assert m["LinesShipped"] == [1.0] and m["LinesRejected"] == [1.0]
    assert m["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "opswatch"


def test_many_lines_are_split_into_calls_and_all_land(env):
    k = key("many")
    now = time.time() - 600
    lines = [line(now + i / 1000, path="p" * 200) for i in range(12_000)]
    upload(env, k, gzip.compress("\n".join(lines).encode()))
    [r] = handle_s3_event(s3_event(k))
    assert r["shipped"] == 12_000
    assert len(events_in(stream_of(k))) == 12_000


@pytest.fixture
def proxy(env, aws, monkeypatch):
    p = FaultProxy(aws.endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", p.endpoint)
    monkeypatch.setenv("OPSWATCH_AWS_MAX_ATTEMPTS", "3")
    client.cache_clear()
    yield p
    p.close()
    client.cache_clear()


def test_throttling_is_retried_and_nothing_is_lost(proxy):
    k = key("throttle")
    upload(proxy_s3(), k, gzip.compress("\n".join(line() for _ in range(10)).encode()))
    proxy.fail_target, proxy.fail_times = "Logs_20140328.PutLogEvents", 2
    [r] = handle_s3_event(s3_event(k))
    assert r["shipped"] == 10
    assert proxy.seen.count("Logs_20140328.PutLogEvents") >= 3  # two refusals, then accepted


def test_persistent_5xx_fails_the_invocation_so_lambda_retries(proxy):
    k = key("down")
    upload(proxy_s3(), k, gzip.compress(line().encode()))
    proxy.fail_target, proxy.fail_times = "Logs_20140328.PutLogEvents", -1
    proxy.status, proxy.error_type = 500, "ServiceUnavailableException"
    with pytest.raises(ClientError, match="ServiceUnavailable"):
        handle_s3_event(s3_event(k))
    assert proxy.seen.count("Logs_20140328.PutLogEvents") == 3


def proxy_s3():
    return client("s3")
