"""The alarm bridge Lambda: every record of an SNS event becomes one Slack message.

All records are attempted; if any could not be delivered the invocation then
fails (``SlackDeliveryError``), so Lambda retries the event and, in the end,
its on-failure destination keeps it.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

from chalicelib import settings
from chalicelib.alarms.events import outgoing_for
from chalicelib.slack.delivery import SlackDeliveryError, destination, send
from chalicelib.slack.routing import Router

logger = Logger(service="opswatch-alarms")


def router_from(cfg: settings.SlackSettings) -> Router:
    return Router(cfg.routes, cfg.channel, cfg.mention)


def handle_sns_event(event: dict) -> list[dict]:
    cfg = settings.slack()
    items = outgoing_for(event, router_from(cfg))
    dest = destination(cfg)
    results, failures = [], []
    for item in items:
        what = {"alarm": item.alarm.name if item.alarm else None, "source": item.source, "channel": item.channel}
        try:
            answer = send(dest, item.message, item.channel)
        except SlackDeliveryError as exc:
            logger.error(f"not delivered to Slack: {exc}", extra=what)
            failures.append(str(exc))
            continue
        logger.info("delivered to Slack", extra={**what, **answer})
        results.append({**what, **answer})
    if failures:
        raise SlackDeliveryError(f"{len(failures)} of {len(items)} messages not delivered: {failures[0]}")
    return results
