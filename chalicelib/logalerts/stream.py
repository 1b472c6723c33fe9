"""The log_alerts_stream Lambda: CloudWatch Logs of every account, off the monitoring account's Kinesis stream.

CloudWatch Logs cannot subscribe a Lambda function of another account; member
accounts subscribe to a Logs destination in the monitoring account, which puts
each payload on a Kinesis stream as one record (the record's data is the same
gzipped JSON the ``awslogs`` event carries, control messages included). This
handler decodes every record, runs the same rules, grouping and cooldown as
``log_alerts`` (keyed by account, log group and rule), and answers with a
partial batch response:

- a record that is not an awslogs payload is logged with its sequence number
  and why, counted (``RecordsUndecodable``), and reported as a batch item
  failure; the others still alert. Lambda retries it a bounded number of times
  (``opswatch failed setup``: retries, bisect, record age) and then hands the
  shard and sequence numbers to the stage's failed queue, so it never blocks
  the shard for long and is never lost silently;
- an alert Slack did not take is released from its cooldown and the records
  that made it are reported, so the retry posts it;
- records a retry brings back but that were handled are skipped (``shardprogress``);
- records are decoded and matched one at a time, each one's events dropped once collected, so a
  batch takes about one payload's memory, not a hundred (a storm compresses ~100x);
- with less than ``RESERVE_MS`` of the invocation left, the records not yet read are reported for retry
  (``RecordsDeferred``) and the alerts so far are posted, rather than the whole batch timing out.

The response is ``{"batchItemFailures": [{"itemIdentifier": <sequence number>}]}``;
Lambda acts on it only when the event source mapping has
``FunctionResponseTypes: [ReportBatchItemFailures]``, which Chalice cannot set
and ``opswatch failed setup`` does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from chalicelib import settings
from chalicelib.logalerts import shardprogress
from chalicelib.logalerts.alerts import collect
from chalicelib.logalerts.handler import deliver_alerts
from chalicelib.logalerts.messages import rules_for
from chalicelib.logalerts.payload import LogBatch, PayloadError, decode
from chalicelib.logalerts.rules import Rule
from chalicelib.settings import ACCOUNT_ID
from chalicelib.settings import MAX_NAME as MAX_LOG_GROUP

logger = Logger(service="opswatch-logalerts")
# Left for posting the alerts and recording the shard's progress once the records stop being read: a storm
# batch (100 records of up to 10,000 events each) takes longer to match than the function's 60 s.
RESERVE_MS = 20_000
SEQUENCE = re.compile(r"[0-9]{1,128}")  # ASCII: str.isdigit takes "²", which int() refuses


@dataclass(frozen=True)
class Record:
    sequence: str
    batch: LogBatch | None  # None: refused (``reason``)
    reason: str | None = None


def _decode(rec: object, index: int) -> Record | None:
    """One Kinesis record of the event; None when it has no sequence number (it cannot be reported)."""
    kinesis = rec.get("kinesis") if isinstance(rec, dict) else None
    seq = kinesis.get("sequenceNumber") if isinstance(kinesis, dict) else None
    if not isinstance(seq, str) or not SEQUENCE.fullmatch(seq):
        logger.error(f"Records[{index}] is not a Kinesis record with a sequence number: skipped")
        return None
    try:
        batch = decode({"awslogs": {"data": kinesis.get("data")}})
    except PayloadError as exc:
        why = str(exc).replace("awslogs.data", "the record's data")
        return Record(seq, None, why)
    if not batch.control:
        why = _not_from_logs(batch)
        if why:
            return Record(seq, None, why)
    return Record(seq, batch)


def _not_from_logs(batch: LogBatch) -> str | None:
    """Why the payload cannot be one a Logs destination wrote (its owner and log group), or None.

    The owner is the account shown, routed on and part of the cooldown key: it must be an account id, and the
    log group a name CloudWatch Logs allows, so the key stays within DynamoDB's 2,048 bytes.
    """
    if not ACCOUNT_ID.fullmatch(batch.owner):
        return f"the payload's owner {batch.owner[:40]!r} is not a 12-digit account id"
    if not 1 <= len(batch.log_group) <= MAX_LOG_GROUP:
        return f"the payload's log group of {len(batch.log_group):,} characters is no log group name (1 to 512)"
    return None


def _out_of_time(context: object) -> bool:
    """Whether less than ``RESERVE_MS`` of the invocation is left (no context: no deadline)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return False
    try:
        return int(remaining()) < RESERVE_MS
    except (TypeError, ValueError):
        return False


