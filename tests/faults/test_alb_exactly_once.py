"""ALB shipping under faults: each line lands once, or (where the fault makes that impossible) the stated bound holds.

Every test names the fault it injects through the fault proxy in front of moto
(real HTTP: botocore sees real errors, dropped connections and cut bodies) and
checks, line by line, that CloudWatch holds each line once: no duplicate, no gap.
"""

from __future__ import annotations

import gzip
import json
import os
import threading
import time
from collections import Counter
from contextlib import contextmanager

import boto3
import pytest

from chalicelib import state
from chalicelib.alb.checkpoint import ObjectBusy
from chalicelib.alb.handler import handle_s3_event
from chalicelib.aws import client
from tests.alb_lines import key, line
from tests.faultproxy import FaultProxy
from tests.test_alb_shipping import BUCKET, GROUP, s3_event, stream_of

PUT = "Logs_20140328.PutLogEvents"
N = 4000  # about five PutLogEvents calls of JSON events


@pytest.fixture
def proxy(aws, monkeypatch):
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    state.create_table()
    p = FaultProxy(aws.endpoint)
    for service in ("CLOUDWATCH_LOGS", "S3", "LAMBDA"):
        monkeypatch.setenv(f"AWS_ENDPOINT_URL_{service}", p.endpoint)
    monkeypatch.setenv("OPSWATCH_ALB_BUCKET", BUCKET)
    monkeypatch.setenv("OPSWATCH_ALB_LOG_GROUP", GROUP)
    monkeypatch.setenv("OPSWATCH_ALB_FORMAT", "json")
    monkeypatch.setenv("OPSWATCH_AWS_MAX_ATTEMPTS", "3")
    monkeypatch.delenv("OPSWATCH_ALB_SHIP_FILTER", raising=False)
    client.cache_clear()
    yield p
    p.close()
    client.cache_clear()


def direct(service: str):
    """A client straight to moto, past the proxy: the test's own setup and checks."""
    return boto3.client(service, endpoint_url=os.environ["AWS_ENDPOINT_URL"])


def numbered_object(name: str, n: int = N, junk_every: int = 0) -> tuple[str, dict]:
    """An object of n lines, each with its number in the URL (every ``junk_every``-th line not an ALB line)."""
    k = key(name)
    start = time.time() - 900
    lines = []
    for i in range(n):
        if junk_every and i % junk_every == 0:
            lines.append(f"junk line {i}")
        else:
            lines.append(line(start + i / 100, path=f"n/{i}"))
    direct("s3").put_object(Bucket=BUCKET, Key=k, Body=gzip.compress("\n".join(lines).encode()))
    return k, s3_event(k)


def landed(k: str) -> Counter:
    """How many times each line number landed, in the lines and the rejected streams together."""
    logs = direct("logs")
    seen: Counter = Counter()
    for stream in (stream_of(k), "rejected/" + stream_of(k)):
        token = None
        while True:
            kw = {"nextToken": token} if token else {}
            try:
                resp = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, startFromHead=True, **kw)
            except logs.exceptions.ResourceNotFoundException:
                break
            for e in resp["events"]:
                msg = json.loads(e["message"])
                if "raw" in msg:
                    seen[int(msg["raw"].rsplit(" ", 1)[-1])] += 1
                else:
                    seen[int(msg["request_url"].rsplit("/", 1)[-1])] += 1
            if resp["nextForwardToken"] == token or not resp["events"]:
                break
            token = resp["nextForwardToken"]
    return seen


def assert_each_once(k: str, n: int = N) -> None:
    seen = landed(k)
    missing = sorted(set(range(n)) - set(seen))
    twice = sorted(i for i, c in seen.items() if c > 1)
    assert not missing and not twice, f"missing {missing[:10]} ({len(missing)}), twice {twice[:10]} ({len(twice)})"


