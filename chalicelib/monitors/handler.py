"""The monitors_audit Lambda: the daily audit of live alarms and metric filters, as a Slack digest.

Posts only when something is found (a quiet day sends nothing). A digest that
cannot be delivered fails the invocation, so Lambda retries it.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger

from chalicelib import settings
from chalicelib.aws import client
from chalicelib.monitors.audit import audit, digest
from chalicelib.slack.delivery import destination, send
from chalicelib.slack.routing import Router

logger = Logger(service="opswatch-monitors")


def slack_mute(alarm_arn: str) -> dict | None:
    """The mute kept for an alarm muted from Slack (who, until when), or None; never at the audit's expense."""
    from botocore.exceptions import BotoCoreError, ClientError

    from chalicelib.slackactions.mute import record

    try:
        m = record(alarm_arn)
    except (ClientError, BotoCoreError) as exc:
        logger.warning(f"could not read the Slack mutes: {exc}", extra={"alarm": alarm_arn})
        return None
    return None if m is None else {"user_id": m.user_id, "until": m.until, "by_opswatch": m.by_opswatch}


def handle_schedule(event: dict | None = None) -> dict:
    findings = audit(client("cloudwatch"), client("logs"), client("sns"), mutes=slack_mute)
    by_kind: dict[str, int] = {}
    for f in findings:
        by_kind[f.kind] = by_kind.get(f.kind, 0) + 1
    logger.info(f"audit: {len(findings)} findings", extra={"findings": by_kind})
    if not findings:
        return {"findings": 0, "posted": False}
    cfg = settings.slack()
    channel, _ = Router(cfg.routes, cfg.channel, None).route(None, None)
    account = (event or {}).get("account")
    answer = send(destination(cfg), digest(findings, account, os.environ.get("AWS_REGION")), channel)
    logger.info("audit digest delivered to Slack", extra={k: v for k, v in answer.items() if k != "payload"})
    return {"findings": len(findings), "posted": True, "by_kind": by_kind}
