"""Events that fail every retry are kept and replayable; Slack's 429 storm loses and repeats nothing.

Lambda itself (retrying an asynchronous event twice, then writing the invocation
record to the on-failure destination) is AWS's behaviour: ``lambda_async`` below
stands in for it. Everything else is opswatch's real code against moto and the
loopback Slack.
"""

from __future__ import annotations

import copy
import gzip
import json
import time
import uuid
from collections import defaultdict

import boto3
import pytest

from chalicelib import state
from chalicelib.alarms.handler import handle_sns_event
from chalicelib.embedded.slackserver import SlackServer
from tests.alb_lines import key, line
from tests.conftest import DATA, opswatch
from tests.test_alb_shipping import BUCKET, GROUP, s3_event

QUEUE = "opswatch-local-failed"
SNS_EVENT = json.loads((DATA / "events" / "aws-lambda-go__cloudwatch-alarm-sns-payload-single-metric.json").read_text())


@pytest.fixture
def stage(aws, monkeypatch):
    state.create_table()
    boto3.client("sqs").create_queue(QueueName=QUEUE)
    monkeypatch.setenv("OPSWATCH_STAGE", "local")
    monkeypatch.setenv("OPSWATCH_ALB_BUCKET", BUCKET)
    monkeypatch.setenv("OPSWATCH_ALB_LOG_GROUP", GROUP)
    monkeypatch.setenv("OPSWATCH_ALB_FORMAT", "json")
    monkeypatch.delenv("OPSWATCH_ALB_SHIP_FILTER", raising=False)
    return boto3.client("sqs").get_queue_url(QueueName=QUEUE)["QueueUrl"]


def lambda_async(function: str, handler, event: dict, queue_url: str) -> bool:
    """Lambda's asynchronous invocation: the event, then two retries, then the on-failure record."""
    for _ in range(3):
        try:
            handler(event)
            return True
        except Exception as exc:
            error = exc
    record = {
        "version": "1.0",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": f"arn:aws:lambda:us-east-1:123456789012:function:opswatch-local-{function}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": str(error), "errorType": type(error).__name__, "stackTrace": []},
    }
    boto3.client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps(record))
    return False


def alarm_event(name: str, state_value: str, old: str, at: float) -> dict:
    ev = copy.deepcopy(SNS_EVENT)
    rec = ev["Records"][0]
    msg = json.loads(rec["Sns"]["Message"])
    msg.update(
        AlarmName=name,
        NewStateValue=state_value,
        OldStateValue=old,
        StateChangeTime=time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime(at)),
    )
    msg["AlarmArn"] = f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"
    rec["Sns"]["Message"] = json.dumps(msg)
    rec["Sns"]["MessageId"] = str(uuid.uuid4())
    return ev


def test_failed_list_shows_function_time_error_and_source_without_secrets(stage):
    from tests.test_log_alerts_e2e import event as awslogs_event  # the real CloudWatch Logs envelope

    def boom(_event):
        raise RuntimeError("Slack said no: POST https://hooks.slack.com/services/T000/B000/XXXXSECRET (token=xoxb-1-2)")

    lambda_async("alarm_bridge", boom, alarm_event("api latency", "ALARM", "OK", time.time()), stage)
    lambda_async("alb_logs", boom, s3_event(key("lost")), stage)
    lambda_async("log_alerts", boom, awslogs_event(["java.lang.OutOfMemoryError"], group="/ecs/shop-api"), stage)
    r = opswatch("failed", "list")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "alarm_bridge" in out and "SNS" in out and "alarm api latency" in out
    assert "alb_logs" in out and "_lost.log.gz" in out
    assert "log_alerts" in out and "log group /ecs/shop-api (1 events)" in out
    assert "RetriesExhausted" in out and "RuntimeError: Slack said no" in out
    assert "XXXXSECRET" not in out and "xoxb-1-2" not in out and "[redacted]" in out
    assert "3 event(s) in opswatch-local-failed" in out
    r = opswatch("failed", "list", "--function", "alb_logs", "--format", "json")
    [row] = [json.loads(x) for x in r.stdout.splitlines()]
    assert row["function"] == "alb_logs" and row["source"].startswith("s3://opswatch-local-alb-logs/")
    # Listing takes nothing away.
    assert len(opswatch("failed", "list", "--format", "json").stdout.splitlines()) == 3


