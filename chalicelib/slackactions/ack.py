"""Acknowledge: "Acknowledged by @ana at 10:42 UTC" replaces the button, and the incident remembers who.

The acknowledgement is written first (a conditional write: the first click wins, on the
incident still open), then the message is updated; if Slack refuses the update the
acknowledgement is taken back and the click fails, so the two never disagree. For an alarm,
the OK reply in the thread then says who acknowledged and how long after the ALARM
(``ok_line``, called by the alarm bridge).
"""

from __future__ import annotations

import time

from aws_lambda_powertools import Logger

from chalicelib.slack.delivery import SlackDeliveryError
from chalicelib.slack.text import duration
from chalicelib.slackactions import buttons, incident
from chalicelib.slackactions.click import Click
from chalicelib.slackactions.update import Where, tell
from chalicelib.slackactions.value import Ref

logger = Logger(service="opswatch-slackactions")


def clock(ms: int) -> str:
    return time.strftime("%H:%M UTC", time.gmtime(ms / 1000))


def perform(click: Click, ref: Ref, now_ms: int | None = None) -> dict:
    inc = incident.load(ref)
    where = Where(click)
    if inc.acked_by:  # told to the clicking user alone where Slack allows
        tell(click, f"Already acknowledged by {buttons.mention(inc.acked_by)} at {clock(inc.acked_at or 0)}")
        return {"acknowledged": False, "already_by": inc.acked_by}
    at = now_ms or int(time.time() * 1000)
    payload = buttons.acknowledged(inc.payload, click.user_id, clock(at))
    if not incident.acknowledge(inc, click.user_id, at, payload) and not _mine(ref, click.user_id, at):
        raise incident.ActionRefused("someone acknowledged it a moment ago, or the incident just ended")
    try:
        where.replace(payload)
    except SlackDeliveryError:
        incident.unacknowledge(inc, click.user_id)
        raise
    logger.info("acknowledged", extra={"incident": inc.key, "user": click.user_id})
    return {"acknowledged": True, "by": click.user_id, "at": at}


def _mine(ref: Ref, user_id: str, at_ms: int) -> bool:
    """Is the acknowledgement the condition found this very one (the write landed, its answer was lost, and
    botocore's retry failed the condition on it)?"""
    try:
        now = incident.load(ref)
    except incident.ActionRefused:
        return False
    return now.acked_by == user_id and now.acked_at == at_ms


def ok_line(acked_by: str | None, acked_at: int | None, since_ms: int) -> str | None:
    """The OK reply's line about the acknowledgement, e.g. "acknowledged by @ana 4 minutes after the alarm"."""
    if not acked_by or acked_at is None:
        return None
    seconds = max(0, round((acked_at - since_ms) / 60000)) * 60
    after = f"{duration(seconds)} after the alarm" if seconds else "within a minute of the alarm"
    return f":eyes: Acknowledged by {buttons.mention(acked_by)} {after}"
