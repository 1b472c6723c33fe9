"""Per-object shipping progress in the state table: each line once, whatever fails.

One item per object version and destination (``alb#<log group>#s3://bucket/key#etag``)
holds:

- ``line``: a sync point. Every line up to it is accounted for in every stream
  (lines, rejected, metric documents), with the line counts as of that point;
- per stream, the highest line whose events CloudWatch has all answered for
  (``through``), how many events of the next line it already holds (``partial``:
  a line can be several events, cut across calls) and the shipped and refused
  counts, which may run past ``line``: a retry re-reads from ``line`` and does
  not send those events again;
- ``status`` (``running`` or ``done``), and a lease (``owner``, ``lease_until``)
  so two invocations never ship the same object at once.

A claim is one conditional write. A done object is skipped with its time; an
object another invocation holds raises ``ObjectBusy`` so Lambda tries again
later, by when the holder has finished or its lease (its own time limit) ran
out. Progress is saved at sync points (every few seconds) and always before the
invocation ends or fails; only a process killed outright (out of memory) loses
what it shipped since the last sync, and then ships those lines again.

When the table cannot be reached, shipping goes on without checkpoints: every
line still lands, but a retry ships the object again from its start (at least
once instead of exactly once), and the report says so.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from chalicelib import state
from chalicelib.cwlogs.writer import StreamCounts

PREFIX = "alb#"
DONE_DAYS = 7  # a redelivered S3 event comes within hours; done items expire after this
RUNNING_DAYS = 14


class ObjectBusy(RuntimeError):
    """Another invocation is shipping this object now: try again later."""


class AlreadyShipped(Exception):
    """The object was shipped whole before; ``when`` says when."""

    def __init__(self, when: str) -> None:
        super().__init__(f"already shipped whole at {when}")
        self.when = when


@dataclass
class Progress:
    line: int = 0
    counts: dict = field(default_factory=dict)  # accepted, filtered, rejected, reasons at ``line``
    streams: dict[str, StreamCounts] = field(default_factory=dict)
    invocations: int = 0

    def as_item(self) -> dict:
        return {
            "line": self.line,
            "counts": self.counts,
            "streams": {k: v.as_dict() for k, v in self.streams.items()},
            "invocations": self.invocations,
        }

    @classmethod
    def from_item(cls, d: dict | None) -> Progress:
        d = d or {}
        return cls(
            line=int(d.get("line", 0)),
            counts=dict(d.get("counts") or {}),
            streams={k: StreamCounts.from_dict(v) for k, v in (d.get("streams") or {}).items()},
            invocations=int(d.get("invocations", 0)),
        )


def _to_ddb(value):
    """Plain JSON-like values to DynamoDB attribute values (ints, strings, dicts)."""
    from boto3.dynamodb.types import TypeSerializer

    return TypeSerializer().serialize(value)


def _from_ddb(attr):
    from boto3.dynamodb.types import TypeDeserializer

    value = TypeDeserializer().deserialize(attr)
    return _plain(value)


def _plain(v):
    from decimal import Decimal

    if isinstance(v, Decimal):
        return int(v)
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class Checkpoint:
    """The progress item of one object version, claimed by this process."""

    def __init__(
        self, log_group: str, uri: str, etag: str | None, lease_seconds: float, deadline: float | None = None
    ) -> None:
        # The log group is part of the id: shipping the same object to another group is a new job.
        self.id = f"{PREFIX}{log_group}#{uri}#{(etag or 'unknown').strip(chr(34))}"
        self.lease_seconds = lease_seconds
        # A Lambda invocation cannot outlive its timeout: its lease ends then, however often it saves,
        # so a retry after the invocation was killed finds the object free.
        self.deadline = deadline
        self.owner = uuid.uuid4().hex
        self.error: str | None = None  # set when the table could not be used: at least once from then on
        self._table = state.table_name()

    def _ddb(self):
        return state.dynamodb()

    def claim(self) -> Progress:
        """Take the object: raises AlreadyShipped or ObjectBusy; returns the progress to resume from."""
        from botocore.exceptions import BotoCoreError, ClientError  # AWS path only: `alb parse` stays light

        now = time.time()
        try:
            resp = self._ddb().update_item(
                TableName=self._table,
                Key={state.KEY: {"S": self.id}},
                UpdateExpression="SET #owner = :owner, lease_until = :until, #status = :running, "
                "invocations = if_not_exists(invocations, :zero) + :one, #exp = :exp",
                ConditionExpression="attribute_not_exists(#id) OR (#status <> :done AND lease_until < :now)",
                ExpressionAttributeNames={
                    "#id": state.KEY,
                    "#owner": "owner",
                    "#status": "status",
                    "#exp": state.TTL_ATTRIBUTE,
                },
                ExpressionAttributeValues={
                    ":owner": {"S": self.owner},
                    ":until": {"N": str(int(self._lease_end(now)))},
                    ":running": {"S": "running"},
                    ":done": {"S": "done"},
                    ":now": {"N": str(int(now))},
                    ":zero": {"N": "0"},
                    ":one": {"N": "1"},
                    ":exp": {"N": str(int(now + RUNNING_DAYS * 86400))},
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                return self._unavailable(exc)
            old = exc.response.get("Item")
            if old is None:  # an older botocore or endpoint: read the item
                try:
                    old = self._ddb().get_item(TableName=self._table, Key={state.KEY: {"S": self.id}}).get("Item")
                except (ClientError, BotoCoreError) as exc2:
                    return self._unavailable(exc2)
            old = {k: _from_ddb(v) for k, v in (old or {}).items()}
            if old.get("status") == "done":
                raise AlreadyShipped(_iso(old.get("done_at", 0))) from None
            raise ObjectBusy(
                f"another invocation is shipping it (lease until {_iso(old.get('lease_until', 0))}); try again later"
            ) from None
        except BotoCoreError as exc:
            return self._unavailable(exc)
        item = {k: _from_ddb(v) for k, v in resp["Attributes"].items()}
        progress = Progress.from_item(item.get("progress"))
        progress.invocations = int(item.get("invocations", 1))
        return progress

    def _lease_end(self, now: float) -> float:
        end = now + self.lease_seconds
        return min(end, self.deadline) if self.deadline is not None else end

    def _unavailable(self, exc: Exception) -> Progress:
        self.error = f"{type(exc).__name__}: {exc}"[:300]
        return Progress()

    def save(self, progress: Progress, release: bool = False) -> bool:
        """Record progress (and end the lease with ``release``); False when it could not be written."""
        from botocore.exceptions import BotoCoreError, ClientError  # AWS path only: `alb parse` stays light

        if self.error:
            return False
        now = time.time()
        until = 0 if release else self._lease_end(now)  # 0: free for the next invocation at once
        try:
            self._ddb().update_item(
                TableName=self._table,
                Key={state.KEY: {"S": self.id}},
                UpdateExpression="SET progress = :p, lease_until = :until",
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={
                    ":p": _to_ddb(progress.as_item()),
                    ":until": {"N": str(int(until))},
                    ":owner": {"S": self.owner},
                },
            )
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                # Our lease ran out and another invocation took the object: stop at once.
                raise ObjectBusy("the lease on this object was lost to another invocation") from None
            self.error = f"{type(exc).__name__}: {exc}"[:300]
            return False
        except BotoCoreError as exc:
            self.error = f"{type(exc).__name__}: {exc}"[:300]
            return False

    def finish(self, progress: Progress) -> None:
        """Mark the object done: a redelivered event for it is skipped from now on."""
        from botocore.exceptions import BotoCoreError, ClientError  # AWS path only: `alb parse` stays light

        if self.error:
            return
        now = time.time()
        try:
            self._ddb().update_item(
                TableName=self._table,
                Key={state.KEY: {"S": self.id}},
                UpdateExpression="SET progress = :p, #status = :done, done_at = :now, lease_until = :now, #exp = :exp",
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner", "#status": "status", "#exp": state.TTL_ATTRIBUTE},
                ExpressionAttributeValues={
                    ":p": _to_ddb(progress.as_item()),
                    ":done": {"S": "done"},
                    ":now": {"N": str(int(now))},
                    ":exp": {"N": str(int(now + DONE_DAYS * 86400))},
                    ":owner": {"S": self.owner},
                },
            )
        except (ClientError, BotoCoreError) as exc:
            self.error = f"{type(exc).__name__}: {exc}"[:300]
