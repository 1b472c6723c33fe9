"""The log_alerts Lambda: a subscription's events -> rules -> one Slack message per (log group, rule).

Every event ends counted: looked at, matched or not; every alert ends posted,
held back by its cooldown (and counted for the next message), or failed. A
payload that does not decode is logged with the reason and counted
(``PayloadsUndecodable``) and not retried: a retry cannot mend it; so is one
past the payload bounds (``payload.MAX_DECODED_BYTES``, ``MAX_VALUES``), and events
past ``MAX_EVENTS`` are left out and counted (``EventsOverLimit``). Control
messages are acknowledged. If any alert could not be delivered, its cooldown
claim is released and the invocation raises once all alerts were attempted,
so Lambda's retry posts it (and, in the end, its on-failure destination keeps it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from chalicelib import settings
from chalicelib.logalerts.alerts import Alert, Collected, collect
from chalicelib.logalerts.cooldown import Claim, Cooldown
from chalicelib.logalerts.messages import message_for, rules_for
from chalicelib.logalerts.payload import PayloadError, decode
from chalicelib.slack.delivery import SlackConfigError, SlackDeliveryError, destination, send
from chalicelib.slack.routing import router_from

logger = Logger(service="opswatch-logalerts")


def handle_logs_event(event: dict) -> dict:
    cfg = settings.log_alerts()
    rules = rules_for(cfg)
    metrics = EphemeralMetrics(namespace=settings.metrics_namespace(), service="opswatch-logalerts")
    try:
        batch = decode(event)
    except PayloadError as exc:
        logger.error(f"undecodable CloudWatch Logs payload: {exc}", extra={"reason": str(exc)})
        metrics.add_metric(name="PayloadsUndecodable", unit=MetricUnit.Count, value=1)
        metrics.flush_metrics()
        return {"status": "undecodable", "reason": str(exc)}
    if batch.control:
        logger.info("CloudWatch Logs control message acknowledged", extra={"log_group": batch.log_group})
        return {"status": "control"}
    malformed = len(batch.malformed) - (1 if batch.over_limit else 0)  # the over-limit note is not an event
    if batch.malformed:
        logger.warning(
            f"{malformed + batch.over_limit} events left out of the payload: {'; '.join(batch.malformed[:5])}",
            extra={"log_group": batch.log_group, "malformed": malformed, "over_limit": batch.over_limit},
        )
    metrics.add_metric(name="EventsMalformed", unit=MetricUnit.Count, value=malformed)
    metrics.add_metric(name="EventsOverLimit", unit=MetricUnit.Count, value=batch.over_limit)
    collected = collect([batch], rules)
    return {**deliver(collected, cfg, metrics), "malformed": list(batch.malformed)}


def deliver(collected: Collected, cfg: settings.LogAlertSettings, metrics: EphemeralMetrics) -> dict:
    """Post every alert (cooldown first); raises ``SlackDeliveryError`` once all were attempted, if any failed."""
    done = deliver_alerts(collected, cfg, metrics)
    if done.failed:
        raise SlackDeliveryError(
            f"{len(done.failed)} of {len(collected.alerts)} log alerts not delivered: {done.failed[0][1]}"
        )
    return done.summary(collected)


@dataclass
class Delivery:
    posted: list[dict] = field(default_factory=list)
    held: list[dict] = field(default_factory=list)
    failed: list[tuple[Alert, str]] = field(default_factory=list)  # released from the cooldown, for a retry

    def summary(self, collected: Collected) -> dict:
        return {
            "status": "done",
            "events": collected.events,
            "matched": collected.matched,
            "posted": self.posted,
            "held_back": self.held,
        }


def deliver_alerts(collected: Collected, cfg: settings.LogAlertSettings, metrics: EphemeralMetrics) -> Delivery:
    """Post every alert; a failed one is released from its cooldown and listed, never raised (the caller decides)."""
    slack_cfg = settings.slack()
    router = router_from(slack_cfg)
    buttons = settings.slack_buttons()
    # With the buttons on, the cooldown item is kept even with no cooldown window: Mute holds alerts back there.
    cooldown = Cooldown(cfg.cooldown_seconds) if cfg.cooldown_seconds or buttons else None
    dest = None
    posted, held, failed = [], [], []
    state_errors = 0
    for alert in collected.alerts:
        what = {"rule": alert.rule.name, "log_group": alert.log_group, "account": alert.owner, "events": alert.count}
        claim = cooldown.claim(alert.key, alert.count, alert.first_ms) if cooldown else Claim(alert.key, True)
        state_errors += claim.state_error is not None
        if not claim.granted:
            logger.info("held back by the cooldown", extra=what)
            held.append(what)
            continue
        msg, channel = message_for(alert, router, claim, cfg.cooldown_seconds)
        try:
            dest = dest or destination(slack_cfg)  # the secret is read only when there is something to post
            answer = send(dest, msg, channel)
        except (SlackDeliveryError, SlackConfigError) as exc:
            if cooldown:
                cooldown.release(claim)
            logger.error(f"not delivered to Slack: {exc}", extra=what)
            failed.append((alert, str(exc)))
            continue
        if cooldown:
            cooldown.confirm(claim, answer["payload"] if buttons else None, alert.first_ms)
        shown = {k: v for k, v in answer.items() if k != "payload"}
        logger.info("delivered to Slack", extra={**what, **shown, "held_reported": claim.held})
        posted.append({**what, "channel": channel})
    for name, value in (
        ("EventsReceived", collected.events),
        ("EventsMatched", collected.matched),
        ("AlertsPosted", len(posted)),
        ("AlertsHeldBack", len(held)),
        ("AlertsFailed", len(failed)),
        ("CooldownStateErrors", state_errors),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    metrics.flush_metrics()
    return Delivery(posted, held, failed)
