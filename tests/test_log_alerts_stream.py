"""log_alerts_stream end to end: awslogs payloads of two accounts on a moto Kinesis stream, read back with
GetRecords into the event Lambda builds, through app.py's Chalice handler, to the loopback Slack."""

from __future__ import annotations

import base64
import gzip
import json
import time

import boto3
import pytest

from chalicelib import state
from chalicelib.logalerts.subscription import FILTER_NAME
from tests.conftest import DATA

STREAM = "opswatch-local-logs"
SHOP, PAY = "111122223333", "444455556666"
CONTROL = "thirdparty-unidentified-repo__cwl_control_message_base64gzip_and_decoded.json"
OOM = 'Exception in thread "main" java.lang.OutOfMemoryError: Java heap space'


@pytest.fixture
def streaming(aws, local_webhook, monkeypatch):
    monkeypatch.setenv("OPSWATCH_LOG_ALERT_COOLDOWN_SECONDS", "900")
    monkeypatch.setenv("OPSWATCH_ACCOUNT_NAMES", json.dumps({SHOP: "shop-prod", PAY: "payments"}))
    state.create_table("opswatch-local-state")
    kinesis = boto3.client("kinesis")
    kinesis.create_stream(StreamName=STREAM, ShardCount=1)
    return local_webhook


def payload(owner: str, group: str, messages: list[str], kind: str = "DATA_MESSAGE") -> bytes:
    """What a Logs destination puts on the stream: the gzipped JSON, as the awslogs event carries it."""
    start = int(time.time() * 1000) - 60_000
    doc = {
        "messageType": kind,
        "owner": owner,
        "logGroup": group,
        "logStream": "web/1",
        "subscriptionFilters": [FILTER_NAME],
        "logEvents": [{"id": str(i), "timestamp": start + i, "message": m} for i, m in enumerate(messages)],
    }
    return gzip.compress(json.dumps(doc).encode())


def put(*datas: bytes) -> list[str]:
    kinesis = boto3.client("kinesis")
    return [kinesis.put_record(StreamName=STREAM, Data=d, PartitionKey="p")["SequenceNumber"] for d in datas]


def lambda_event(after: str | None = None) -> dict:
    """The event Lambda's Kinesis poller hands the function, built from what GetRecords reads back."""
    kinesis = boto3.client("kinesis")
    summary = kinesis.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"]
    shard = kinesis.list_shards(StreamName=STREAM)["Shards"][0]["ShardId"]
    where = {"ShardIteratorType": "AT_SEQUENCE_NUMBER", "StartingSequenceNumber": after} if after else {}
    iterator = kinesis.get_shard_iterator(
        StreamName=STREAM, ShardId=shard, **(where or {"ShardIteratorType": "TRIM_HORIZON"})
    )["ShardIterator"]
    records = kinesis.get_records(ShardIterator=iterator)["Records"]
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r["PartitionKey"],
                    "sequenceNumber": r["SequenceNumber"],
                    "data": base64.b64encode(r["Data"]).decode(),
                    "approximateArrivalTimestamp": r["ApproximateArrivalTimestamp"].timestamp(),
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{shard}:{r['SequenceNumber']}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/opswatch-local-log_alerts_stream",
                "awsRegion": "us-east-1",
                "eventSourceARN": summary["StreamARN"],
            }
            for r in records
        ]
    }


def run(event: dict) -> dict:
    """Through app.py's Chalice handler, as Lambda calls it: Chalice must hand the partial batch response back."""
    import app

    return app.log_alerts_stream(event, None)