def handle_kinesis_event(event: dict, context=None) -> dict:
    cfg = settings.log_alerts()
    rules = rules_for(cfg)
    metrics = EphemeralMetrics(namespace=settings.metrics_namespace(), service="opswatch-logalerts")
    raw = event.get("Records") if isinstance(event, dict) else None
    raw = raw if isinstance(raw, list) else []
    first = next((r for r in raw if isinstance(r, dict)), {})
    progress = shardprogress.load(
        shardprogress.key_of(str(first.get("eventSourceARN", "")), str(first.get("eventID", "")))
    )
    records: list[Record] = []  # each with its batch's events dropped once collected
    retried: set[int] = set()  # id() of the batches of records an earlier delivery asked to retry
    deferred: list[str] = []  # records not looked at: the deadline came first (reported, so Lambda retries them)
    unusable = skipped = control = malformed = over_limit = 0

    def decoded() -> Iterator[LogBatch]:
        """Each record's payload in turn, its events dropped once collected: at most two records' events are
        held, never the batch's (a storm of one repeated line compresses ~100x, so 6 MB of records can decode
        past the function's memory)."""
        nonlocal unusable, skipped, control, malformed, over_limit
        for i, rec in enumerate(raw):
            record = _decode(rec, i)
            if record is None:
                unusable += 1
                continue
            if progress.done(int(record.sequence)):
                skipped += 1
                continue
            if deferred or (records and _out_of_time(context)):
                deferred.append(record.sequence)
                continue
            batch = record.batch
            if batch is not None:
                control += batch.control
                left_out = len(batch.malformed) - (1 if batch.over_limit else 0)  # the over-limit note is no event
                malformed += left_out
                over_limit += batch.over_limit
                if batch.malformed:  # named, as log_alerts does: the count alone says neither where nor why
                    logger.warning(
                        f"record {record.sequence}: {left_out + batch.over_limit} events left out of the payload: "
                        f"{'; '.join(batch.malformed[:5])}",
                        extra={"sequence": record.sequence, "log_group": batch.log_group[:MAX_LOG_GROUP]},
                    )
                if progress.pending is not None and int(record.sequence) in progress.retry:
                    retried.add(id(batch))
                yield batch
                retried.discard(id(batch))
                record = replace(record, batch=replace(batch, events=(), malformed=()))
            records.append(record)

    def keep(batch: LogBatch, rule: Rule) -> bool:
        """A retried record's match makes an alert only if Slack refused that alert: the others were posted."""
        return id(batch) not in retried or f"{batch.owner}|{batch.log_group}|{rule.name}" in progress.pending

    collected = collect(decoded(), rules, keep)
    refused = [r for r in records if r.batch is None]
    for r in refused:
        logger.error(
            f"record {r.sequence} is not a CloudWatch Logs payload: {r.reason}", extra={"sequence": r.sequence}
        )
    good = [r for r in records if r.batch is not None]
    if deferred:
        logger.warning(
            f"{len(deferred)} records left for Lambda's retry: less than {RESERVE_MS // 1000} s left to post",
            extra={"deferred_from": deferred[0]},
        )
    for name, value in (
        ("RecordsReceived", len(raw)),
        ("RecordsUndecodable", len(refused) + unusable),
        ("RecordsAlreadyHandled", skipped),
        ("ControlMessages", control),
        ("EventsMalformed", malformed),
        ("EventsOverLimit", over_limit),
        ("RecordsDeferred", len(deferred)),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    done = deliver_alerts(collected, cfg, metrics)
    # The records behind an alert Slack did not take: every record of that account's log group.
    undelivered = {(a.owner, a.log_group) for a, _ in done.failed}
    retry = [r for r in good if (r.batch.owner, r.batch.log_group) in undelivered] + refused
    retry_seqs = {int(r.sequence) for r in retry}
    pending = {a.key for a, _ in done.failed}
    shardprogress.advance(progress, {int(r.sequence) for r in records}, retry_seqs, pending)
    failures = sorted([*(r.sequence for r in retry), *deferred], key=int)
    return {
        "batchItemFailures": [{"itemIdentifier": seq} for seq in failures],
        "deferred": len(deferred),
        **done.summary(collected),
        "records": len(raw),
        "already_handled": skipped,
        "control": control,
        "refused": [{"sequence": r.sequence, "reason": r.reason} for r in refused],
        "not_delivered": [{"rule": a.rule.name, "log_group": a.log_group, "why": why} for a, why in done.failed],
    }