def test_failed_replay_ships_the_kept_object_and_deletes_only_what_succeeded(stage, s3):
    s3.create_bucket(Bucket=BUCKET)
    good = key("replayed")
    s3.put_object(Bucket=BUCKET, Key=good, Body=gzip.compress("\n".join(line() for _ in range(5)).encode()))

    def down(_event):
        raise ConnectionError("CloudWatch Logs unreachable")

    lambda_async("alb_logs", down, s3_event(good), stage)
    lambda_async("alb_logs", down, s3_event(key("gone-from-s3")), stage)
    r = opswatch("failed", "replay", "--yes")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "replayed and deleted: alb_logs s3://" in r.stdout and "failed again, kept: alb_logs" in r.stdout
    assert "1 replayed, 1 kept" in r.stdout
    events = boto3.client("logs").get_log_events(
        logGroupName=GROUP, logStreamName=good.rsplit("/", 1)[-1].removesuffix(".log.gz")
    )["events"]
    assert len(events) == 5
    [left] = [json.loads(x) for x in opswatch("failed", "list", "--format", "json").stdout.splitlines()]
    assert "gone-from-s3" in left["source"] and "NoSuchKey" in opswatch("failed", "replay", "--yes").stdout


def test_failed_replay_asks_first_and_keeps_everything_on_no(stage):
    lambda_async("alb_logs", lambda e: 1 / 0, s3_event(key("ask")), stage)
    r = opswatch("failed", "replay", stdin="n\n")
    assert "replay these 1 event(s)?" in r.stdout and "nothing replayed" in r.stdout
    assert len(opswatch("failed", "list", "--format", "json").stdout.splitlines()) == 1