@pytest.mark.parametrize("sync", ["default", "every 1000 lines"])
@pytest.mark.parametrize(
    ("fault", "status", "error"),
    [
        ("a throttling storm", 400, "ThrottlingException"),
        ("a 5xx burst", 500, "ServiceUnavailableException"),
    ],
)
def test_cloudwatch_failing_mid_object_then_the_retry_ships_the_rest_once(
    proxy, monkeypatch, fault, status, error, sync
):
    if sync != "default":
        monkeypatch.setattr("chalicelib.alb.pipeline.SYNC_SECONDS", 0)  # a sync point every 1,000 lines
    k, event = numbered_object("storm", junk_every=97)
    proxy.fail_target, proxy.pass_first, proxy.fail_times = PUT, 3, -1  # three calls land, then every one fails
    proxy.status, proxy.error_type = status, error
    with pytest.raises(Exception, match=error):
        handle_s3_event(event)
    assert 0 < len(landed(k)) < N  # part of the object is in CloudWatch
    proxy.fail_times = 0  # CloudWatch recovers; Lambda retries the event
    [r] = handle_s3_event(event)
    assert r["balanced"] and r["lines"] == N and r["invocation"] == 2
    assert r["shipped"] + r["rejected"] == N
    assert_each_once(k)


def test_route_metrics_survive_a_failure_between_their_documents_and_the_next_sync(proxy, monkeypatch):
    # Metrics only; a sync every 1,000 lines; CloudWatch fails after a few calls. The retry must
    # close the same range as the documents already written, or their requests would count twice.
    monkeypatch.setenv("OPSWATCH_ALB_FORMAT", "metrics")
    monkeypatch.setattr("chalicelib.alb.pipeline.SYNC_SECONDS", 0)
    k, event = numbered_object("metrics-storm")
    proxy.fail_target, proxy.pass_first, proxy.fail_times = PUT, 2, -1
    proxy.status, proxy.error_type = 500, "ServiceUnavailableException"
    with pytest.raises(Exception, match="ServiceUnavailable"):
        handle_s3_event(event)
    proxy.fail_times = 0
    [r] = handle_s3_event(event)
    assert r["balanced"] and r["aggregated"] == N and r["filtered"] == N
    docs = direct("logs").get_log_events(
        logGroupName=GROUP, logStreamName="metrics/" + stream_of(k), startFromHead=True
    )
    assert sum(json.loads(e["message"])["Requests"] for e in docs["events"]) == N


def test_a_dropped_connection_after_put_log_events_may_repeat_that_one_call_and_never_leaves_a_gap(proxy):
    # PutLogEvents has no idempotency token: when the answer is lost, botocore sends the call again
    # and CloudWatch may hold that call's events twice. The guarantee is exactly that, and no gap.
    k, event = numbered_object("dropped")
    proxy.drop_target, proxy.drop_times = PUT, 1
    [r] = handle_s3_event(event)
    assert r["balanced"] and r["shipped"] == N
    seen = landed(k)
    assert set(seen) == set(range(N))  # no gap
    twice = sorted(i for i, c in seen.items() if c == 2)
    assert max(seen.values()) <= 2
    # The dropped call landed and botocore sent it again: its events, one run of lines, are there twice.
    assert twice, "the fault did not happen: the dropped call's events should be in CloudWatch twice"
    assert twice == list(range(twice[0], twice[-1] + 1)) and len(twice) < N
    assert len(twice) <= 10_000  # at most one PutLogEvents call's worth


def test_the_s3_body_cut_mid_object_resumes_from_the_checkpoint(proxy):
    k, event = numbered_object("cut", n=20_000)
    proxy.cut_path, proxy.cut_times = stream_of(k), 1
    with pytest.raises(Exception, match=r"(?i)read|connection|stream"):
        handle_s3_event(event)
    first = landed(k)
    assert 0 < len(first) < 20_000
    [r] = handle_s3_event(event)  # Lambda's retry
    assert r["balanced"] and r["lines"] == 20_000 and r["invocation"] == 2
    assert_each_once(k, 20_000)


class FakeLambdaContext:
    """The Lambda runtime's context object: its clock runs out after ``calls_left`` looks."""

    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:opswatch-local-alb_logs"

    def __init__(self, calls_left: int) -> None:
        self.calls_left = calls_left

    def get_remaining_time_in_millis(self) -> int:
        self.calls_left -= 1
        return 600_000 if self.calls_left > 0 else 10_000


