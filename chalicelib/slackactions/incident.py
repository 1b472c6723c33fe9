"""The state-table item that holds a clicked message: what the buttons change, and the acknowledgement.

opswatch keeps each message with buttons where its flow already keeps the incident:

- an ALARM: the alarm's thread item (``thread#<alarm ARN>``, ``chalicelib/alarms/threads.py``),
  with ``since`` the moment of the change, kept in both Slack modes when the buttons are on;
- a log alert: the cooldown item of its (log group, rule) (``cooldown#…``,
  ``chalicelib/logalerts/cooldown.py``), with ``first_ms`` its first event: the newest alert only.

A click names its incident (``value.py``); the item must still be that incident (same moment),
else the click is on an older message and is refused, changing nothing. Every change is a
conditional write on that same moment, so an incident that ended meanwhile is never touched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from botocore.exceptions import ClientError

from chalicelib import state
from chalicelib.slackactions.value import AlarmRef, LogRef, Ref

THREAD_PREFIX = "thread#"  # chalicelib.alarms.threads.PREFIX
COOLDOWN_PREFIX = "cooldown#"  # chalicelib.logalerts.cooldown.PREFIX


class ActionRefused(Exception):
    """The click cannot be acted on; the message tells the user why (nothing was changed)."""


@dataclass(frozen=True)
class Incident:
    key: str  # the state item's id
    moment_attr: str  # since | first_ms
    moment: int
    payload: dict
    acked_by: str | None = None
    acked_at: int | None = None


def item_key(ref: Ref) -> tuple[str, str, int]:
    if isinstance(ref, AlarmRef):
        return THREAD_PREFIX + ref.arn, "since", ref.at_ms
    return COOLDOWN_PREFIX + ref.cooldown_key, "first_ms", ref.first_ms


def _what(ref: Ref) -> str:
    if isinstance(ref, AlarmRef):
        return f"this ALARM of {ref.name}"
    return f"this alert of rule {ref.rule} in {ref.log_group}"


def load(ref: Ref) -> Incident:
    """The incident the click names, still current; ``ActionRefused`` otherwise."""
    key, attr, moment = item_key(ref)
    got = state.dynamodb().get_item(TableName=state.table_name(), Key={state.KEY: {"S": key}}, ConsistentRead=True)
    item = got.get("Item") or {}
    if "payload" not in item or attr not in item:
        gone = "is resolved, or older than opswatch keeps" if isinstance(ref, AlarmRef) else "is no longer kept"
        raise ActionRefused(f"{_what(ref)} {gone}: nothing changed")
    if int(item[attr]["N"]) != moment:
        newer = "a newer ALARM of this alarm" if isinstance(ref, AlarmRef) else "a newer alert of this rule"
        raise ActionRefused(f"{_what(ref)} is over: act on {newer} instead (nothing changed)")
    by = item.get("acked_by", {}).get("S")
    at = item.get("acked_at", {}).get("N")
    return Incident(key, attr, moment, json.loads(item["payload"]["S"]), by, int(at) if at else None)


def _update(inc: Incident, expression: str, values: dict, condition: str = "#m = :m") -> bool:
    """One conditional write on the incident's item; False when its condition no longer holds."""
    try:
        state.dynamodb().update_item(
            TableName=state.table_name(),
            Key={state.KEY: {"S": inc.key}},
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames={"#m": inc.moment_attr},
            ExpressionAttributeValues={":m": {"N": str(inc.moment)}, **values},
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def acknowledge(inc: Incident, user_id: str, at_ms: int, payload: dict) -> bool:
    """Record the acknowledgement and the message that shows it; False if someone acknowledged first."""
    return _update(
        inc,
        "SET acked_by = :u, acked_at = :t, payload = :p",
        {":u": {"S": user_id}, ":t": {"N": str(at_ms)}, ":p": {"S": json.dumps(payload)}},
        "#m = :m AND attribute_not_exists(acked_by)",
    )


def unacknowledge(inc: Incident, user_id: str) -> None:
    """Undo ``acknowledge`` when the message could not be updated (the click failed as a whole)."""
    _update(
        inc,
        "REMOVE acked_by, acked_at SET payload = :p",
        {":p": {"S": json.dumps(inc.payload)}, ":u": {"S": user_id}},
        "#m = :m AND acked_by = :u",
    )


def save_payload(inc: Incident, payload: dict) -> bool:
    """Keep the message as it now reads (a mute line added)."""
    return _update(inc, "SET payload = :p", {":p": {"S": json.dumps(payload)}})


def log_ref_key(ref: LogRef) -> str:
    return COOLDOWN_PREFIX + ref.cooldown_key