def test_failed_setup_points_every_async_function_at_the_queue(stage):
    lam, iam = boto3.client("lambda"), boto3.client("iam")
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    from chalicelib.failed import ASYNC_FUNCTIONS

    for fn in ASYNC_FUNCTIONS:
        lam.create_function(
            FunctionName=f"opswatch-local-{fn}", Runtime="python3.12", Role=role, Handler="app.x",
            Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
        )  # fmt: skip
    r = opswatch("failed", "setup")
    assert r.returncode == 2 and "no function opswatch-local-log_alerts_stream" in r.stderr  # not deployed yet
    lam.create_function(
        FunctionName="opswatch-local-log_alerts_stream", Runtime="python3.12", Role=role, Handler="app.x",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
    )  # fmt: skip
    kinesis = boto3.client("kinesis")
    kinesis.create_stream(StreamName="opswatch-local-logs", ShardCount=1)
    stream = kinesis.describe_stream_summary(StreamName="opswatch-local-logs")["StreamDescriptionSummary"]
    uuid = lam.create_event_source_mapping(
        EventSourceArn=stream["StreamARN"], FunctionName="opswatch-local-log_alerts_stream", StartingPosition="LATEST"
    )["UUID"]
    r = opswatch("failed", "setup")
    assert r.returncode == 0, r.stderr
    arn = boto3.client("sqs").get_queue_attributes(QueueUrl=stage, AttributeNames=["QueueArn"])["Attributes"]
    for fn in ASYNC_FUNCTIONS:
        cfg = lam.get_function_event_invoke_config(FunctionName=f"opswatch-local-{fn}")
        assert cfg["DestinationConfig"]["OnFailure"]["Destination"] == arn["QueueArn"]
        assert cfg["MaximumRetryAttempts"] == 2
    # The stream function: partial batch responses, bounded retries, then the records' place in the queue.
    esm = lam.get_event_source_mapping(UUID=uuid)
    assert esm["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert esm["BisectBatchOnFunctionError"] is True and esm["MaximumRetryAttempts"] == 3
    assert esm["DestinationConfig"]["OnFailure"]["Destination"] == arn["QueueArn"]
    assert "partial batch responses, bisect, 3 retries" in r.stdout


def test_failed_list_without_a_queue_says_which(aws, monkeypatch):
    monkeypatch.setenv("OPSWATCH_STAGE", "local")
    r = opswatch("failed", "list")
    assert r.returncode == 2 and "cannot read the queue opswatch-local-failed" in r.stderr


def test_slack_answering_429_to_200_alarm_changes_delivers_each_once_in_order_or_keeps_it(stage, monkeypatch):
    slack = SlackServer()
    try:
        monkeypatch.setenv("OPSWATCH_SLACK_MODE", "webhook")
        monkeypatch.delenv("OPSWATCH_SLACK_SECRET", raising=False)
        monkeypatch.setenv("OPSWATCH_SLACK_WEBHOOK_URL", slack.webhook_url)
        # 100 alarms go to ALARM and back to OK within a minute: 200 changes, while Slack
        # answers 429 to the first 40 posts (so some messages exhaust every retry).
        slack.fail(429, times=40, retry_after=0)
        now = time.time() - 60
        changes = []
        for i in range(100):
            changes.append(alarm_event(f"alarm-{i:03d}", "ALARM", "OK", now + i * 0.2))
        for i in range(100):
            changes.append(alarm_event(f"alarm-{i:03d}", "OK", "ALARM", now + 30 + i * 0.2))
        kept = sum(not lambda_async("alarm_bridge", handle_sns_event, ev, stage) for ev in changes)
        assert kept >= 1  # the storm was long enough to exhaust retries
        r = opswatch("failed", "replay", "--yes")
        assert r.returncode == 0, r.stdout + r.stderr
        assert f"{kept} replayed, 0 kept" in r.stdout
        posted = defaultdict(list)
        for m in slack.messages:
            text = m.readable()
            name = next(w for w in text.replace("*", " ").split() if w.startswith("alarm-"))
            posted[name].append("ALARM" if "ALARM:" in text else "OK")
        assert len(posted) == 100
        assert all(sorted(v) == ["ALARM", "OK"] for v in posted.values())  # each change once
        in_order = sum(v == ["ALARM", "OK"] for v in posted.values())
        # Changes that reached Slack on their own arrive in order; only the kept ones were
        # replayed later, and they are the only ones that can be out of order.
        assert in_order >= 100 - kept
    finally:
        slack.close()


def test_replay_keeps_an_event_the_handler_cannot_use_instead_of_deleting_it(stage):
    lambda_async("alb_logs", lambda e: 1 / 0, {"Records": "not a list"}, stage)
    lambda_async("log_alerts", lambda e: 1 / 0, {"awslogs": {"data": "bm90IGd6aXA="}}, stage)
    r = opswatch("failed", "replay", "--yes")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "not an event the function can use: Records must be a list" in r.stdout
    assert "not an event the function can use: awslogs.data is not gzip" in r.stdout
    assert "0 replayed, 2 kept" in r.stdout
    rows = [json.loads(x) for x in opswatch("failed", "list", "--format", "json").stdout.splitlines()]
    assert len(rows) == 2
    assert any(row["source"].startswith("an undecodable CloudWatch Logs payload") for row in rows)


def test_a_record_whose_hold_ran_out_while_reading_is_listed_and_replayed_once(aws):
    """A record comes back once its hold runs out (a long queue read for more than the hold): it was kept twice,
    so replayed twice, and the reading never ended while records kept coming back. Here the hold is 0 s."""
    from tests.bounded import run_code

    code = """
import boto3
from chalicelib import failed
sqs = boto3.client("sqs")
url = sqs.create_queue(QueueName=failed.queue_name())["QueueUrl"]
for i in range(3):
    sqs.send_message(QueueUrl=url, MessageBody="{}")
got = failed.receive(hold_seconds=0)
print(len(got), len({f.message_id for f in got}))
"""
    r = run_code(code, seconds=30, address_space_mb=1024, env={"OPSWATCH_STAGE": "local"})
    assert r.returncode == 0 and r.stdout.split() == ["3", "3"], (r.stdout, r.stderr[-2000:])
