"""Mute an alarm: its actions disabled now, and re-enabled after 1 h, 4 h, or at its next OK, by opswatch only.

The state item ``mute#<alarm ARN>`` records who muted it, until when, and whether opswatch
disabled the actions. It is written before ``DisableAlarmActions``, so a failure in between
can never leave actions disabled with no record of it. A timed mute then creates a one-time
EventBridge Scheduler schedule (``at(…)`` in UTC, in the stage's group ``opswatch-<stage>``,
no flexible window, deleted after its run) whose target is the worker function, run with
the scheduler role; its input names the alarm and the mute's token, so a schedule left from
an earlier mute of the same alarm does nothing. If the schedule cannot be made, the mute is
undone and the click fails.

The re-enabling path (``reenable``, and ``on_ok`` for "until OK", run by the alarm bridge) calls
``EnableAlarmActions`` only when the record says opswatch disabled them and they are still
disabled. An alarm whose actions were already disabled when Mute was clicked was disabled by
someone else: opswatch records the mute for the audit, and never re-enables it.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import settings, state
from chalicelib.aws import client
from chalicelib.slack.message import SlackMessage
from chalicelib.slack.text import escape
from chalicelib.slackactions import account, alarms, buttons, incident
from chalicelib.slackactions.buttons import mention
from chalicelib.slackactions.click import Click
from chalicelib.slackactions.incident import ActionRefused
from chalicelib.slackactions.update import Where, say_done, show_done
from chalicelib.slackactions.value import MUTES, AlarmRef, digest

logger = Logger(service="opswatch-slackactions")
PREFIX = "mute#"
KEEP_AFTER_SECONDS = 3 * 86400  # the record outlives the mute a little, for the audit and a late schedule
UNTIL_OK_KEEP_SECONDS = 30 * 86400
EVENT = "reenable"


@dataclass(frozen=True)
class Mute:
    alarm_arn: str
    user_id: str
    choice: str  # 1h | 4h | ok
    until: int  # epoch seconds; 0 for "until OK"
    by_opswatch: bool  # opswatch disabled the actions (else they were disabled already)
    token: str
    channel: str | None = None
    thread_ts: str | None = None

    def until_text(self) -> str:
        return "its next OK" if not self.until else time.strftime("%H:%M UTC", time.gmtime(self.until))


def schedule_name(alarm_arn: str) -> str:
    """One schedule per alarm (a new mute replaces the old one): at most 64 of [0-9a-zA-Z-_.]."""
    return f"opswatch-reenable-{digest(alarm_arn)}"


def _ddb():
    return state.dynamodb()


def record(alarm_arn: str) -> Mute | None:
    got = _ddb().get_item(TableName=state.table_name(), Key={state.KEY: {"S": PREFIX + alarm_arn}}, ConsistentRead=True)
    item = got.get("Item")
    if not item:
        return None
    return Mute(
        alarm_arn,
        item["user_id"]["S"],
        item["choice"]["S"],
        int(item["until"]["N"]),
        item["by_opswatch"]["BOOL"],
        item["token"]["S"],
        item.get("channel", {}).get("S"),
        item.get("thread_ts", {}).get("S"),
    )


def _put(m: Mute) -> None:
    keep = m.until + KEEP_AFTER_SECONDS if m.until else int(time.time()) + UNTIL_OK_KEEP_SECONDS
    item = {
        state.KEY: {"S": PREFIX + m.alarm_arn},
        "user_id": {"S": m.user_id},
        "choice": {"S": m.choice},
        "until": {"N": str(m.until)},
        "by_opswatch": {"BOOL": m.by_opswatch},
        "token": {"S": m.token},
        state.TTL_ATTRIBUTE: {"N": str(keep)},
    }
    if m.channel:
        item["channel"] = {"S": m.channel}
    if m.thread_ts:
        item["thread_ts"] = {"S": m.thread_ts}
    _ddb().put_item(TableName=state.table_name(), Item=item)


def _forget(m: Mute) -> None:
    """Delete the record, unless a newer mute replaced it meanwhile."""
    try:
        _ddb().delete_item(
            TableName=state.table_name(),
            Key={state.KEY: {"S": PREFIX + m.alarm_arn}},
            ConditionExpression="#t = :t",
            ExpressionAttributeNames={"#t": "token"},
            ExpressionAttributeValues={":t": {"S": m.token}},
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise


def _schedule(m: Mute) -> None:
    cfg = settings.slack_actions()
    when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(m.until))
    args = {
        "Name": schedule_name(m.alarm_arn),
        "GroupName": cfg.schedule_group,
        "ScheduleExpression": f"at({when})",
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "ActionAfterCompletion": "DELETE",
        "Description": "opswatch: re-enable the actions of a muted alarm",
        "Target": {
            "Arn": account.function_arn(cfg.worker_function),
            "RoleArn": cfg.scheduler_role_arn,
            "Input": json.dumps({"opswatch": EVENT, "alarm": m.alarm_arn, "token": m.token}),
        },
    }
    scheduler = client("scheduler")
    try:
        scheduler.create_schedule(**args)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConflictException":
            raise
        scheduler.update_schedule(**args)  # an earlier mute's schedule: this one replaces it


def _unschedule(alarm_arn: str) -> None:
    try:
        client("scheduler").delete_schedule(
            Name=schedule_name(alarm_arn), GroupName=settings.slack_actions().schedule_group
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise


def perform(click: Click, choice: str, ref: AlarmRef, now: float | None = None) -> dict:
    seconds = MUTES[choice]
    if seconds is not None and not settings.slack_actions().scheduler_role_arn:
        raise ActionRefused(
            "a timed mute needs OPSWATCH_SCHEDULER_ROLE_ARN (the stack's scheduler role): nothing changed"
        )
    ref, alarm = alarms.describe(ref)
    if choice == "ok" and alarm.get("StateValue") == "OK":
        raise ActionRefused(f"{ref.name} is OK already: mute it for 1 or 4 hours instead (nothing changed)")
    earlier = record(ref.arn)
    enabled = alarm.get("ActionsEnabled", True)
    by_opswatch = enabled or bool(earlier and earlier.by_opswatch)  # a re-mute keeps opswatch's own
    now = now or time.time()
    m = Mute(
        ref.arn,
        click.user_id,
        choice,
        int(now) + seconds if seconds else 0,
        by_opswatch,
        uuid.uuid4().hex,
        click.channel_id,
        click.thread_ts or click.message_ts,
    )
    _put(m)  # first: actions are never disabled without a record of it
    cw = client("cloudwatch")
    if enabled:
        cw.disable_alarm_actions(AlarmNames=[alarm["AlarmName"]])
    try:
        if seconds is not None and by_opswatch:
            _schedule(m)
        elif earlier:
            _unschedule(ref.arn)  # "until OK", or nothing to re-enable: an earlier timed mute's schedule goes
    except (ClientError, BotoCoreError):  # an error answer, or none (network, credentials): undo all the same
        if enabled:  # undo: the actions as they were, no record
            cw.enable_alarm_actions(AlarmNames=[alarm["AlarmName"]])
        _forget(m)
        raise
    m = _agree(m)
    line = f"Muted by {mention(m.user_id)} until {m.until_text()}"
    if not m.by_opswatch:
        line += ": its actions were already disabled by someone else, so opswatch will not re-enable them"
    _show(click, ref, line)
    logger.info(
        "alarm muted", extra={"alarm": ref.arn, "user": click.user_id, "until": m.until, "by_opswatch": by_opswatch}
    )
    return {"muted": ref.arn, "until": m.until, "by_opswatch": by_opswatch, "disabled_now": enabled}


def _agree(m: Mute) -> Mute:
    """The mute that stands, with the schedule made to match it: the record's, whichever click wrote last.

    Two mutes of one alarm at once (1 h and 4 h picked together: two workers) each write the
    record, then the schedule, so the record could end as one's and the schedule as the other's;
    that schedule's run would find another token and re-enable nothing, and no run would be left
    for the record's end. The mute that finds the record no longer its own makes the schedule the
    record's (the record's own worker, if it comes later, writes the same).
    """
    now = record(m.alarm_arn)
    if now is None or now.token == m.token:
        return m
    if now.until and now.by_opswatch:
        _schedule(now)
    else:
        _unschedule(m.alarm_arn)
    return now


def _show(click: Click, ref: AlarmRef, line: str) -> None:
    """The mute line on the ALARM message (kept with the incident), or in the thread if that message is gone."""
    where = Where(click)
    try:
        inc = incident.load(ref)
    except ActionRefused:  # an older message of the alarm: the mute stands; say so under it
        say_done(where, f":no_bell: {line}")
        return
    payload = buttons.muted(inc.payload, line)
    if show_done(where, payload, f":no_bell: {line}"):
        incident.save_payload(inc, payload)


def _enable(m: Mute) -> str:
    """Re-enable per the rule; returns what happened, for the thread."""
    name = m.alarm_arn.split(":alarm:", 1)[-1]
    who = f"muted by {mention(m.user_id)}"
    if not m.by_opswatch:
        return f"{escape(name)}: actions left disabled ({who}; they were disabled by someone else, not by opswatch)"
    cw = client("cloudwatch")
    found = cw.describe_alarms(AlarmNames=[name], AlarmTypes=alarms.TYPES)
    alarm = next(iter(alarms._all(found)), None)
    if alarm is None:
        return f"{escape(name)} no longer exists: nothing to re-enable ({who})"
    if alarm.get("ActionsEnabled", True):
        return f"{escape(name)}: actions were already re-enabled by someone ({who})"
    cw.enable_alarm_actions(AlarmNames=[name])
    return f"{escape(name)}: actions re-enabled ({who} until {m.until_text()})"


def reenable(event: dict) -> dict:
    """The schedule's run: ``{"opswatch": "reenable", "alarm": ARN, "token": …}``."""
    arn, token = event.get("alarm"), event.get("token")
    if not isinstance(arn, str) or not isinstance(token, str) or len(arn) > 1024 or len(token) > 64:
        raise ValueError("a reenable event needs the alarm's ARN and the mute's token (strings)")
    m = record(arn)
    if m is None or m.token != token:
        logger.info("nothing to re-enable: the mute was replaced or already ended", extra={"alarm": arn})
        return {"reenabled": False, "reason": "replaced or ended"}
    line = _enable(m)
    _forget(m)
    Where(channel=m.channel, thread_ts=m.thread_ts).reply(SlackMessage(text=f":bell: {line}").section(f":bell: {line}"))
    logger.info("mute ended", extra={"alarm": arn, "line": line})
    return {"reenabled": True, "alarm": arn, "line": line}


def on_ok(alarm_arn: str) -> str | None:
    """The alarm bridge's hook on OK: a mute "until OK" ends here (same rule); a timed one is mentioned."""
    m = record(alarm_arn)
    if m is None:
        return None
    if m.choice != "ok":
        return f":no_bell: Actions stay muted until {m.until_text()} (muted by {mention(m.user_id)})"
    line = _enable(m)
    _forget(m)
    return f":bell: {line}"