def test_a_malformed_record_is_a_batch_item_failure_while_the_others_alert(streaming, capsys):
    # A real CONTROL_MESSAGE (tests/data/SOURCES.md): CloudWatch checking the destination is reachable.
    control = json.loads((DATA / "events" / CONTROL).read_text())
    seqs = put(
        payload(SHOP, "/ecs/shop-api", [OOM, "GET / 200", OOM]),
        b"\x00\x01 not an awslogs payload",  # neither gzip nor JSON
        base64.b64decode(control["data"]),
        payload(PAY, "/ecs/payments", ["fatal error: out of memory"]),
    )
    result = run(lambda_event())
    assert result["batchItemFailures"] == [{"itemIdentifier": seqs[1]}]
    assert result["refused"][0]["sequence"] == seqs[1] and "not gzip" in result["refused"][0]["reason"]
    assert (result["records"], result["control"], result["events"]) == (4, 1, 4)
    posted = sorted(m.body["text"] for m in streaming.messages)
    assert len(posted) == 2
    assert posted[0].startswith("CRITICAL go-out-of-memory: 1 event in /ecs/payments")
    assert posted[1].startswith("CRITICAL java-out-of-memory: 2 events in /ecs/shop-api")
    # One cooldown per (account, log group, rule): each account's alert has its own.
    ids = {i["id"]["S"] for i in boto3.client("dynamodb").scan(TableName="opswatch-local-state")["Items"]}
    assert {
        f"cooldown#{SHOP}|/ecs/shop-api|java-out-of-memory",
        f"cooldown#{PAY}|/ecs/payments|go-out-of-memory",
    } <= ids
    assert '"RecordsUndecodable":[1.0]' in capsys.readouterr().out.replace(" ", "")

    # Lambda retries from the failed record on: the bad one fails again, the good one after it is not posted again.
    again = run(lambda_event(after=seqs[1]))
    assert again["batchItemFailures"] == [{"itemIdentifier": seqs[1]}]
    assert again["already_handled"] == 2 and again["posted"] == [] and again["held_back"] == []
    assert len(streaming.messages) == 2

    # New records after it still alert (and the held-back count is the cooldown's, not the retry's).
    put(payload(PAY, "/ecs/payments", ["GET /health 200"]))
    later = run(lambda_event(after=seqs[1]))
    assert (
        later["already_handled"] == 2
        and later["events"] == 1
        and later["batchItemFailures"] == [{"itemIdentifier": seqs[1]}]
    )


def test_events_left_out_of_a_record_are_named_with_the_record_not_only_counted(streaming, capsys, caplog):
    doc = json.loads(gzip.decompress(payload(SHOP, "/ecs/shop-api", [OOM, "ok"])))
    doc["logEvents"][1] = {"id": "1", "timestamp": "soon", "message": "no integer timestamp"}
    [seq] = put(gzip.compress(json.dumps(doc).encode()))
    result = run(lambda_event())
    assert result["batchItemFailures"] == [] and result["events"] == 1
    assert '"EventsMalformed":[1.0]' in capsys.readouterr().out.replace(" ", "")
    assert f"record {seq}: 1 events left out of the payload: logEvents[1] has no integer timestamp" in caplog.text


def test_an_alert_slack_refused_reports_its_records_and_the_retry_posts_it(streaming):
    seqs = put(payload(SHOP, "/ecs/shop-api", [OOM]), payload(PAY, "/ecs/payments", ["GET / 200"]))
    streaming.fail(500, times=4)  # the first try and its three retries
    result = run(lambda_event())
    assert result["batchItemFailures"] == [{"itemIdentifier": seqs[0]}]
    assert result["not_delivered"][0]["rule"] == "java-out-of-memory" and streaming.messages == []
    again = run(lambda_event(after=seqs[0]))  # the cooldown claim was released: the retry posts
    assert again["batchItemFailures"] == [] and again["already_handled"] == 1
    assert [m.body["text"].split(":")[0] for m in streaming.messages] == ["CRITICAL java-out-of-memory"]


def test_records_without_a_sequence_number_or_data_are_counted_not_fatal(streaming):
    event = lambda_event()  # empty stream: no records
    assert run(event)["batchItemFailures"] == []
    event = {"Records": [{"kinesis": {"sequenceNumber": "12", "data": "%%%"}, "eventID": "shardId-0:12"}, "junk", {}]}
    # "²" and "١٢" are digits to str.isdigit, and int() refuses the first: neither is a sequence number.
    event["Records"] += [{"kinesis": {"sequenceNumber": s, "data": "%%%"}} for s in ("²", "١٢")]
    result = run(event)
    assert result["records"] == 5 and result["batchItemFailures"] == [{"itemIdentifier": "12"}]
    assert "not base64" in result["refused"][0]["reason"]


