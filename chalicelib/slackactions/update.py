"""Change the clicked message, or answer under it: ``chat.update`` in bot mode, ``response_url`` in webhook mode.

A webhook message cannot be edited with a token; Slack gives every click a ``response_url``
instead (valid 30 minutes, five uses), which replaces the message (``replace_original``) or
posts a new one in the channel. In bot mode the message is edited with ``chat.update`` and
answers go in its thread.

The ``response_url`` came with the click, so before anything is sent to it, it must be
Slack's: ``https://hooks.slack.com/`` (on the ``local`` stage, the loopback Slack too).
Nothing here logs a URL or a token; failures raise ``SlackDeliveryError`` naming only the kind.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aws_lambda_powertools import Logger

from chalicelib import settings
from chalicelib.slack.delivery import Destination, SlackDeliveryError, destination, send, update
from chalicelib.slack.message import SlackMessage
from chalicelib.slackactions.click import Click

logger = Logger(service="opswatch-slackactions")
SLACK_HOOKS = "hooks.slack.com"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Where:
    """Where a click's answers go: the message (channel, ts, thread) and how to reach it."""

    def __init__(self, click: Click | None = None, channel: str | None = None, thread_ts: str | None = None):
        self.cfg = settings.slack()
        self.click = click
        self.channel = channel or (click.channel_id if click else None) or self.cfg.channel
        self.message_ts = click.message_ts if click else None
        self.thread_ts = thread_ts or (click and (click.thread_ts or click.message_ts)) or None
        self._dest: Destination | None = None

    @property
    def bot(self) -> bool:
        return self.cfg.mode == "bot"

    def dest(self) -> Destination:
        self._dest = self._dest or destination(self.cfg)
        return self._dest

    def replace(self, payload: dict) -> None:
        """Replace the clicked message with ``payload``."""
        if self.bot:
            if not self.channel or not self.message_ts:
                raise SlackDeliveryError("the click names no message to update (no channel or ts)")
            update(self.dest(), self.channel, self.message_ts, payload)
            return
        body = {k: v for k, v in payload.items() if k in ("text", "attachments", "blocks")}
        _respond(self._response_url(), {**body, "replace_original": True})

    def reply(self, message: SlackMessage) -> dict:
        """Answer under the message: in its thread (bot mode), else a new message in the channel."""
        if self.bot:
            return send(self.dest(), message, self.channel, thread_ts=self.thread_ts)
        if self.click is not None and self.click.response_url:
            body = message.payload()
            _respond(self._response_url(), {**body, "replace_original": False, "response_type": "in_channel"})
            return {"ok": True}
        return send(self.dest(), message)  # no click (a schedule's run): the stage's webhook

    def _response_url(self) -> str:
        url = self.click.response_url if self.click else None
        if not url:
            raise SlackDeliveryError("webhook mode: the click carries no response_url to update the message with")
        return check_response_url(url, self.cfg.stage)


def tell(click: Click, text: str) -> None:
    """``text`` (mrkdwn, escaped by the caller) to the clicking user alone (ephemeral, through ``response_url``),
    or in the thread when the click carries none."""
    if click.response_url:
        url = check_response_url(click.response_url, settings.stage())
        _respond(url, {"response_type": "ephemeral", "replace_original": False, "text": text})
        return
    Where(click).reply(SlackMessage(text=text).section(text))


def check_response_url(url: str, stage: str) -> str:
    """``url`` if it is Slack's (https://hooks.slack.com/…; locally, a loopback one); else ``SlackDeliveryError``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        host, parts = None, None
    if parts is not None and parts.scheme == "https" and host == SLACK_HOOKS and not parts.username:
        return url
    if stage == "local" and parts is not None and parts.scheme in ("http", "https") and host in _LOOPBACK:
        return url
    raise SlackDeliveryError("the click's response_url is not Slack's (https://hooks.slack.com/…): not used")


def _respond(url: str, body: dict) -> None:
    from chalicelib.slack.sdk import webhook_client

    try:
        resp = webhook_client(url, 3).send_dict(body)
    except Exception as exc:  # its text may hold the URL: only the type is told
        raise SlackDeliveryError(f"Slack response_url unreachable after retries: {type(exc).__name__}") from None
    if resp.status_code != 200:
        raise SlackDeliveryError(f"Slack response_url answered {resp.status_code}: {(resp.body or '')[:200]}")


def show_done(where: Where, payload: dict, line: str) -> bool:
    """Show a change that was made (a mute): the message replaced with ``payload``, else ``line`` under it.

    The change stands whatever Slack does now, so a refused update is never raised for the click
    to fail with ("could not mute" while the alarm is silenced); False when the message was not updated.
    """
    try:
        where.replace(payload)
        return True
    except SlackDeliveryError as exc:
        logger.warning(f"the message was not updated ({exc}); the change is told under it")
    say_done(where, line)
    return False


def say_done(where: Where, line: str) -> None:
    """``line`` under the message, about a change that was made: a Slack failure is logged, never raised."""
    try:
        where.reply(SlackMessage(text=line).section(line))
    except SlackDeliveryError as exc:
        logger.error(f"the change was not told in Slack: {exc}")
