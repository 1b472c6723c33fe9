"""slack-sdk's clients as opswatch uses them: retry handlers and a logger that never shows a secret.

Imported only when a message is actually sent: importing any part of slack-sdk loads
its Web API client and asyncio (about a sixth of ``import boto3``), which an invocation
that posts nothing (log lines no rule matches, a clean audit) never needs.
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient, WebhookClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

__all__ = ["SlackApiError", "web_client", "webhook_client"]

# slack-sdk's clients log the request URL (the webhook is the secret) at ERROR and INFO: they get a logger that
# prints nothing. What went wrong reaches the caller as a SlackDeliveryError instead.
SDK_LOGGER = logging.getLogger("opswatch.slack_sdk")
SDK_LOGGER.setLevel(logging.CRITICAL + 1)
SDK_LOGGER.propagate = False
logging.getLogger("slack_sdk").setLevel(logging.CRITICAL + 1)  # its module loggers, should a client fall back


class AnyServerErrorRetryHandler(ServerErrorRetryHandler):
    """slack-sdk's handler retries 500 and 503; a 502 or 504 from Slack's edge is as transient."""

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        return response is not None and 500 <= response.status_code <= 599


def retry_handlers(retries: int = 3) -> list:
    return [
        ConnectionErrorRetryHandler(max_retry_count=retries),
        RateLimitErrorRetryHandler(max_retry_count=retries),
        AnyServerErrorRetryHandler(max_retry_count=retries),
    ]


def webhook_client(url: str, retries: int) -> WebhookClient:
    return WebhookClient(url, retry_handlers=retry_handlers(retries), logger=SDK_LOGGER)


def web_client(token: str, api_url: str | None, retries: int) -> WebClient:
    """The bot-mode Web API client, with the retry handlers and the quiet logger."""
    kwargs = {"base_url": api_url} if api_url else {}
    return WebClient(token=token, retry_handlers=retry_handlers(retries), logger=SDK_LOGGER, **kwargs)
