"""Events that failed all of Lambda's retries: kept in the stage's SQS queue, listed, replayed.

Each asynchronous function (``alb_logs``, ``log_alerts``, ``alarm_bridge``,
``alarm_events``) has an on-failure destination, the queue
``opswatch-<stage>-failed`` (``OPSWATCH_FAILED_QUEUE``). Lambda puts there an
invocation record: the original event (``requestPayload``), the function, the
time, and the error (``responsePayload``). ``opswatch failed list`` shows them;
``opswatch failed replay`` sends each event back through the same handler and
deletes the message only once the handler succeeded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chalicelib import boundedjson, settings
from chalicelib.aws import client
from chalicelib.redact import redact

ASYNC_FUNCTIONS = ("alb_logs", "log_alerts", "alarm_bridge", "alarm_events", "slack_actions")
RETRIES = 2  # Lambda's default for asynchronous invocations, set explicitly by ``setup``
MAX_EVENT_AGE_SECONDS = 6 * 3600


def queue_name() -> str:
    return settings.failed_queue()


def function_name(short: str) -> str:
    return f"opswatch-{settings.stage()}-{short}"


def queue_url(sqs=None) -> str:
    sqs = sqs or client("sqs")
    return sqs.get_queue_url(QueueName=queue_name())["QueueUrl"]


STREAM_FUNCTIONS = ("log_alerts_stream",)  # read by an event source mapping, not invoked asynchronously
STREAM_RETRIES = 3  # then the shard moves on and the failed records' place in the stream is kept in the queue
MAX_RECORD_AGE_SECONDS = 6 * 3600  # the stream keeps records 24 hours: the kept place can still be read


def setup_stream(lam, short: str, queue_arn: str) -> str:
    """The stream function's event source mapping: partial batch responses, bounded retries, the failed queue.

    Chalice creates the mapping but has no setting for any of these, so they are set here, after deploy.
    """
    name = function_name(short)
    mappings = lam.list_event_source_mappings(FunctionName=name).get("EventSourceMappings") or []
    if not mappings:  # AWS finds them by name or ARN; some endpoints only by the form they were made with
        try:
            arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
        except lam.exceptions.ResourceNotFoundException:
            raise LookupError(f"no function {name}: run `chalice deploy` first") from None
        mappings = lam.list_event_source_mappings(FunctionName=arn).get("EventSourceMappings") or []
    if not mappings:
        raise LookupError(f"{name} has no event source mapping: run `chalice deploy` first")
    for m in mappings:
        lam.update_event_source_mapping(
            UUID=m["UUID"],
            FunctionResponseTypes=["ReportBatchItemFailures"],
            BisectBatchOnFunctionError=True,
            MaximumRetryAttempts=STREAM_RETRIES,
            MaximumRecordAgeInSeconds=MAX_RECORD_AGE_SECONDS,
            ParallelizationFactor=1,  # one batch per shard at a time: what the shard progress relies on
            DestinationConfig={"OnFailure": {"Destination": queue_arn}},
        )
    return name


def setup() -> list[str]:
    """Point each asynchronous function's on-failure destination at the stage's queue (idempotent).

    And the stream function's event source mapping (``setup_stream``).
    """
    sqs, lam = client("sqs"), client("lambda")
    arn = sqs.get_queue_attributes(QueueUrl=queue_url(sqs), AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    done = []
    for short in ASYNC_FUNCTIONS:
        lam.put_function_event_invoke_config(
            FunctionName=function_name(short),
            MaximumRetryAttempts=RETRIES,
            MaximumEventAgeInSeconds=MAX_EVENT_AGE_SECONDS,
            DestinationConfig={"OnFailure": {"Destination": arn}},
        )
        done.append(function_name(short))
    for short in STREAM_FUNCTIONS:
        done.append(setup_stream(lam, short, arn))
    return done


@dataclass
class Failed:
    """One kept invocation record."""

    message_id: str
    receipt: str
    function: str  # alb_logs, log_alerts, ...
    time: str
    condition: str  # RetriesExhausted, EventAgeExceeded
    error: str
    source: str
    payload: object

    def summary(self) -> dict:
        return {
            "id": self.message_id,
            "function": self.function,
            "time": self.time,
            "condition": self.condition,
            "error": self.error,
            "source": self.source,
        }


def _short_function(arn: str) -> str:
    name = arn.split(":function:", 1)[-1].split(":", 1)[0]
    prefix = f"opswatch-{settings.stage()}-"
    return name.removeprefix(prefix)


def describe_source(payload) -> str:
    """What the event was about, in a few words: the object, the log group, the alarm."""
    if not isinstance(payload, dict):
        return "an event of unknown shape"
    try:
        if "awslogs" in payload:
            from chalicelib.logalerts.payload import PayloadError, decode

            try:
                batch = decode(payload)
            except PayloadError as exc:
                return f"an undecodable CloudWatch Logs payload ({exc})"
            return f"log group {batch.log_group} ({len(batch.events)} events)"
        records = payload.get("Records")
        if isinstance(records, list) and records:
            rec = records[0]
            if "s3" in rec:
                more = f" and {len(records) - 1} more" if len(records) > 1 else ""
                return f"s3://{rec['s3']['bucket']['name']}/{rec['s3']['object']['key']}{more}"
            if "Sns" in rec:
                msg = rec["Sns"].get("Message", "")
                try:
                    name = boundedjson.loads(msg).get("AlarmName")
                except (ValueError, TypeError, AttributeError):
                    name = None
                topic = rec["Sns"].get("TopicArn", "").rsplit(":", 1)[-1]
                return f"SNS {topic}" + (f": alarm {name}" if name else "")
        info = payload.get("KinesisBatchInfo")
        if isinstance(info, dict):
            stream = str(info.get("streamArn", "")).rsplit("/", 1)[-1]
            return (
                f"Kinesis {stream} {info.get('shardId')}: {info.get('batchSize')} records from "
                f"{info.get('startSequenceNumber')} to {info.get('endSequenceNumber')}"
            )
        if payload.get("detail-type"):
            name = (payload.get("detail") or {}).get("alarmName")
            return f"EventBridge {payload['detail-type']}" + (f": alarm {name}" if name else "")
    except (ValueError, KeyError, TypeError, OSError):
        pass
    return "an event of unknown shape"


def _parse(msg: dict) -> Failed:
    """One queue message as a record; never raises on its body (one bad record must not stop the tools)."""
    undecodable = ""
    try:
        body = boundedjson.loads(msg["Body"])
    except ValueError as exc:  # deep or malformed JSON: listed with the reason, never replayed
        body, undecodable = None, f"undecodable record: {exc}"
    if not isinstance(body, dict):
        body = {}  # not a Lambda invocation record: listed as unknown, never replayed
    ctx = body.get("requestContext") or {}
    resp = body.get("responsePayload") or {}
    if isinstance(resp, dict):
        error = f"{resp.get('errorType', 'error')}: {resp.get('errorMessage', '')}".strip()
    else:
        error = str(resp)
    error = undecodable or error
    payload = body.get("requestPayload")  # as Lambda kept it: the handler judges its shape
    if payload is None and isinstance(body.get("KinesisBatchInfo"), dict):
        payload = {"KinesisBatchInfo": body["KinesisBatchInfo"]}  # a stream's record: the place, not the data
        error = error if resp else f"{ctx.get('condition') or 'failed'}: records kept in the stream"
    return Failed(
        message_id=msg["MessageId"],
        receipt=msg["ReceiptHandle"],
        function=_short_function(ctx.get("functionArn", "")) or "unknown",
        time=body.get("timestamp", ""),
        condition=ctx.get("condition", ""),
        error=redact(error)[:300],
        source=redact(describe_source(payload)),
        payload=payload,
    )


def receive(function: str | None = None, hold_seconds: int = 60) -> list[Failed]:
    """Every kept record (of ``function``), each hidden from other readers for ``hold_seconds`` while we look.

    Records of other functions are made visible again before this returns.
    """
    sqs = client("sqs")
    url = queue_url(sqs)
    # By message id: a record whose hold ran out while the queue was read (a long queue, or hold_seconds
    # shorter than the reading) comes back; kept once, with its newest receipt, it is replayed once, and
    # the reading ends when a whole batch brings nothing new (it would never end otherwise).
    # A short poll (wait 0) asks only some of SQS's servers and may come back empty while records remain;
    # so an empty answer is confirmed by one long poll (wait 1 s), which asks them all, before the end.
    mine: dict[str, Failed] = {}
    others: dict[str, Failed] = {}
    wait = 0
    try:
        while True:
            resp = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=hold_seconds, WaitTimeSeconds=wait
            )
            msgs = resp.get("Messages") or []
            fresh = False
            for m in msgs:
                f = _parse(m)
                fresh = fresh or (f.message_id not in mine and f.message_id not in others)
                (mine if function is None or f.function == function else others)[f.message_id] = f
            if fresh:
                wait = 0
            elif wait:
                return list(mine.values())
            else:
                wait = 1
    finally:
        for f in others.values():
            release(f)


def release(f: Failed) -> None:
    """Make a record visible again at once (it stays in the queue)."""
    client("sqs").change_message_visibility(QueueUrl=queue_url(), ReceiptHandle=f.receipt, VisibilityTimeout=0)


def delete(f: Failed) -> None:
    client("sqs").delete_message(QueueUrl=queue_url(), ReceiptHandle=f.receipt)


MAX_STREAM_RECORDS = 10_000  # Lambda's largest Kinesis batch
_SEQUENCE = re.compile(r"[0-9]{1,128}")  # ASCII: str.isdigit takes "²", which Kinesis answers with a 500


def stream_event(info: dict) -> dict:
    """The Kinesis event Lambda gave up on, read back from the stream at the place its record kept.

    Raises ``LookupError`` when the records are no longer there (the stream keeps them 24 hours by default).
    """
    kinesis = client("kinesis")
    arn, shard = str(info.get("streamArn", "")), str(info.get("shardId", ""))
    start, end = str(info.get("startSequenceNumber", "")), str(info.get("endSequenceNumber", ""))
    if not (arn and shard and _SEQUENCE.fullmatch(start) and _SEQUENCE.fullmatch(end)):
        raise LookupError("the kept record does not say which stream records failed")
    try:
        iterator = kinesis.get_shard_iterator(
            StreamARN=arn, ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber=start
        )["ShardIterator"]
    except kinesis.exceptions.ResourceNotFoundException:
        raise LookupError(f"the stream or shard {shard} of {arn} is gone") from None
    records: list[dict] = []
    while iterator and len(records) < MAX_STREAM_RECORDS:
        page = kinesis.get_records(ShardIterator=iterator, Limit=1000, StreamARN=arn)
        for r in page.get("Records", []):
            if int(r["SequenceNumber"]) > int(end):
                return _kinesis_event(records, arn, shard)
            records.append(r)
        if not page.get("Records") and not page.get("MillisBehindLatest"):
            break  # caught up with the shard: nothing more to read
        iterator = page.get("NextShardIterator")
    if not records or int(records[0]["SequenceNumber"]) != int(start):
        raise LookupError(f"records from {start} are no longer in the stream (it keeps them 24 hours)")
    return _kinesis_event(records, arn, shard)


def _kinesis_event(records: list[dict], arn: str, shard: str) -> dict:
    import base64

    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r.get("PartitionKey", ""),
                    "sequenceNumber": r["SequenceNumber"],
                    "data": base64.b64encode(r["Data"]).decode(),
                    "approximateArrivalTimestamp": r["ApproximateArrivalTimestamp"].timestamp(),
                },
                "eventSource": "aws:kinesis",
                "eventID": f"{shard}:{r['SequenceNumber']}",
                "eventSourceARN": arn,
            }
            for r in records
        ]
    }


def unusable(answer) -> str | None:
    """Why a handler's answer says it could not use the event (so replaying it mended nothing), if it does."""
    items = answer if isinstance(answer, list) else [answer]
    for item in items:
        if isinstance(item, dict):
            if isinstance(item.get("malformed"), str):  # log_alerts lists the events it left out: the rest counted
                return f"not an event the function can use: {item['malformed']}"
            if item.get("status") == "undecodable":
                return f"not an event the function can use: {item.get('reason')}"
            if item.get("batchItemFailures"):  # log_alerts_stream: records that failed again
                seqs = [str(f.get("itemIdentifier")) for f in item["batchItemFailures"][:3]]
                return f"{len(item['batchItemFailures'])} record(s) failed again, from {', '.join(seqs)}"
    return None
