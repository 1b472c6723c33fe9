"""The slack_actions Lambda: run one click's action, or the scheduler's re-enabling, off the endpoint's clock.

Its events:

- a ``Click`` (``Click.to_dict()``), from the endpoint's asynchronous invocation: the action
  runs (``perform.perform``) unless the click's once-record says it was done already (a Lambda
  retry after a run that acted). On success the record becomes ``done``. On failure the record
  becomes ``failed`` (a new click may act), the user is told in the thread in one line, and
  the error is raised again so Lambda retries and, in the end, the on-failure queue keeps it;
- ``{"opswatch": "reenable", ...}``, from the one-time EventBridge Scheduler schedule a Mute
  leaves: ``perform.reenable``.

An event that is neither is permanent bad input: logged, counted, not retried.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from chalicelib import settings
from chalicelib.slackactions import once
from chalicelib.slackactions.click import ACK, LOGS, MUTE, Click

logger = Logger(service="opswatch-slackactions")
PERFORM = "chalicelib.slackactions.perform"  # what the buttons do, by name: imported on the first event
_VERBS = {ACK: "acknowledge", MUTE: "mute", LOGS: "fetch the recent logs"}


def _perform():
    from importlib import import_module

    return import_module(PERFORM)


def handle_event(event: object) -> dict:
    metrics = EphemeralMetrics(namespace=settings.metrics_namespace(), service="opswatch-slackactions")
    try:
        if isinstance(event, dict) and event.get("opswatch") == "reenable":
            _perform().reenable(event)
            metrics.add_metric(name="SlackReenables", unit=MetricUnit.Count, value=1)
            return {"status": "reenabled"}
        try:
            click = Click.from_dict(event)  # type: ignore[arg-type]
        except ValueError as exc:
            logger.error(f"not a Slack click event: {exc}")
            metrics.add_metric(name="SlackActionEventsUndecodable", unit=MetricUnit.Count, value=1)
            return {"status": "undecodable", "reason": str(exc)}
        return run(click, metrics)
    finally:
        metrics.flush_metrics()


def run(click: Click, metrics: EphemeralMetrics) -> dict:
    what = {"action": click.action_id, "user": click.user_id, "channel": click.channel_id, "ts": click.message_ts}
    if once.status(click) == once.DONE:
        logger.info("click already acted on; nothing done again", extra=what)
        metrics.add_metric(name="SlackActionsRepeated", unit=MetricUnit.Count, value=1)
        return {"status": "repeated"}
    try:
        acted = _perform().perform(click)
    except Exception as exc:
        from chalicelib.slackactions.replies import in_thread, one_line

        reason = one_line(f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc))
        logger.error(f"Slack action failed: {reason}", extra=what)
        metrics.add_metric(name="SlackActionsFailed", unit=MetricUnit.Count, value=1)
        try:
            once.settle(click, once.FAILED)
        except Exception as state_exc:  # the record stays claimed: it runs out after once.ONCE_SECONDS
            logger.error(f"once-record not marked failed: {type(state_exc).__name__}", extra=what)
        try:
            in_thread(click, f"opswatch could not {_VERBS[click.action_id]} for <@{click.user_id}>: {reason}")
        except Exception as tell_exc:
            logger.error(f"the failure was not told in Slack: {one_line(str(tell_exc))}", extra=what)
        raise
    try:
        once.settle(click, once.DONE)
    except Exception as exc:  # acted already: raising would act again on Lambda's retry
        logger.error(f"once-record not marked done: {type(exc).__name__}", extra=what)
    if not acted:  # refused (a value opswatch cannot act on, an alarm it may not touch): told, counted, not retried
        metrics.add_metric(name="SlackActionsRefused", unit=MetricUnit.Count, value=1)
        return {"status": "refused", "action": click.action_id}
    metrics.add_metric(name="SlackActionsDone", unit=MetricUnit.Count, value=1)
    logger.info("Slack action done", extra=what)
    return {"status": "done", "action": click.action_id}