def test_the_lambda_timeout_mid_object_is_handed_to_a_continuation_that_finishes_it(proxy):
    k, event = numbered_object("timeout", n=12_000, junk_every=101)
    invoked: list[dict] = []

    def invoke(body: bytes):
        invoked.append(json.loads(body))
        return 202, {"Content-Type": "application/json"}, b""

    proxy.answer_path["/functions/"] = invoke
    [r] = handle_s3_event(event, FakeLambdaContext(calls_left=4))
    assert r["continue_from"] is not None and 0 < r["continue_from"] < 12_000 and r["balanced"]
    [payload] = invoked
    assert payload["Records"][0]["opswatch"]["line"] == r["continue_from"]
    rest = handle_s3_event(payload, FakeLambdaContext(calls_left=10**6))  # Lambda runs the continuation
    [r2] = rest
    assert r2["resumed_from"] == r["continue_from"] and r2["lines"] == 12_000 and r2["balanced"]
    assert r2["shipped"] + r2["rejected"] == 12_000
    assert_each_once(k, 12_000)


class ShortOfTimeContext(FakeLambdaContext):
    """A function short of time from its first look at the clock on (a timeout of seconds)."""

    def get_remaining_time_in_millis(self) -> int:
        self.calls_left -= 1
        return 5_000 if self.calls_left >= 0 else 1_000  # the claim and the reserve, then short


def test_a_function_always_short_of_time_still_progresses_and_the_chain_ends(proxy):
    k, event = numbered_object("short", n=5000)
    invoked: list[dict] = []
    proxy.answer_path["/functions/"] = lambda body: (invoked.append(json.loads(body)) or 202, {}, b"")
    runs = 0
    while event is not None:
        runs += 1
        handle_s3_event(event, ShortOfTimeContext(2))
        event = invoked.pop() if invoked else None
        assert runs <= 6, "continuations chasing each other"
    assert runs == 5  # 1,000 lines each: the first look at the clock comes after a batch
    assert_each_once(k, 5000)


def test_the_same_s3_event_delivered_twice_ships_once(proxy):
    k, event = numbered_object("twice", n=500)
    handle_s3_event(event)
    [again] = handle_s3_event(event)
    assert again["skipped"].startswith("already shipped whole at ")
    assert_each_once(k, 500)


def test_two_invocations_for_the_same_object_at_once_ship_it_once(proxy):
    k, event = numbered_object("concurrent")
    proxy.delay[PUT] = 0.3  # the first invocation is still shipping when the second arrives
    results: dict[str, object] = {}

    def run(name: str) -> None:
        try:
            results[name] = handle_s3_event(event)
        except ObjectBusy as exc:
            results[name] = exc

    a = threading.Thread(target=run, args=("a",))
    a.start()
    time.sleep(0.2)
    run("b")
    a.join()
    assert isinstance(results["b"], ObjectBusy) and "another invocation" in str(results["b"])
    proxy.delay.clear()
    [retry] = handle_s3_event(event)  # Lambda retries the busy one later
    assert retry["skipped"].startswith("already shipped whole")
    assert_each_once(k)


@contextmanager
def dynamodb_failing(upstream: str, monkeypatch, times: int, status: int, error: str):
    """Every DynamoDB UpdateItem (``times`` of them, -1 for all) answered with ``status`` ``error``."""
    ddb = FaultProxy(upstream)
    ddb.fail_target, ddb.fail_times = "DynamoDB_20120810.UpdateItem", times
    ddb.status, ddb.error_type = status, error
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", ddb.endpoint)
    client.cache_clear()
    try:
        yield ddb
    finally:
        ddb.close()


def test_dynamodb_down_ships_everything_at_least_once_and_says_so(proxy, monkeypatch, capsys):
    # The state table unreachable (every DynamoDB call answers 500): shipping goes on, without
    # checkpoints. Every line lands; a redelivered event ships the object again (at least once).
    with dynamodb_failing(proxy.upstream, monkeypatch, -1, 500, "InternalServerError"):
        k, event = numbered_object("no-state", n=300)
        [r] = handle_s3_event(event)
        assert r["balanced"] and r["shipped"] == 300 and "InternalServerError" in r["checkpoint_error"]
        assert '"CheckpointErrors":[1.0]' in capsys.readouterr().out  # counted, for an alarm
        assert_each_once(k, 300)
        handle_s3_event(event)
        assert set(landed(k).values()) == {2}


