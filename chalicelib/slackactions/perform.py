"""What a verified, authorized click does, once: the worker's entry into the buttons.

``perform(click)`` runs in the worker after the endpoint verified, authorized and claimed the
click. The button's value comes from the internet: it is decoded and checked (``value.py``)
before anything is read or changed, and the alarm it names must be in this account and
Region. A click that cannot be acted on (a value opswatch did not make, an incident that is
over, a foreign alarm) is refused: the user is told why, only they see it where Slack allows
(``response_url``, ephemeral), nothing changes, and ``perform`` returns: a retry could not
mend it. A failure a retry can mend (AWS or Slack unreachable) raises, for the worker to tell
the user and re-raise.

``reenable(event)`` is the target of the one-time schedules a timed Mute creates.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

from chalicelib.slack.text import escape
from chalicelib.slackactions import ack, logmute, mute, recentlogs
from chalicelib.slackactions.click import ACK, LOGS, MUTE, Click
from chalicelib.slackactions.incident import ActionRefused
from chalicelib.slackactions.update import tell
from chalicelib.slackactions.value import AlarmRef, BadValue, decode, decode_mute

logger = Logger(service="opswatch-slackactions")


def _act(click: Click) -> dict:
    if click.action_id == MUTE:
        choice, ref = decode_mute(click.value)
        if isinstance(ref, AlarmRef):
            return mute.perform(click, choice, ref)
        return logmute.perform(click, choice, ref)
    ref = decode(click.value)
    if click.action_id == ACK:  # state only: any incident opswatch posted, of any account, once, still open
        return ack.perform(click, ref)
    if click.action_id == LOGS:
        return recentlogs.perform(click, ref)
    raise ActionRefused(f"unknown action {click.action_id!r}")


def perform(click: Click) -> bool:
    """Act on one click: True when it acted, False when refused (told to the user and logged); failures raise."""
    what = {"action": click.action_id, "user": click.user_id, "channel": click.channel_id}
    try:
        done = _act(click)
    except (BadValue, ActionRefused) as exc:
        reason = str(exc)
        logger.warning(f"click refused: {reason}", extra=what)
        refuse(click, reason)
        return False
    logger.info("click done", extra={**what, **done})
    return True


def refuse(click: Click, reason: str) -> None:
    """Tell the clicking user why nothing happened: ephemeral through ``response_url``, else in the thread."""
    tell(click, f":no_entry: Nothing done: {escape(reason)}")


def reenable(event: dict) -> None:
    """The schedule's run (``{"opswatch": "reenable", "alarm": ARN, "token": …}``): the mute ends."""
    if not isinstance(event, dict) or event.get("opswatch") != mute.EVENT:
        raise ValueError('a reenable event is {"opswatch": "reenable", "alarm": ..., "token": ...}')
    mute.reenable(event)