def test_slack_render_shows_a_kinesis_event_as_the_function_posts_it(streaming, tmp_path):
    from tests.conftest import opswatch_here

    put(payload(SHOP, "/ecs/shop-api", [OOM]), b"junk")
    path = tmp_path / "kinesis.json"
    path.write_text(json.dumps(lambda_event()))
    r = opswatch_here("slack", "render", str(path))
    assert r.returncode == 0, r.stderr
    [message] = [json.loads(line) for line in r.stdout.splitlines()]
    assert "java-out-of-memory: 1 event in /ecs/shop-api" in json.dumps(message)


def kept(seqs: list[str]) -> str:
    """Lambda's on-failure record for a Kinesis batch it gave up on: the records' place, not their data."""
    kinesis = boto3.client("kinesis")
    arn = kinesis.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"]["StreamARN"]
    return json.dumps(
        {
            "requestContext": {
                "requestId": "c9b8fa9f-5a7f-4a5e-9f2b-6f0d5c1e2a11",
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:opswatch-local-log_alerts_stream",
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": 4,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": ""},
            "version": "1.0",
            "timestamp": "2026-12-02T03:00:00.000Z",
            "KinesisBatchInfo": {
                "shardId": "shardId-000000000000",
                "startSequenceNumber": seqs[0],
                "endSequenceNumber": seqs[-1],
                "approximateArrivalOfFirstRecord": "2026-12-02T02:59:00.000Z",
                "approximateArrivalOfLastRecord": "2026-12-02T02:59:01.000Z",
                "batchSize": len(seqs),
                "streamArn": arn,
            },
        }
    )


def test_failed_replay_reads_a_given_up_batch_back_from_the_stream(streaming):
    from tests.conftest import opswatch_here

    seqs = put(payload(SHOP, "/ecs/shop-api", [OOM]), b"junk")
    streaming.fail(500, times=4)  # Slack down while Lambda tried: the alert's record and the junk are reported
    assert run(lambda_event())["batchItemFailures"] == [{"itemIdentifier": s} for s in seqs]
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="opswatch-local-failed")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=kept(seqs[:1]))  # Lambda gave up on them (bisected apart)
    sqs.send_message(QueueUrl=url, MessageBody=kept(seqs[1:]))
    listed = opswatch_here("failed", "list")
    assert listed.returncode == 0 and f"1 records from {seqs[0]} to {seqs[0]}" in listed.stdout
    r = opswatch_here("failed", "replay", "--yes")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "replayed and deleted: log_alerts_stream" in r.stdout  # the alert, posted now
    assert "failed again, kept: log_alerts_stream" in r.stdout and f"failed again, from {seqs[1]}" in r.stdout
    assert [m.body["text"].split(":")[0] for m in streaming.messages] == ["CRITICAL java-out-of-memory"]


def storm_event(records: int, first: int) -> dict:
    """``records`` Kinesis records of one log storm: 2,000 events each, one OOM among repeated lines."""
    storm = base64.b64encode(payload(SHOP, "/ecs/shop-api", [OOM] + ["GET /api/orders 200 12ms"] * 1_999)).decode()
    arn = "arn:aws:kinesis:us-east-1:123456789012:stream/" + STREAM
    return {
        "Records": [
            {
                "kinesis": {"sequenceNumber": str(first + i), "data": storm},
                "eventID": f"shardId-000000000000:{first + i}",
                "eventSourceARN": arn,
            }
            for i in range(records)
        ]
    }


def test_a_log_storm_batch_is_decoded_one_record_at_a_time(streaming):
    """A storm of one repeated line compresses ~100x, so a batch within Lambda's 6 MB event can hold more
    decoded events than the function's 128 MB: only one record's payload may be held at a time, so a batch
    of eight records takes about the memory of one."""
    import tracemalloc

    def peak_of(event: dict) -> tuple[dict, int]:
        tracemalloc.start()
        try:
            return run(event), tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    run(storm_event(1, 10**20))  # posts the alert; the batches measured below take the same path (held back)
    one, one_peak = peak_of(storm_event(1, 10**20 + 1))
    eight, eight_peak = peak_of(storm_event(8, 10**20 + 2))
    assert (one["events"], eight["events"], eight["batchItemFailures"]) == (2_000, 16_000, [])
    [posted] = streaming.messages
    assert posted.body["text"].startswith("CRITICAL java-out-of-memory: 1 event in /ecs/shop-api")
    assert eight["held_back"][0]["events"] == 8
    assert eight_peak < 2 * one_peak, f"one record {one_peak / 1e6:.1f} MB, eight {eight_peak / 1e6:.1f} MB"