def test_dynamodb_throttled_is_retried_and_shipping_stays_exactly_once(proxy, monkeypatch):
    with dynamodb_failing(proxy.upstream, monkeypatch, 2, 400, "ProvisionedThroughputExceededException"):
        k, event = numbered_object("ddb-throttled", n=300)
        [r] = handle_s3_event(event)
        assert r["checkpoint_error"] is None and r["shipped"] == 300
        [again] = handle_s3_event(event)
        assert again["skipped"].startswith("already shipped")
        assert_each_once(k, 300)


def test_alb_ship_interrupted_by_ctrl_c_resumes_where_it_stopped(proxy):
    import signal
    import subprocess
    import sys

    k, _ = numbered_object("ctrl-c", n=20_000)
    proxy.delay[PUT] = 0.25  # slow enough to interrupt part-way
    cmd = [sys.executable, "-m", "chalicelib.cli.main", "alb", "ship", f"s3://{BUCKET}/AWSLogs/"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while proxy.seen.count(PUT) < 3 and time.time() < deadline:
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, out + err
    assert "run the same command again to resume" in err
    part = landed(k)
    assert 0 < len(part) < 20_000 and max(part.values()) == 1
    proxy.delay.clear()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert_each_once(k, 20_000)
    third = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert "skipped 1: already shipped whole to /opswatch/alb" in third.stdout


def test_an_invocation_killed_outright_frees_its_object_when_its_time_would_have_run_out(proxy):
    # Out of memory or a crash: no exception handler runs, the lease is not released. It ends at
    # the invocation's deadline however often progress was saved, so Lambda's retry resumes.
    from chalicelib.alb.checkpoint import Checkpoint, Progress

    killed = Checkpoint("/opswatch/alb", "s3://b/k", '"etag-1"', lease_seconds=600, deadline=time.time() + 2)
    killed.claim()
    killed.save(Progress(line=3000, counts={"accepted": 3000}))  # a sync point, then the process dies
    retry = Checkpoint("/opswatch/alb", "s3://b/k", '"etag-1"', lease_seconds=600)
    with pytest.raises(ObjectBusy, match="another invocation is shipping it"):
        retry.claim()
    time.sleep(3)
    progress = retry.claim()
    assert progress.line == 3000 and progress.counts["accepted"] == 3000 and progress.invocations == 2
    with pytest.raises(ObjectBusy, match="lease on this object was lost"):
        killed.save(Progress(line=4000))  # should it come back to life, it stops at its next save


def test_alb_ship_with_cloudwatch_down_says_so_and_the_rerun_resumes(proxy):
    import subprocess
    import sys

    k, _ = numbered_object("cli-down", n=3000)
    proxy.fail_target, proxy.pass_first, proxy.fail_times = PUT, 1, -1
    proxy.status, proxy.error_type = 500, "ServiceUnavailableException"
    cmd = [sys.executable, "-m", "chalicelib.cli.main", "alb", "ship", f"s3://{BUCKET}/AWSLogs/"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "shipping s3://" in r.stderr and "ServiceUnavailable" in r.stderr
    assert "progress is saved: run the same command again to resume" in r.stderr
    assert "Traceback" not in r.stderr
    proxy.fail_times = 0
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert_each_once(k, 3000)


def small_batches(monkeypatch, max_bytes: int) -> None:
    """PutLogEvents calls of at most ``max_bytes``: a stand-in for the 1 MB limit, so a few events fill a call."""
    from functools import partial

    from chalicelib.cwlogs.batches import Batcher

    monkeypatch.setattr("chalicelib.cwlogs.writer.Batcher", partial(Batcher, max_bytes=max_bytes))


def all_events(stream: str) -> list[dict]:
    logs, out, token = direct("logs"), [], None
    while True:
        kw = {"nextToken": token} if token else {}
        resp = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, startFromHead=True, **kw)
        out += [json.loads(e["message"]) for e in resp["events"]]
        if resp["nextForwardToken"] == token or not resp["events"]:
            return out
        token = resp["nextForwardToken"]


@pytest.mark.parametrize(
    ("size", "kept"),
    [
        (900_000, 900_000),  # under the 1 MiB line limit: shipped whole, in parts
        (3 << 20, 1 << 20),  # over it: only its first 1 MiB is kept, in parts
    ],
    ids=["900 KB", "3 MB"],
)
def test_a_huge_junk_line_cut_across_calls_lands_whole_after_a_failure_between_its_parts(
    proxy, monkeypatch, size, kept
):
    # A huge line that is no ALB entry becomes many events of one line number in the rejected/
    # stream. The third PutLogEvents call fails part-way through them: the retry must ship every
    # part the first run had not stored, once, and the numbered lines around it once each.
    small_batches(monkeypatch, 200_000)  # about four parts a call
    n, at = 1000, 100  # the lines before it fill no call: the first calls are its parts
    k = key(f"huge-junk-{size}")
    start = time.time() - 900
    lines = [line(start + i / 100, path=f"n/{i}") for i in range(n)]
    lines.insert(at, "junk " + "x" * (size - 5))
    direct("s3").put_object(Bucket=BUCKET, Key=k, Body=gzip.compress("\n".join(lines).encode()))
    event = s3_event(k)
    proxy.fail_target, proxy.pass_first, proxy.fail_times = PUT, 2, -1
    proxy.status, proxy.error_type = 500, "ServiceUnavailableException"
    with pytest.raises(Exception, match="ServiceUnavailable"):
        handle_s3_event(event)
    stored_first = [m for m in all_events("rejected/" + stream_of(k)) if m["line"] == at + 1]
    assert 0 < len(stored_first) < stored_first[0]["parts"]  # the failure fell between the line's parts
    proxy.fail_times = 0
    [r] = handle_s3_event(event)
    assert r["balanced"] and r["lines"] == n + 1 and r["rejected"] == 1 and r["shipped"] == n
    parts = [m for m in all_events("rejected/" + stream_of(k)) if m["line"] == at + 1]
    total = parts[0]["parts"]
    assert total > 8
    assert sorted(m["part"] for m in parts) == list(range(1, total + 1)), "a part lost or stored twice"
    raw = "".join(m["raw"] for m in sorted(parts, key=lambda m: m["part"]))
    assert len(raw) == kept and raw.startswith("junk xxx") and set(raw[5:]) == {"x"}
    if size > kept:
        assert parts[0]["reason"].startswith(f"line over the length limit: {size} bytes")
    events = all_events(stream_of(k))
    assert sorted(int(e["request_url"].rsplit("/", 1)[-1]) for e in events) == list(range(n))


def test_route_metric_documents_of_one_sync_cut_across_calls_all_land_after_a_failure(proxy, monkeypatch):
    # Metrics only: 120 requests, each in its own minute, so one sync writes 120 EMF documents, all
    # carrying the sync's line. Small calls cut them into many; the third call fails. After the
    # retry, the stored documents must count every request once.
    monkeypatch.setenv("OPSWATCH_ALB_FORMAT", "metrics")
    small_batches(monkeypatch, 4_000)
    n = 120
    k = key("metric-docs")
    start = (int(time.time()) // 60) * 60 - 3 * 3600
    body = "\n".join(line(start + 60 * i + 1, path="api/orders") for i in range(n))
    direct("s3").put_object(Bucket=BUCKET, Key=k, Body=gzip.compress(body.encode()))
    event = s3_event(k)
    proxy.fail_target, proxy.pass_first, proxy.fail_times = PUT, 2, -1
    proxy.status, proxy.error_type = 500, "ServiceUnavailableException"
    with pytest.raises(Exception, match="ServiceUnavailable"):
        handle_s3_event(event)
    first = all_events("metrics/" + stream_of(k))
    assert 0 < sum(d["Requests"] for d in first) < n  # part of the documents are stored
    proxy.fail_times = 0
    [r] = handle_s3_event(event)
    assert r["balanced"] and r["aggregated"] == n and r["filtered"] == n
    docs = all_events("metrics/" + stream_of(k))
    assert sum(d["Requests"] for d in docs) == n
    per_minute = Counter((d["Route"], d["_aws"]["Timestamp"]) for d in docs)
    assert max(per_minute.values()) == 1, "a document stored twice"
