"""Act on a click once: a record per (message, action, value) on the state table, claimed by a conditional write.

A double click and Slack's retries (``X-Slack-Retry-Num``, when an answer took over three
seconds) bring the same payload again; the endpoint claims ``slackaction#…`` with a conditional
``PutItem`` and enqueues the work only when the claim is new.

The record's life:

- ``claimed`` by the endpoint (``attribute_not_exists(id)``, or the previous record has run out
  its ``ONCE_SECONDS`` window, or it ``failed``), with a ``claim`` nonce of the request: when the
  write landed but its answer was lost, botocore's retry fails the condition on the record it wrote
  itself, and the nonce (``ReturnValuesOnConditionCheckFailure``) tells it apart from a repeat;
- ``done`` when the worker has acted: the worker skips a click whose record is done, so a Lambda
  retry of an invocation that acted and then timed out does not act again;
- ``failed`` when the worker's action raised: the worker re-raises so Lambda retries the event
  (the worker does not need the claim to act), and the user may click again, which claims anew.

The window is short on purpose: it covers a double click and Slack's retries (within minutes);
a second Mute an hour later is a new decision and must act.

Why not Powertools idempotency (which the alarm bridge uses)? It guards one function call: it
records the result when the call returns and deletes the record when the call raises. Here the
claim is taken in one function (the endpoint, which must answer within three seconds) and
settled in another (the worker, asynchronously), and a failure must leave a record that lets a
retry act while still telling a double click apart. A plain conditional write says exactly that.
"""

from __future__ import annotations

import hashlib
import time
import uuid

from chalicelib import state
from chalicelib.slackactions.click import Click

PREFIX = "slackaction#"
ONCE_SECONDS = 15 * 60  # Slack retries three times within about five minutes; double clicks come in seconds
KEEP_SECONDS = 24 * 3600  # the record's TTL: kept a day to read back what happened
MAX_KEY_CHARS = 200
CLAIMED, DONE, FAILED = "claimed", "done", "failed"


def key(click: Click) -> str:
    """``slackaction#<team>#<channel>#<message_ts>#<action_id>#<value>``, hashed past ``MAX_KEY_CHARS``."""
    parts = (click.team_id, click.channel_id or "-", click.message_ts or click.response_url or "-")
    raw = PREFIX + "#".join((*parts, click.action_id, click.value))
    if len(raw) <= MAX_KEY_CHARS:
        return raw
    return PREFIX + "sha256#" + hashlib.sha256(raw.encode("utf-8")).hexdigest()


def claim(click: Click, now: float | None = None) -> bool:
    """True when this click is new (or its earlier run failed, or the window passed); False for a repeat.

    Raises botocore's errors when the table cannot be used: the endpoint then acts on nothing.
    """
    from botocore.exceptions import ClientError

    now = time.time() if now is None else now
    nonce = uuid.uuid4().hex  # this request's claim: botocore's retry of a write that landed finds its own
    try:
        state.dynamodb().put_item(
            TableName=state.table_name(),
            Item={
                state.KEY: {"S": key(click)},
                "claim": {"S": nonce},
                "status": {"S": CLAIMED},
                "until": {"N": str(int(now + ONCE_SECONDS))},
                "user": {"S": click.user_id},
                "action_ts": {"S": click.action_ts},
                state.TTL_ATTRIBUTE: {"N": str(int(now + KEEP_SECONDS))},
            },
            ConditionExpression="attribute_not_exists(#id) OR #until < :now OR #status = :failed",
            ExpressionAttributeNames={"#id": state.KEY, "#until": "until", "#status": "status"},
            ExpressionAttributeValues={":now": {"N": str(int(now))}, ":failed": {"S": FAILED}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            # a repeat, unless the record is this very claim: the first attempt landed, its answer was lost
            return (exc.response.get("Item") or {}).get("claim", {}).get("S") == nonce
        raise
    return True


def status(click: Click) -> str | None:
    """The record's status (claimed, done, failed), or None when there is none."""
    item = (
        state.dynamodb()
        .get_item(TableName=state.table_name(), Key={state.KEY: {"S": key(click)}}, ConsistentRead=True)
        .get("Item")
    )
    return item["status"]["S"] if item and "status" in item else None


def settle(click: Click, outcome: str, now: float | None = None) -> None:
    """Mark the record ``done`` or ``failed`` (creating it if it ran out: the worker's word is the last)."""
    now = time.time() if now is None else now
    state.dynamodb().update_item(
        TableName=state.table_name(),
        Key={state.KEY: {"S": key(click)}},
        UpdateExpression="SET #status = :s, #ttl = if_not_exists(#ttl, :ttl), #until = if_not_exists(#until, :until)",
        ExpressionAttributeNames={"#status": "status", "#ttl": state.TTL_ATTRIBUTE, "#until": "until"},
        ExpressionAttributeValues={
            ":s": {"S": outcome},
            ":ttl": {"N": str(int(now + KEEP_SECONDS))},
            ":until": {"N": str(int(now + ONCE_SECONDS))},
        },
    )
