"""One Slack thread per incident (bot mode): the ALARM message is the parent, what follows replies to it.

When an alarm goes to ALARM, the message posted (channel, ts and the payload, to
update it later) is kept in the state table under the alarm's ARN for a few days.
OK and INSUFFICIENT_DATA for that alarm are posted as replies; OK also updates the
parent so the channel shows "resolved after 23 min" without opening the thread,
and ends the incident. With nothing kept (first run, expired, webhook mode, the
table unreachable) a change is posted as a normal message.

With the Slack buttons on (``OPSWATCH_SLACK_ACTIONS``), the item is kept in webhook mode too
(no channel or ts): it is where a click finds the message to change and keeps who
acknowledged it (``chalicelib/slackactions/incident.py``).
"""

from __future__ import annotations

import json
import re
import time

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import state
from chalicelib.slack.message import COLORS
from chalicelib.slack.text import duration

logger = Logger(service="opswatch-alarms")
PREFIX = "thread#"
_MENTION = re.compile(r"<!(?:here|channel|everyone)>\s?|<!subteam\^[A-Z0-9]+>\s?|<@[UW][A-Z0-9]+>\s?")
KEEP_SECONDS = 3 * 86400


def remember(alarm_arn: str, channel: str, ts: str, payload: dict, since_ms: int) -> None:
    try:
        state.dynamodb().put_item(
            TableName=state.table_name(),
            Item={
                state.KEY: {"S": PREFIX + alarm_arn},
                "channel": {"S": channel},
                "ts": {"S": ts},
                "payload": {"S": json.dumps(payload)},
                "since": {"N": str(since_ms)},
                state.TTL_ATTRIBUTE: {"N": str(int(time.time()) + KEEP_SECONDS)},
            },
        )
    except (ClientError, BotoCoreError) as exc:  # the next change is then posted as a normal message
        logger.error(f"could not keep the alarm's thread: {exc}", extra={"alarm": alarm_arn})


def recall(alarm_arn: str) -> dict | None:
    try:
        item = state.dynamodb().get_item(TableName=state.table_name(), Key={state.KEY: {"S": PREFIX + alarm_arn}})
    except (ClientError, BotoCoreError) as exc:
        logger.error(f"could not read the alarm's thread: {exc}", extra={"alarm": alarm_arn})
        return None
    got = item.get("Item")
    if not got or int(got[state.TTL_ATTRIBUTE]["N"]) < time.time():  # TTL deletion lags: expired is gone
        return None
    acked_at = got.get("acked_at", {}).get("N")
    return {
        "channel": got["channel"]["S"],
        "ts": got["ts"]["S"],
        "payload": json.loads(got["payload"]["S"]),
        "since": int(got["since"]["N"]),
        "acked_by": got.get("acked_by", {}).get("S"),  # set by the Acknowledge button (chalicelib/slackactions)
        "acked_at": int(acked_at) if acked_at else None,
    }


def forget(alarm_arn: str) -> None:
    try:
        state.dynamodb().delete_item(TableName=state.table_name(), Key={state.KEY: {"S": PREFIX + alarm_arn}})
    except (ClientError, BotoCoreError) as exc:
        logger.error(f"could not end the alarm's thread: {exc}", extra={"alarm": alarm_arn})


def resolved(parent: dict, since_ms: int, at_ms: int) -> dict:
    """The parent message, marked resolved: green, and a line saying after how long."""
    payload = json.loads(_MENTION.sub("", json.dumps(parent)))  # resolved pings nobody
    minutes = max(0, round((at_ms - since_ms) / 60000))
    took = duration(minutes * 60) if minutes else "less than a minute"
    at = time.strftime("%H:%M UTC", time.gmtime(at_ms / 1000))
    line = f":white_check_mark: *Resolved after {took}* (OK at {at}; details in the thread)"
    payload["text"] = f"RESOLVED after {took}: {payload.get('text', '')}"[:3000]
    for att in payload.get("attachments") or []:
        att["color"] = COLORS["OK"]
        att.setdefault("blocks", []).insert(1, {"type": "section", "text": {"type": "mrkdwn", "text": line}})
    return payload
