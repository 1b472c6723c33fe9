"""The monitors_audit Lambda: the daily audit of live alarms and metric filters, as a Slack digest.

Posts only when something is found (a quiet day sends nothing). A digest that
cannot be delivered fails the invocation, so Lambda retries it.

With ``OPSWATCH_AUDIT_TARGETS`` the function also audits each target account through its
role (AssumeRole, session ``opswatch``) and the digest groups findings by account; a target
that cannot be reached is a finding of that account, and the others are still audited.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger

from chalicelib import settings
from chalicelib.aws import client
from chalicelib.monitors.audit import audit, audit_all, digest, digest_accounts
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
    targets = settings.audit_targets()
    if targets:
        return _across_accounts(targets)
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


def _across_accounts(targets: list) -> dict:
    audited = audit_all(targets, home=True)
    by_account = {a.account + "/" + a.region: len(a.findings) for a in audited}
    unreachable = [a.label for a in audited if any(f.kind == "unreachable-target" for f in a.findings)]
    total = sum(by_account.values())
    logger.info(
        f"audit: {total} findings in {len(audited)} accounts",
        extra={"findings": by_account, "unreachable": unreachable},
    )
    if not total:
        return {"findings": 0, "posted": False, "by_account": by_account}
    cfg = settings.slack()
    channel, _ = Router(cfg.routes, cfg.channel, None).route(None, None)
    answer = send(destination(cfg), digest_accounts(audited), channel)
    logger.info("audit digest delivered to Slack", extra={k: v for k, v in answer.items() if k != "payload"})
    return {"findings": total, "posted": True, "by_account": by_account, "unreachable": unreachable}
