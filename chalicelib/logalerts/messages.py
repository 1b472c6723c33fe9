"""The log-alert flow's renderer: alerts to Slack messages and their channels, without posting.

Shared by the ``log_alerts`` handler (which adds the cooldown's counts) and by
the registry's renderer for awslogs events (``opswatch slack render``), so the
preview is the message the Lambda posts. Nothing here reads state or talks to
AWS or Slack, so the preview loads neither boto3 nor the cooldown.
"""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING

from chalicelib import settings
from chalicelib.logalerts.alerts import Alert, collect
from chalicelib.logalerts.payload import PayloadError, batch_from, decode
from chalicelib.logalerts.render import render_alert
from chalicelib.logalerts.rules import RuleSet, active_rules
from chalicelib.slack.message import SlackMessage
from chalicelib.slack.outgoing import Outgoing
from chalicelib.slack.routing import Router, mention_markup

if TYPE_CHECKING:
    from chalicelib.logalerts.cooldown import Claim


@cache
def _rules(rules_json: str | None, rules_file: str | None, disabled: tuple[str, ...]) -> RuleSet:
    return active_rules(rules_json, rules_file, disabled)


def rules_for(cfg: settings.LogAlertSettings) -> RuleSet:
    """The stage's active rules, compiled once per process (a malformed rule raises ``RuleError``)."""
    return _rules(cfg.rules_json, cfg.rules_file, cfg.disabled)


def region() -> str | None:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


def route(alert: Alert, router: Router) -> tuple[str | None, str | None]:
    """(channel, mention): the rule's own channel and mention win over the routes."""
    account = (alert.owner, settings.org().account_names.get(alert.owner))
    channel, mention = router.route_rule(alert.rule.name, alert.rule.severity, account)
    if alert.rule.channel:
        channel = alert.rule.channel
    if alert.rule.mention:
        mention = mention_markup(alert.rule.mention)
    return channel, mention


def message_for(
    alert: Alert, router: Router, claim: Claim | None = None, cooldown: int | None = None
) -> tuple[SlackMessage, str | None]:
    """(message, channel): the alert as the Lambda posts it (``claim``: what the cooldown held back)."""
    channel, mention = route(alert, router)
    held, since, error = (claim.held, claim.held_since, claim.state_error) if claim else (0, None, None)
    muted_by = claim.muted_by if claim else None
    return render_alert(alert, region(), mention, held, since, cooldown, error, muted_by), channel


def outgoing_for(event: dict, router: Router) -> list[Outgoing]:
    """A CloudWatch Logs subscription event (or its decoded payload), as the Lambda would post it.

    No cooldown state. Nothing for a control message, an undecodable payload or events no rule matches.
    """
    try:
        batch = decode(event) if "awslogs" in event else batch_from(event)
    except PayloadError:
        return []
    out = []
    for alert in collect([batch], rules_for(settings.log_alerts())).alerts:
        msg, channel = message_for(alert, router)
        out.append(Outgoing(msg, channel, None, f"log alert {alert.rule.name} in {alert.log_group}"))
    return out


def outgoing_for_stream(event: dict, router: Router) -> list[Outgoing]:
    """Kinesis records from a Logs destination: each record's payload as ``outgoing_for`` shows it."""
    out = []
    for rec in event.get("Records") or []:
        kinesis = rec.get("kinesis") if isinstance(rec, dict) else None
        if isinstance(kinesis, dict):
            out += outgoing_for({"awslogs": {"data": kinesis.get("data")}}, router)
    return out