def test_a_record_whose_owner_or_log_group_cannot_be_is_refused_not_posted(streaming):
    """CloudWatch Logs writes the owner as a 12-digit account and a log group of at most 512 characters; a
    record naming anything else did not come from a Logs destination. Its cooldown key would pass DynamoDB's
    2,048-byte key, so every copy would post."""
    seqs = put(
        payload("<!channel> " + "9" * 3000, "/ecs/shop-api", [OOM]),
        payload(SHOP, "/g/" + "x" * 600, [OOM]),
        payload(SHOP, "/ecs/shop-api", [OOM]),
    )
    result = run(lambda_event())
    assert result["batchItemFailures"] == [{"itemIdentifier": s} for s in seqs[:2]]
    reasons = [r["reason"] for r in result["refused"]]
    assert "owner '<!channel> 9999" in reasons[0] and "not a 12-digit account id" in reasons[0]
    assert "log group of 603 characters" in reasons[1]
    [posted] = streaming.messages
    assert posted.body["text"].startswith("CRITICAL java-out-of-memory: 1 event in /ecs/shop-api")


def test_failed_replay_of_a_kept_batch_with_a_malformed_place_says_so(streaming):
    from tests.conftest import opswatch_here

    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="opswatch-local-failed")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=kept(["²"]))  # a digit to str.isdigit, not to int() or Kinesis
    r = opswatch_here("failed", "replay", "--yes")
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode == 1 and "does not say which stream records failed" in r.stdout + r.stderr, r.stdout + r.stderr


@pytest.mark.parametrize("cooldown", ["0", "900"])
def test_a_retry_posts_only_the_alert_slack_refused_not_its_log_groups_others(streaming, monkeypatch, cooldown):
    """Two rules match in one log group; Slack takes one alert and refuses the other. The group's records are
    retried: the retry posts the refused alert alone; the one posted is neither posted again (no cooldown)
    nor counted as held back (a cooldown: the next message would report events it already showed)."""
    monkeypatch.setenv("OPSWATCH_LOG_ALERT_COOLDOWN_SECONDS", cooldown)
    seqs = put(payload(SHOP, "/ecs/shop-api", [OOM, "fatal error: out of memory"]))
    streaming.fail(500, times=4)  # the first alert posted (with its three retries)
    first = run(lambda_event())
    [refused] = first["not_delivered"]
    [posted] = first["posted"]
    assert first["batchItemFailures"] == [{"itemIdentifier": seqs[0]}]
    again = run(lambda_event(after=seqs[0]))
    assert [p["rule"] for p in again["posted"]] == [refused["rule"]]
    assert again["held_back"] == [] and again["batchItemFailures"] == []
    assert sorted(m.body["text"].split(":")[0] for m in streaming.messages) == sorted(
        f"CRITICAL {r}" for r in (posted["rule"], refused["rule"])
    )


class Deadline:
    """A Lambda context whose remaining time is read from a list (the last value stays)."""

    def __init__(self, *remaining_ms: int) -> None:
        self.remaining = list(remaining_ms)

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining.pop(0) if len(self.remaining) > 1 else self.remaining[0]


def test_records_left_when_time_runs_short_are_retried_not_lost_to_a_timeout(streaming):
    """A storm batch can take longer to match than the function's timeout: past the deadline the records not
    yet decoded are reported for retry (the alerts so far are posted), rather than the whole batch timing out."""
    import app

    groups = ("/ecs/a", "/ecs/b", "/ecs/c")
    seqs = put(*(payload(SHOP, g, [OOM]) for g in groups))
    event = lambda_event()
    first = app.log_alerts_stream(event, Deadline(60_000, 1_000))
    assert first["batchItemFailures"] == [{"itemIdentifier": seqs[2]}] and first["deferred"] == 1
    assert [p["log_group"] for p in first["posted"]] == ["/ecs/a", "/ecs/b"]
    again = app.log_alerts_stream(lambda_event(after=seqs[2]), Deadline(60_000))
    assert again["batchItemFailures"] == [] and [p["log_group"] for p in again["posted"]] == ["/ecs/c"]
    assert len(streaming.messages) == 3
