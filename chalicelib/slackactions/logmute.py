"""Mute a log alert: its (log group, rule) held back by its cooldown for 1 h or 4 h, and counted.

The cooldown item (``chalicelib/logalerts/cooldown.py``) already holds repeats back while
``until`` is ahead; muting moves ``until`` to the end of the mute (never earlier than it was)
and records who muted it. Alerts that arrive meanwhile are not posted: the log_alerts
function counts their events in the item's ``held`` (reported by the next alert posted:
"N events of this rule here held back") and in its ``AlertsHeldBack`` metric. The claim
token is replaced, so an invocation posting at that moment cannot shorten the mute.
"""

from __future__ import annotations

import time

from botocore.exceptions import ClientError

from chalicelib import state
from chalicelib.aws import client
from chalicelib.slackactions import buttons, incident
from chalicelib.slackactions.buttons import mention
from chalicelib.slackactions.click import Click
from chalicelib.slackactions.incident import ActionRefused
from chalicelib.slackactions.update import Where, show_done
from chalicelib.slackactions.value import MUTES, LogRef, digest

MAX_PAGES = 10


def resolve(ref: LogRef) -> LogRef:
    """The alert with its full log group name (a cut one found by its prefix and digest)."""
    if not ref.digest:
        return ref
    logs = client("logs")
    for n, page in enumerate(logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=ref.log_group)):
        for g in page.get("logGroups", []):
            if digest(g["logGroupName"]) == ref.digest:
                return LogRef(ref.account, g["logGroupName"], ref.rule, ref.first_ms, ref.last_ms)
        if n + 1 >= MAX_PAGES:
            break
    raise ActionRefused(f"no log group {ref.log_group}… in this account and Region: nothing changed")


def hold(ref: LogRef, user_id: str, until: int) -> bool:
    """Hold the (log group, rule) back until ``until``; False when it was held back longer already."""
    try:
        state.dynamodb().update_item(
            TableName=state.table_name(),
            Key={state.KEY: {"S": incident.log_ref_key(ref)}},
            UpdateExpression=(
                "SET #until = :until, #claim = :claim, muted_by = :u, muted_until = :until, "
                "#held = if_not_exists(#held, :zero), #exp = :exp"
            ),
            ConditionExpression="attribute_not_exists(#until) OR #until < :until",
            ExpressionAttributeNames={
                "#until": "until",
                "#claim": "claim",
                "#held": "held",
                "#exp": state.TTL_ATTRIBUTE,
            },
            ExpressionAttributeValues={
                ":until": {"N": str(until)},
                ":claim": {"S": f"mute:{user_id}"},
                ":u": {"S": user_id},
                ":zero": {"N": "0"},
                ":exp": {"N": str(until + 86400)},
            },
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def perform(click: Click, choice: str, ref: LogRef, now: float | None = None) -> dict:
    ref = resolve(ref)
    until = int(now or time.time()) + (MUTES[choice] or 0)
    at = time.strftime("%H:%M UTC", time.gmtime(until))
    inc = incident.load(ref)  # the newest alert of the rule only: an older message is refused, nothing held
    if hold(ref, click.user_id, until):
        line = (
            f"Muted by {mention(click.user_id)} until {at}: this rule's alerts here are held back and counted, "
            "the next alert after that reports how many"
        )
    else:
        line = f"{mention(click.user_id)} asked to mute until {at}: it was already held back longer"
    payload = buttons.muted(inc.payload, line)
    if show_done(Where(click), payload, f":no_bell: {line}"):
        incident.save_payload(inc, payload)
    return {"muted": ref.cooldown_key, "until": until}
