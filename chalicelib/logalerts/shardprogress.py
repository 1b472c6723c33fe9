"""What ``log_alerts_stream`` already did on a Kinesis shard, so a retry does not alert twice.

With ``ReportBatchItemFailures`` Lambda checkpoints before the lowest failed
sequence number and redelivers every record from there on: the good records
after a bad one come back. One item per shard in the state table
(``shard#<stream>#<shard>``) keeps the highest sequence number of the last batch
and the records that batch asked to have retried; a redelivered record at or
below that mark and not in the retry list was handled, and is skipped (counted).

One read and one write per batch. Lambda reads a shard one batch at a time
(``ParallelizationFactor`` 1, which ``opswatch failed setup`` sets), so the item
has one writer. When the table cannot be used, nothing is skipped: a duplicate
alert (which the cooldown mostly holds back) is better than a lost one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import state

logger = Logger(service="opswatch-logalerts")
PREFIX = "shard#"
KEEP_SECONDS = 8 * 86400  # past the longest record age Lambda retries (MaximumRecordAgeInSeconds, 7 days)
MAX_RETRY_LISTED = 1000  # sequence numbers are ~56 digits: 1,000 stay far below DynamoDB's 400 KB item
MAX_PENDING_BYTES = 256 * 1024  # the pending alert keys, beside them, within the item's 400 KB


@dataclass
class ShardProgress:
    key: str
    through: int | None = None  # the highest sequence number of the last batch
    retry: set[int] = field(default_factory=set)  # at or below ``through`` but to be handled again
    # The alerts Slack refused (``Alert.key``): all a retried record may post again. None: not known, all may.
    pending: set[str] | None = None

    def done(self, sequence: int) -> bool:
        """Handled by an earlier delivery of this batch: skip it."""
        return self.through is not None and sequence <= self.through and sequence not in self.retry


def key_of(event_source_arn: str, event_id: str) -> str:
    """``shard#<stream name>#<shard id>`` (the record's ``eventID`` is ``<shard id>:<sequence number>``)."""
    stream = event_source_arn.rsplit("/", 1)[-1] if event_source_arn else "stream"
    shard = event_id.split(":", 1)[0] if event_id else "shard"
    return f"{PREFIX}{stream[:128]}#{shard[:128]}"  # stream names and shard ids are at most 128 characters


def load(key: str) -> ShardProgress:
    try:
        item = state.dynamodb().get_item(TableName=state.table_name(), Key={state.KEY: {"S": key}}).get("Item")
    except (ClientError, BotoCoreError) as exc:
        logger.error(f"shard progress unavailable, nothing skipped: {exc}", extra={"shard": key})
        return ShardProgress(key)
    if not item or "through" not in item:
        return ShardProgress(key)
    try:
        pending = item.get("pending", {}).get("SS")
        return ShardProgress(
            key,
            int(item["through"]["S"]),
            {int(s) for s in item.get("retry", {}).get("SS", [])},
            set(pending) if pending else None,
        )
    except (KeyError, ValueError):  # not written by us: start over, skipping nothing
        return ShardProgress(key)


def advance(progress: ShardProgress, seen: set[int], retry: set[int], pending: set[str] | None = None) -> None:
    """Record a batch: ``seen`` its sequence numbers, ``retry`` those it reported as batch item failures,
    ``pending`` the alerts Slack refused (a retried record posts only those: the others were posted).

    The mark never moves back (a bisected retry holds part of an earlier batch), and an earlier batch's retries
    stay listed until a delivery holding them handles them, with their pending alerts.
    """
    if not seen:
        return
    through = max(seen if progress.through is None else {*seen, progress.through})
    left = progress.retry - seen
    if pending is not None and left:
        pending = None if progress.pending is None else pending | progress.pending
    save(progress.key, through, left | retry, pending if retry or left else None)


def save(key: str, through: int, retry: set[int], pending: set[str] | None = None) -> None:
    """Record the mark; with more retries than can be listed, record nothing (the next delivery skips nothing).

    Pending alerts past what an item holds are not listed: a retried record then posts every alert again.
    """
    if len(retry) > MAX_RETRY_LISTED:
        forget(key)
        return
    item = {
        state.KEY: {"S": key},
        "through": {"S": str(through)},
        state.TTL_ATTRIBUTE: {"N": str(int(time.time()) + KEEP_SECONDS)},
    }
    if retry:
        item["retry"] = {"SS": sorted(str(s) for s in retry)}
    if retry and pending and sum(len(k.encode()) for k in pending) <= MAX_PENDING_BYTES:
        item["pending"] = {"SS": sorted(pending)}
    try:
        state.dynamodb().put_item(TableName=state.table_name(), Item=item)
    except (ClientError, BotoCoreError) as exc:
        logger.error(f"shard progress not recorded; a retry may alert again: {exc}", extra={"shard": key})


def forget(key: str) -> None:
    try:
        state.dynamodb().delete_item(TableName=state.table_name(), Key={state.KEY: {"S": key}})
    except (ClientError, BotoCoreError) as exc:
        logger.error(f"shard progress not cleared: {exc}", extra={"shard": key})
