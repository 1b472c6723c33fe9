"""Telling the clicking user something: an ephemeral reply, or a line in the alert's thread.

- ``ephemeral``: only the user sees it (``response_url`` with ``response_type: ephemeral``);
  used for "not allowed" and other refusals of a signed click.
- ``in_thread``: what went wrong with an action, where the incident is discussed: bot mode
  posts in the message's thread (``chat.postMessage`` with ``thread_ts``); webhook mode, and a
  message opswatch cannot name, go through ``response_url`` (a new message, the original kept).

``response_url`` was checked when the payload was read (Slack's hooks host only). Text is one
line, escaped and short. Failures to tell are logged and swallowed by ``ephemeral`` (a refusal
changes nothing either way); ``in_thread`` raises them, so the worker's caller sees them.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

from chalicelib.redact import redact
from chalicelib.slack.text import escape, truncate
from chalicelib.slackactions.click import Click

logger = Logger(service="opswatch-slackactions")
MAX_LINE = 500
TIMEOUT_SECONDS = 2  # the endpoint answers Slack within three seconds, its replies included


def one_line(text: str) -> str:
    """Untrusted or error text as one short, escaped, secret-free line."""
    return truncate(escape(" ".join(redact(str(text)).split())), MAX_LINE)


def _post_response_url(url: str, body: dict, retries: int = 1) -> None:
    from chalicelib.slack.sdk import webhook_client

    try:
        client = webhook_client(url, retries=retries)
        client.timeout = TIMEOUT_SECONDS
        resp = client.send_dict(body)
    except Exception as exc:  # its text may hold the URL: only the type is told
        raise RuntimeError(f"response_url unreachable: {type(exc).__name__}") from None
    if resp.status_code != 200:
        raise RuntimeError(f"response_url answered {resp.status_code}")


def ephemeral(click: Click | None, response_url: str | None, text: str) -> bool:
    """Show ``text`` to the clicking user only; False (logged) when there is no way to, or it failed."""
    url = response_url or (click.response_url if click else None)
    if not url:
        return False
    try:
        # no retry: this runs on the endpoint's clock, and a 429's Retry-After would be slept through;
        # the endpoint's answer carries the same ephemeral text
        _post_response_url(url, {"response_type": "ephemeral", "replace_original": False, "text": text}, retries=0)
    except RuntimeError as exc:
        logger.warning(f"ephemeral reply not delivered: {exc}")
        return False
    return True


def in_thread(click: Click, text: str) -> None:
    """Post ``text`` in the alert's thread (bot mode) or through ``response_url``; raises when neither works."""
    from chalicelib import settings
    from chalicelib.slack.delivery import SlackDeliveryError, destination

    cfg = settings.slack()
    if cfg.mode == "bot" and click.channel_id and click.thread_ts:
        from chalicelib.slack.sdk import web_client

        dest = destination(cfg)
        try:
            web_client(dest.secret_value, dest.api_url, retries=2).chat_postMessage(
                channel=click.channel_id, thread_ts=click.thread_ts, text=text
            )
            return
        except Exception as exc:  # its text may hold the token: only the type is told
            if not click.response_url:
                raise SlackDeliveryError(f"Slack chat.postMessage failed: {type(exc).__name__}") from None
            logger.warning(f"thread reply failed ({type(exc).__name__}); using response_url")
    if not click.response_url:
        raise SlackDeliveryError("no thread to post in and no response_url")
    _post_response_url(click.response_url, {"response_type": "in_channel", "replace_original": False, "text": text})
